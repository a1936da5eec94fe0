//! The `fixed` strategy: design splits, held whatever the step brings.
//!
//! The design point is the first step's allocation by the priority cascade
//! ([`crate::priority`]): for every driven or overflow port that carried water, the fraction
//! `φ_l = (q_l + leak_l)/y_p` of its flow each link took; for every consumer that pulled, the
//! share `ψ_l = q_l/Σ q` of its pulls each supply link gave (a consumer that pulled nothing at
//! the design point takes everything from its first supply link). Every later step applies
//! those numbers through the [`Realiser`]: a port sends `φ_l·y_p` down each link (bounded by the
//! link's capacity and the room left in a Demand consumer; the rest cascades in routing order),
//! and a consumer pulls `ψ_l·(target − arrivals)` from each supply link, bounded by the link and
//! the supplier's availability, with no re-routing: a short supplier leaves demand unmet. Ports
//! that were dry at the design point have no fractions, so their water cascades in routing
//! order. Split fractions declared in the park file are kept as they are.
//!
//! This is the "design splits" baseline of the coupling-strategy comparison: what a park
//! piped and valved for one operating point does when production, weather and outages move.

use super::realise::{Plan, PullMode, Realiser};
use crate::diagnostics::Diagnostics;
use crate::flow::{AllocationContext, CouplingStrategy};
use crate::network::PortRole;
use crate::priority::Priority;
use crate::state::Flows;

/// The design-splits strategy (see the module docs).
#[derive(Default, Debug)]
pub struct Fixed {
    plan: Option<Plan>,
    realiser: Realiser,
}

impl Fixed {
    /// A new strategy; its design point is the first step it allocates.
    pub fn new() -> Self {
        Self::default()
    }

    /// The design plan, once the first step has been allocated.
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }
}

/// Reads the design fractions off an allocation.
fn design(ctx: &AllocationContext<'_>, flows: &Flows) -> Plan {
    let topo = ctx.topo;
    let mut link = vec![0.0; topo.n_links()];
    for p in 0..topo.n_ports() {
        if !matches!(topo.port_role[p], PortRole::Driven | PortRole::Overflow) {
            continue;
        }
        let y = flows.port[p];
        if y > 0.0 {
            for &l in topo.links_of_port(p) {
                let l = l as usize;
                link[l] = (flows.link[l] + flows.leak[l]) / y;
            }
        }
    }
    for u in 0..topo.n_units() {
        let pulls = topo.pulled_into(u);
        let total: f64 = pulls.iter().map(|&l| flows.link[l as usize]).sum();
        if total > 0.0 {
            for &l in pulls {
                link[l as usize] = flows.link[l as usize] / total;
            }
        } else if let Some(&first) = pulls.first() {
            link[first as usize] = 1.0;
        }
    }
    Plan {
        link,
        pull: PullMode::ShareOfTarget,
    }
}

impl CouplingStrategy for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }

    fn allocate(&mut self, ctx: &AllocationContext<'_>, flows: &mut Flows, diag: &mut Diagnostics) {
        match &self.plan {
            Some(plan) => self.realiser.realise(plan, ctx, flows, diag),
            None => {
                Priority::new().allocate(ctx, flows, diag);
                self.plan = Some(design(ctx, flows));
            }
        }
    }
}
