//! Enterprise process: a water use with a demand, a consumptive loss, added loads and a
//! wastewater outlet.
//!
//! Demand (m³/h) is `production(t) × specific_use`, with `production` in the product's own unit
//! per hour (t/h, kL/h, 100 m/h) and `specific_use` in m³ per product unit. A shortfall cuts
//! production in proportion: `product = x/specific_use` for throughput `x`.
//!
//! Water: a fraction `f` of the inflow is consumed (evaporated, or bound into the product), the
//! rest `(1 − f)·x` leaves by `waste`. Species: a load `γ_s` g per m³ of inflow is added (loads
//! per product unit are converted at the file boundary: `γ = 1000·kg_per_unit/specific_use`), so a
//! zero flow adds nothing. Evaporated water carries no species, so the wastewater concentration
//! is `C_w = (c + γ)/(1 − f)`; water bound into the product leaves at the wastewater
//! concentration, so then `C_w = c + γ` on both ports.
//!
//! The fixed-load operation of water-network synthesis (Wang & Smith 1994; El-Halwagi 1997) is
//! the special case with a contaminant load `m` kg/h, limiting inlet and outlet concentrations:
//! its limiting flow `F = 1000·m/(C_out,max − C_in,max)` m³/h is the demand, `γ = C_out,max −
//! C_in,max` for the contaminant, `f = 0`, and `C_in,max` is its accepted inlet limit.

use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::network::{ExitKind, FlowKind, PortDecl, PortRole};
use parktwin_engine::record::UnitOutputs;
use parktwin_engine::series::{Drivers, Series};
use parktwin_engine::state::{Clock, Flows, UnitIndex, UnitInputs};

/// Where a process's consumed water goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Evaporated: carries no species.
    Evaporated,
    /// Bound into the product: carries species at the wastewater concentration.
    IntoProduct,
}

/// An enterprise process (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct Process {
    /// Production rate, product units per hour.
    pub production_per_h: Series,
    /// Specific water use, m³ per product unit.
    pub specific_use_m3: f64,
    /// Consumed fraction of the inflow, 0–1 (< 1 when evaporated).
    pub consumptive_fraction: f64,
    /// Where consumed water goes.
    pub loss: Loss,
    /// Load added per m³ of inflow, per species, g/m³.
    pub load_g_per_m3: Vec<f64>,
    /// Highest accepted inlet concentration per species, mg/L (infinite when none).
    pub accept_mg_per_l: Vec<f64>,
}

impl UnitModel for Process {
    const TYPE_NAME: &'static str = "Process";
    fn flow_kind(&self) -> FlowKind {
        FlowKind::Demand
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("in")
    }
    fn ports(&self) -> Vec<PortDecl> {
        let exit = match self.loss {
            Loss::Evaporated => ExitKind::Evaporation,
            Loss::IntoProduct => ExitKind::Product,
        };
        vec![
            PortDecl::new("waste", PortRole::Driven),
            PortDecl::new("consumed", PortRole::Exit(exit)),
        ]
    }
    fn uses_water(&self) -> bool {
        true
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        let ns = self.load_g_per_m3.len();
        let f = self.consumptive_fraction;
        let waste = ctx.port(u, "waste");
        let consumed = ctx.port(u, "consumed");
        ctx.inputs.port_share[waste] = 1.0 - f;
        ctx.inputs.port_share[consumed] = f;
        let (tau_w, scale) = match self.loss {
            Loss::Evaporated => (1.0 / (1.0 - f), 1.0 / (1.0 - f)),
            Loss::IntoProduct => (1.0, 1.0),
        };
        let lambda_w: Vec<f64> = self.load_g_per_m3.iter().map(|g| g * scale).collect();
        ctx.set_transfer(waste, &vec![tau_w; ns], &lambda_w);
        match self.loss {
            Loss::Evaporated => ctx.set_transfer(consumed, &vec![0.0; ns], &vec![0.0; ns]),
            Loss::IntoProduct => ctx.set_transfer(consumed, &vec![1.0; ns], &lambda_w),
        }
        ctx.set_generated(u, &self.load_g_per_m3);
        ctx.set_accept(u, &self.accept_mg_per_l);
    }
}

/// Demand phase: demand from production, `production(t)·k·specific_use` (k the load factor),
/// with `production(t)` read from [`Drivers`] (this unit's driver is its production).
pub fn demand(
    q: Query<(&UnitIndex, &Process)>,
    clock: Res<Clock>,
    drivers: Res<Drivers>,
    mut inputs: ResMut<UnitInputs>,
) {
    for (i, p) in &q {
        let u = i.get();
        inputs.target[u] = if inputs.online[u] {
            (drivers.value(u, &p.production_per_h, clock.step)
                * inputs.load_factor[u]
                * p.specific_use_m3)
                .max(0.0)
        } else {
            0.0
        };
    }
}

/// Account phase: product made with the water received.
pub fn account(
    q: Query<(&UnitIndex, &Process)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    mut outputs: ResMut<UnitOutputs>,
) {
    for (i, p) in &q {
        let u = i.get();
        // Assigned every step (no per-step clearing of `UnitOutputs`); `0.0 + x` is what the
        // zeroed entry added to gave (it turns −0 into +0).
        outputs.product[u] = if p.specific_use_m3 > 0.0 {
            0.0 + flows.throughput[u] / p.specific_use_m3 * clock.dt_h
        } else {
            0.0
        };
    }
}
