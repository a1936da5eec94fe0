//! Open recirculating cooling tower: circulation from heat load or given directly, evaporation
//! by a selectable method with weather drivers, drift, blowdown on fixed cycles or on
//! conductivity, cycles limited by scaling, a completely mixed system volume, and fans, pumps
//! and treatment chemicals.
//!
//! Equations (DOMAIN.md, "Cooling towers"; GB/T 50050 form). Symbols: R circulation, ΔT range
//! (hot − cold water), E evaporation, D drift, B blowdown, M make-up, N cycles of concentration:
//!
//! ```text
//! R = Q_heat/(ρ·c_p·ΔT)            m³/h (Q_heat in W → ×3600/ρ), or R given (then Q_heat follows)
//! E = 0.00153·R·ΔT                 metric rule (m³/h, °C)                        [S]
//! E = k(T_air)·ΔT·R                GB/T 50050, k by inlet (dry-bulb) air temperature:
//!                                  −10 °C 0.0008, 0 °C 0.0010, 10 °C 0.0012, 20 °C 0.0014,
//!                                  30 °C 0.0015, 40 °C 0.0016 /°C, linear between, held
//!                                  beyond the ends                                [M]
//! E = f·Q_heat/h_fg                latent heat with latent share f (f = 1 is the upper bound
//!                                  R·ρ·c_p·ΔT/h_fg), h_fg = 2,400 kJ/kg            [S]
//! D = d·R                          drift, d = fraction of circulation
//! B = max(E/(N − 1) − D, 0)        blowdown, excluding drift
//! M = E + B + D                    make-up (the unit's demand) = E·N/(N − 1) when B ≥ 0
//! ```
//!
//! Blowdown figures here exclude drift. **Cycles** this step: the design cycles `N_d`, or under
//! conductivity control `N = C_set/C_m` (TDS as the conductivity proxy, `C_m` the make-up TDS of
//! the previous step, so the basin settles at `C_set`), then capped by scaling limits evaluated on
//! the previous step's make-up composition: the largest `N` with `LSI ≤ LSI_max + credit` and
//! `RSI ≥ RSI_min` of the make-up concentrated `N` times (closed forms in [`crate::chemistry`];
//! temperature the hot-water temperature `T_wb + approach + ΔT`; pH the recirculating water's
//! equilibrium pH from alkalinity unless a controlled pH is given), and `N ≤ C_limit/C_m` for each
//! species with a limit. An inhibitor's `credit` raises the allowed LSI (DOMAIN.md: LSI limits of
//! 1.5–2.5 with an inhibitor [M]). `N` never falls below `min_cycles` (a `physics` diagnostic
//! says when a limit asked for less). The first step, or a step after one without make-up, keeps
//! the cycles last used.
//!
//! **Smart control** (`smart`, [`crate::dosing`]): instead of the cycles above, a controller
//! reads the basin's conductivity (the start-of-step basin, optionally with a meter's noise) and
//! pH, computes the basin's LSI and RSI at the hot-water temperature, and sets
//! `N = clamp(C_set/C_m, min_cycles, cycles)` with `C_set` the basin TDS its model inverse and PI
//! trim ask for (the LSI/RSI caps do not apply; per-species limits still do); the scale
//! inhibitor is then dosed on the measured index (`s·c_full·(B + D)`) instead of per m³ of
//! make-up. Without it every result is what it was before the controller existed.
//!
//! The basin and pipework hold `V` m³ as a completely mixed volume (time constant `V/(B + D)`,
//! typically days), so salts follow the exact mixed-volume closed form; evaporation carries no
//! species, blowdown and drift carry recirculating water. At steady state the recirculating
//! concentration is `M·C_m/(B + D) = N·C_m`. A shortfall of make-up scales evaporation, drift and
//! blowdown in proportion (the tower rejects less heat; reported as unmet demand).
//!
//! Electricity: circulation pumping `ρ·g·R·H/η` over `circulation_head_m` and `pump_efficiency`,
//! plus fans at `fan_kw_per_mw` per MW of heat load (DOMAIN.md pumps; fan default 7 kW/MW
//! [M]: typical mechanical-draft towers draw 5–10 kW per MW rejected). Treatment chemicals and
//! the scale inhibitor at their doses per m³ of make-up (the inhibitor on the controller's
//! schedule under smart control); an annualised capital cost if given.
//! The circulation is booked as recirculated water (repeated use, cooling recirculation KPIs).

