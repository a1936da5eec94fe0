//! The step's accounting in a few straight passes over links, ports and units: the fused form
//! of [`account_step`](crate::record::account_step), [`book_reuse`](crate::record::book_reuse),
//! the ledger's [`book_step`](crate::ledger::book_step) and the flow sums of
//! [`record_step`](crate::record::record_step).
//!
//! Those four read the same link flows `q`, leaks, sending and receiving units and port
//! concentrations `c`; run apart they load them four times, in four loops. Here each link is
//! visited once (in link order, [`link_pass`]) and handed to each consumer's share:
//!
//! - pumping `e = (q + leak)·Δt·k`, `k = ρ·g·H/(η·3.6e6)` precomputed per link
//!   ([`Topology::link_pump_kwh_per_m3`]), the step's value on the link and summed per sending
//!   unit;
//! - the link's run sums `Σ q` and largest `q` (the summary's `RunColumns`; its volume and
//!   pumping totals are derived from them by [`Summary::sync`]);
//! - the flow sums `Σ q·u` (`u` the 'already used' tracer; a unit's repeated use is derived from
//!   its incoming links' sums by [`Summary::sync`]), `Σ q·c` ([`FlowSums`]);
//! - the ledger's `q·Δt` (× `c`) into the receiver and out of the sender ([`add_link_flow`]);
//!
//! then, only in a step where some link leaks (one branch-free scan decides), a second pass
//! over the links books the leaks: `Σ leak`, a leak's `leak·c` as its sender's exit, and the
//! ledger's `leak·Δt` (× `c`) removed from the sender ([`book_link_leak`]). Then the ports (in
//! port order, [`port_pass`]: exits and spill in m³, g/h and g): all of them when a link leaks
//! or a port spills, else only the exit ports, the only ones that book anything then. Then the
//! units ([`account_units`]: each unit's pumping of the step with its own terms, into the
//! summary's per-unit columns, `RunColumns`; the ledger's unit terms from the sources and
//! mixed volumes listed once per topology, [`book_units_listed`]; the judge,
//! [`judge_and_clear_step`], which adds the generated and removed terms into the units' run
//! totals (the storage terms' totals are added where they are assigned) and leaves their
//! inflow and outflow to be derived from the links' run sums by [`Ledger::sync`]). The unit pass books
//! heat, on-site generation and steam in loops of their own and skips each in a step where
//! its values are all zero (most parks have no heat user, generator or steam system).
//!
//! The link and port passes read the port concentrations with the port stride and the tracer's
//! place as constants of the species-count instantiation when the park has the usual layout
//! (one tracer after the declared species); the index lists (exit ports, sources, mixed
//! volumes) live in an [`AccountCache`], rebuilt when the topology's sizes change.
//!
//! **Run totals kept column-wise.** The pass does not write the units' and links' totals
//! ([`Summary::units`], [`Summary::links`]) or the park's carbon and cost of chemicals, other,
//! water and capital each step: it adds to `RunColumns` (one array per quantity), and
//! [`Summary::sync`] writes those fields from the run sums (`Δt·Σ q`, `(Σ q + Σ leak)·Δt·k`,
//! `Δt·Σ_{l into u} Σ q·u`, `Σ_u` of a column): the separate passes' sums reassociated, so
//! these totals may differ from them in the last bits. [`crate::sim::Simulation::step`] and
//! `finish` sync; `advance` does not.
//!
//! **The same quantities as the separate passes; bit for bit except pumping and the totals
//! kept column-wise.** Pumping is
//! `e = (q + leak)·Δt·k` with the link's constant factors multiplied once (the separate passes
//! compute `(q + leak)·Δt·ρ·g·H/η/3.6e6`), and a unit's electricity, its carbon and its cost
//! receive `Σ_l e_l + E` and `(Σ_l e_l + E)·f` once (the separate passes add each link's `e_l`,
//! `e_l·f`, then `E`, `E·f`): the same sums reassociated, so these totals (link and park
//! pumping, units' electricity, carbon and cost of electricity, the park's grid import) may
//! differ from the separate passes in the last bits (relative ~1e-15). Every other
//! accumulator receives the same operations on the same values in the same order as before: per-link and per-port sums see one term
//! each; a unit's or the park's sums receive their link terms in ascending link order, then
//! their port terms in ascending port order, then their unit terms, which is the order of the
//! separate passes (each was link loop, port loop, unit loop, and no accumulator is shared
//! between two of them). The leak pass keeps this: the accumulators it adds to (`Σ leak`, the
//! exits by leak, the ledger's removed terms) receive no flow term from the first link pass,
//! and it runs before the port pass. Skipped work adds only zeros: in a step without leaks
//! every leak is ±0, and without leaks or spills a port that is not an exit books `x + 0·Δt`
//! or nothing; adding ±0 leaves a total unchanged unless the total is −0, and none of these
//! totals can be −0 (each starts at +0, and a sum of finite terms is −0 only if all are −0).
//! The ledger multiplies `q·Δt` then by `c`, the flow sums `q·c`, and both are kept.
//! `tests/accounting.rs` replays a run through the separate passes and compares the totals.
//!
//! **Flow sums move from the Record phase to the Account phase.** The unit systems of the
//! Account phase (which run before this pass) book energy, chemicals, money and products only;
//! they do not change flows, quality or storage, so the flow sums read the same values here as
//! in the Record phase.

