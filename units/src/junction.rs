//! Splitter and mixer: water passes unchanged.
//!
//! Every link into the junction mixes at its inlet; its one outlet `out` carries the whole
//! throughput (`τ = 1`, `λ = 0`). As a splitter, the outlet's links either carry fixed
//! `split_fraction`s or form a priority cascade (each link up to its capacity or the room in
//! the consumer it feeds; the rest goes on).

use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::network::{FlowKind, PortDecl, PortRole};

/// A splitter or mixer.
#[derive(Component, Clone, Debug, Default)]
pub struct Junction;

impl UnitModel for Junction {
    const TYPE_NAME: &'static str = "Junction";
    fn flow_kind(&self) -> FlowKind {
        FlowKind::Accept
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("in")
    }
    fn ports(&self) -> Vec<PortDecl> {
        vec![PortDecl::new("out", PortRole::Driven)]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        let p = ctx.port(u, "out");
        ctx.inputs.port_share[p] = 1.0;
        let ns = ctx.ns;
        ctx.set_transfer(p, &vec![1.0; ns], &vec![0.0; ns]);
    }
}