use crate::chemistry::max_cycles_by_index;
use crate::dosing::{DosingStep, SmartDosing};
use crate::economics::{Capital, Chemical};
use crate::weather::{Weather, WeatherNow, weather_at};
use crate::{CP_WATER, InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::diagnostics::{DiagnosticKind, Diagnostics};
use parktwin_engine::network::Topology;
use parktwin_engine::network::{ExitKind, FlowKind, PortDecl, PortRole, QualityKind};
use parktwin_engine::record::{RHO_WATER, UnitOutputs, pumping_kwh};
use parktwin_engine::series::{Drivers, Series};
use parktwin_engine::state::{
    Booking, Clock, Energy, Flows, Quality, Species, Storage, UnitIndex, UnitInputs,
};

/// Metric rule coefficient for evaporation, 1/°C.
pub const METRIC_RULE: f64 = 0.00153;
/// Latent heat of vaporisation used for tower evaporation, J/kg (DOMAIN.md: ≈ 2,400 kJ/kg).
pub const H_FG_TOWER: f64 = 2.4e6;
/// GB/T 50050 evaporation coefficient k (1/°C) by inlet air temperature (°C).
pub const GBT50050_K: [(f64, f64); 6] = [
    (-10.0, 0.0008),
    (0.0, 0.0010),
    (10.0, 0.0012),
    (20.0, 0.0014),
    (30.0, 0.0015),
    (40.0, 0.0016),
];

/// How evaporation is computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Evaporation {
    /// `E = 0.00153·R·ΔT`.
    MetricRule,
    /// `E = k(T_dry)·ΔT·R` with the GB/T 50050 coefficient table.
    GbT50050,
    /// `E = f·Q/h_fg` with latent share `f`.
    LatentHeat {
        /// Share of the heat load leaving as latent heat, 0–1.
        latent_share: f64,
    },
}

/// How blowdown is controlled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Blowdown {
    /// Fixed (design) cycles.
    FixedCycles,
    /// Conductivity control: hold the recirculating TDS at the set point.
    Conductivity {
        /// Recirculating TDS set point, mg/L.
        setpoint_mg_per_l: f64,
    },
}

/// Scaling limits on the cycles of concentration.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingLimit {
    /// Species index of calcium hardness (mg/L as CaCO3).
    pub calcium: Option<usize>,
    /// Species index of alkalinity (mg/L as CaCO3).
    pub alkalinity: Option<usize>,
    /// Controlled recirculating pH; `None` = equilibrium pH from alkalinity.
    pub ph: Option<f64>,
    /// Largest LSI without inhibitor.
    pub lsi_max: Option<f64>,
    /// Smallest RSI.
    pub rsi_min: Option<f64>,
    /// Per species: largest recirculating concentration, mg/L (infinite when none).
    pub limit_mg_per_l: Vec<f64>,
}

