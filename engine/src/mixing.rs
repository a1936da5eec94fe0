//! The exact closed form of a completely mixed volume over one step with constant flows.
//!
//! A volume `V(t)` receives `Q_in` at concentration `C_in`, loses pure water `E` (evaporation,
//! which carries no dissolved species) and discharges `Q_out` at its own concentration `C(t)`:
//!
//! ```text
//! dV/dt = Q_in − E − Q_out = ΔQ                 V(t) = V0 + ΔQ·t
//! d(V·C)/dt = Q_in·C_in − Q_out·C   ⇒   V·dC/dt = Q_in·C_in − k·C,   k = Q_in − E
//! C(t) = C* + (C0 − C*)·φ(t),   C* = Q_in·C_in/k,   φ(t) = exp(−k·∫₀ᵗ dτ/V(τ))
//! ∫₀ᵗ dτ/V = ln(V(t)/V0)/ΔQ   (→ t/V0 as ΔQ → 0)
//! ```
//!
//! Both the end concentration `C1` and the flow-weighted mean concentration of the outflow over
//! the step, `C̄ = (V0·C0 + Q_in·C_in·Δt − V1·C1)/(Q_out·Δt)`, are linear in `C0` and `C_in`, so
//! a mixed volume joins the linear systems of the species solve like any other unit. Defining the
//! outflow by the mass balance makes the scheme conserve every species exactly (to rounding),
//! and the closed form makes it exact for flows that are constant over the step; the only
//! approximation left is that an upstream concentration is taken as its mean over the step.
//! Standard result for a continuous stirred tank (CSTR) with variable volume; see Levenspiel,
//! *Chemical Reaction Engineering*, 3rd ed., ch. 14, for the constant-volume case.

/// Linear coefficients of a mixed volume over one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixedCoefficients {
    /// `C̄ = a0·C0 + a_in·C_in` (outflow mean).
    pub a0: f64,
    /// See `a0`.
    pub a_in: f64,
    /// `C1 = b0·C0 + b_in·C_in` (end of step).
    pub b0: f64,
    /// See `b0`.
    pub b_in: f64,
    /// Volume at the end of the step, m³.
    pub v1: f64,
}

/// Coefficients for start volume `v0` (m³), inflow `q_in`, pure-water loss `evap` and other
/// outflow `q_out` (all m³/h) over `dt_h` hours.
pub fn mixed_coefficients(
    v0: f64,
    q_in: f64,
    evap: f64,
    q_out: f64,
    dt_h: f64,
) -> MixedCoefficients {
    let dq = q_in - evap - q_out;
    let v1 = (v0 + dq * dt_h).max(0.0);
    let k = q_in - evap;
    let scale = v0.max(q_in * dt_h).max(q_out * dt_h).max(f64::MIN_POSITIVE);
    let (b0, b_in) = if v1 <= 1e-12 * scale {
        // Drained: no mass is left, the end concentration does not matter.
        (0.0, 0.0)
    } else if v0 <= 1e-12 * scale {
        // Filled from empty: the contents are the inflow concentrated by evaporation at once.
        if k > 0.0 { (0.0, q_in / k) } else { (0.0, 0.0) }
    } else {
        let x = dq * dt_h / v0;
        // `Δt/V0 · ln(1 + x)/x` with `x = ΔQ·Δt/V0` is `ln(1 + x)/ΔQ` (one division fewer).
        let integral = if x.abs() < 1e-12 {
            dt_h / v0
        } else {
            x.ln_1p() / dq
        };
        let ki = k * integral;
        let (phi, one_minus_phi) = decay(ki);
        let b_in = if ki.abs() < 1e-12 {
            q_in * integral
        } else {
            q_in * one_minus_phi / k
        };
        (phi, b_in)
    };
    let (a0, a_in) = if q_out * dt_h > 0.0 {
        let r = 1.0 / (q_out * dt_h);
        ((v0 - v1 * b0) * r, (q_in * dt_h - v1 * b_in) * r)
    } else {
        (b0, b_in)
    };
    MixedCoefficients {
        a0,
        a_in,
        b0,
        b_in,
        v1,
    }
}

/// `(φ, 1 − φ)` with `φ = exp(−ki)`, from one exponential: for `|ki| < 1/2`, `e = expm1(−ki)`
/// gives `1 − φ = −e` without cancellation and `φ = 1 + e` (within 1.5 ulp, as `φ` is near
/// 1); elsewhere `φ = exp(−ki)` and `1 − φ` loses nothing, since `|1 − φ| > 0.39`. Both
/// within a few ulps of the two separate calls (`exp` and `expm1`) they replace.
#[inline(always)]
fn decay(ki: f64) -> (f64, f64) {
    if ki.abs() < 0.5 {
        let e = (-ki).exp_m1();
        (1.0 + e, -e)
    } else {
        let phi = (-ki).exp();
        (phi, 1.0 - phi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// Constant volume, clean inflow: `C1 = C0·exp(−Q·Δt/V)`.
    #[test]
    fn constant_volume_washout() {
        let c = mixed_coefficients(100.0, 10.0, 0.0, 10.0, 1.0);
        assert_relative_eq!(c.b0, (-0.1f64).exp(), max_relative = 1e-14);
        assert_relative_eq!(c.v1, 100.0);
        // Mass: V0·C0 = V1·C1 + Q·Δt·C̄ with C0 = 1, C_in = 0.
        assert_relative_eq!(100.0, 100.0 * c.b0 + 10.0 * c.a0, max_relative = 1e-14);
    }

    /// A filling tank without outflow: `C1 = (V0·C0 + Q·Δt·C_in)/V1` exactly.
    #[test]
    fn filling_tank_mixes_by_mass() {
        let c = mixed_coefficients(50.0, 20.0, 0.0, 0.0, 2.0);
        assert_relative_eq!(c.v1, 90.0);
        assert_relative_eq!(c.b0, 50.0 / 90.0, max_relative = 1e-13);
        assert_relative_eq!(c.b_in, 40.0 / 90.0, max_relative = 1e-13);
    }

    /// One exponential gives `φ` and `1 − φ` to a few ulps on both sides of the switch.
    #[test]
    fn decay_matches_exp_and_expm1() {
        for ki in [
            -3.0f64, -0.6, -0.5, -0.49, -1e-3, 1e-9, 1e-3, 0.2, 0.49, 0.5, 0.51, 2.0, 40.0,
        ] {
            let (phi, omp) = decay(ki);
            assert_relative_eq!(phi, (-ki).exp(), max_relative = 1e-15);
            assert_relative_eq!(omp, -(-ki).exp_m1(), max_relative = 1e-15);
        }
    }

    /// Evaporating basin at steady state: `C = Q_in·C_in/(Q_in − E)` (the cycles of
    /// concentration of a cooling tower).
    #[test]
    fn evaporation_concentrates() {
        let c = mixed_coefficients(1000.0, 40.0, 30.0, 10.0, 1.0);
        let css = 40.0 / 10.0;
        // Start at steady state: it stays there.
        assert_relative_eq!(c.b0 * css + c.b_in, css, max_relative = 1e-13);
        assert_relative_eq!(c.a0 * css + c.a_in, css, max_relative = 1e-12);
    }
}