use crate::arith::{add_scaled, any};
use crate::diagnostics::Diagnostics;
use crate::events::ParkModifiers;
use crate::ledger::{
    FlowTerms, Ledger, add_link_flow, book_link_leak, book_port, book_units_listed,
    judge_and_clear_step,
};
use crate::network::Topology;
use crate::network::{FlowKind, PortRole, QualityKind};
use crate::record::{
    FlowSums, StepPrices, Summary, SumsMut, UnitOutputs, UnitTotals, account_port, account_units,
    running_max,
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
    /// Closure violations go here.
    pub diag: &'a mut Diagnostics,
    /// The pass's index lists (built on first use, kept between steps).
    pub cache: &'a mut AccountCache,
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
    books.summary.columns.prepare(nu, nl);
    // Every array is sliced once here, so the loops keep their addresses in registers.
    let mut sums = books.sums.slices();
    let mut terms = t.flow_terms();
    let by_exit = &mut books.ledger.species_by_exit[..nc];
    let summary = &mut *books.summary;
    let qport = &quality.port[..];

    let (link_q, link_leak) = (&flows.link[..nl], &flows.leak[..nl]);
    let cache = &mut *books.cache;
    cache.compile(topo);
    let links = LinkArrays {
        q: link_q,
        rows: &cache.links[..nl],
        k: &topo.link_pump_kwh_per_m3[..nl],
        leak: link_leak,
    };
    let sent = &mut cache.sent_kwh[..nu];
    let active = &mut cache.active[..nl];
    // A step without leaks (most steps) books no leak terms at all: one branch-free scan
    // decides, and the leak shares run as a second pass over the links only when one leaks.
    let any_leak = any(link_leak, |x| x != 0.0);
    let park_electricity = {
        let totals = LinkRunSums {
            flow: &mut summary.columns.link_flow[..nl],
            max: &mut summary.columns.link_max[..nl],
        };
        let pumping = &mut books.energy.pumping_kwh[..nl];
        // With one tracer after the declared species (every park built by `parks`), the
        // port stride and the tracer's place are constants of the instantiation.
        if ns == nc + 1 && used == Some(nc) {
            link_pass(
                w,
                nc + 1,
                Some(nc),
                dt,
                any_leak,
                &links,
                qport,
                pumping,
                totals,
                sent,
                active,
                &mut sums,
                &mut terms,
            )
        } else {
            link_pass(
                w, ns, used, dt, any_leak, &links, qport, pumping, totals, sent, active, &mut sums,
                &mut terms,
            )
        }
    };
    if any_leak {
        for l in 0..nl {
            let leak = link_leak[l];
            sums.link_leak[l] += leak;
            let row = links.rows[l];
            let p = row.port as usize;
            let c = &qport[p * ns..p * ns + ns];
            let v = row.from as usize;
            sums.link_leak_exit(w, v, leak, c);
            book_link_leak(w, &mut terms, by_exit, leak, dt, v, c);
        }
    }
    summary.pumping_kwh += park_electricity;

    let (port_flow, port_spill) = (&flows.port[..np], &flows.spill[..np]);
    let (port_role, port_unit) = (&topo.port_role[..np], &topo.port_unit[..np]);
    let units = &mut summary.units[..nu];
    let ports = PortArrays {
        flow: port_flow,
        spill: port_spill,
        role: port_role,
        unit: port_unit,
    };
    // Only exit ports, spills and leaks book anything per port. In a step without spill or
    // leak (most steps) every other port adds only zeros (`x + 0·Δt`, the same value: no
    // total here is ever −0), so the pass visits the exit ports alone, in port order.
    if any_leak || any(port_spill, |x| x != 0.0) {
        let all = 0..np;
        port_pass::<W, false>(
            w, all, ns, dt, any_leak, topo, flows, &ports, qport, units, &mut sums, &mut terms,
            by_exit,
        );
    } else {
        let exits = cache.exit_ports.iter().map(|&p| p as usize);
        port_pass::<W, true>(
            w, exits, ns, dt, false, topo, flows, &ports, qport, units, &mut sums, &mut terms,
            by_exit,
        );
    }
    books.sums.steps += 1;

    // Each unit's pumping of the step is booked with its own terms (and the scratch entries
    // cleared for the next step).
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
        Some(&mut cache.sent_kwh),
    );
    let ledger = &mut *books.ledger;
    let (sources, mixed) = (&cache.sources[..], &cache.mixed[..]);
    let (inputs, storage) = (view.inputs, view.storage);
    if ns == nc + 1 {
        book_units_listed(
            w,
            nc + 1,
            ledger,
            &mut t,
            topo,
            inputs,
            flows,
            quality,
            storage,
            dt,
            sources,
            mixed,
        );
    } else {
        book_units_listed(
            w, ns, ledger, &mut t, topo, inputs, flows, quality, storage, dt, sources, mixed,
        );
    }
    judge_and_clear_step(w, ledger, t, topo, species, clock, books.diag);
}

