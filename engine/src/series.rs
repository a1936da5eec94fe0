//! Time series sampled by integer step.
//!
//! A [`Series`] is either a constant or one value per step. Time is always `step × dt`; a series
//! never accumulates floating-point time.
//!
//! [`Drivers`] holds each unit's main driver value for the current step, gathered once per step
//! from a step-major window of the drivers' series (see its docs and `docs/drivers.md`).

use bevy_ecs::resource::Resource;
use std::sync::Arc;

/// A driver value: constant, or one value per step (shared, cheap to clone across scenarios).
#[derive(Clone, Debug, PartialEq)]
pub enum Series {
    /// The same value every step.
    Const(f64),
    /// One value per step; a step past the end repeats the series cyclically.
    Values(Arc<[f64]>),
}

impl Series {
    /// The value at `step`; a series shorter than the run repeats (`step mod len`).
    #[inline]
    pub fn at(&self, step: usize) -> f64 {
        match self {
            Series::Const(v) => *v,
            Series::Values(v) => cyclic(v, step),
        }
    }

    /// Number of values (1 for a constant).
    pub fn len(&self) -> usize {
        match self {
            Series::Const(_) => 1,
            Series::Values(v) => v.len(),
        }
    }

    /// Whether the series holds no value at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Smallest and largest value.
    pub fn range(&self) -> (f64, f64) {
        match self {
            Series::Const(v) => (*v, *v),
            Series::Values(v) => v
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                }),
        }
    }

    /// The first non-finite value and its index, if any.
    pub fn first_non_finite(&self) -> Option<(usize, f64)> {
        match self {
            Series::Const(v) => (!v.is_finite()).then_some((0, *v)),
            Series::Values(v) => v.iter().copied().enumerate().find(|(_, x)| !x.is_finite()),
        }
    }

    /// This series multiplied by `k`.
    pub fn scaled(&self, k: f64) -> Series {
        match self {
            Series::Const(v) => Series::Const(v * k),
            Series::Values(v) => Series::Values(v.iter().map(|x| x * k).collect()),
        }
    }
}

/// `v[step]`, repeating `v` past its end (`step mod len`). Indexes directly within the series
/// and divides only past its end: series are read every step, and an integer division there
/// costs tens of cycles per read.
#[inline]
fn cyclic(v: &[f64], step: usize) -> f64 {
    if step < v.len() {
        v[step]
    } else {
        v[step % v.len()]
    }
}

impl From<f64> for Series {
    fn from(v: f64) -> Self {
        Series::Const(v)
    }
}

impl From<Vec<f64>> for Series {
    fn from(v: Vec<f64>) -> Self {
        Series::Values(v.into())
    }
}

/// Steps held by the window of [`Drivers`]: 64 steps of 220 series are 112 KB.
pub const DRIVER_WINDOW_STEPS: usize = 64;

/// Each unit's main driver value for the current step (a process's production, a cooling
/// tower's heat load or circulation), gathered from a step-major window of the series.
///
/// Why: a unit system that reads `series[step]` from its own 8,760-value array touches one
/// cache line per unit and step, scattered over as many arrays as there are driven units (220
/// on the generated 499-unit park); the step's working set is larger than L2, so those lines
/// are evicted before the next step and nearly every read misses. Here the varying series are
/// copied, [`DRIVER_WINDOW_STEPS`] steps at a time, into one step-major table
/// `window[(t − start)·n + c]` (each column's run is read sequentially), and each step's row (n
/// adjacent values) is spread into [`Drivers::now`], a dense per-unit array the unit systems
/// read. The values are the series' own (`Series::at`), so results are unchanged.
///
/// Built once per World (`parks::build` registers the units' drivers with [`Drivers::set`]);
/// the window is refilled when a step falls outside it. Memory: `DRIVER_WINDOW_STEPS × n × 8`
/// bytes plus two words per unit, whatever the horizon. A constant driver has no column.
///
/// Unit systems read a driver with [`Drivers::value`], never `now` directly: it returns the
/// gathered value only for the very series registered for the unit (the same allocation),
/// and otherwise reads the series itself. So a World built by hand (nothing registered) or a
/// unit whose series was replaced after build still reads its own series: the window is a
/// cache that can be missing but never stale.
#[derive(Resource, Clone, Debug, Default)]
pub struct Drivers {
    /// Per unit: its registered series' value at the current step (0 for a unit without one).
    now: Vec<f64>,
    /// Per unit: the address of its registered series' values (0 for none); the series is
    /// held in `series`, so no other allocation can have this address while it is registered.
    registered: Vec<usize>,
    /// Per column: the unit whose varying series it holds.
    units: Vec<u32>,
    /// Per column: the series.
    series: Vec<Arc<[f64]>>,
    /// Step-major window of the columns' values: `window[(t − start)·n + c]`.
    window: Vec<f64>,
    /// First step held by the window.
    start: usize,
    /// Steps held by the window (0 before the first fill).
    held: usize,
}

