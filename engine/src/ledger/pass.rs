//! The ledger's step in the engine's fused accounting pass ([`crate::accounting`]): one pass
//! over the units that **gathers** each unit's terms instead of scattering them, and judges them
//! in registers.
//!
//! For unit `u`, per balance kind `k` (water, then each declared species; `m = 1 + species`
//! lanes of a `[f64; 8]`), from per-topology lists compiled once ([`LedgerPlan`]):
//!
//! - `in  = Σ_{l into u} q_l·Δt·[1, c_p(l)]` over its incoming links, ascending;
//! - `out = Σ_{l out of u} q_l·Δt·[1, c_p(l)]` over its outgoing links, ascending;
//! - `removed`: its outgoing links' leaks `leak_l·Δt·[1, c]` (ascending), then its ports' exits
//!   and spill `(x_p + s_p)·Δt·[1, c_p]` (in port order), then reaction and solids
//!   `(f_r + f_s)·x·c_in` per species;
//! - `generated`: a source's withdrawal `x = throughput·Δt`, then loads `g·x` per species;
//! - `Δstorage`, `stored`: a mixed volume's `V1 − V0`, `V1·C1 − V0·C0` and
//!   `max(V0, V1)`, `max(|V0·C0|, |V1·C1|)`.
//!
//! `p(l)` is the link's sending port and `c` its concentrations (g/m³), `Δt` the step (h).
//! Every term is computed from its own data — `in` from the receiver's links, `out` and the leaks
//! from the sender's, exits from the ports, storage from volumes and concentrations — never one
//! from another (DESIGN.md). Each term receives the same operations, in the same order, as the
//! scatter of the separate reference pass [`super::book_step`] (that pass adds a link's `q·Δt·c`
//! to its receiver and its sender in ascending link order; the lists here are ascending; the
//! leaks come before the ports, the ports before the unit's own terms), so the unit terms, their
//! run totals and the park's terms are bit for bit the reference's. Only the park's per-species
//! figures by exit kind, reaction, sources and loads ([`Ledger::species_by_exit`] …) are added
//! in another order (unit by unit rather than all links, all ports, all units), which may move
//! their last bits.
//!
//! Then, still in registers, each balance's residual `r = in − out + generated − removed −
//! Δstorage`, scale and relative residual are judged ([`super::judge_balance`]), the step's
//! largest relative residual per kind and whether any balance is a violation are kept, the terms
//! are added to the unit's run totals and the park's generated, removed, Δstorage and stored
//! sums. Nothing is written per balance and step. Which unit is a kind's worst is needed only
//! when the step's worst beats the run's, and diagnostics only in a step with a violation; only
//! then ([`rescan`]) are every unit's terms gathered again and judged one by one in unit and kind
//! order (the diagnostics, and the first unit among equal relative residuals, a NaN kept once
//! seen), exactly as the reference's rescan does.
//!
//! Idle links (`q·Δt = 0` and `leak·Δt = 0`) are skipped as the reference skips them (a
//! third of a generated park's links are standby supplies). More than seven declared species
//! (wider than the eight lanes) are booked by the reference pass itself.

use super::{
    LANES, Ledger, RELATIVE_TOLERANCE, Terms, add_amount, add_by_exit, consider, fast_max,
    floor_of, judge_balance, judge_park, report_violation, residual_and_scale, species_terms,
    storage_terms, violates,
};
use crate::diagnostics::Diagnostics;
use crate::network::{ExitKind, FlowKind, PortRole, QualityKind, Topology};
use crate::state::{Clock, Flows, Quality, Species, Storage, UnitInputs};
use crate::width::Width;

/// The ledger's per-topology lists: each unit's incoming and outgoing links and its exit ports,
/// rebuilt by [`LedgerPlan::compile`] when the topology's unit, port or link count or the species
/// stride differs from what they were built for.
#[derive(Clone, Debug, Default)]
pub(crate) struct LedgerPlan {
    /// The `(units, ports, links, species stride)` the lists were built for.
    built_for: Option<(usize, usize, usize, usize)>,
    /// Per unit, and one past the last: where its lists start.
    rows: Vec<UnitRow>,
    /// Per unit: its incoming links (ascending), then its outgoing links (ascending).
    ends: Vec<LinkEnd>,
    /// Per unit: its exit ports (ascending).
    exits: Vec<ExitPort>,
}

