//! Discharge (outfall): water leaves the park with its species.
//!
//! All inflow leaves by the exit `out` (`τ = 1`). Each step the inlet concentration of every
//! species with a permit limit (mg/L) is compared with the limit; an excess is a
//! `permit_exceeded` diagnostic. A discharge fee (yuan/m³: sewer charge or environmental
//! protection tax equivalent) is booked on the volume, and the park's environmental-protection
//! tax on the pollutants discharged when the outfall is taxed ([`crate::taxes`]).

use crate::taxes::Taxes;
use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::diagnostics::{DiagnosticKind, Diagnostics};
use parktwin_engine::network::{ExitKind, FlowKind, PortDecl, PortRole, Topology};
use parktwin_engine::state::{Booking, Clock, Energy, Flows, Quality, Species, UnitIndex};

/// An outfall.
#[derive(Component, Clone, Debug)]
pub struct Discharge {
    /// Permit limit per species, mg/L (infinite when none).
    pub limit_mg_per_l: Vec<f64>,
    /// Fee per m³ discharged, yuan.
    pub fee_yuan_per_m3: f64,
}

impl UnitModel for Discharge {
    const TYPE_NAME: &'static str = "Discharge";
    fn flow_kind(&self) -> FlowKind {
        FlowKind::Accept
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("in")
    }
    fn ports(&self) -> Vec<PortDecl> {
        vec![PortDecl::new("out", PortRole::Exit(ExitKind::Discharge))]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        let p = ctx.port(u, "out");
        ctx.inputs.port_share[p] = 1.0;
        let ns = ctx.ns;
        ctx.set_transfer(p, &vec![1.0; ns], &vec![0.0; ns]);
    }
}

/// Account phase: permit check and fee.
#[expect(
    clippy::too_many_arguments,
    reason = "a system reads the resources it needs"
)]
pub fn account(
    q: Query<(&UnitIndex, &Discharge)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    quality: Res<Quality>,
    species: Res<Species>,
    topo: Res<Topology>,
    taxes: Option<Res<Taxes>>,
    mut energy: ResMut<Energy>,
    mut diag: ResMut<Diagnostics>,
) {
    let ns = species.len();
    let env = taxes.as_ref().and_then(|t| t.environmental.as_ref());
    for (i, d) in &q {
        let u = i.get();
        let x = flows.throughput[u];
        let mut b = Booking::default();
        b.water_cost += x * clock.dt_h * d.fee_yuan_per_m3;
        if x > 0.0
            && let Some(t) = env
            && t.outfall.get(u).copied().unwrap_or(false)
        {
            let c = &quality.inlet[u * ns..u * ns + species.conserved];
            b.water_cost += t.tax(x * clock.dt_h, c);
        }
        energy.assign(u, &b);
        if x <= 0.0 {
            continue;
        }
        for s in 0..species.conserved {
            let c = quality.inlet[u * ns + s];
            let lim = d.limit_mg_per_l[s];
            if c > lim {
                diag.push(
                    DiagnosticKind::PermitExceeded,
                    clock.step,
                    Some(&topo.unit_id[u]),
                    || {
                        format!(
                            "{} discharges {} at {c:.1} mg/L, permit {lim:.1}",
                            topo.unit_id[u], species.names[s]
                        )
                    },
                );
            }
        }
    }
}
