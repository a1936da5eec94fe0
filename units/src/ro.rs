//! Reverse osmosis (seawater, brackish water, reuse polishing): recovery, rejection per species,
//! feed pressure from the concentrate's osmotic pressure, pumps and energy recovery, scaling
//! limits on recovery, and a second-law guard.
//!
//! **Water and species.** Recovery `r` (permeate/feed, by volume) and rejection `R_s` per
//! species. Rejection is measured either against the feed (`C_p = (1 − R)·C_f`) or against the
//! mean of feed and concentrate (`C_p = (1 − R)·(C_f + C_c)/2`, the basis of membrane
//! projection software); the concentrate follows from the species balance:
//!
//! ```text
//! Q_p = r·Q_f        Q_c = (1 − r)·Q_f
//! feed basis:   τ_p = 1 − R
//! mean basis:   τ_p = a·(2 − r)/((1 − r) + a·r),  a = (1 − R)/2
//! τ_c = (1 − r·τ_p)/(1 − r)                      so Q_p·C_p + Q_c·C_c = Q_f·C_f exactly
//! ```
//!
//! **Pressure.** Osmotic pressures of feed, concentrate and permeate from their TDS and the feed
//! temperature (van 't Hoff with an osmotic coefficient, [`crate::chemistry`]). Pressures are
//! gauge (permeate and suction at atmospheric). The feed pressure is, by choice:
//!
//! ```text
//! NetDriving:   P_f = π_c − π_p + NDP_25/TCF(T) + ΔP_drop   NDP at the concentrate end, at 25 °C
//! OverOsmotic:  P_f = f·π_c − P_atm                          absolute f·π_c: WaterTAP's
//!                                                            calculate_operating_pressure form
//! Fixed:        P_f given
//! ```
//!
//! TCF is the membrane temperature correction factor, so a cold season needs a higher pressure
//! and the specific energy varies with the feed temperature. **Second-law guard**: the feed
//! pressure is never below the concentrate's osmotic pressure `π_c` (a single stage cannot
//! deliver its recovery below it); when a fixed or computed pressure is lower it is raised to
//! `π_c` and a `physics` diagnostic names the unit and step.
//!
//! **Energy** per m³ of feed (1 bar·m³ = 1/36 kWh; pump efficiency η_p, energy-recovery
//! efficiency η_E, booster efficiency η_b; DOMAIN.md "Reverse osmosis"):
//!
//! ```text
//! no recovery:           e_f = P_f/η_p
//! turbine (Pelton):      e_f = P_f/η_p − η_E·(1 − r)·(P_f − ΔP_drop)
//! pressure exchanger:    e_f = r·P_f/η_p + (1 − r)·(P_f − η_E·(P_f − ΔP_drop))/η_b
//! SEC = e_f/(36·r)       kWh per m³ of permeate
//! ```
//!
//! With an isobaric pressure exchanger the high-pressure pump lifts the permeate-equivalent flow
//! and the booster lifts the brine-side flow by the exchanger's loss. With `ΔP_drop = 0` the
//! turbine form is DOMAIN.md's `(ΔP/36)·(1/η_p − η_E·(1 − r))/r`. The specific energy may also be
//! given directly (a vendor figure); then the guard checks it: no step reports a specific energy
//! below the thermodynamic minimum `w_min = π_f·ln(1/(1 − r))/r` for its feed and recovery (it
//! is raised to `w_min` with a `physics` diagnostic). Intake, pretreatment and post-treatment
//! electricity may be added per m³ of feed.
//!
//! **Scaling limits on recovery**, evaluated on the previous step's feed: the largest `r ≤ r_d`
//! (design recovery) such that each species with a concentrate limit stays below it
//! (`τ_c,s(r)·C_f,s ≤ C_limit,s`; silica, for example, ≈ 120 mg/L at 25 °C without antiscalant
//! [M]), and the calcium-sulphate saturation of the concentrate stays below `S_max`:
//!
//! ```text
//! S = γ²·[Ca][SO4]/K_sp    [ ] in mol/L, K_sp(gypsum, 25 °C) = 10^−4.58            [S]
//! log10 γ = −0.51·z²·(√I/(1 + √I) − 0.3·I),  z = 2                        Davies    [S]
//! I = 2.5e-5·TDS[mg/L]                                    Langelier's approximation [S]
//! ```
//!
//! (`S_max` ≈ 1 without antiscalant; vendors allow about 2.3 with one [M].) The largest `r` is
//! found by bisection (the concentration factor rises monotonically with `r`). Recovery never
//! falls below `min_recovery` (a diagnostic says when a limit asked for less).
//!
//! **Stages and passes** are built from several units: the concentrate of a first stage linked to
//! a second stage's feed, or the permeate of a first pass to a second pass.
//!
//! Chemicals (antiscalant, cleaning) per m³ of feed, and an annualised capital cost.

