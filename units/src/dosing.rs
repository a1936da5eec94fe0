//! Smart dosing and make-up: a cooling tower's controller that reads the recirculating water's
//! conductivity and pH, computes its Langelier and Ryznar indices, and sets the blowdown (hence
//! the cycles and the make-up) and the scale-inhibitor dose to hold a target index.
//!
//! **Measurement** (each step, Demand phase). The basin's concentration at the start of the step
//! (the end of the previous step, `Storage.conc`) is what an on-line cell in the recirculating
//! water reads now. Conductivity is converted to TDS with the meter's factor `k` (mg/L per
//! µS/cm): `TDS_m = k·(TDS/k + bias + sd·ε)`, ε standard normal from the controller's own
//! ChaCha8 stream (no noise when no sensor is declared). Calcium and alkalinity are not measured
//! on line: they are the basin's ratios to TDS (a periodic laboratory analysis; every conserved
//! species is concentrated alike, so the ratios move only when the make-up's composition does)
//! times the measured TDS. pH is the controlled pH when the tower declares one (acid dosing is
//! assumed to hold it), otherwise the equilibrium pH from alkalinity (the convention of
//! [`crate::chemistry`]). With the hot-water temperature `T_hot = T_wb + approach + range`:
//!
//! ```text
//! L_m = LSI(TDS_m, Ca_m, Alk_m, T_hot, pH)      R_m = RSI(...)        (Langelier 1936; Ryznar 1944)
//! ```
//!
//! **Blowdown: model inverse plus a PI trim** (in index units). Concentrating every species by a
//! factor `f` moves the LSI by `k_L·log10 f` (`k_L = 3.365` at pH_eq, `1.9` at a fixed pH;
//! [`crate::chemistry`]), so the basin TDS that gives the target `L*` is `TDS_m·10^((L* − L_m)/k_L)`.
//! The controller asks for
//!
//! ```text
//! e_k   = L* − L_m,k
//! I_k   = clamp(I_{k−1} + (Δt/T_i)·e_k, −I_max, I_max)   (not integrated while the cycles are held
//!                                                         at a bound in the direction of e_k)
//! u_k   = (1 + K_p)·e_k + I_k
//! C_set = TDS_m·10^(u_k/k_L)                              target basin TDS, mg/L
//! N_k   = clamp(C_set/C_mu, N_min, N_max)                 cycles this step
//! ```
//!
//! with `C_mu` the make-up TDS of the previous step (the feed-forward of conductivity control:
//! at steady state the basin holds `N·C_mu`), `N_max` the tower's design `cycles` (and any
//! per-species limit `C_limit/C_mu`), `N_min` its `min_cycles`. With `K_p = 0` and `I = 0` the law
//! is the pure model inverse: each step it sets the conductivity set point that has `LSI = L*`.
//! The basin answers as a completely mixed volume, `V·dC/dt = M·C_mu − (B + D)·C`, i.e. first
//! order toward `N·C_mu` with the time constant `τ = V/(B + D)` (tens of hours at design flows),
//! so without overdrive the index error decays as `e^(−t/τ)`; `K_p > 0` asks for more (or less)
//! blowdown than the steady state needs while the basin is off target, which shortens the
//! approach roughly by `1 + K_p` until the cycles hit a bound. The integrator removes the
//! steady error of a wrong feed-forward (a make-up TDS that is not the one the basin sees) and is
//! bounded (`I_max`) and frozen at saturation (anti-windup). Defaults: `K_p = 0.5`,
//! `T_i = 48 h`, `I_max = 0.5`.
//!
//! **Inhibitor dose** scheduled on the measured index instead of a fixed dose per m³ of make-up:
//!
//! ```text
//! s = clamp((L_m − L_u)/(L_i − L_u), 0, 1)          L_u un-inhibited limit, L_i = L_u + credit
//! dose = s·c_full·(B + D)/1000                     kg/h
//! ```
//!
//! `c_full` is the recirculating inhibitor concentration at full dose (mg/L; product lost with
//! blowdown and drift is replaced, the steady-state dosing balance; the inventory of the basin
//! is not tracked). Below `L_u` no inhibitor is needed (GB/T 50050 practice: untreated water kept
//! at a non-scaling index); at the inhibited limit the full dose is. A fixed dose `d` kg/m³ of
//! make-up holds `c = 1000·d·N` mg/L, which is the default `c_full` at the design cycles.
//!
//! Not modelled: acid dosing for pH (a declared controlled pH is taken as held), sensor drift
//! and dropouts, the controller's own sampling delay (one step), and any dynamics of the
//! inhibitor in the basin.