/// Where a unit's lists start (they end where the next unit's start) and what it is.
#[derive(Clone, Copy, Debug, Default)]
struct UnitRow {
    /// Its incoming links in [`LedgerPlan::ends`].
    ins: u32,
    /// Its outgoing links in [`LedgerPlan::ends`] (after its incoming ones).
    outs: u32,
    /// Its exit ports in [`LedgerPlan::exits`].
    exits: u32,
    /// Its ports, [`Topology::unit_port_start`].
    ports: u32,
    /// A source (its withdrawal is generated water).
    source: bool,
    /// A completely mixed volume (it stores water).
    mixed: bool,
}

/// One link seen from one of its ends: the link and where its sending port's concentrations
/// start in the port concentrations (`port · stride`).
#[derive(Clone, Copy, Debug, Default)]
struct LinkEnd {
    link: u32,
    conc: u32,
}

/// One exit port: the port, where its concentrations start and its exit kind.
#[derive(Clone, Copy, Debug)]
struct ExitPort {
    port: u32,
    conc: u32,
    kind: ExitKind,
}

impl LedgerPlan {
    /// Builds the lists for `topo` with species stride `ns` unless they are built for its sizes.
    fn compile(&mut self, topo: &Topology, ns: usize) {
        let (nu, np, nl) = (topo.n_units(), topo.n_ports(), topo.n_links());
        if self.built_for == Some((nu, np, nl, ns)) {
            return;
        }
        let mut out_of = vec![Vec::new(); nu];
        for l in 0..nl {
            out_of[topo.link_from[l] as usize].push(l as u32);
        }
        let end = |&l: &u32| LinkEnd {
            link: l,
            conc: topo.link_from_port[l as usize] * ns as u32,
        };
        self.rows.clear();
        self.ends.clear();
        self.exits.clear();
        for (u, outs) in out_of.iter().enumerate() {
            // Ascending link order: the order the reference pass adds the links in.
            let mut ins = topo.links_into(u).to_vec();
            ins.sort_unstable();
            let row = UnitRow {
                ins: self.ends.len() as u32,
                outs: (self.ends.len() + ins.len()) as u32,
                exits: self.exits.len() as u32,
                ports: topo.unit_port_start[u],
                source: topo.unit_flow[u] == FlowKind::Source,
                mixed: topo.unit_quality[u] == QualityKind::Mixed,
            };
            self.rows.push(row);
            self.ends.extend(ins.iter().chain(outs).map(end));
            for p in topo.ports_of(u) {
                if let PortRole::Exit(kind) = topo.port_role[p] {
                    let conc = (p * ns) as u32;
                    self.exits.push(ExitPort {
                        port: p as u32,
                        conc,
                        kind,
                    });
                }
            }
        }
        let (e, x) = (self.ends.len() as u32, self.exits.len() as u32);
        self.rows.push(UnitRow {
            ins: e,
            outs: e,
            exits: x,
            ports: topo.unit_port_start[nu],
            ..UnitRow::default()
        });
        self.built_for = Some((nu, np, nl, ns));
    }
}

/// What the gather reads of the step, each array whole (indexed by link, port or unit; species
/// arrays with stride `ns`).
struct StepData<'a> {
    dt: f64,
    ns: usize,
    link_q: &'a [f64],
    link_leak: &'a [f64],
    port_q: &'a [f64],
    port_spill: &'a [f64],
    port_role: &'a [PortRole],
    qport: &'a [f64],
    throughput: &'a [f64],
    gen_in: &'a [f64],
    rem_in: &'a [f64],
    sol_in: &'a [f64],
    inlet: &'a [f64],
    volume: &'a [f64],
    volume_end: &'a [f64],
    conc: &'a [f64],
    conc_end: &'a [f64],
}

/// The park's per-species figures the gather adds to, g: by exit kind, reacted, from sources,
/// from loads.
struct ParkSpecies<'a> {
    by_exit: &'a mut [[f64; 7]],
    reacted: &'a mut [f64],
    from_sources: &'a mut [f64],
    loads: &'a mut [f64],
}

/// One unit's terms of the step, per balance kind (lane `k`: water for 0, species `k − 1`),
/// m³ or g, in `L ≥ m` lanes (the fewest of 4 or 8 that hold the `m` kinds, so that the terms
/// fit in registers); lanes from `m` on stay zero.
#[derive(Clone, Copy)]
struct UnitTerms<const L: usize> {
    inflow: [f64; L],
    outflow: [f64; L],
    generated: [f64; L],
    removed: [f64; L],
    storage_change: [f64; L],
    stored: [f64; L],
}