/// Index lists compiled once per topology for the pass: rebuilt by [`AccountCache::compile`]
/// when the topology's unit, port or link count differs from what they were built for.
#[derive(Clone, Debug, Default)]
pub struct AccountCache {
    /// The `(units, ports, links)` counts the lists were built for.
    built_for: Option<(usize, usize, usize)>,
    /// Ports whose role is an exit, ascending.
    exit_ports: Vec<u32>,
    /// Source units, ascending.
    sources: Vec<u32>,
    /// Units with a completely mixed volume, ascending.
    mixed: Vec<u32>,
    /// Per link, in link order: what the link pass reads of the topology, in one row.
    links: Vec<LinkRow>,
    /// Scratch, per unit: the step's pumping `Σ e` over the links the unit sends by, kWh,
    /// summed by the link pass and booked (and reset to zero) by [`account_units`].
    sent_kwh: Vec<f64>,
    /// Scratch, per link: the step's moving links, ascending (the link pass's list).
    active: Vec<u32>,
}

impl AccountCache {
    /// Builds the lists for `topo` unless they are built for its sizes already.
    fn compile(&mut self, topo: &Topology) {
        let sizes = (topo.n_units(), topo.n_ports(), topo.n_links());
        if self.built_for == Some(sizes) {
            return;
        }
        let units = |keep: &dyn Fn(usize) -> bool| {
            (0..topo.n_units())
                .filter(|&u| keep(u))
                .map(|u| u as u32)
                .collect()
        };
        self.sources = units(&|u| topo.unit_flow[u] == FlowKind::Source);
        self.mixed = units(&|u| topo.unit_quality[u] == QualityKind::Mixed);
        self.exit_ports = (0..topo.n_ports())
            .filter(|&p| matches!(topo.port_role[p], PortRole::Exit(_)))
            .map(|p| p as u32)
            .collect();
        self.links = (0..topo.n_links())
            .map(|l| LinkRow {
                from: topo.link_from[l],
                to: topo.link_to[l],
                port: topo.link_from_port[l],
            })
            .collect();
        self.sent_kwh = vec![0.0; topo.n_units()];
        self.active = vec![0; topo.n_links()];
        self.built_for = Some(sizes);
    }
}