use crate::chemistry::{
    KWH_PER_BAR_M3, OsmoticCoefficient, P_ATM_BAR, minimum_work_kwh_per_m3, osmotic_pressure_bar,
    temperature_correction_factor,
};
use crate::economics::{Capital, Chemical, book_chemicals};
use crate::treatment::{Feed, feed_target};
use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::diagnostics::{DiagnosticKind, Diagnostics};
use parktwin_engine::network::{FlowKind, PortDecl, PortRole, Topology};
use parktwin_engine::series::Series;
use parktwin_engine::state::{
    Booking, Clock, Energy, Flows, Quality, Species, Storage, UnitIndex, UnitInputs,
};

/// What a rejection is measured against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RejectionBasis {
    /// `C_p = (1 − R)·C_f`.
    Feed,
    /// `C_p = (1 − R)·(C_f + C_c)/2`.
    FeedConcentrateMean,
}

/// How the feed pressure is found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FeedPressure {
    /// `P_f = π_c − π_p + NDP_25/TCF(T) + ΔP_drop`, bar.
    NetDriving {
        /// Net driving pressure at the concentrate end at 25 °C, bar.
        ndp_bar: f64,
    },
    /// Absolute feed pressure `f·π_c` (gauge `f·π_c − P_atm`).
    OverOsmotic {
        /// Factor on the concentrate's osmotic pressure (> 1).
        factor: f64,
    },
    /// Given gauge feed pressure, bar.
    Fixed {
        /// Feed pressure, bar gauge.
        bar: f64,
    },
}

/// Energy recovery on the concentrate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EnergyRecovery {
    /// None: the concentrate is throttled.
    None,
    /// A turbine (Pelton wheel, pump as turbine) of this efficiency returning energy to the
    /// high-pressure pump's shaft.
    Turbine {
        /// Efficiency, 0–1.
        efficiency: f64,
    },
    /// An isobaric pressure exchanger with a booster pump.
    PressureExchanger {
        /// Exchanger efficiency, 0–1.
        efficiency: f64,
        /// Booster pump efficiency, 0–1.
        booster_efficiency: f64,
    },
}

/// Calcium-sulphate scaling limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CalciumSulphate {
    /// Species index of calcium (mg/L as Ca).
    pub calcium: usize,
    /// Species index of sulphate (mg/L as SO4).
    pub sulphate: usize,
    /// Largest saturation ratio allowed in the concentrate.
    pub saturation_max: f64,
}

/// A reverse-osmosis unit (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct ReverseOsmosis {
    /// Design recovery, permeate/feed by volume, (0, 1).
    pub recovery: f64,
    /// Rejection per species, 0–1.
    pub rejection: Vec<f64>,
    /// What rejection is measured against.
    pub basis: RejectionBasis,
    /// Feed temperature, °C.
    pub feed_temperature_c: Series,
    /// Osmotic coefficient.
    pub osmotic: OsmoticCoefficient,
    /// Feed pressure mode.
    pub pressure: FeedPressure,
    /// Feed-to-concentrate pressure drop, bar.
    pub pressure_drop_bar: f64,
    /// High-pressure pump efficiency (wire to water), 0–1.
    pub pump_efficiency: f64,
    /// Energy recovery.
    pub recovery_device: EnergyRecovery,
    /// Specific energy given directly, kWh per m³ of permeate (instead of the pressure model).
    pub sec_kwh_per_m3: Option<f64>,
    /// Other electricity (intake, pretreatment, post-treatment), kWh per m³ of feed.
    pub other_kwh_per_m3: f64,
    /// Per species: largest concentrate concentration, mg/L (infinite when none).
    pub concentrate_limit_mg_per_l: Vec<f64>,
    /// Calcium-sulphate limit, if any.
    pub caso4: Option<CalciumSulphate>,
    /// Lowest recovery a scaling limit may impose.
    pub min_recovery: f64,
    /// Chemicals per m³ of feed.
    pub chemicals: Vec<Chemical>,
    /// Feed mode.
    pub feed: Feed,
    /// Whether a `FillTank` feed is running (state).
    pub running: bool,
    /// Annualised capital cost.
    pub capital: Capital,
    /// Recovery used in the current step (state).
    pub recovery_now: f64,
}