impl<const L: usize> UnitTerms<L> {
    /// All zero.
    #[inline(always)]
    fn zero() -> Self {
        Self {
            inflow: [0.0; L],
            outflow: [0.0; L],
            generated: [0.0; L],
            removed: [0.0; L],
            storage_change: [0.0; L],
            stored: [0.0; L],
        }
    }
}

/// Books the step's ledger from the state (see the module docs); `spill_or_leak` says whether
/// some port spills or some link leaks in this step (else only exit ports remove water and no
/// link leaks, and the gather reads only those).
#[expect(
    clippy::too_many_arguments,
    reason = "the ledger reads every part of the step state"
)]
#[inline(always)]
pub(crate) fn book_gathered<W: Width>(
    w: W,
    ledger: &mut Ledger,
    plan: &mut LedgerPlan,
    topo: &Topology,
    species: &Species,
    inputs: &UnitInputs,
    flows: &Flows,
    quality: &Quality,
    storage: &Storage,
    clock: &Clock,
    spill_or_leak: bool,
    diag: &mut Diagnostics,
) {
    if w.n() + 1 > LANES {
        // Wider than the lanes: the reference pass, which books the same terms by blocks.
        return super::book(
            w, ledger, topo, species, inputs, flows, quality, storage, clock, diag,
        );
    }
    let ns = species.len();
    plan.compile(topo, ns);
    let d = StepData {
        dt: clock.dt_h,
        ns,
        link_q: &flows.link,
        link_leak: &flows.leak,
        port_q: &flows.port,
        port_spill: &flows.spill,
        port_role: &topo.port_role,
        qport: &quality.port,
        throughput: &flows.throughput,
        gen_in: &inputs.generated_g_per_m3,
        rem_in: &inputs.removed_fraction,
        sol_in: &inputs.solids_fraction,
        inlet: &quality.inlet,
        volume: &storage.volume,
        volume_end: &storage.volume_end,
        conc: &storage.conc,
        conc_end: &storage.conc_end,
    };
    let step = clock.step;
    let four = w.n() < 4;
    match (spill_or_leak, four) {
        (false, true) => {
            judge_units_gathered::<W, false, 4>(w, ledger, plan, &d, topo, species, step, diag)
        }
        (false, false) => {
            judge_units_gathered::<W, false, LANES>(w, ledger, plan, &d, topo, species, step, diag)
        }
        (true, true) => {
            judge_units_gathered::<W, true, 4>(w, ledger, plan, &d, topo, species, step, diag)
        }
        (true, false) => {
            judge_units_gathered::<W, true, LANES>(w, ledger, plan, &d, topo, species, step, diag)
        }
    }
}