/// A cooling tower (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct CoolingTower {
    /// Heat load, MW (unused when `circulation_m3_per_h` is given).
    pub heat_load_mw: Series,
    /// Circulation, m³/h, when given directly (the heat load is then `R·ρ·c_p·ΔT`).
    pub circulation_m3_per_h: Option<Series>,
    /// Range (hot − cold water), °C.
    pub range_c: f64,
    /// Design cycles of concentration N (> 1): fixed, or the upper bound when controlled.
    pub cycles: f64,
    /// Drift as a fraction of circulation.
    pub drift_fraction: f64,
    /// System holding volume, m³.
    pub holding_volume_m3: f64,
    /// Initial recirculating concentration per species, mg/L.
    pub initial_mg_per_l: Vec<f64>,
    /// Circulation pump head, m.
    pub circulation_head_m: f64,
    /// Circulation pump wire-to-water efficiency.
    pub pump_efficiency: f64,
    /// Fan electricity per MW of heat load, kW/MW.
    pub fan_kw_per_mw: f64,
    /// Treatment chemicals per m³ of make-up, kg/m³.
    pub chemical_kg_per_m3: f64,
    /// Carbon of those chemicals, kg CO2e/kg.
    pub chemical_co2_per_kg: f64,
    /// Price of those chemicals, yuan/kg.
    pub chemical_yuan_per_kg: f64,
    /// Evaporation method.
    pub evaporation: Evaporation,
    /// Blowdown control.
    pub blowdown: Blowdown,
    /// Scaling limits, if any.
    pub scaling: Option<ScalingLimit>,
    /// Scale inhibitor (dose per m³ of make-up) and the LSI it allows above `lsi_max`.
    pub inhibitor: Option<(Chemical, f64)>,
    /// Approach of the cold water to the wet bulb, °C.
    pub approach_c: f64,
    /// Lowest cycles a limit may impose.
    pub min_cycles: f64,
    /// Annualised capital cost.
    pub capital: Capital,
    /// Cycles used in the current step (state).
    pub cycles_now: f64,
    /// Smart controller of blowdown and inhibitor dose on the measured LSI ([`crate::dosing`]);
    /// `None` keeps the fixed-cycles or conductivity behaviour above, unchanged.
    pub smart: Option<Box<SmartDosing>>,
}

impl CoolingTower {
    /// A tower with the simple model's behaviour (metric rule, fixed cycles, no limits); the
    /// other fields take their defaults.
    #[expect(clippy::too_many_arguments, reason = "the simple model's parameters")]
    pub fn simple(
        heat_load_mw: Series,
        range_c: f64,
        cycles: f64,
        drift_fraction: f64,
        holding_volume_m3: f64,
        initial_mg_per_l: Vec<f64>,
        circulation_head_m: f64,
        pump_efficiency: f64,
        fan_kw_per_mw: f64,
    ) -> Self {
        Self {
            heat_load_mw,
            circulation_m3_per_h: None,
            range_c,
            cycles,
            drift_fraction,
            holding_volume_m3,
            initial_mg_per_l,
            circulation_head_m,
            pump_efficiency,
            fan_kw_per_mw,
            chemical_kg_per_m3: 0.0,
            chemical_co2_per_kg: 0.0,
            chemical_yuan_per_kg: 0.0,
            evaporation: Evaporation::MetricRule,
            blowdown: Blowdown::FixedCycles,
            scaling: None,
            inhibitor: None,
            approach_c: DEFAULT_APPROACH_C,
            min_cycles: DEFAULT_MIN_CYCLES,
            capital: Capital::default(),
            cycles_now: cycles,
            smart: None,
        }
    }
}

/// Default approach of the cold water to the wet bulb, °C ([M]: 3–6 °C for industrial towers).
pub const DEFAULT_APPROACH_C: f64 = 5.0;
/// Default lowest cycles a scaling limit may impose (below 1.5 the blowdown exceeds twice the
/// evaporation and the tower is better run once-through).
pub const DEFAULT_MIN_CYCLES: f64 = 1.5;

/// GB/T 50050 evaporation coefficient at inlet air temperature `t_c`, 1/°C.
pub fn gbt50050_k(t_c: f64) -> f64 {
    let t = &GBT50050_K;
    if t_c <= t[0].0 {
        return t[0].1;
    }
    for w in t.windows(2) {
        let ((t0, k0), (t1, k1)) = (w[0], w[1]);
        if t_c <= t1 {
            return k0 + (k1 - k0) * (t_c - t0) / (t1 - t0);
        }
    }
    t[t.len() - 1].1
}

impl CoolingTower {
    /// The tower's driver: its circulation when given, else its heat load (what
    /// [`circulation_and_heat`] reads; the step's value comes from [`Drivers`]).
    pub fn driver(&self) -> &Series {
        self.circulation_m3_per_h
            .as_ref()
            .unwrap_or(&self.heat_load_mw)
    }
}

/// Circulation (m³/h) and heat load (MW) at `step`, with the load multiplier applied.
pub fn circulation_and_heat(ct: &CoolingTower, step: usize, load_factor: f64) -> (f64, f64) {
    circulation_and_heat_of(ct, ct.driver().at(step), load_factor)
}

