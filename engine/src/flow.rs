//! The step's flow problem and the coupling-strategy extension point.
//!
//! Link flows are the variables. Units constrain them through their ports
//! ([`crate::network::PortRole`]): a driven port carries a fixed share of its unit's throughput,
//! a Demand unit's inflow is its target (or what it could get), a supply port gives at most its
//! availability, a tank spills what it cannot hold; links have capacities. A
//! [`CouplingStrategy`] decides the free choices — which supply a consumer draws from, where a
//! cascade sends water — and writes [`Flows`]. The engine then checks every unit's balance.

use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::network::{FlowKind, PortRole, Topology};
use crate::state::{Clock, Flows, Quality, Species, Storage, UnitInputs};
use bevy_ecs::resource::Resource;

/// Relative change in throughput below which a recycle loop visited Gauss–Seidel counts as
/// converged (the priority cascade and the plan realiser of the LP strategies).
pub const LOOP_TOLERANCE: f64 = 1e-14;

/// Whether a Gauss–Seidel pass over a recycle loop's `units` has converged: no throughput
/// changed from `previous` by more than [`LOOP_TOLERANCE`] relative to the largest,
/// `max|x − x_prev| ≤ tol·max|x|`.
pub(crate) fn loop_converged(units: &[u32], throughput: &[f64], previous: &[f64]) -> bool {
    let mut diff: f64 = 0.0;
    let mut scale: f64 = 0.0;
    for &u in units {
        let x = throughput[u as usize];
        diff = diff.max((x - previous[u as usize]).abs());
        scale = scale.max(x.abs());
    }
    diff <= LOOP_TOLERANCE * scale
}

/// Raises `non_convergence` for a recycle loop (`units`, in flow order) that did not converge
/// in `passes` passes; `of` ends the message (what the passes were of, or empty).
pub(crate) fn report_non_convergence(
    diag: &mut Diagnostics,
    ctx: &AllocationContext<'_>,
    units: &[u32],
    passes: usize,
    of: &str,
) {
    let id = &ctx.topo.unit_id[units[0] as usize];
    diag.push(
        DiagnosticKind::NonConvergence,
        ctx.clock.step,
        Some(id),
        || format!("flow loop through {id} did not converge in {passes} passes{of}"),
    );
}

/// Everything a strategy may read to allocate one step.
pub struct AllocationContext<'a> {
    /// The compiled topology.
    pub topo: &'a Topology,
    /// Units' targets, shares, availabilities and limits for this step.
    pub inputs: &'a UnitInputs,
    /// Mixed volumes at the start of the step.
    pub storage: &'a Storage,
    /// Concentrations of the previous step (start-of-step qualities).
    pub previous_quality: &'a Quality,
    /// Species.
    pub species: &'a Species,
    /// Clock.
    pub clock: &'a Clock,
}

/// A coupling (allocation) strategy: the public extension point for researchers.
///
/// An implementation must leave [`Flows`] consistent: every unit's throughput equals the sum of
/// its incoming link flows (a source's equals the sum leaving its supply port), every driven or
/// exit port carries its share of the throughput, link flows are non-negative, and water that
/// cannot be routed is booked in `Flows::spill`. The engine's ledger checks all of it each step.
pub trait CouplingStrategy: Send + Sync + 'static {
    /// Short name used in outputs (`"priority"`).
    fn name(&self) -> &str;
    /// Allocates one step.
    fn allocate(&mut self, ctx: &AllocationContext<'_>, flows: &mut Flows, diag: &mut Diagnostics);
}

/// The scenario's strategy, as a resource.
#[derive(Resource)]
pub struct Strategy(pub Box<dyn CouplingStrategy>);

/// Finishes a strategy's flows: every supply port carries what its links pulled (leaks
/// included), and a source's throughput is its total withdrawal. Strategies call it once their
/// link flows are set.
pub fn book_supply_ports(topo: &Topology, flows: &mut Flows) {
    for p in 0..topo.n_ports() {
        if topo.port_role[p] == PortRole::Supply {
            let y: f64 = topo
                .links_of_port(p)
                .iter()
                .map(|&l| flows.link[l as usize] + flows.leak[l as usize])
                .sum();
            flows.port[p] = y;
            let u = topo.port_unit[p] as usize;
            if topo.unit_flow[u] == FlowKind::Source {
                flows.throughput[u] += y;
            }
        }
    }
}

/// A tank's step: its exit ports take their shares of the inflow `x` (m³/h), and what would
/// rise above its capacity by the end of the step, `(V0 + (x − out)·Δt − capacity)/Δt` with
/// `out` its supply links (leaks included) and exits, leaves by its overflow port. Returns that
/// port and flow for the strategy to route (`None` when the tank has no overflow port).
pub fn tank_exits(
    u: usize,
    x: f64,
    ctx: &AllocationContext<'_>,
    flows: &mut Flows,
) -> Option<(usize, f64)> {
    let topo = ctx.topo;
    let dt = ctx.clock.dt_h;
    let mut out = 0.0;
    let mut overflow = None;
    for p in topo.ports_of(u) {
        match topo.port_role[p] {
            PortRole::Supply => {
                out += topo
                    .links_of_port(p)
                    .iter()
                    .map(|&l| flows.link[l as usize] + flows.leak[l as usize])
                    .sum::<f64>();
            }
            PortRole::Exit(_) => {
                let e = ctx.inputs.port_share[p] * x;
                flows.port[p] = e;
                out += e;
            }
            PortRole::Overflow if overflow.is_none() => overflow = Some(p),
            _ => {}
        }
    }
    let v_end = ctx.storage.volume[u] + (x - out) * dt;
    let over = ((v_end - ctx.storage.capacity[u]) / dt).max(0.0);
    overflow.map(|p| (p, over))
}
