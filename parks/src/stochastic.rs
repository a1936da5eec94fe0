//! Seeded stochastic hourly series for unconventional sources: rainfall and mine-water inflow.
//! Every draw comes from `ChaCha8Rng::seed_from_u64(seed)`, so a series is the same on every
//! machine and run; it is generated once at validation into a [`Series`].
//!
//! **Rain**: a two-state Markov chain of hours. With stationary wet share `p` and mean wet
//! spell `L` hours, `P(wet → dry) = 1/L` and `P(dry → wet) = p/(L·(1 − p))` (so the chain's
//! stationary wet share is `p`); monthly factors scale `p` for the month. A wet hour's depth is
//! exponential with mean `annual_mm/(8,760·p̄)`, `p̄` the mean of the monthly wet shares, so the
//! expected annual total is `annual_mm`. (A Richardson-type weather generator reduced to hours;
//! Richardson, Water Resour. Res. 17:182, 1981 [S].)
//!
//! **Inflow**: `q = mean·exp(σ·z − σ²/2)`, `σ² = ln(1 + cv²)`, with `z` an AR(1) standard normal
//! series `z_t = ρ·z_{t−1} + √(1 − ρ²)·ε_t` (Box–Muller normals): a lognormal with the given mean
//! and coefficient of variation and hour-to-hour correlation `ρ`.

use crate::calendar::instant;
use crate::drivers::Axis;
use crate::unit_specs::StochasticSpec;
use parktwin_engine::series::Series;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// The series of `spec` on `axis`.
pub fn generate(spec: &StochasticSpec, axis: Axis) -> Series {
    let values = match spec {
        StochasticSpec::Rain {
            seed,
            annual_mm,
            wet_fraction,
            mean_spell_h,
            monthly,
        } => rain(
            *seed,
            *annual_mm,
            *wet_fraction,
            *mean_spell_h,
            monthly,
            axis,
        ),
        StochasticSpec::Inflow {
            seed,
            mean,
            cv,
            correlation,
        } => inflow(*seed, *mean, *cv, *correlation, axis.steps),
    };
    Series::Values(Arc::from(values))
}

fn rain(
    seed: u64,
    annual_mm: f64,
    wet: f64,
    spell_h: f64,
    monthly: &[f64],
    axis: Axis,
) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let factor = |m: usize| {
        if monthly.len() == 12 { monthly[m] } else { 1.0 }
    };
    let mean_factor = if monthly.len() == 12 {
        monthly.iter().sum::<f64>() / 12.0
    } else {
        1.0
    };
    let mean_wet = (wet * mean_factor).clamp(1e-9, 1.0 - 1e-9);
    let depth = annual_mm / (8760.0 * mean_wet);
    let mut is_wet = false;
    (0..axis.steps)
        .map(|k| {
            let month = instant(axis.start, k as f64 * axis.dt_h).month as usize;
            let p = (wet * factor(month.min(11))).clamp(1e-9, 1.0 - 1e-9);
            let to_dry = 1.0 / spell_h.max(1.0);
            let to_wet = (p * to_dry / (1.0 - p)).min(1.0);
            let u: f64 = rng.random();
            is_wet = if is_wet { u >= to_dry } else { u < to_wet };
            if is_wet {
                let e: f64 = rng.random();
                -depth * (1.0 - e).ln()
            } else {
                0.0
            }
        })
        .collect()
}

fn inflow(seed: u64, mean: f64, cv: f64, rho: f64, steps: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let s2 = (1.0 + cv * cv).ln();
    let s = s2.sqrt();
    let rho = rho.clamp(0.0, 0.999_999);
    let k = (1.0 - rho * rho).sqrt();
    let mut normal = move || {
        let u1: f64 = rng.random();
        let u2: f64 = rng.random();
        (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let mut z = normal();
    (0..steps)
        .map(|_| {
            let q = mean * (s * z - s2 / 2.0).exp();
            z = rho * z + k * normal();
            q
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Start;

    fn axis(steps: usize) -> Axis {
        Axis {
            start: Start {
                days: 0,
                minutes: 0,
            },
            dt_h: 1.0,
            steps,
        }
    }

    /// Ten years of hourly rain at 600 mm/yr and 6 % wet hours: the mean annual total is within
    /// 5 % of 600 mm and the wet share within 10 % of 0.06; the same seed gives the same series.
    #[test]
    fn rain_statistics_and_determinism() {
        let spec = StochasticSpec::Rain {
            seed: 7,
            annual_mm: 600.0,
            wet_fraction: 0.06,
            mean_spell_h: 4.0,
            monthly: vec![],
        };
        let s = generate(&spec, axis(87_600));
        let Series::Values(v) = &s else {
            panic!("a series")
        };
        let total: f64 = v.iter().sum::<f64>() / 10.0;
        let wet = v.iter().filter(|&&x| x > 0.0).count() as f64 / v.len() as f64;
        assert!((total - 600.0).abs() < 30.0, "{total}");
        assert!((wet - 0.06).abs() < 0.006, "{wet}");
        assert_eq!(s, generate(&spec, axis(87_600)));
    }

    /// A year of inflow with mean 200 m³/h, cv 0.3, ρ 0.9: positive, the sample mean within 5 %
    /// of 200.
    #[test]
    fn inflow_statistics() {
        let spec = StochasticSpec::Inflow {
            seed: 3,
            mean: 200.0,
            cv: 0.3,
            correlation: 0.9,
        };
        let Series::Values(v) = generate(&spec, axis(8760)) else {
            panic!("a series")
        };
        assert!(v.iter().all(|&x| x > 0.0));
        let m = v.iter().sum::<f64>() / v.len() as f64;
        assert!((m - 200.0).abs() < 10.0, "{m}");
    }
}