/// Unit `u`'s terms of the step, gathered from its lists (see the module docs for the terms and
/// their order); the park's per-species figures are added to `park`. `FULL`: a step with a
/// spill or a leak (every port of the unit is read, and its outgoing links' leaks); otherwise
/// only its exit ports.
#[inline(always)]
fn gather<W: Width, const FULL: bool, const L: usize>(
    w: W,
    plan: &LedgerPlan,
    u: usize,
    d: &StepData,
    park: &mut ParkSpecies,
) -> UnitTerms<L> {
    let nc = w.n();
    let m = nc + 1;
    let dt = d.dt;
    let (row, next) = (plan.rows[u], plan.rows[u + 1]);
    let mut t = UnitTerms::<L>::zero();
    // A link that moves nothing (`q·Δt = 0` and `leak·Δt = 0`) is skipped, as the reference
    // skips it; without a leak in the step every `leak` is ±0.
    let idle = |l: usize, q: f64| q == 0.0 && (!FULL || d.link_leak[l] * dt == 0.0);
    for e in &plan.ends[row.ins as usize..row.outs as usize] {
        let l = e.link as usize;
        let q = d.link_q[l] * dt;
        if idle(l, q) {
            continue;
        }
        let c = &d.qport[e.conc as usize..][..nc];
        add_amount(&mut t.inflow[..m], q, c);
    }
    for e in &plan.ends[row.outs as usize..next.ins as usize] {
        let l = e.link as usize;
        let q = d.link_q[l] * dt;
        if idle(l, q) {
            continue;
        }
        let c = &d.qport[e.conc as usize..][..nc];
        add_amount(&mut t.outflow[..m], q, c);
        if FULL {
            let leak = d.link_leak[l] * dt;
            if leak != 0.0 {
                add_amount(&mut t.removed[..m], leak, c);
                add_by_exit(park.by_exit, ExitKind::Leak, leak, c);
            }
        }
    }
    if FULL {
        for p in row.ports as usize..next.ports as usize {
            let role = d.port_role[p];
            let exit = match role {
                PortRole::Exit(_) => d.port_q[p] * dt,
                _ => 0.0,
            };
            let spill = d.port_spill[p] * dt;
            if exit == 0.0 && spill == 0.0 {
                continue;
            }
            let c = &d.qport[p * d.ns..][..nc];
            add_amount(&mut t.removed[..m], exit + spill, c);
            if let PortRole::Exit(k) = role
                && exit != 0.0
            {
                add_by_exit(park.by_exit, k, exit, c);
            }
            if spill != 0.0 {
                add_by_exit(park.by_exit, ExitKind::Spill, spill, c);
            }
        }
    } else {
        // No spill: the reference's `exit + 0·Δt` is `exit`.
        for e in &plan.exits[row.exits as usize..next.exits as usize] {
            let exit = d.port_q[e.port as usize] * dt;
            if exit == 0.0 {
                continue;
            }
            let c = &d.qport[e.conc as usize..][..nc];
            add_amount(&mut t.removed[..m], exit, c);
            add_by_exit(park.by_exit, e.kind, exit, c);
        }
    }
    let x = d.throughput[u] * dt;
    if row.source {
        t.generated[0] += x;
    }
    let s = u * d.ns;
    if x != 0.0 {
        let to = if row.source {
            &mut *park.from_sources
        } else {
            &mut *park.loads
        };
        species_terms(
            x,
            &d.gen_in[s..s + nc],
            &d.rem_in[s..s + nc],
            &d.sol_in[s..s + nc],
            &d.inlet[s..s + nc],
            &mut t.generated[1..m],
            &mut t.removed[1..m],
            park.reacted,
            park.by_exit,
            to,
        );
    }
    if row.mixed {
        storage_terms(
            d.volume[u],
            d.volume_end[u],
            &d.conc[s..s + nc],
            &d.conc_end[s..s + nc],
            &mut t.storage_change[..m],
            &mut t.stored[..m],
        );
    }
    t
}