/// Default lowest recovery a scaling limit may impose.
pub const DEFAULT_MIN_RECOVERY: f64 = 0.1;
/// Solubility product of gypsum at 25 °C, (mol/L)² (10^−4.58).
pub const KSP_GYPSUM: f64 = 2.630_267_991_895_382e-5;
/// Molar mass of calcium, g/mol.
pub const M_CA: f64 = 40.078;
/// Molar mass of sulphate, g/mol.
pub const M_SO4: f64 = 96.06;

/// Permeate transfer coefficient `τ_p` for rejection `rej` at recovery `r`.
pub fn tau_permeate(basis: RejectionBasis, rej: f64, r: f64) -> f64 {
    match basis {
        RejectionBasis::Feed => 1.0 - rej,
        RejectionBasis::FeedConcentrateMean => {
            let a = (1.0 - rej) / 2.0;
            a * (2.0 - r) / ((1.0 - r) + a * r)
        }
    }
}

/// Concentrate transfer coefficient `τ_c = (1 − r·τ_p)/(1 − r)`.
#[inline]
pub fn tau_concentrate(tau_p: f64, r: f64) -> f64 {
    (1.0 - r * tau_p) / (1.0 - r)
}

/// Calcium-sulphate saturation ratio of water with calcium `ca` and sulphate `so4` (mg/L) and
/// TDS `tds` (mg/L).
pub fn caso4_saturation(ca: f64, so4: f64, tds: f64) -> f64 {
    let i = 2.5e-5 * tds.max(0.0);
    let sq = i.sqrt();
    let log_g = -0.51 * 4.0 * (sq / (1.0 + sq) - 0.3 * i);
    let g = 10f64.powf(log_g);
    g * g * (ca / M_CA / 1000.0) * (so4 / M_SO4 / 1000.0) / KSP_GYPSUM
}

impl ReverseOsmosis {
    /// Permeate and concentrate transfer coefficients of species `s` at recovery `r`.
    pub fn taus(&self, s: usize, r: f64) -> (f64, f64) {
        let tp = tau_permeate(self.basis, self.rejection[s], r);
        (tp, tau_concentrate(tp, r))
    }

    /// Whether any scaling limit is set (recovery then varies step by step).
    pub fn has_limits(&self) -> bool {
        self.caso4.is_some()
            || self
                .concentrate_limit_mg_per_l
                .iter()
                .any(|l| l.is_finite())
    }

    /// Whether the concentrate at recovery `r` for feed `c` (mg/L per species) is within limits.
    pub fn within_limits(&self, c: &[f64], r: f64) -> bool {
        for (s, &lim) in self.concentrate_limit_mg_per_l.iter().enumerate() {
            if lim.is_finite() && self.taus(s, r).1 * c[s] > lim {
                return false;
            }
        }
        if let Some(k) = self.caso4 {
            let ca = self.taus(k.calcium, r).1 * c[k.calcium];
            let so4 = self.taus(k.sulphate, r).1 * c[k.sulphate];
            let tds = self.taus(0, r).1 * c[0];
            if caso4_saturation(ca, so4, tds) > k.saturation_max {
                return false;
            }
        }
        true
    }

