//! Time series sampled by integer step.
//!
//! A [`Series`] is either a constant or one value per step. Time is always `step × dt`; a series
//! never accumulates floating-point time.

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
            // Index directly within the series and divide only past its end: units read their
            // series every step, and an integer division there costs tens of cycles per read.
            Series::Values(v) if step < v.len() => v[step],
            Series::Values(v) => v[step % v.len()],
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
