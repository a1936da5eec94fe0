//! Stepping a simulation with observers: park-level time series (intake by source kind,
//! discharge, consumption, energy and carbon by origin, cost), the window of a Sankey period,
//! and the live NDJSON stream all look at the World after each step.
//!
//! The park series are differences of the engine's cumulative summary between steps, so each
//! step's value is exactly what the summary booked in that step.

use parktwin_engine::network::ExitKind;
use parktwin_engine::record::Summary;
use parktwin_engine::sim::Simulation;
use parktwin_engine::state::{Clock, Flows};
use parktwin_parks::totals::Totals;
use parktwin_parks::validate::ParkMeta;
use parktwin_units::SourceKind;

/// Names of the park series, after the per-source-kind intake columns
/// (`intake_<kind>_m3_per_h`, one per kind present in the park).
pub const PARK_COLUMNS: [&str; 16] = [
    "discharge_m3_per_h",
    "evaporation_m3_per_h",
    "drift_m3_per_h",
    "product_m3_per_h",
    "solids_m3_per_h",
    "leak_m3_per_h",
    "spill_m3_per_h",
    "electricity_kwh",
    "heat_kwh",
    "generation_kwh",
    "grid_import_kwh",
    "co2e_electricity_kg",
    "co2e_heat_kg",
    "co2e_chemicals_kg",
    "co2e_other_kg",
    "cost_yuan",
];

/// Park-level series, one row per step (see [`PARK_COLUMNS`]).
#[derive(Clone, Debug, Default)]
pub struct ParkSeries {
    /// Column names.
    pub columns: Vec<String>,
    /// Values, step-major (`steps × columns`).
    pub values: Vec<f64>,
    /// Source kind of each intake column.
    kinds: Vec<SourceKind>,
    prev: Vec<f64>,
}

/// Cumulative park totals in [`PARK_COLUMNS`] order (after the intake columns).
fn cumulative(s: &Summary) -> [f64; 16] {
    let mut exits = [0.0; 7];
    let (mut e, mut h, mut g, mut cost) = (0.0, 0.0, 0.0, 0.0);
    for t in &s.units {
        for k in 0..7 {
            exits[k] += t.exits_m3[k];
        }
        e += t.electricity_kwh;
        h += t.heat_kwh;
        g += t.generation_kwh;
        cost += t.cost.total();
    }
    let x = |k: ExitKind| exits[k.index()];
    [
        x(ExitKind::Discharge),
        x(ExitKind::Evaporation),
        x(ExitKind::Drift),
        x(ExitKind::Product),
        x(ExitKind::Solids),
        x(ExitKind::Leak),
        x(ExitKind::Spill),
        e,
        h,
        g,
        s.grid_import_kwh,
        s.carbon.electricity,
        s.carbon.heat,
        s.carbon.chemicals,
        s.carbon.other,
        cost,
    ]
}

impl ParkSeries {
    /// Empty series for a park.
    pub fn new(meta: &ParkMeta) -> Self {
        let kinds: Vec<SourceKind> = SourceKind::ALL
            .into_iter()
            .filter(|k| meta.units.iter().any(|u| u.source_kind == Some(*k)))
            .collect();
        let mut columns: Vec<String> = kinds
            .iter()
            .map(|k| format!("intake_{}_m3_per_h", k.name()))
            .collect();
        columns.extend(PARK_COLUMNS.iter().map(|c| c.to_string()));
        Self {
            columns,
            values: Vec::new(),
            kinds,
            prev: vec![0.0; PARK_COLUMNS.len()],
        }
    }

    /// Number of steps recorded.
    pub fn steps(&self) -> usize {
        self.values.len() / self.columns.len().max(1)
    }

    /// Value of column `c` at step `k`.
    pub fn get(&self, k: usize, c: usize) -> f64 {
        self.values[k * self.columns.len() + c]
    }

    /// Index of a column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Appends the step just computed.
    pub fn observe(&mut self, sim: &Simulation, meta: &ParkMeta) {
        let flows = sim.resource::<Flows>();
        let dt = sim.resource::<Clock>().dt_h;
        for k in &self.kinds {
            let q: f64 = meta
                .units
                .iter()
                .enumerate()
                .filter(|(_, m)| m.source_kind == Some(*k))
                .map(|(u, _)| flows.throughput[u])
                .sum();
            self.values.push(q);
        }
        let now = cumulative(sim.resource::<Summary>());
        for (i, (a, b)) in now.iter().zip(&self.prev).enumerate() {
            // Water columns are rates (m³/h); energy, carbon and cost are per step.
            let d = a - b;
            self.values.push(if i < 7 { d / dt } else { d });
        }
        self.prev = now.to_vec();
    }
}

/// A callback run after every step (the live stream).
pub type StepHook<'a> = &'a mut dyn FnMut(&Simulation) -> std::io::Result<()>;

/// What to observe while stepping.
pub struct Observers<'a> {
    /// Park series (when results are written).
    pub series: Option<&'a mut ParkSeries>,
    /// Sankey period `[from, to)` in steps; the totals of that window are returned.
    pub window: Option<(usize, usize)>,
    /// Called after every step (the live stream).
    pub each_step: Option<StepHook<'a>>,
}

/// Steps `sim` to the end of its horizon with `obs` looking on, then books the end-of-run
/// figures. Returns the totals of the requested window (`None` without one).
pub fn run_observed(
    sim: &mut Simulation,
    meta: &ParkMeta,
    mut obs: Observers<'_>,
) -> std::io::Result<Option<Totals>> {
    let steps = sim.resource::<Clock>().steps;
    let mut start_totals: Option<Totals> = None;
    let mut window_totals = None;
    if let Some((from, _)) = obs.window
        && from == 0
    {
        start_totals = Some(Totals::capture(sim));
    }
    // Without observers the summary is read only at the end: step without syncing it.
    let observed = obs.series.is_some() || obs.each_step.is_some() || obs.window.is_some();
    while sim.resource::<Clock>().step < steps {
        if observed {
            sim.step();
        } else {
            sim.advance();
        }
        let done = sim.resource::<Clock>().step;
        if let Some(s) = obs.series.as_deref_mut() {
            s.observe(sim, meta);
        }
        if let Some(f) = obs.each_step.as_deref_mut() {
            f(sim)?;
        }
        if let Some((from, to)) = obs.window {
            if done == from {
                start_totals = Some(Totals::capture(sim));
            }
            if done == to.min(steps)
                && let Some(s) = &start_totals
            {
                window_totals = Some(Totals::capture(sim).since(s));
            }
        }
    }
    sim.finish();
    Ok(window_totals)
}

/// `"YYYY-MM-DDTHH:MM"` of the instant `hours` after the park's start (as written in the file).
pub fn time_label(start: &str, hours: f64) -> String {
    use parktwin_parks::calendar::{civil_from_days, parse_start};
    let Some(s) = parse_start(start) else {
        return format!("{hours}h");
    };
    let total_min = (s.minutes as f64 + hours * 60.0).round() as i64;
    let days = s.days + total_min.div_euclid(1440);
    let min = total_min.rem_euclid(1440);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}", min / 60, min % 60)
}

/// Milliseconds since 1970-01-01T00:00 (local time, no zone) of `hours` after the start.
pub fn time_millis(start: &str, hours: f64) -> i64 {
    let s =
        parktwin_parks::calendar::parse_start(start).unwrap_or(parktwin_parks::calendar::Start {
            days: 0,
            minutes: 0,
        });
    ((s.days * 1440 + s.minutes as i64) as f64 * 60_000.0 + hours * 3_600_000.0).round() as i64
}