use crate::chemistry::{lsi, rsi};
use crate::economics::Chemical;
use parktwin_engine::events::standard_normal;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Slope of the LSI in `log10` of the concentration factor at the equilibrium pH
/// (`1.9 + 1.465`), and at a fixed pH (`1.9`).
pub const K_LSI_EQ: f64 = 3.365;
/// Slope of the LSI in `log10` of the concentration factor at a fixed pH.
pub const K_LSI_FIXED_PH: f64 = 1.9;

/// A conductivity sensor's noise (from a declared meter).
#[derive(Clone, Debug)]
pub struct Sensor {
    /// Standard deviation, µS/cm.
    pub sd_us_per_cm: f64,
    /// Constant offset, µS/cm.
    pub bias_us_per_cm: f64,
    /// TDS/EC factor, mg/L per µS/cm.
    pub tds_per_us_per_cm: f64,
    /// Noise stream.
    pub rng: ChaCha8Rng,
}

impl Sensor {
    /// A sensor with a ChaCha8 stream seeded by `seed`.
    pub fn new(sd_us_per_cm: f64, bias_us_per_cm: f64, tds_per_us_per_cm: f64, seed: u64) -> Self {
        Self {
            sd_us_per_cm,
            bias_us_per_cm,
            tds_per_us_per_cm,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Measured TDS, mg/L, of water with true TDS `tds` (never below zero).
    pub fn read(&mut self, tds: f64) -> f64 {
        let k = self.tds_per_us_per_cm;
        let ec = tds / k + self.bias_us_per_cm + self.sd_us_per_cm * standard_normal(&mut self.rng);
        (k * ec).max(0.0)
    }
}

/// One step of the controller, for the record.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct DosingStep {
    /// Measured recirculating TDS, mg/L.
    pub tds_measured_mg_per_l: f64,
    /// Measured LSI.
    pub lsi: f64,
    /// Measured RSI.
    pub rsi: f64,
    /// Cycles set.
    pub cycles: f64,
    /// Integrator, LSI units.
    pub integral: f64,
    /// Inhibitor schedule factor `s`, 0–1.
    pub schedule: f64,
    /// Inhibitor dosed, kg.
    pub inhibitor_kg: f64,
}

/// The smart controller of a cooling tower (see the module docs): parameters, state and record.
#[derive(Clone, Debug)]
pub struct SmartDosing {
    /// Target LSI `L*`.
    pub lsi_target: f64,
    /// Proportional overdrive `K_p` (dimensionless).
    pub gain_p: f64,
    /// Integral time `T_i`, h.
    pub integral_h: f64,
    /// Integrator bound `I_max`, LSI units.
    pub integral_max: f64,
    /// Un-inhibited LSI limit `L_u`: no inhibitor at or below it.
    pub lsi_uninhibited: f64,
    /// Inhibited LSI limit `L_i`: full dose at or above it.
    pub lsi_inhibited: f64,
    /// Recirculating inhibitor concentration at full dose `c_full`, mg/L.
    pub inhibitor_full_mg_per_l: f64,
    /// The inhibitor's price and carbon (its `kg_per_m3` is not used).
    pub inhibitor: Option<Chemical>,
    /// Species index of calcium hardness, mg/L as CaCO3.
    pub calcium: usize,
    /// Species index of alkalinity, mg/L as CaCO3.
    pub alkalinity: usize,
    /// Controlled pH (`None`: equilibrium pH from alkalinity).
    pub ph: Option<f64>,
    /// Conductivity sensor noise (`None`: the true value).
    pub sensor: Option<Sensor>,
    /// Integrator state, LSI units.
    pub integral: f64,
    /// Whether the last cycles were held at the upper (`1`) or lower (`-1`) bound, else `0`.
    pub saturated: i8,
    /// Record of every step.
    pub log: Vec<DosingStep>,
}

/// The measured state of the recirculating water.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// Measured TDS, mg/L.
    pub tds: f64,
    /// LSI.
    pub lsi: f64,
    /// RSI.
    pub rsi: f64,
}

impl SmartDosing {
    /// Slope `k_L` of the LSI in `log10` of the concentration factor.
    pub fn k_lsi(&self) -> f64 {
        if self.ph.is_some() {
            K_LSI_FIXED_PH
        } else {
            K_LSI_EQ
        }
    }

    /// Measures the basin of composition `basin` (mg/L per species; TDS first) at `t_hot_c`;
    /// `None` when TDS, calcium or alkalinity is not positive (no index is defined).
    pub fn measure(&mut self, basin: &[f64], t_hot_c: f64) -> Option<Measurement> {
        let (tds, ca, alk) = (basin[0], basin[self.calcium], basin[self.alkalinity]);
        if !(tds > 0.0 && ca > 0.0 && alk > 0.0) {
            return None;
        }
        let m = match &mut self.sensor {
            Some(s) => s.read(tds),
            None => tds,
        };
        if m <= 0.0 {
            return None;
        }
        let f = m / tds;
        Some(Measurement {
            tds: m,
            lsi: lsi(m, ca * f, alk * f, t_hot_c, self.ph),
            rsi: rsi(m, ca * f, alk * f, t_hot_c, self.ph),
        })
    }

