//! The step's accounting in one pass over links and one over ports: the fused form of
//! [`account_step`](crate::record::account_step), [`book_reuse`](crate::record::book_reuse),
//! the ledger's [`book_step`](crate::ledger::book_step) and the flow sums of
//! [`record_step`](crate::record::record_step).
//!
//! Those four read the same link flows `q`, leaks, sending and receiving units and port
//! concentrations `c`; run apart they load them four times, in four loops. Here each link is
//! visited once (in link order) and handed to each consumer's share:
//!
//! - pumping `e = ρ·g·(q + leak)·H/η·Δt` ([`account_link`]), charged to the sending unit;
//! - repeated use `Σ q·u` (`u` the 'already used' tracer), summed per receiving unit;
//! - the flow sums `Σ q·u`, `Σ leak`, `Σ q·c`, leaks by exit ([`FlowSums::link`]);
//! - the ledger's `q·Δt` (× `c`) into the receiver and out of the sender, leaks removed
//!   ([`book_link`]);
//!
//! then each port once (in port order: exits and spill in m³, g/h and g), then the units
//! ([`account_units`], the ledger's unit terms and its judge, [`finish_step`]).
//!
//! **Bit-identical to the separate passes.** Every accumulator receives the same operations
//! on the same values in the same order as before: per-link and per-port sums see one term
//! each; a unit's or the park's sums receive their link terms in ascending link order, then
//! their port terms in ascending port order, then their unit terms, which is the order of the
//! separate passes (each was link loop, port loop, unit loop, and no accumulator is shared
//! between two of them). Repeated use was summed per unit over [`Topology::links_into`], which
//! is in ascending link order (`network.rs` sorts it), so a per-unit sum in link order, starting
//! from zero like the old one, adds the same terms in the same order; the ledger multiplies
//! `q·Δt` then by `c`, the flow sums `q·c`, and both are kept. `tests/accounting.rs` replays a
//! run through the separate passes and compares every total bit for bit.
//!
//! **Flow sums move from the Record phase to the Account phase.** The unit systems of the
//! Account phase (which run before this pass) book energy, chemicals, money and products only;
//! they do not change flows, quality or storage, so the flow sums read the same values here as
//! in the Record phase.

use crate::diagnostics::Diagnostics;
use crate::events::ParkModifiers;
use crate::ledger::{Ledger, book_link, book_port, finish_step};
use crate::network::Topology;
use crate::record::{
    FlowSums, StepPrices, Summary, UnitOutputs, account_link, account_port, account_units,
};
use crate::state::{Clock, Energy, Factors, Flows, Quality, Species, Storage, UnitInputs};
use crate::width::Width;

/// Everything the fused pass reads.
pub struct StepView<'a> {
    /// The park's network.
    pub topo: &'a Topology,
    /// Declared species and the tracer.
    pub species: &'a Species,
    /// The units' inputs of this step (loads, removal and solids fractions).
    pub inputs: &'a UnitInputs,
    /// The step's flows.
    pub flows: &'a Flows,
    /// The step's solved concentrations.
    pub quality: &'a Quality,
    /// Storage at the start and end of the step.
    pub storage: &'a Storage,
    /// The step and its length.
    pub clock: &'a Clock,
    /// Grid factors and prices.
    pub factors: &'a Factors,
    /// Event modifiers of the grid factor and the price.
    pub park: &'a ParkModifiers,
    /// Products and recirculation booked by the units.
    pub outputs: &'a UnitOutputs,
}

/// Everything the fused pass writes.
pub struct StepBooks<'a> {
    /// Energy of the step: the pass writes each link's pumping.
    pub energy: &'a mut Energy,
    /// Run totals of units, links and the park.
    pub summary: &'a mut Summary,
    /// The water and species ledger.
    pub ledger: &'a mut Ledger,
    /// The always-on flow sums.
    pub sums: &'a mut FlowSums,
    /// Scratch: per unit, the step's `Σ q·u` over incoming links. All zero between calls (the
    /// pass clears each entry after reading it); sized on first use.
    pub reuse: &'a mut Vec<f64>,
    /// Closure violations go here.
    pub diag: &'a mut Diagnostics,
}

