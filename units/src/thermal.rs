//! Thermal desalination: multi-effect distillation (MED) and mechanical vapour compression
//! (MVC), and the heat sources thermal units share.
//!
//! **Water and species.** Recovery `r` (distillate/feed); the distillate carries a small
//! fraction `κ_s` of the feed's concentration (carry-over; distillate 5–25 mg/L from seawater
//! [M]), the brine the rest:
//!
//! ```text
//! Q_d = r·Q_f,  C_d = κ·C_f            Q_b = (1 − r)·Q_f,  C_b = (1 − r·κ)/(1 − r)·C_f
//! ```
//!
//! **Energy** per m³ of distillate (DOMAIN.md, "Thermal desalination"):
//!
//! ```text
//! MED:  q_th = 1000·h_fg/(GOR·3600) kWh_th/m³  (h_fg = 2,333 kJ/kg: 64.8 kWh_th/m³ at GOR 10)
//!       e    = kWh_e/m³ (default 1.8; 1.5–2.5 [M])
//! MVC:  e    = e_0 + e_1·C_f[g/L]            (defaults 2.5 + 0.2·C: 9.5 kWh/m³ on 35 g/L,
//!                                             DOMAIN.md 7–12 [M]; rising on brines, where the
//!                                             boiling-point elevation the compressor must
//!                                             overcome grows with salinity)
//! ```
//!
//! **Heat source**: the park's heat factor and price, waste heat (no carbon, no price: say so
//! per scenario), or an own boiler whose fuel factor and price per kWh of fuel are divided by
//! its efficiency to give the factor and price per kWh of heat delivered.

use crate::economics::{Capital, Chemical, book_chemicals};
use crate::treatment::{Feed, feed_target};
use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::network::{FlowKind, PortDecl, PortRole};
use parktwin_engine::state::{
    Booking, Clock, Energy, Flows, Quality, Species, Storage, UnitIndex, UnitInputs,
};

/// Where a unit's heat comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HeatSource {
    /// The park's heat factor and price.
    Park,
    /// Waste heat: no carbon, no price.
    WasteHeat,
    /// An own boiler.
    Boiler {
        /// Fuel factor, kg CO2 per kWh of fuel.
        fuel_kg_co2_per_kwh: f64,
        /// Boiler efficiency, 0–1.
        efficiency: f64,
        /// Fuel price, yuan per kWh of fuel.
        fuel_yuan_per_kwh: f64,
    },
}

impl HeatSource {
    /// Writes unit `u`'s own heat factor and price for this step (the park's when `Park`).
    pub fn apply(&self, energy: &mut Energy, u: usize) {
        match *self {
            HeatSource::Park => {}
            HeatSource::WasteHeat => {
                energy.heat_kg_per_kwh[u] = 0.0;
                energy.heat_yuan_per_kwh[u] = 0.0;
            }
            HeatSource::Boiler {
                fuel_kg_co2_per_kwh,
                efficiency,
                fuel_yuan_per_kwh,
            } => {
                energy.heat_kg_per_kwh[u] = fuel_kg_co2_per_kwh / efficiency;
                energy.heat_yuan_per_kwh[u] = fuel_yuan_per_kwh / efficiency;
            }
        }
    }
}

/// Energy model of an evaporator, per m³ of distillate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThermalEnergy {
    /// Multi-effect distillation.
    Med {
        /// Gain output ratio.
        gor: f64,
        /// Electricity, kWh/m³.
        kwh_per_m3: f64,
        /// Latent heat of the heating steam, kJ/kg.
        latent_heat_kj_per_kg: f64,
    },
    /// Mechanical vapour compression.
    Mvc {
        /// kWh/m³ at zero salinity.
        base_kwh_per_m3: f64,
        /// kWh/m³ per g/L of feed TDS.
        kwh_per_m3_per_g_per_l: f64,
    },
}

impl ThermalEnergy {
    /// `(electricity kWh, heat kWh_th)` per m³ of distillate for feed TDS `tds` mg/L.
    pub fn per_m3(&self, tds_mg_per_l: f64) -> (f64, f64) {
        match *self {
            ThermalEnergy::Med {
                gor,
                kwh_per_m3,
                latent_heat_kj_per_kg,
            } => (kwh_per_m3, 1000.0 * latent_heat_kj_per_kg / (gor * 3600.0)),
            ThermalEnergy::Mvc {
                base_kwh_per_m3,
                kwh_per_m3_per_g_per_l,
            } => (
                base_kwh_per_m3 + kwh_per_m3_per_g_per_l * tds_mg_per_l.max(0.0) / 1000.0,
                0.0,
            ),
        }
    }
}