/// Circulation (m³/h) and heat load (MW) for the driver's value `x` (circulation when given,
/// else heat load), with the load multiplier applied: `R = max(x·k, 0)` and
/// `Q = R·ρ·c_p·ΔT`, or `Q = max(x·k, 0)` and `R = Q/(ρ·c_p·ΔT)`.
pub fn circulation_and_heat_of(ct: &CoolingTower, x: f64, load_factor: f64) -> (f64, f64) {
    match &ct.circulation_m3_per_h {
        Some(_) => {
            let r = (x * load_factor).max(0.0);
            (r, r * RHO_WATER * CP_WATER * ct.range_c / 3600.0 / 1e6)
        }
        None => {
            let q = (x * load_factor).max(0.0);
            (circulation_of_heat(ct, q), q)
        }
    }
}

/// Circulation, m³/h, for heat load `q_mw`: `R = Q/(ρ·c_p·ΔT)`.
#[inline]
pub fn circulation_of_heat(ct: &CoolingTower, q_mw: f64) -> f64 {
    q_mw.max(0.0) * 1e6 / (RHO_WATER * CP_WATER * ct.range_c) * 3600.0
}

/// Evaporation, m³/h, for circulation `r` (m³/h), heat load `q_mw` and the weather.
pub fn evaporation(ct: &CoolingTower, r: f64, q_mw: f64, w: &WeatherNow) -> f64 {
    match ct.evaporation {
        Evaporation::MetricRule => METRIC_RULE * r * ct.range_c,
        Evaporation::GbT50050 => gbt50050_k(w.dry_bulb_c) * ct.range_c * r,
        Evaporation::LatentHeat { latent_share } => {
            latent_share * q_mw * 1e6 / H_FG_TOWER * 3600.0 / RHO_WATER
        }
    }
}

/// Drift, blowdown and make-up, m³/h, for circulation `r`, evaporation `e` and cycles `n`.
#[inline]
pub fn drift_blowdown_makeup(ct: &CoolingTower, r: f64, e: f64, n: f64) -> (f64, f64, f64) {
    let d = ct.drift_fraction * r;
    let b = (e / (n - 1.0) - d).max(0.0);
    (d, b, e + b + d)
}

/// Circulation, evaporation, drift, blowdown and make-up, m³/h, for heat load `q_mw` with the
/// metric rule and the design cycles (the simple model).
pub fn water_terms(ct: &CoolingTower, q_mw: f64) -> (f64, f64, f64, f64, f64) {
    let r = circulation_of_heat(ct, q_mw);
    let e = METRIC_RULE * r * ct.range_c;
    let (d, b, m) = drift_blowdown_makeup(ct, r, e, ct.cycles);
    (r, e, d, b, m)
}

/// Hot-water temperature, °C: wet bulb + approach + range.
#[inline]
pub fn hot_water_c(ct: &CoolingTower, w: &WeatherNow) -> f64 {
    w.wet_bulb_c + ct.approach_c + ct.range_c
}

/// The cycles this step asks for before the `min_cycles` floor, from the make-up composition
/// `makeup` (mg/L per species; `None` when unknown) and the weather.
pub fn cycles_wanted(ct: &CoolingTower, makeup: Option<&[f64]>, w: &WeatherNow) -> f64 {
    let Some(c) = makeup else {
        return ct.cycles_now;
    };
    let mut n = match ct.blowdown {
        Blowdown::FixedCycles => ct.cycles,
        Blowdown::Conductivity { setpoint_mg_per_l } => {
            if c[0] > 0.0 {
                (setpoint_mg_per_l / c[0]).min(ct.cycles)
            } else {
                ct.cycles
            }
        }
    };
    if let Some(s) = &ct.scaling {
        let credit = ct.inhibitor.as_ref().map_or(0.0, |(_, k)| *k);
        if let (Some(ca), Some(alk)) = (s.calcium, s.alkalinity) {
            n = n.min(max_cycles_by_index(
                c[0],
                c[ca],
                c[alk],
                hot_water_c(ct, w),
                s.ph,
                s.lsi_max.map(|l| l + credit),
                s.rsi_min,
            ));
        }
        for (k, &lim) in s.limit_mg_per_l.iter().enumerate() {
            if lim.is_finite() && c[k] > 0.0 {
                n = n.min(lim / c[k]);
            }
        }
    }
    n
}