    /// The largest recovery up to the design recovery within the scaling limits for feed `c`
    /// (before the `min_recovery` floor; 0 when even the smallest recovery is over a limit).
    pub fn max_recovery(&self, c: &[f64]) -> f64 {
        if self.within_limits(c, self.recovery) {
            return self.recovery;
        }
        if !self.within_limits(c, 0.0) {
            return 0.0;
        }
        let (mut lo, mut hi) = (0.0, self.recovery);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if self.within_limits(c, mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// One step's pressures and energy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OperatingPoint {
    /// Osmotic pressure of the feed, bar.
    pub pi_feed_bar: f64,
    /// Osmotic pressure of the concentrate, bar.
    pub pi_concentrate_bar: f64,
    /// Osmotic pressure of the permeate, bar.
    pub pi_permeate_bar: f64,
    /// Feed pressure used, bar gauge.
    pub feed_pressure_bar: f64,
    /// Specific energy of the RO stage, kWh per m³ of permeate.
    pub sec_kwh_per_m3: f64,
    /// Thermodynamic minimum for the feed and recovery, kWh per m³ of permeate.
    pub w_min_kwh_per_m3: f64,
    /// Whether the feed pressure was raised to the concentrate's osmotic pressure.
    pub pressure_raised: bool,
    /// Whether the specific energy was raised to the thermodynamic minimum.
    pub sec_raised: bool,
}

/// Pressures and specific energy for feed, permeate and concentrate TDS (mg/L), recovery `r` and
/// feed temperature `t_c` (°C).
pub fn operating_point(
    ro: &ReverseOsmosis,
    tds_feed: f64,
    tds_permeate: f64,
    tds_concentrate: f64,
    r: f64,
    t_c: f64,
) -> OperatingPoint {
    let pi_f = osmotic_pressure_bar(tds_feed, t_c, ro.osmotic);
    let pi_c = osmotic_pressure_bar(tds_concentrate, t_c, ro.osmotic);
    let pi_p = osmotic_pressure_bar(tds_permeate, t_c, ro.osmotic);
    let p = match ro.pressure {
        FeedPressure::NetDriving { ndp_bar } => {
            pi_c - pi_p + ndp_bar / temperature_correction_factor(t_c) + ro.pressure_drop_bar
        }
        FeedPressure::OverOsmotic { factor } => factor * pi_c - P_ATM_BAR,
        FeedPressure::Fixed { bar } => bar,
    };
    let pressure_raised = p < pi_c;
    let p = p.max(pi_c);
    let w_min = minimum_work_kwh_per_m3(pi_f, r);
    let sec = match ro.sec_kwh_per_m3 {
        Some(s) => s,
        None => {
            let eta = ro.pump_efficiency;
            let e_feed = match ro.recovery_device {
                EnergyRecovery::None => p / eta,
                EnergyRecovery::Turbine { efficiency } => {
                    p / eta - efficiency * (1.0 - r) * (p - ro.pressure_drop_bar).max(0.0)
                }
                EnergyRecovery::PressureExchanger {
                    efficiency,
                    booster_efficiency,
                } => {
                    let recovered = efficiency * (p - ro.pressure_drop_bar).max(0.0);
                    r * p / eta + (1.0 - r) * (p - recovered) / booster_efficiency
                }
            };
            if r > 0.0 {
                e_feed * KWH_PER_BAR_M3 / r
            } else {
                0.0
            }
        }
    };
    let sec_raised = sec < w_min;
    OperatingPoint {
        pi_feed_bar: pi_f,
        pi_concentrate_bar: pi_c,
        pi_permeate_bar: pi_p,
        feed_pressure_bar: p,
        sec_kwh_per_m3: sec.max(w_min),
        w_min_kwh_per_m3: w_min,
        pressure_raised,
        sec_raised,
    }
}

impl UnitModel for ReverseOsmosis {
    const TYPE_NAME: &'static str = "ReverseOsmosis";
    fn flow_kind(&self) -> FlowKind {
        self.feed.flow_kind()
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("feed")
    }
    fn ports(&self) -> Vec<PortDecl> {
        vec![
            PortDecl::new("permeate", PortRole::Driven),
            PortDecl::new("concentrate", PortRole::Driven),
        ]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        let ns = self.rejection.len();
        let r = self.recovery;
        let p = ctx.port(u, "permeate");
        let c = ctx.port(u, "concentrate");
        ctx.inputs.port_share[p] = r;
        ctx.inputs.port_share[c] = 1.0 - r;
        let (tp, tc): (Vec<f64>, Vec<f64>) = (0..ns).map(|s| self.taus(s, r)).unzip();
        ctx.set_transfer(p, &tp, &vec![0.0; ns]);
        ctx.set_transfer(c, &tc, &vec![0.0; ns]);
    }
}

/// Demand phase: feed set-point; recovery and transfer coefficients when scaling limits apply.
#[expect(
    clippy::too_many_arguments,
    reason = "a system reads the resources it needs"
)]
pub fn demand(
    mut q: Query<(&UnitIndex, &mut ReverseOsmosis)>,
    clock: Res<Clock>,
    storage: Res<Storage>,
    topo: Res<Topology>,
    species: Res<Species>,
    quality: Res<Quality>,
    flows: Res<Flows>,
    mut inputs: ResMut<UnitInputs>,
    mut diag: ResMut<Diagnostics>,
) {
    let ns = species.len();
    let nc = species.conserved;
    for (i, mut ro) in &mut q {
        let u = i.get();
        let ro = &mut *ro;
        let target = feed_target(&ro.feed, &mut ro.running, clock.step, &storage);
        inputs.target[u] = if inputs.online[u] { target } else { 0.0 };
        if !ro.has_limits() || clock.step == 0 || flows.throughput[u] <= 0.0 {
            continue;
        }
        let c = &quality.inlet[u * ns..u * ns + nc];
        let wanted = ro.max_recovery(c);
        let r = wanted.max(ro.min_recovery);
        if wanted < ro.min_recovery {
            let id = &topo.unit_id[u];
            diag.push(DiagnosticKind::Physics, clock.step, Some(id), || {
                format!(
                    "{id}: concentrate scaling limits allow a recovery of {wanted:.3}, held at the minimum {:.3}",
                    ro.min_recovery
                )
            });
        }
        if r == ro.recovery_now {
            continue;
        }
        ro.recovery_now = r;
        let p0 = topo.ports_of(u).start;
        inputs.port_share[p0] = r;
        inputs.port_share[p0 + 1] = 1.0 - r;
        for s in 0..nc {
            let (tp, tc) = ro.taus(s, r);
            inputs.tau[p0 * ns + s] = tp;
            inputs.tau[(p0 + 1) * ns + s] = tc;
        }
    }
}

