//! Generic treatment unit: recovery, per-species removal to a reject stream, destruction,
//! electricity and chemicals.
//!
//! With recovery `r` (product/feed), a fraction `ρ_s` of each species' inlet mass sent to the
//! reject and a fraction `δ_s` destroyed (oxidised, converted to gas or sludge solids):
//!
//! ```text
//! Q_product = r·x           C_product = (1 − ρ_s − δ_s)/r · c
//! Q_reject  = (1 − r)·x     C_reject  = ρ_s/(1 − r) · c
//! removed   = δ_s·x·c
//! ```
//!
//! so the species balance closes for any inlet. With `r = 1` there is no reject and `ρ_s` must
//! be 0. Electricity `e·x` kWh (e in kWh/m³ of feed; WaterTAP data in DOMAIN.md: UF 0.231,
//! MF 0.18, NF 0.231, activated-sludge aeration 0.14), chemicals `k·x` kg.
//!
//! Feed: `Accept` takes what is pushed to it; `Fixed` draws a set feed rate from its supply
//! links (a source, an equalisation tank); `FillTank` draws up to its capacity while a named
//! tank is below `start_below` of its capacity, until it reaches `stop_above` (hysteresis).

use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::network::{FlowKind, PortDecl, PortRole};
use parktwin_engine::series::Series;
use parktwin_engine::state::{Clock, Energy, Flows, Storage, UnitIndex, UnitInputs};

/// How a treatment unit's feed is decided.
#[derive(Clone, Debug)]
pub enum Feed {
    /// Takes whatever is pushed to it.
    Accept,
    /// Draws this feed rate, m³/h.
    Fixed(Series),
    /// Draws up to `capacity` m³/h while tank `tank` (unit index) is below `start_below` of its
    /// capacity, until it is above `stop_above`.
    FillTank {
        /// Unit index of the tank.
        tank: usize,
        /// Feed capacity, m³/h.
        capacity_m3_per_h: f64,
        /// Start when the level is below this fraction.
        start_below: f64,
        /// Stop when the level is above this fraction.
        stop_above: f64,
    },
}

/// A treatment unit (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct Treatment {
    /// Recovery, product/feed, (0, 1].
    pub recovery: f64,
    /// Fraction of each species' inlet mass sent to the reject.
    pub to_reject: Vec<f64>,
    /// Fraction of each species' inlet mass destroyed.
    pub destroyed: Vec<f64>,
    /// Electricity per m³ of feed, kWh/m³.
    pub kwh_per_m3: f64,
    /// Heat per m³ of feed, kWh_th/m³.
    pub heat_kwh_per_m3: f64,
    /// Chemicals per m³ of feed, kg/m³.
    pub chemical_kg_per_m3: f64,
    /// Carbon of the chemicals, kg CO2e/kg.
    pub chemical_co2_per_kg: f64,
    /// Price of the chemicals, yuan/kg.
    pub chemical_yuan_per_kg: f64,
    /// Feed mode.
    pub feed: Feed,
    /// Whether a `FillTank` feed is running.
    pub running: bool,
}

impl UnitModel for Treatment {
    const TYPE_NAME: &'static str = "Treatment";
    fn flow_kind(&self) -> FlowKind {
        match self.feed {
            Feed::Accept => FlowKind::Accept,
            _ => FlowKind::Demand,
        }
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("in")
    }
    fn ports(&self) -> Vec<PortDecl> {
        let reject = PortDecl::new("reject", PortRole::Driven);
        vec![
            PortDecl::new("product", PortRole::Driven),
            if self.recovery >= 1.0 {
                reject.optional()
            } else {
                reject
            },
        ]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        let ns = self.to_reject.len();
        let r = self.recovery;
        let product = ctx.port(u, "product");
        let reject = ctx.port(u, "reject");
        ctx.inputs.port_share[product] = r;
        ctx.inputs.port_share[reject] = 1.0 - r;
        let tau_p: Vec<f64> = (0..ns)
            .map(|s| (1.0 - self.to_reject[s] - self.destroyed[s]) / r)
            .collect();
        let tau_r: Vec<f64> = (0..ns)
            .map(|s| {
                if r < 1.0 {
                    self.to_reject[s] / (1.0 - r)
                } else {
                    0.0
                }
            })
            .collect();
        ctx.set_transfer(product, &tau_p, &vec![0.0; ns]);
        ctx.set_transfer(reject, &tau_r, &vec![0.0; ns]);
        ctx.set_removed(u, &self.destroyed);
    }
}

/// Demand phase: feed set-point.
pub fn demand(
    mut q: Query<(&UnitIndex, &mut Treatment)>,
    clock: Res<Clock>,
    storage: Res<Storage>,
    mut inputs: ResMut<UnitInputs>,
) {
    for (i, mut t) in &mut q {
        let u = i.get();
        let online = inputs.online[u];
        let target = match t.feed {
            Feed::Accept => 0.0,
            Feed::Fixed(ref s) => s.at(clock.step).max(0.0),
            Feed::FillTank {
                tank,
                capacity_m3_per_h,
                start_below,
                stop_above,
            } => {
                let level = storage.volume[tank] / storage.capacity[tank];
                if level < start_below {
                    t.running = true;
                } else if level >= stop_above {
                    t.running = false;
                }
                if t.running { capacity_m3_per_h } else { 0.0 }
            }
        };
        inputs.target[u] = if online { target } else { 0.0 };
    }
}

/// Account phase: electricity, heat, chemicals.
pub fn account(
    q: Query<(&UnitIndex, &Treatment)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    mut energy: ResMut<Energy>,
) {
    for (i, t) in &q {
        let u = i.get();
        let v = flows.throughput[u] * clock.dt_h;
        energy.electricity_kwh[u] += t.kwh_per_m3 * v;
        energy.heat_kwh[u] += t.heat_kwh_per_m3 * v;
        let chem = t.chemical_kg_per_m3 * v;
        energy.chemicals_kg[u] += chem;
        energy.chemicals_co2_kg[u] += chem * t.chemical_co2_per_kg;
        energy.chemicals_cost[u] += chem * t.chemical_yuan_per_kg;
    }
}