    /// The control law: cycles for measurement `m`, make-up TDS `makeup_tds` (mg/L), step
    /// `dt_h` and bounds `[n_min, n_max]`; updates the integrator.
    pub fn cycles(
        &mut self,
        m: &Measurement,
        makeup_tds: f64,
        dt_h: f64,
        n_min: f64,
        n_max: f64,
    ) -> f64 {
        let e = self.lsi_target - m.lsi;
        let frozen = (self.saturated > 0 && e > 0.0) || (self.saturated < 0 && e < 0.0);
        if !frozen && self.integral_h > 0.0 {
            self.integral = (self.integral + dt_h / self.integral_h * e)
                .clamp(-self.integral_max, self.integral_max);
        }
        let u = (1.0 + self.gain_p) * e + self.integral;
        let c_set = m.tds * 10f64.powf(u / self.k_lsi());
        let raw = if makeup_tds > 0.0 {
            c_set / makeup_tds
        } else {
            n_max
        };
        let n = raw.clamp(n_min, n_max.max(n_min));
        self.saturated = if raw >= n_max {
            1
        } else if raw <= n_min {
            -1
        } else {
            0
        };
        n
    }

    /// Inhibitor schedule factor `s` for a measured LSI.
    pub fn schedule(&self, lsi: f64) -> f64 {
        let span = self.lsi_inhibited - self.lsi_uninhibited;
        if span <= 0.0 {
            return if lsi > self.lsi_uninhibited { 1.0 } else { 0.0 };
        }
        ((lsi - self.lsi_uninhibited) / span).clamp(0.0, 1.0)
    }

    /// Inhibitor dose, kg, for schedule `s` and blowdown plus drift `bd_m3` (m³ this step).
    pub fn dose_kg(&self, s: f64, bd_m3: f64) -> f64 {
        s * self.inhibitor_full_mg_per_l * bd_m3 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn controller() -> SmartDosing {
        SmartDosing {
            lsi_target: 1.8,
            gain_p: 0.0,
            integral_h: 0.0,
            integral_max: 0.5,
            lsi_uninhibited: 0.5,
            lsi_inhibited: 2.0,
            inhibitor_full_mg_per_l: 20.0,
            inhibitor: None,
            calcium: 1,
            alkalinity: 2,
            ph: None,
            sensor: None,
            integral: 0.0,
            saturated: 0,
            log: Vec::new(),
        }
    }

    /// The pure model inverse (`K_p = 0`, no integrator) sets the cycles whose steady basin
    /// (make-up × N) has exactly the target LSI, from any basin of the make-up's ratios.
    #[test]
    fn model_inverse_hits_target_at_steady_state() {
        let mut c = controller();
        let makeup = [400.0, 120.0, 100.0];
        let basin: Vec<f64> = makeup.iter().map(|x| x * 6.0).collect();
        let m = c.measure(&basin, 38.0).unwrap();
        let n = c.cycles(&m, makeup[0], 1.0, 1.5, 20.0);
        let l = lsi(400.0 * n, 120.0 * n, 100.0 * n, 38.0, None);
        assert_relative_eq!(l, 1.8, max_relative = 1e-12);
        // The inhibitor schedule: (1.8 − 0.5)/(2.0 − 0.5) = 0.8667; 20 mg/L over 10 m³ = 0.2 kg.
        assert_relative_eq!(c.schedule(1.8), 1.3 / 1.5, max_relative = 1e-12);
        assert_eq!(c.schedule(0.2), 0.0);
        assert_eq!(c.schedule(2.5), 1.0);
        assert_relative_eq!(c.dose_kg(1.0, 10.0), 0.2, max_relative = 1e-12);
    }

    /// The integrator is bounded and frozen while the cycles sit at a bound.
    #[test]
    fn integrator_anti_windup() {
        let mut c = controller();
        c.integral_h = 1.0;
        let m = Measurement {
            tds: 1000.0,
            lsi: 0.0,
            rsi: 7.0,
        };
        // Error +1.8 every step: the cycles hit n_max at once, so the integrator stops at its
        // first increment (1.8, clamped to 0.5) and does not grow further.
        for _ in 0..10 {
            let n = c.cycles(&m, 400.0, 1.0, 1.5, 6.0);
            assert_eq!(n, 6.0);
        }
        assert_eq!(c.integral, 0.5);
        assert_eq!(c.saturated, 1);
    }
}
