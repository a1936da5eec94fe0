//! Storage tank: a completely mixed volume with a capacity, a minimum level and an overflow.
//!
//! Water balance over a step of `Δt` hours: `V1 = V0 + (Q_in − Q_out − Q_over)·Δt`, with
//! `Q_out` what consumers pulled from port `out` — at most `(V0 − V_min)/Δt` and
//! `max_outflow_m3_per_h`, so a tank releases only water it held at the start of the step — and
//! `Q_over = max(0, V0 + (Q_in − Q_out)·Δt − V_max)/Δt` spilled over port `overflow`.
//! Species follow the exact closed form of a completely mixed volume ([`parktwin_engine::mixing`]).
//!
//! Optional refill control pulls from the tank's supply links (a source, another tank): when the
//! level falls below `refill_below` (fraction of capacity) the tank draws up to
//! `refill_max_m3_per_h` until it reaches `refill_to`, with that hysteresis.

use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::network::{FlowKind, PortDecl, PortRole, QualityKind};
use parktwin_engine::state::{Clock, Storage, UnitIndex, UnitInputs};

/// A storage tank (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct Tank {
    /// Capacity, m³.
    pub capacity_m3: f64,
    /// Lowest volume it may be drawn down to, m³.
    pub minimum_m3: f64,
    /// Initial volume, m³.
    pub initial_m3: f64,
    /// Initial concentration per species, mg/L.
    pub initial_mg_per_l: Vec<f64>,
    /// Largest outflow to consumers, m³/h.
    pub max_outflow_m3_per_h: f64,
    /// Refill control: `(below fraction, to fraction, max rate m³/h)`.
    pub refill: Option<(f64, f64, f64)>,
    /// Whether the refill is running (hysteresis state).
    pub refilling: bool,
}

impl UnitModel for Tank {
    const TYPE_NAME: &'static str = "Tank";
    fn flow_kind(&self) -> FlowKind {
        FlowKind::Tank
    }
    fn quality_kind(&self) -> QualityKind {
        QualityKind::Mixed
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("in")
    }
    fn ports(&self) -> Vec<PortDecl> {
        vec![
            PortDecl::new("out", PortRole::Supply),
            PortDecl::new("overflow", PortRole::Overflow),
        ]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        ctx.set_volume(
            u,
            self.initial_m3,
            self.capacity_m3,
            self.minimum_m3,
            &self.initial_mg_per_l,
        );
    }
}

/// Demand phase: what can be drawn, and the refill target.
pub fn demand(
    mut q: Query<(&UnitIndex, &mut Tank)>,
    clock: Res<Clock>,
    storage: Res<Storage>,
    mut inputs: ResMut<UnitInputs>,
) {
    for (i, mut t) in &mut q {
        let u = i.get();
        let v0 = storage.volume[u];
        if !inputs.online[u] {
            inputs.supply_avail[u] = 0.0;
            inputs.target[u] = 0.0;
            continue;
        }
        inputs.supply_avail[u] = ((v0 - t.minimum_m3) / clock.dt_h)
            .max(0.0)
            .min(t.max_outflow_m3_per_h);
        inputs.target[u] = match t.refill {
            Some((below, to, rate)) => {
                if v0 < below * t.capacity_m3 {
                    t.refilling = true;
                } else if v0 >= to * t.capacity_m3 {
                    t.refilling = false;
                }
                if t.refilling {
                    ((to * t.capacity_m3 - v0) / clock.dt_h).clamp(0.0, rate)
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
    }
}