/// A thermal desalination unit (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct ThermalDesal {
    /// Energy model.
    pub energy: ThermalEnergy,
    /// Recovery, distillate/feed, (0, 1).
    pub recovery: f64,
    /// Carry-over per species: distillate concentration / feed concentration.
    pub carryover: Vec<f64>,
    /// Heat source.
    pub heat_source: HeatSource,
    /// Chemicals per m³ of feed.
    pub chemicals: Vec<Chemical>,
    /// Feed mode.
    pub feed: Feed,
    /// Whether a `FillTank` feed is running (state).
    pub running: bool,
    /// Annualised capital cost.
    pub capital: Capital,
}

impl UnitModel for ThermalDesal {
    const TYPE_NAME: &'static str = "ThermalDesal";
    fn flow_kind(&self) -> FlowKind {
        self.feed.flow_kind()
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("feed")
    }
    fn ports(&self) -> Vec<PortDecl> {
        vec![
            PortDecl::new("distillate", PortRole::Driven),
            PortDecl::new("brine", PortRole::Driven),
        ]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        let ns = self.carryover.len();
        let r = self.recovery;
        let d = ctx.port(u, "distillate");
        let b = ctx.port(u, "brine");
        ctx.inputs.port_share[d] = r;
        ctx.inputs.port_share[b] = 1.0 - r;
        let tau_b: Vec<f64> = self
            .carryover
            .iter()
            .map(|k| (1.0 - r * k) / (1.0 - r))
            .collect();
        ctx.set_transfer(d, &self.carryover, &vec![0.0; ns]);
        ctx.set_transfer(b, &tau_b, &vec![0.0; ns]);
    }
}

/// Demand phase: feed set-point.
pub fn demand(
    mut q: Query<(&UnitIndex, &mut ThermalDesal)>,
    clock: Res<Clock>,
    storage: Res<Storage>,
    mut inputs: ResMut<UnitInputs>,
) {
    for (i, mut t) in &mut q {
        let u = i.get();
        let t = &mut *t;
        let target = feed_target(&t.feed, &mut t.running, clock.step, &storage);
        inputs.target[u] = if inputs.online[u] { target } else { 0.0 };
    }
}

/// Account phase: electricity and heat per m³ of distillate from this step's feed salinity;
/// heat source; chemicals; capital.
pub fn account(
    q: Query<(&UnitIndex, &ThermalDesal)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    species: Res<Species>,
    quality: Res<Quality>,
    mut energy: ResMut<Energy>,
) {
    let ns = species.len();
    for (i, t) in &q {
        let u = i.get();
        let dt = clock.dt_h;
        let mut b = Booking::default();
        t.capital.book(&mut b, dt);
        t.heat_source.apply(&mut energy, u);
        let v = flows.throughput[u] * dt;
        if v > 0.0 {
            let (e, h) = t.energy.per_m3(quality.inlet[u * ns]);
            let distillate = t.recovery * v;
            b.electricity_kwh += e * distillate;
            b.heat_kwh += h * distillate;
            book_chemicals(&mut b, v, &t.chemicals);
        }
        energy.assign(u, &b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// MED at GOR 10 with h_fg 2,333 kJ/kg: `q_th = 1000·2333/(10·3600)` = 64.806 kWh_th/m³
    /// (DOMAIN.md: 40–80); MVC on 35 g/L: `2.5 + 0.2·35` = 9.5 kWh/m³, on 100 g/L 22.5.
    #[test]
    fn thermal_energy_by_hand() {
        let med = ThermalEnergy::Med {
            gor: 10.0,
            kwh_per_m3: 1.8,
            latent_heat_kj_per_kg: 2333.0,
        };
        let (e, h) = med.per_m3(35_000.0);
        assert_eq!(e, 1.8);
        assert_relative_eq!(h, 64.8056, max_relative = 1e-5);
        let mvc = ThermalEnergy::Mvc {
            base_kwh_per_m3: 2.5,
            kwh_per_m3_per_g_per_l: 0.2,
        };
        assert_relative_eq!(mvc.per_m3(35_000.0).0, 9.5, max_relative = 1e-12);
        assert_relative_eq!(mvc.per_m3(100_000.0).0, 22.5, max_relative = 1e-12);
    }
}