impl Drivers {
    /// No drivers yet, for `n_units` units.
    pub fn new(n_units: usize) -> Self {
        Self {
            now: vec![0.0; n_units],
            registered: vec![0; n_units],
            ..Self::default()
        }
    }

    /// Registers `s` as unit `u`'s driver: a varying series gets a column of the window (a
    /// constant needs none: [`Drivers::value`] returns it directly). Registering a unit again
    /// replaces its column's series.
    pub fn set(&mut self, u: usize, s: &Series) {
        let Series::Values(v) = s else {
            return;
        };
        if v.is_empty() {
            return;
        }
        match self.units.iter().position(|&x| x as usize == u) {
            Some(c) => self.series[c] = v.clone(),
            None => {
                self.units.push(u as u32);
                self.series.push(v.clone());
            }
        }
        self.registered[u] = address(v);
        self.held = 0;
    }

    /// Unit `u`'s driver `s` at the current step (the step of the last [`Drivers::gather`],
    /// `step`): the gathered value when `s` is the series registered for `u`, else
    /// `s.at(step)` (a constant, or a series not registered: same value, read directly).
    #[inline]
    pub fn value(&self, u: usize, s: &Series, step: usize) -> f64 {
        match s {
            Series::Const(v) => *v,
            Series::Values(v) if self.registered[u] == address(v) => self.now[u],
            _ => s.at(step),
        }
    }

    /// Sets `now` to every varying driver's value at `step` (`Series::at(step)`), refilling the
    /// window first when `step` is outside it.
    pub fn gather(&mut self, step: usize) {
        let n = self.units.len();
        if n == 0 {
            return;
        }
        if step < self.start || step >= self.start + self.held {
            self.fill(step);
        }
        let k = step - self.start;
        let row = &self.window[k * n..(k + 1) * n];
        for (&u, &v) in self.units.iter().zip(row) {
            self.now[u as usize] = v;
        }
    }

    /// Fills the window with steps `start .. start + DRIVER_WINDOW_STEPS`, row by row. The
    /// rows read the same few cache lines of each series in turn (8 steps per line), and the
    /// loads of a row are independent, so they overlap.
    fn fill(&mut self, start: usize) {
        let (n, w) = (self.units.len(), DRIVER_WINDOW_STEPS);
        self.window.resize(w * n, 0.0);
        for (k, row) in self.window.chunks_exact_mut(n).enumerate() {
            for (slot, v) in row.iter_mut().zip(&self.series) {
                *slot = cyclic(v, start + k);
            }
        }
        self.start = start;
        self.held = w;
    }
}

/// The address of a series' values, which identifies it while it is alive.
fn address(v: &Arc<[f64]>) -> usize {
    Arc::as_ptr(v).cast::<f64>() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every unit's driver read through the window equals `Series::at` at every step: across
    /// window refills (64 steps), past a series' end (a 100-value series repeats), for a
    /// constant, for a series never registered and for one registered and then replaced, and
    /// when a step goes back before the window.
    #[test]
    fn value_matches_series_at() {
        let a = Series::from((0..100).map(|k| k as f64 * 0.5 - 7.0).collect::<Vec<f64>>());
        let b = Series::from((0..300).map(|k| (k as f64).sin()).collect::<Vec<f64>>());
        let b2 = Series::from((0..300).map(|k| (k as f64).cos()).collect::<Vec<f64>>());
        let c = Series::Const(3.25);
        let unregistered = Series::from(vec![1.0, 2.0, 4.0]);
        let mut d = Drivers::new(5);
        d.set(4, &a);
        d.set(0, &b);
        d.set(2, &c);
        let steps: Vec<usize> = (0..260).chain([5, 299, 300, 1000]).collect();
        for (k, &t) in steps.iter().enumerate() {
            if k == 100 {
                // Unit 0's series replaced and registered again: its column follows.
                d.set(0, &b2);
            }
            d.gather(t);
            let b_now = if k < 100 { &b } else { &b2 };
            assert_eq!(d.value(4, &a, t).to_bits(), a.at(t).to_bits(), "step {t}");
            assert_eq!(
                d.value(0, b_now, t).to_bits(),
                b_now.at(t).to_bits(),
                "step {t}"
            );
            assert_eq!(d.value(2, &c, t), 3.25);
            assert_eq!(d.value(1, &unregistered, t), unregistered.at(t), "step {t}");
            // A series other than the registered one (the old one, after the change) is read
            // directly, not from the window.
            assert_eq!(d.value(0, &b, t).to_bits(), b.at(t).to_bits(), "step {t}");
        }
        assert_eq!(d.units.len(), 2, "registering again reuses the column");
    }
}