/// Books one step: the same results as [`crate::record::account_step`], then
/// [`crate::record::book_reuse`], [`crate::ledger::book_step`] and the flow sums of
/// [`crate::record::record_step`], in one pass over links and one over ports.
pub fn account_and_book(view: &StepView, books: &mut StepBooks) {
    crate::with_width!(view.species.conserved, w => fused(w, view, books))
}

#[inline(never)]
fn fused<W: Width>(w: W, view: &StepView, books: &mut StepBooks) {
    let StepView {
        topo,
        species,
        flows,
        quality,
        clock,
        ..
    } = *view;
    let nc = w.n();
    let ns = species.len();
    let (nu, nl, np) = (topo.n_units(), topo.n_links(), topo.n_ports());
    let dt = clock.dt_h;
    let prices = StepPrices::new(view.factors, view.park, clock.step);
    let used = species.used_tracer();
    let mut t = books.ledger.begin_step(nu, nc + 1);
    books.sums.prepare(nl, nu, nc);
    if books.reuse.len() != nu {
        books.reuse.clear();
        books.reuse.resize(nu, 0.0);
    }
    // Every array is sliced once here, so the loops keep their addresses in registers.
    let reuse = &mut books.reuse[..nu];
    let mut sums = books.sums.slices();
    let mut terms = t.flow_terms();
    let by_exit = &mut books.ledger.species_by_exit[..nc];
    let summary = &mut *books.summary;
    let qport = &quality.port[..];

    let (link_q, link_leak) = (&flows.link[..nl], &flows.leak[..nl]);
    let (link_from, link_to) = (&topo.link_from[..nl], &topo.link_to[..nl]);
    let link_port = &topo.link_from_port[..nl];
    let (head, eta) = (&topo.link_head_m[..nl], &topo.link_eta[..nl]);
    let pumping = &mut books.energy.pumping_kwh[..nl];
    let mut park_electricity = 0.0;
    let mut any_leak = false;
    let units = &mut summary.units[..nu];
    {
        let links = &mut summary.links[..nl];
        for l in 0..nl {
            let (q, leak) = (link_q[l], link_leak[l]);
            let (v, u) = (link_from[l] as usize, link_to[l] as usize);
            let p = link_port[l] as usize;
            let c = &qport[p * ns..p * ns + ns];
            any_leak |= leak != 0.0;
            park_electricity += account_link(
                q,
                leak,
                head[l],
                eta[l],
                dt,
                &prices,
                &mut pumping[l],
                &mut links[l],
                &mut units[v],
            );
            let qu = used.map(|k| q * c[k]);
            if let Some(qu) = qu {
                reuse[u] += qu;
            }
            sums.link(w, l, q, leak, v, qu, c);
            book_link(w, &mut terms, by_exit, q, leak, dt, v, u, c);
        }
    }
    summary.pumping_kwh += park_electricity;

    let (port_flow, port_spill) = (&flows.port[..np], &flows.spill[..np]);
    let (port_role, port_unit) = (&topo.port_role[..np], &topo.port_unit[..np]);
    for p in 0..np {
        let u = port_unit[p] as usize;
        let c = &qport[p * ns..p * ns + nc];
        let (role, q, spill) = (port_role[p], port_flow[p], port_spill[p]);
        let exits = &mut units[u].exits_m3;
        account_port(topo, flows, p, role, q, spill, any_leak, dt, exits);
        sums.port(w, u, role, q, spill, c);
        book_port(w, &mut terms, by_exit, role, q, spill, dt, u, c);
    }
    books.sums.steps += 1;

    // Repeated use of water-using units; every entry is cleared for the next step.
    if used.is_some() {
        let uses_water = &topo.unit_uses_water[..nu];
        for u in 0..nu {
            let reused = std::mem::replace(&mut reuse[u], 0.0);
            if uses_water[u] {
                units[u].reused_m3 += reused * dt;
            }
        }
    }
    account_units(
        topo,
        flows,
        books.energy,
        view.factors,
        view.outputs,
        &prices,
        dt,
        park_electricity,
        summary,
    );
    finish_step(
        w,
        books.ledger,
        t,
        topo,
        species,
        view.inputs,
        flows,
        quality,
        view.storage,
        clock,
        books.diag,
    );
}