/// The pass over the units: each unit's terms gathered ([`gather`]), judged in registers
/// ([`judge_balance`]: the step's largest relative residual per kind, whether any balance is a
/// violation), added to its run totals (`total += term`) and to the park's generated, removed,
/// Δstorage and stored sums (in unit order from zero); then, only in a step with a violation or
/// a new worst, the [`rescan`]; then the park's judge ([`judge_park`]).
#[expect(
    clippy::too_many_arguments,
    reason = "the ledger reads every part of the step state"
)]
#[inline(never)]
fn judge_units_gathered<W: Width, const FULL: bool, const L: usize>(
    w: W,
    ledger: &mut Ledger,
    plan: &LedgerPlan,
    d: &StepData,
    topo: &Topology,
    species: &Species,
    step: usize,
    diag: &mut Diagnostics,
) {
    let nc = w.n();
    let m = nc + 1;
    let n = topo.n_units() * m;
    let (mut floor, mut den) = ([0.0; L], [0.0; L]);
    for k in 0..m {
        floor[k] = floor_of(k);
        den[k] = floor[k] / RELATIVE_TOLERANCE;
    }
    let (mut most, mut bad) = ([0.0f64; L], [false; L]);
    let mut park = UnitTerms::<L>::zero();
    {
        let Ledger {
            unit_totals,
            species_by_exit,
            species_reacted,
            species_from_sources,
            species_loads,
            ..
        } = &mut *ledger;
        let mut sink = ParkSpecies {
            by_exit: &mut species_by_exit[..nc],
            reacted: &mut species_reacted[..nc],
            from_sources: &mut species_from_sources[..nc],
            loads: &mut species_loads[..nc],
        };
        // The totals are separate slices, not a struct of them, so that the compiler knows
        // they do not overlap.
        let totals = unit_totals.inflow[..n]
            .chunks_exact_mut(m)
            .zip(unit_totals.outflow[..n].chunks_exact_mut(m))
            .zip(unit_totals.generated[..n].chunks_exact_mut(m))
            .zip(unit_totals.removed[..n].chunks_exact_mut(m))
            .zip(unit_totals.storage_change[..n].chunks_exact_mut(m));
        for (u, ((((ta, tb), tg), tx), td)) in totals.enumerate() {
            let t = gather::<W, FULL, L>(w, plan, u, d, &mut sink);
            let (ta, tb, tg, tx, td) = (
                &mut ta[..m],
                &mut tb[..m],
                &mut tg[..m],
                &mut tx[..m],
                &mut td[..m],
            );
            for k in 0..m {
                let (a, b, g) = (t.inflow[k], t.outflow[k], t.generated[k]);
                let (x, ds, s) = (t.removed[k], t.storage_change[k], t.stored[k]);
                judge_balance(
                    [a, b, g, x, ds, s],
                    den[k],
                    floor[k],
                    &mut most[k],
                    &mut bad[k],
                );
                ta[k] += a;
                tb[k] += b;
                tg[k] += g;
                tx[k] += x;
                td[k] += ds;
                park.generated[k] += g;
                park.removed[k] += x;
                park.storage_change[k] += ds;
                park.stored[k] += s;
            }
        }
    }
    // `most` holds no NaN in a step without violation (a NaN residual is one), so a plain
    // comparison decides whether the step's worst of kind `k` can replace the run's.
    let any_bad = bad[..m].iter().any(|&b| b);
    let new_worst = (0..m).any(|k| most[k] > ledger.worst_of(k).relative);
    let mut worst = [(f64::NEG_INFINITY, 0.0, usize::MAX); L];
    if any_bad || new_worst {
        worst = rescan::<W, FULL, L>(w, ledger, plan, d, topo, species, step, diag);
    }
    let terms: [Terms; L] = std::array::from_fn(|k| Terms {
        generated: park.generated[k],
        removed: park.removed[k],
        storage_change: park.storage_change[k],
        ..Terms::default()
    });
    judge_park(
        ledger,
        topo,
        species,
        step,
        diag,
        &worst[..m],
        &terms[..m],
        &park.stored[..m],
    );
}

/// The rare second look at a step (one with a violation or a new worst): every unit's terms
/// gathered again (the park's per-species figures, booked already, go to a scratch dropped
/// here) and every balance judged in unit and kind order: a violation counted and reported
/// ([`report_violation`]), and per kind the step's worst `(relative, r, unit)` ([`consider`]:
/// the first in unit order among equal relative residuals, a NaN kept once seen), returned.
#[expect(
    clippy::too_many_arguments,
    reason = "the ledger reads every part of the step state"
)]
#[cold]
#[inline(never)]
fn rescan<W: Width, const FULL: bool, const L: usize>(
    w: W,
    ledger: &mut Ledger,
    plan: &LedgerPlan,
    d: &StepData,
    topo: &Topology,
    species: &Species,
    step: usize,
    diag: &mut Diagnostics,
) -> [(f64, f64, usize); L] {
    let nc = w.n();
    let m = nc + 1;
    let mut by_exit = vec![[0.0; 7]; nc];
    let (mut reacted, mut from_sources, mut loads) = (vec![0.0; nc], vec![0.0; nc], vec![0.0; nc]);
    let mut scratch = ParkSpecies {
        by_exit: &mut by_exit,
        reacted: &mut reacted,
        from_sources: &mut from_sources,
        loads: &mut loads,
    };
    let mut worst = [(f64::NEG_INFINITY, 0.0, usize::MAX); L];
    for u in 0..topo.n_units() {
        let t = gather::<W, FULL, L>(w, plan, u, d, &mut scratch);
        for k in 0..m {
            let (a, b, g) = (t.inflow[k], t.outflow[k], t.generated[k]);
            let (x, ds, s) = (t.removed[k], t.storage_change[k], t.stored[k]);
            let (r, scale) = residual_and_scale(a, b, g, x, ds, s);
            let floor = floor_of(k);
            if violates(r, scale, floor) {
                report_violation(ledger, topo, species, step, diag, u, k, r);
            }
            let rel = r.abs() / fast_max(scale, floor / RELATIVE_TOLERANCE);
            consider(&mut worst[k], rel, r, u);
        }
    }
    worst
}