/// One link's constants as the link pass reads them, copied from the topology's separate
/// arrays into one row so the pass keeps one address for them instead of three (the loop has
/// more arrays than registers: each separate array cost a reload of its address per link).
#[derive(Clone, Copy, Debug, Default)]
struct LinkRow {
    /// Sending unit.
    from: u32,
    /// Receiving unit.
    to: u32,
    /// Sending port.
    port: u32,
}

/// The link columns of the summary's run sums the link pass adds to (`RunColumns`): per link
/// `Σ q` and the largest `q`, m³/h.
struct LinkRunSums<'a> {
    flow: &'a mut [f64],
    max: &'a mut [f64],
}

/// The per-link arrays a link pass reads, each sliced to the link count.
struct LinkArrays<'a> {
    q: &'a [f64],
    /// Each link's pumping coefficient, [`Topology::link_pump_kwh_per_m3`] (a loop of its own
    /// over it and the flows vectorises).
    k: &'a [f64],
    leak: &'a [f64],
    rows: &'a [LinkRow],
}

/// Every link's shares except its leak's, in link order: pumping `e = (q + leak)·Δt·k` (`k`
/// the link's [`Topology::link_pump_kwh_per_m3`], `ρ·g·H/(η·3.6e6)`: [`crate::record::pumping_kwh`]
/// with its constant factors multiplied once per topology, two multiplications instead of four
/// and two divisions; the same quantity, the last bits may differ) on the link, summed per
/// sending unit in `sent` (booked with the unit's own electricity by [`account_units`]: one
/// add per link instead of three on the unit's totals) and over the park (returned); the
/// link's run sums `Σ q` and largest `q` (`totals`: its volume and pumping totals are derived
/// from them and the flow sums' `Σ leak` by [`Summary::sync`]); the flow sums' used water
/// `Σ q·u` (`u` the 'already used' tracer at `c[t]`, `t = used`; a unit's repeated use is
/// derived from them by [`Summary::sync`]) and `Σ q·c`, and the ledger's `q·Δt` (× `c`) into the receiver and out of
/// the sender ([`add_link_flow`]). `ns` is the port stride of `qport` (all species); called
/// with constants for the usual layout so that slicing a port's concentrations needs no
/// run-time length.
///
/// **Links that move nothing are skipped** after their pumping is written: a third of a
/// generated park's links are standby supplies that carry no water in most steps (1,402 links,
/// 490 of them idle in every one of 720 steps, 164 in some). Such a link (`q = ±0`,
/// `leak = ±0`) has `e = +0` and would add only zeros, which change no total here (none is −0:
/// each starts at +0, and the running maximum keeps `m ≥ +0` against `q = ±0`; the reference
/// ledger skips it itself, [`crate::ledger::book_link`]). The moving links are listed in `active` (scratch of
/// the link count) in ascending order, so every total receives the same terms in the same order
/// as a pass over all links. A NaN flow counts as moving and is booked. In a step without
/// leaks the list is made from the flows alone (every leak is ±0 then).
#[expect(
    clippy::too_many_arguments,
    reason = "each array is an argument so the compiler knows they do not overlap"
)]
#[inline(always)]
fn link_pass<W: Width>(
    w: W,
    ns: usize,
    used: Option<usize>,
    dt: f64,
    any_leak: bool,
    links: &LinkArrays,
    qport: &[f64],
    pumping: &mut [f64],
    totals: LinkRunSums,
    sent: &mut [f64],
    active: &mut [u32],
    sums: &mut SumsMut,
    terms: &mut FlowTerms,
) -> f64 {
    let nl = links.q.len();
    let nc = w.n();
    let (link_q, link_leak) = (&links.q[..nl], &links.leak[..nl]);
    let rows = &links.rows[..nl];
    let pumping = &mut pumping[..nl];
    let (flow_sum, flow_max) = (&mut totals.flow[..nl], &mut totals.max[..nl]);
    let link_used = &mut sums.link_used[..nl];
    let link_species = &mut sums.link_species[..nl * nc];
    // Every link's pumping (written for every link: it is the step's value, zero or not), and
    // the list of links that move water, compacted without a branch.
    let active = &mut active[..nl];
    let k = &links.k[..nl];
    for l in 0..nl {
        // The pump lifts what it sends, leaks included.
        pumping[l] = (link_q[l] + link_leak[l]) * dt * k[l];
    }
    let n = if any_leak {
        list_moving(active, |l| link_q[l].to_bits() | link_leak[l].to_bits())
    } else {
        // In a step without leaks (most steps) every leak is ±0: `q` alone decides.
        list_moving(active, |l| link_q[l].to_bits())
    };
    let mut park_electricity = 0.0;
    for &l in &active[..n] {
        let l = l as usize;
        let (q, row) = (link_q[l], rows[l]);
        let (v, u) = (row.from as usize, row.to as usize);
        let p = row.port as usize;
        let c = &qport[p * ns..p * ns + ns];
        let e = pumping[l];
        // The link's run totals: volume, pumping and repeated use are derived from `Σ q`,
        // the flow sums' `Σ leak` and `Σ q·u` by `Summary::sync`.
        flow_sum[l] += q;
        flow_max[l] = running_max(flow_max[l], q);
        // Pumping is charged to the unit that sends the water.
        sent[v] += e;
        park_electricity += e;
        if let Some(t) = used {
            link_used[l] += q * c[t];
        }
        // The flow sums' `Σ q·c` (as `SumsMut::link_flow`, on the slice held for the loop).
        add_scaled(&mut link_species[l * nc..(l + 1) * nc], q, c);
        add_link_flow(w, terms, q * dt, v, u, c);
    }
    park_electricity
}

