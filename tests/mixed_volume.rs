//! The mixed volume's closed form (`engine::mixing::mixed_coefficients`) against the same
//! quantities written another way, over a grid of volumes and flows that puts the decay
//! exponent `k·∫dt/V` on both sides of the point (1/2) where one exponential changes from
//! `expm1` to `exp`.

use parktwin::engine::mixing::mixed_coefficients;

/// `|a − b| ≤ rel·max(|a|, |b|) + abs`.
fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + abs
}

/// For every case of the grid (start volume 5–2,000 m³, inflow 0–80 m³/h, evaporation 0–30,
/// outflow 0–90, steps of 0.25–2 h; volume kept above 1 m³): the end-of-step factor is
/// `φ = (V1/V0)^(−k/ΔQ)` (`exp(−k·Δt/V0)` at constant volume), which is `exp(−k·ln(V1/V0)/ΔQ)`
/// written with `powf`; the inflow factor is `Q_in·(1 − φ)/k`; and both unit cases conserve
/// mass: `V0·C0 + Q_in·Δt·C_in = V1·C1 + Q_out·Δt·C̄` with `(C0, C_in)` = (1, 0) and (0, 1).
/// Tolerance relative 1e-12 (a few hundred ulps: `powf` against `ln_1p`/`exp`, and the mass
/// terms cancel) plus 1e-12 absolute on the masses; the cases with `|k·∫dt/V|` below and above
/// 1/2 are counted so the grid covers both branches.
#[test]
fn closed_form_matches_power_law_and_conserves_mass() {
    let (mut below, mut above) = (0, 0);
    for v0 in [5.0, 60.0, 400.0, 2000.0] {
        for q_in in [0.0, 3.0, 20.0, 80.0] {
            for evap in [0.0, 1.5, 30.0] {
                for q_out in [0.0, 2.0, 19.0, 90.0] {
                    for dt in [0.25, 1.0, 2.0] {
                        let dq = q_in - evap - q_out;
                        let v1 = v0 + dq * dt;
                        if v1 < 1.0 {
                            continue;
                        }
                        let k = q_in - evap;
                        let c = mixed_coefficients(v0, q_in, evap, q_out, dt);
                        let phi = if dq == 0.0 {
                            (-k * dt / v0).exp()
                        } else {
                            (v1 / v0).powf(-k / dq)
                        };
                        let ki = if dq == 0.0 {
                            k * dt / v0
                        } else {
                            k * (v1 / v0).ln() / dq
                        };
                        if ki.abs() < 0.5 {
                            below += 1;
                        } else {
                            above += 1;
                        }
                        let case = format!("v0 {v0} q_in {q_in} evap {evap} q_out {q_out} dt {dt}");
                        assert!(close(c.v1, v1, 1e-15, 0.0), "{case}: v1 {} {v1}", c.v1);
                        assert!(close(c.b0, phi, 1e-12, 0.0), "{case}: b0 {} {phi}", c.b0);
                        if ki.abs() > 1e-6 {
                            let b_in = q_in * (1.0 - phi) / k;
                            assert!(
                                close(c.b_in, b_in, 1e-9, 1e-15),
                                "{case}: b_in {} {b_in}",
                                c.b_in
                            );
                        }
                        // Mass over the step, start contents only, then inflow only.
                        let out = q_out * dt;
                        let m0 = v1 * c.b0 + out * c.a0;
                        assert!(close(m0, v0, 1e-12, 1e-12), "{case}: start mass {m0} {v0}");
                        let m_in = v1 * c.b_in + out * c.a_in;
                        let fed = q_in * dt;
                        assert!(
                            close(m_in, fed, 1e-12, 1e-12),
                            "{case}: inflow {m_in} {fed}"
                        );
                    }
                }
            }
        }
    }
    assert!(
        below > 50 && above > 50,
        "branches: {below} below, {above} above"
    );
}