impl UnitModel for CoolingTower {
    const TYPE_NAME: &'static str = "CoolingTower";
    fn flow_kind(&self) -> FlowKind {
        FlowKind::Demand
    }
    fn quality_kind(&self) -> QualityKind {
        QualityKind::Mixed
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("makeup")
    }
    fn ports(&self) -> Vec<PortDecl> {
        vec![
            PortDecl::new("blowdown", PortRole::Driven),
            PortDecl::new("evaporation", PortRole::Exit(ExitKind::Evaporation)),
            PortDecl::new("drift", PortRole::Exit(ExitKind::Drift)),
        ]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        ctx.set_volume(
            u,
            self.holding_volume_m3,
            f64::INFINITY,
            0.0,
            &self.initial_mg_per_l,
        );
    }
    fn uses_water(&self) -> bool {
        true
    }
}

/// Demand phase: cycles, make-up and port shares from the heat load and the weather.
#[expect(
    clippy::too_many_arguments,
    reason = "a system reads the resources it needs"
)]
pub fn demand(
    mut q: Query<(&UnitIndex, &mut CoolingTower)>,
    clock: Res<Clock>,
    topo: Res<Topology>,
    species: Res<Species>,
    quality: Res<Quality>,
    flows: Res<Flows>,
    storage: Res<Storage>,
    weather: Option<Res<Weather>>,
    drivers: Res<Drivers>,
    mut inputs: ResMut<UnitInputs>,
    mut diag: ResMut<Diagnostics>,
) {
    let w = weather_at(weather.as_deref(), clock.step);
    let ns = species.len();
    let nc = species.conserved;
    for (i, mut ct) in &mut q {
        let u = i.get();
        // The step's heat load or circulation (from the driver window, docs/drivers.md).
        let driver = drivers.value(u, ct.driver(), clock.step);
        let simple = ct.evaporation == Evaporation::MetricRule
            && ct.blowdown == Blowdown::FixedCycles
            && ct.scaling.is_none()
            && ct.circulation_m3_per_h.is_none()
            && ct.smart.is_none();
        let (e, d, b, m) = if let Some(mut smart) = ct.smart.take() {
            // The smart controller (crate::dosing): cycles from the measured basin index.
            let makeup = (clock.step > 0 && flows.throughput[u] > 0.0)
                .then(|| &quality.inlet[u * ns..u * ns + nc]);
            let basin = &storage.conc[u * ns..u * ns + nc];
            let t_hot = hot_water_c(&ct, &w);
            let measured = smart.measure(basin, t_hot);
            // Upper bound: the design cycles and any per-species limit on the make-up.
            let mut n_max = ct.cycles;
            if let (Some(s), Some(c)) = (&ct.scaling, makeup) {
                for (k, &lim) in s.limit_mg_per_l.iter().enumerate() {
                    if lim.is_finite() && c[k] > 0.0 {
                        n_max = n_max.min(lim / c[k]);
                    }
                }
            }
            let n = match (&measured, makeup) {
                (Some(meas), Some(c)) => smart.cycles(meas, c[0], clock.dt_h, ct.min_cycles, n_max),
                _ => ct.cycles_now.clamp(ct.min_cycles, n_max.max(ct.min_cycles)),
            };
            let (lsi, rsi, tds) =
                measured.map_or((f64::NAN, f64::NAN, f64::NAN), |m| (m.lsi, m.rsi, m.tds));
            let schedule = measured.map_or(1.0, |m| smart.schedule(m.lsi));
            smart.log.push(DosingStep {
                tds_measured_mg_per_l: tds,
                lsi,
                rsi,
                cycles: n,
                integral: smart.integral,
                schedule,
                inhibitor_kg: 0.0,
            });
            ct.smart = Some(smart);
            ct.cycles_now = n;
            let (r, q_mw) = circulation_and_heat_of(&ct, driver, inputs.load_factor[u]);
            let e = evaporation(&ct, r, q_mw, &w);
            let (d, b, m) = drift_blowdown_makeup(&ct, r, e, n);
            (e, d, b, m)
        } else if simple {
            // The simple model, in its own arithmetic (results identical to earlier versions).
            let (_, e, d, b, m) = water_terms(&ct, driver * inputs.load_factor[u]);
            (e, d, b, m)
        } else {
            // The previous step's solved make-up mix (none at the first step or after a step
            // without make-up).
            let makeup = (clock.step > 0 && flows.throughput[u] > 0.0)
                .then(|| &quality.inlet[u * ns..u * ns + nc]);
            let wanted = cycles_wanted(&ct, makeup, &w);
            let n = wanted.max(ct.min_cycles);
            if wanted < ct.min_cycles {
                let id = &topo.unit_id[u];
                diag.push(DiagnosticKind::Physics, clock.step, Some(id), || {
                    format!(
                        "{id}: scaling or conductivity limit asks for {wanted:.2} cycles, held at the minimum {:.2}",
                        ct.min_cycles
                    )
                });
            }
            ct.cycles_now = n;
            let (r, q_mw) = circulation_and_heat_of(&ct, driver, inputs.load_factor[u]);
            let e = evaporation(&ct, r, q_mw, &w);
            let (d, b, m) = drift_blowdown_makeup(&ct, r, e, n);
            (e, d, b, m)
        };
        let online = inputs.online[u];
        inputs.target[u] = if online { m } else { 0.0 };
        let ports = topo.ports_of(u);
        let (sb, se, sd) = if m > 0.0 {
            (b / m, e / m, d / m)
        } else {
            (0.0, 0.0, 0.0)
        };
        // Ports in declaration order: blowdown, evaporation, drift.
        let p0 = ports.start;
        inputs.port_share[p0] = sb;
        inputs.port_share[p0 + 1] = se;
        inputs.port_share[p0 + 2] = sd;
    }
}