/// Lists the links that move water in `active` (ascending; its length is the link count) and
/// returns how many: link `l` moves when `bits(l)` (the bits of its flow, or of flow and leak
/// or-ed) is not those of ±0 (a NaN moves). Branch-free: every link's index is written and
/// the count advances by whether it moves; the sign bit is shifted out.
#[inline(always)]
fn list_moving(active: &mut [u32], bits: impl Fn(usize) -> u64) -> usize {
    let mut n = 0;
    for l in 0..active.len() {
        active[n] = l as u32;
        n += usize::from(bits(l) << 1 != 0);
    }
    n
}

/// The per-port arrays a port pass reads, each sliced to the port count.
struct PortArrays<'a> {
    flow: &'a [f64],
    spill: &'a [f64],
    role: &'a [PortRole],
    unit: &'a [u32],
}

/// Each listed port's shares, in the order given (ascending): the unit's exits and spill in
/// m³ ([`account_port`]), the flow sums' exits and spill in g/h ([`SumsMut::port`]) and the
/// ledger's removed terms and the park's exits by kind in g ([`book_port`]).
///
/// With `EXITS_ONLY` (a step without leak or spill, the list holding the exit ports only), the
/// spill is the constant 0 and a port without flow is skipped: it would add only zeros (`q·Δt`
/// with `q = ±0` and a finite `Δt`, to totals that are never −0; the flow sums and the ledger
/// skip such a port themselves).
#[expect(
    clippy::too_many_arguments,
    reason = "each array is an argument so the compiler knows they do not overlap"
)]
#[inline(always)]
fn port_pass<W: Width, const EXITS_ONLY: bool>(
    w: W,
    list: impl Iterator<Item = usize>,
    ns: usize,
    dt: f64,
    any_leak: bool,
    topo: &Topology,
    flows: &Flows,
    ports: &PortArrays,
    qport: &[f64],
    units: &mut [UnitTotals],
    sums: &mut SumsMut,
    terms: &mut FlowTerms,
    by_exit: &mut [[f64; 7]],
) {
    let nc = w.n();
    for p in list {
        let (role, q) = (ports.role[p], ports.flow[p]);
        if EXITS_ONLY && q == 0.0 {
            continue;
        }
        let spill = if EXITS_ONLY { 0.0 } else { ports.spill[p] };
        let u = ports.unit[p] as usize;
        let c = &qport[p * ns..p * ns + nc];
        let exits = &mut units[u].exits_m3;
        account_port(topo, flows, p, role, q, spill, any_leak, dt, exits);
        sums.port(w, u, role, q, spill, c);
        book_port(w, terms, by_exit, role, q, spill, dt, u, c);
    }
}
