//! On-site generation (rooftop PV, wind): an hourly output credited against the park's grid
//! import.
//!
//! The unit moves no water. Each step it books `P(t)·Δt` kWh of generation; the engine nets the
//! park's generation against its electricity hour by hour (import never below zero,
//! `parktwin_engine::record`), so the carbon and cost of electricity fall with it. An annualised
//! capital cost (capacity in kW) makes the renewable comparable with the water retrofits.

use crate::economics::Capital;
use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::network::{FlowKind, PortDecl};
use parktwin_engine::series::Series;
use parktwin_engine::state::{Booking, Clock, Energy, UnitIndex, UnitInputs};

/// An on-site generator (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct Generator {
    /// Output, kW.
    pub output_kw: Series,
    /// Annualised capital cost.
    pub capital: Capital,
}

impl UnitModel for Generator {
    const TYPE_NAME: &'static str = "Generator";
    fn flow_kind(&self) -> FlowKind {
        FlowKind::Source
    }
    fn inlet(&self) -> Option<&'static str> {
        None
    }
    fn ports(&self) -> Vec<PortDecl> {
        Vec::new()
    }
    fn init(&self, _u: usize, _ctx: &mut InitContext<'_>) {}
}

/// Account phase: generation and capital.
pub fn account(
    q: Query<(&UnitIndex, &Generator)>,
    clock: Res<Clock>,
    inputs: Res<UnitInputs>,
    mut energy: ResMut<Energy>,
) {
    for (i, g) in &q {
        let u = i.get();
        let mut b = Booking::default();
        g.capital.book(&mut b, clock.dt_h);
        if inputs.online[u] {
            b.generation_kwh += g.output_kw.at(clock.step).max(0.0) * clock.dt_h;
        }
        energy.assign(u, &b);
    }
}