/// Account phase: pressures and electricity from this step's solved feed salinity and the feed
/// temperature; guards; chemicals; capital.
#[expect(
    clippy::too_many_arguments,
    reason = "a system reads the resources it needs"
)]
pub fn account(
    q: Query<(&UnitIndex, &ReverseOsmosis)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    topo: Res<Topology>,
    species: Res<Species>,
    quality: Res<Quality>,
    mut energy: ResMut<Energy>,
    mut diag: ResMut<Diagnostics>,
) {
    let ns = species.len();
    for (i, ro) in &q {
        let u = i.get();
        let dt = clock.dt_h;
        let mut b = Booking::default();
        ro.capital.book(&mut b, dt);
        let x = flows.throughput[u];
        if x <= 0.0 {
            energy.assign(u, &b);
            continue;
        }
        let p0 = topo.ports_of(u).start;
        let r = ro.recovery_now;
        let op = operating_point(
            ro,
            quality.inlet[u * ns],
            quality.port[p0 * ns],
            quality.port[(p0 + 1) * ns],
            r,
            ro.feed_temperature_c.at(clock.step),
        );
        let id = &topo.unit_id[u];
        if op.pressure_raised {
            diag.push(DiagnosticKind::Physics, clock.step, Some(id), || {
                format!(
                    "{id}: feed pressure below the concentrate's osmotic pressure {:.2} bar; raised to it",
                    op.pi_concentrate_bar
                )
            });
        }
        if op.sec_raised {
            diag.push(DiagnosticKind::Physics, clock.step, Some(id), || {
                format!(
                    "{id}: specific energy below the thermodynamic minimum {:.3} kWh/m³ for its feed and recovery {r:.3}; raised to it",
                    op.w_min_kwh_per_m3
                )
            });
        }
        let v = x * dt;
        b.electricity_kwh += op.sec_kwh_per_m3 * r * v + ro.other_kwh_per_m3 * v;
        book_chemicals(&mut b, v, &ro.chemicals);
        energy.assign(u, &b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// Species balance of the transfer coefficients at any recovery and basis:
    /// `r·τ_p + (1 − r)·τ_c = 1`; the mean basis gives `C_p = (1 − R)·(C_f + C_c)/2`.
    #[test]
    fn transfer_coefficients_conserve() {
        for basis in [RejectionBasis::Feed, RejectionBasis::FeedConcentrateMean] {
            for &(rej, r) in &[(0.99, 0.45), (0.9, 0.8), (0.0, 0.5), (1.0, 0.3)] {
                let tp = tau_permeate(basis, rej, r);
                let tc = tau_concentrate(tp, r);
                assert_relative_eq!(r * tp + (1.0 - r) * tc, 1.0, max_relative = 1e-14);
                if basis == RejectionBasis::FeedConcentrateMean {
                    assert_relative_eq!(tp, (1.0 - rej) * (1.0 + tc) / 2.0, max_relative = 1e-12);
                }
            }
        }
    }

    /// Gypsum saturation of a brackish concentrate, Ca 400 and SO4 1,200 mg/L, TDS 6,000 mg/L:
    /// `I = 0.15`, `log γ = −2.04·(0.387298/1.387298 − 0.045) = −0.477716`, `γ = 0.332877`,
    /// `[Ca][SO4] = 0.0099805·0.0124922 = 1.24679e-4`, `S = 0.110807·1.24679e-4/2.63027e-5
    /// = 0.52524`.
    #[test]
    fn gypsum_saturation_by_hand() {
        assert_relative_eq!(
            caso4_saturation(400.0, 1200.0, 6000.0),
            0.52524,
            max_relative = 1e-4
        );
    }
}
