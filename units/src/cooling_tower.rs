//! Open recirculating cooling tower with fixed cycles of concentration (simple model; the full
//! physics with weather and scaling limits extends it).
//!
//! Equations (DOMAIN.md, "Cooling towers"; GB/T 50050 form):
//!
//! ```text
//! R = Q_heat/(ρ·c_p·ΔT)            circulation, m³/h   (Q_heat in W → ×3600/ρ)
//! E = 0.00153·R·ΔT                 evaporation, metric rule (m³/h, °C)
//! D = d·R                          drift, d = drift fraction of circulation
//! B = max(E/(N − 1) − D, 0)        blowdown, excluding drift
//! M = E + B + D                    make-up (the unit's demand)
//! ```
//!
//! The basin and pipework hold `V` m³ as a completely mixed volume (time constant
//! `V/(B + D)`, typically days), so salts follow the exact mixed-volume closed form; evaporation
//! carries no species, blowdown and drift carry recirculating water. At steady state the
//! recirculating concentration is `M·C_m/(B + D) = N·C_m`. A shortfall of make-up scales
//! evaporation, drift and blowdown in proportion (the tower rejects less heat; reported as unmet
//! demand). Blowdown figures here exclude drift.
//!
//! Electricity: circulation pumping `ρ·g·R·H/η` over `circulation_head_m` and `pump_efficiency`,
//! plus fans at `fan_kw_per_mw` per MW of heat load (DOMAIN.md pumps; fan default 7 kW/MW
//! [M]: typical mechanical-draft towers draw 5–10 kW per MW rejected). Treatment chemicals at
//! `chemical_kg_per_m3` of make-up.

use crate::{CP_WATER, InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::network::Topology;
use parktwin_engine::network::{ExitKind, FlowKind, PortDecl, PortRole, QualityKind};
use parktwin_engine::record::{RHO_WATER, UnitOutputs, pumping_kwh};
use parktwin_engine::series::Series;
use parktwin_engine::state::{Clock, Energy, Flows, UnitIndex, UnitInputs};

/// Metric rule coefficient for evaporation, 1/°C.
pub const METRIC_RULE: f64 = 0.00153;

/// A cooling tower (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct CoolingTower {
    /// Heat load, MW.
    pub heat_load_mw: Series,
    /// Range (hot − cold water), °C.
    pub range_c: f64,
    /// Cycles of concentration N (> 1).
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
}

/// Circulation, evaporation, drift, blowdown and make-up, m³/h, for heat load `q_mw`.
pub fn water_terms(ct: &CoolingTower, q_mw: f64) -> (f64, f64, f64, f64, f64) {
    let r = q_mw.max(0.0) * 1e6 / (RHO_WATER * CP_WATER * ct.range_c) * 3600.0;
    let e = METRIC_RULE * r * ct.range_c;
    let d = ct.drift_fraction * r;
    let b = (e / (ct.cycles - 1.0) - d).max(0.0);
    (r, e, d, b, e + b + d)
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

/// Demand phase: make-up and port shares from the heat load.
pub fn demand(
    q: Query<(&UnitIndex, &CoolingTower)>,
    clock: Res<Clock>,
    topo: Res<Topology>,
    mut inputs: ResMut<UnitInputs>,
) {
    for (i, ct) in &q {
        let u = i.get();
        let (_, e, d, b, m) = water_terms(ct, ct.heat_load_mw.at(clock.step));
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

/// Account phase: pumps, fans, chemicals, circulation.
pub fn account(
    q: Query<(&UnitIndex, &CoolingTower)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    inputs: Res<UnitInputs>,
    mut energy: ResMut<Energy>,
    mut outputs: ResMut<UnitOutputs>,
) {
    for (i, ct) in &q {
        let u = i.get();
        let target = inputs.target[u];
        if target <= 0.0 {
            continue;
        }
        // Share of the design duty actually delivered (1 unless make-up was short).
        let duty = (flows.throughput[u] / target).min(1.0);
        let q_mw = ct.heat_load_mw.at(clock.step).max(0.0) * duty;
        let (r, ..) = water_terms(ct, q_mw);
        let dt = clock.dt_h;
        energy.electricity_kwh[u] += pumping_kwh(r, ct.circulation_head_m, ct.pump_efficiency, dt)
            + ct.fan_kw_per_mw * q_mw * dt;
        let chem = ct.chemical_kg_per_m3 * flows.throughput[u] * dt;
        energy.chemicals_kg[u] += chem;
        energy.chemicals_co2_kg[u] += chem * ct.chemical_co2_per_kg;
        energy.chemicals_cost[u] += chem * ct.chemical_yuan_per_kg;
        outputs.recirculated_m3[u] += r * dt;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn tower(cycles: f64, drift: f64) -> CoolingTower {
        CoolingTower {
            heat_load_mw: Series::Const(20.0),
            range_c: 8.0,
            cycles,
            drift_fraction: drift,
            holding_volume_m3: 500.0,
            initial_mg_per_l: vec![0.0],
            circulation_head_m: 20.0,
            pump_efficiency: 0.75,
            fan_kw_per_mw: 7.0,
            chemical_kg_per_m3: 0.0,
            chemical_co2_per_kg: 0.0,
            chemical_yuan_per_kg: 0.0,
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
}