/// Account phase: pumps, fans, chemicals, circulation, capital.
#[expect(
    clippy::too_many_arguments,
    reason = "a system reads the resources it needs"
)]
pub fn account(
    mut q: Query<(&UnitIndex, &mut CoolingTower)>,
    clock: Res<Clock>,
    topo: Res<Topology>,
    flows: Res<Flows>,
    inputs: Res<UnitInputs>,
    drivers: Res<Drivers>,
    mut energy: ResMut<Energy>,
    mut outputs: ResMut<UnitOutputs>,
) {
    for (i, mut ct) in &mut q {
        let ct = &mut *ct;
        let u = i.get();
        let driver = drivers.value(u, ct.driver(), clock.step);
        let dt = clock.dt_h;
        let mut b = Booking::default();
        ct.capital.book(&mut b, dt);
        let target = inputs.target[u];
        if target <= 0.0 {
            energy.assign(u, &b);
            outputs.recirculated_m3[u] = 0.0;
            continue;
        }
        // Share of the design duty actually delivered (1 unless make-up was short).
        let duty = (flows.throughput[u] / target).min(1.0);
        let (r, q_mw) = match &ct.circulation_m3_per_h {
            None => {
                let q_mw = (driver * inputs.load_factor[u]).max(0.0) * duty;
                (circulation_of_heat(ct, q_mw), q_mw)
            }
            Some(_) => {
                let (r, q_mw) = circulation_and_heat_of(ct, driver, inputs.load_factor[u]);
                (r * duty, q_mw * duty)
            }
        };
        b.electricity_kwh += pumping_kwh(r, ct.circulation_head_m, ct.pump_efficiency, dt)
            + ct.fan_kw_per_mw * q_mw * dt;
        let makeup = flows.throughput[u] * dt;
        let chem = ct.chemical_kg_per_m3 * makeup;
        b.chemicals_kg += chem;
        b.chemicals_co2_kg += chem * ct.chemical_co2_per_kg;
        b.chemicals_cost += chem * ct.chemical_yuan_per_kg;
        if let Some(smart) = &mut ct.smart {
            // Inhibitor on the measured index: s·c_full·(B + D) (crate::dosing).
            let p0 = topo.ports_of(u).start;
            let bd_m3 =
                flows.throughput[u] * (inputs.port_share[p0] + inputs.port_share[p0 + 2]) * dt;
            let sched = smart.log.last().map(|l| l.schedule);
            if let (Some(chem), Some(sv)) = (&smart.inhibitor, sched) {
                let kg = smart.dose_kg(sv, bd_m3);
                b.chemicals_kg += kg;
                b.chemicals_co2_kg += kg * chem.co2_per_kg;
                b.chemicals_cost += kg * chem.yuan_per_kg;
                if let Some(last) = smart.log.last_mut() {
                    last.inhibitor_kg = kg;
                }
            }
        } else if let Some((c, _)) = &ct.inhibitor {
            c.book(&mut b, makeup);
        }
        energy.assign(u, &b);
        // `0.0 + x` as when the entry was zeroed and added to (it turns −0 into +0).
        outputs.recirculated_m3[u] = 0.0 + r * dt;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn tower(cycles: f64, drift: f64) -> CoolingTower {
        CoolingTower::simple(
            Series::Const(20.0),
            8.0,
            cycles,
            drift,
            500.0,
            vec![0.0],
            20.0,
            0.75,
            7.0,
        )
    }

    fn weather(dry: f64, wet: f64) -> WeatherNow {
        WeatherNow {
            dry_bulb_c: dry,
            wet_bulb_c: wet,
            rainfall_mm_per_h: 0.0,
        }
    }

    /// 20 MW over an 8 °C range: `R = 20e6/(1000·4186·8)·3600` = 2,150.02 m³/h;
    /// `E = 0.00153·R·8` = 26.316 m³/h; drift 0.0001·R = 0.215; with N = 4,
    /// `B = E/3 − D` = 8.557 and `M = E + B + D = E·N/(N − 1)` = 35.088 m³/h.
    #[test]
    fn water_terms_by_hand() {
        let (r, e, d, b, m) = water_terms(&tower(4.0, 0.0001), 20.0);
        assert_relative_eq!(
            r,
            20e6 / (1000.0 * 4186.0 * 8.0) * 3600.0,
            max_relative = 1e-12
        );
        assert_relative_eq!(r, 2150.02, max_relative = 1e-5);
        assert_relative_eq!(e, 0.00153 * r * 8.0, max_relative = 1e-12);
        assert_relative_eq!(d, 0.0001 * r, max_relative = 1e-12);
        assert_relative_eq!(b, e / 3.0 - d, max_relative = 1e-12);
        assert_relative_eq!(m, e * 4.0 / 3.0, max_relative = 1e-12);
        // Salt: M·C_m = (B + D)·C_r at steady state, so C_r/C_m = M/(B + D) = N.
        assert_relative_eq!(m / (b + d), 4.0, max_relative = 1e-12);
    }

    /// With so much drift that `E/(N − 1) < D`, blowdown is zero, never negative.
    #[test]
    fn blowdown_is_never_negative() {
        let (_, _, _, b, _) = water_terms(&tower(10.0, 0.01), 20.0);
        assert_eq!(b, 0.0);
    }

    /// Evaporation of 20 MW over 8 °C (R = 2,150.02 m³/h) by each method:
    /// GB/T 50050 at 25 °C dry bulb: `k = 0.0014 + 0.0001·5/10 = 0.00145`, `E = 0.00145·8·R`
    /// = 24.940 m³/h; at 45 °C the table's end value 0.0016 holds (27.520 m³/h); latent heat with
    /// share 0.85: `E = 0.85·20e6/2.4e6·3600/1000` = 25.5 m³/h; with share 1 it equals the bound
    /// `R·ρ·c_p·ΔT/h_fg` (kg/h, ÷ 1000 for m³/h) = 30.0 m³/h.
    #[test]
    fn evaporation_methods_by_hand() {
        let mut ct = tower(4.0, 0.0);
        let r = circulation_of_heat(&ct, 20.0);
        ct.evaporation = Evaporation::GbT50050;
        assert_relative_eq!(
            evaporation(&ct, r, 20.0, &weather(25.0, 20.0)),
            0.00145 * 8.0 * r,
            max_relative = 1e-12
        );
        assert_relative_eq!(
            evaporation(&ct, r, 20.0, &weather(25.0, 20.0)),
            24.940,
            max_relative = 1e-4
        );
        assert_relative_eq!(
            evaporation(&ct, r, 20.0, &weather(45.0, 30.0)),
            0.0016 * 8.0 * r,
            max_relative = 1e-12
        );
        assert_relative_eq!(gbt50050_k(-20.0), 0.0008);
        ct.evaporation = Evaporation::LatentHeat { latent_share: 0.85 };
        assert_relative_eq!(
            evaporation(&ct, r, 20.0, &weather(25.0, 20.0)),
            25.5,
            max_relative = 1e-12
        );
        ct.evaporation = Evaporation::LatentHeat { latent_share: 1.0 };
        assert_relative_eq!(
            evaporation(&ct, r, 20.0, &weather(25.0, 20.0)),
            r * 1000.0 * 4186.0 * 8.0 / 2.4e6 / 1000.0,
            max_relative = 1e-12
        );
    }

    /// Circulation given directly, 2,000 m³/h over 8 °C: `Q = 2000·1000·4186·8/3600/1e6`
    /// = 18.604 MW.
    #[test]
    fn circulation_drive_by_hand() {
        let mut ct = tower(4.0, 0.0);
        ct.circulation_m3_per_h = Some(Series::Const(2000.0));
        let (r, q) = circulation_and_heat(&ct, 0, 1.0);
        assert_eq!(r, 2000.0);
        assert_relative_eq!(q, 18.6044, max_relative = 1e-5);
    }

    /// Cycles by limit, make-up TDS 400, Ca 120 and alkalinity 100 mg/L as CaCO3, silica
    /// 20 mg/L: conductivity set point 2,000 mg/L → `N = 5`; a silica limit of 150 mg/L →
    /// `N = 7.5`; an LSI limit of 1.8 at pH_eq and `T_hot = 25 + 5 + 8 = 38 °C` gives
    /// `N = 10^((1.8 − LSI(1))/3.365)` (checked by evaluating LSI at N); an inhibitor credit of
    /// 0.5 raises it by `10^(0.5/3.365) = 1.408`×.
    #[test]
    fn cycles_by_limits() {
        let mut ct = tower(8.0, 0.0);
        let w = weather(30.0, 25.0);
        let c = [400.0, 120.0, 100.0, 20.0];
        ct.blowdown = Blowdown::Conductivity {
            setpoint_mg_per_l: 2000.0,
        };
        assert_relative_eq!(cycles_wanted(&ct, Some(&c), &w), 5.0);
        ct.blowdown = Blowdown::FixedCycles;
        ct.scaling = Some(ScalingLimit {
            calcium: None,
            alkalinity: None,
            ph: None,
            lsi_max: None,
            rsi_min: None,
            limit_mg_per_l: vec![f64::INFINITY, f64::INFINITY, f64::INFINITY, 150.0],
        });
        assert_relative_eq!(cycles_wanted(&ct, Some(&c), &w), 7.5);
        ct.cycles = 100.0;
        ct.scaling = Some(ScalingLimit {
            calcium: Some(1),
            alkalinity: Some(2),
            ph: None,
            lsi_max: Some(1.8),
            rsi_min: None,
            limit_mg_per_l: vec![f64::INFINITY; 4],
        });
        let n = cycles_wanted(&ct, Some(&c), &w);
        let l = crate::chemistry::lsi(400.0 * n, 120.0 * n, 100.0 * n, 38.0, None);
        assert_relative_eq!(l, 1.8, max_relative = 1e-12);
        ct.inhibitor = Some((Chemical::default(), 0.5));
        let n2 = cycles_wanted(&ct, Some(&c), &w);
        assert_relative_eq!(n2 / n, 10f64.powf(0.5 / 3.365), max_relative = 1e-12);
    }
}
