//! The default coupling strategy: a greedy priority cascade.
//!
//! Units are visited in the compiled flow order (strongly connected components of the flow
//! graph, upstream first). Visiting a unit:
//!
//! 1. sums what driven ports upstream pushed to it this step (its *arrivals*);
//! 2. pulls the rest of its target from its supply links in priority order (lower `priority`
//!    first, then declaration order), each pull bounded by the link's capacity, the supplier's
//!    availability left this step and, for a unit with inlet-quality limits, by the blend rule
//!    below; whatever is still missing is unmet demand;
//! 3. sends a share of its throughput out of each driven port. A port's links are served in
//!    priority order, each up to its capacity and, into a Demand unit, up to the room left in
//!    that unit's target (and its quality limit): so reuse water reaches consumers before fresh
//!    water is pulled. What no link can take leaves as spill, with a diagnostic.
//!
//! **Quality rule (start-of-step qualities).** Which water a consumer may accept depends on
//! concentrations that are solved only after the flows. The cascade uses the previous step's
//! concentrations: it takes as much of a candidate stream as keeps the blend within the consumer's
//! limits when the rest of its target is filled from the cleanest supply that still has water
//! (for a pull, the cleanest among this and the later supply links). Meeting demand comes before
//! quality: if the blend rule held back water the consumer then lacks, it takes it after all,
//! cleanest first. The solved inlet mix is checked afterwards and an excess (beyond 1e-6
//! relative) is reported as an `inlet_quality` diagnostic.
//!
//! **Leaks.** A link with a leak event loses its leak rate while it carries water: the upstream
//! port sends `delivered + leak`, the consumer receives `delivered`, and the loss leaves the park
//! as the upstream unit's `leak` exit (`Flows::leak`).
//!
//! **Recycle loops.** Components with a cycle are visited repeatedly (Gauss–Seidel) with their
//! suppliers' availability restored before each pass, until no throughput changes by more than
//! 1e-14 relative; with every demand met this takes two passes. A loop whose demands are short
//! converges geometrically with its loop gain; after [`MAX_PASSES`] a `non_convergence`
//! diagnostic is raised. Each unit's balance is exact whatever the pass count, since its outflows
//! are computed from its own throughput; the residual of a non-converged loop is the last pass's
//! change.
//!
//! **How the walk is laid out (speed).** Everything that depends only on the topology is
//! compiled once into [`Tables`] (rebuilt when the unit, port or link count changes; see
//! `docs/solver-caches.md`): per unit one record with its flow kind and the ranges of its pushed
//! links, supply links and written ports (a unit other than a tank: its exits, then its
//! single-link ports, then its other driven ports); per written port its role and, for a port
//! routed over a single link, that link's record. The tables are laid out in flow order and the
//! walk is a program of runs of unit records and recycle loops, so a run streams through each
//! table. Per step, `allocate` cuts the arrays it touches to their exact lengths once, so one
//! bounds check covers an index in every array of its length, and walks the units with the
//! visit inlined. Two per-step scans choose cheaper visits without changing any operation's
//! result: inlet limits are looked at per unit only when some limit is finite, and in a step
//! where no link leaks (every `link_leak` bit pattern `+0.0`) the visits use a constant `+0.0`
//! leak, which the compiler folds only by exact identities. The visits do the same operations on
//! the same values as a walk in port order over zeroed arrays; only the supply ports' booking
//! sums its terms in another order (see [`Priority::book_supply_ports`]).

use crate::arith::any_finite;
use crate::diagnostics::Diagnostics;
use crate::flow::{AllocationContext, CouplingStrategy, loop_converged, report_non_convergence};
use crate::network::{Component, FlowKind, PortRole, Topology};
use crate::state::{Flows, UnitInputs};

/// Passes over a recycle loop before giving up.
pub const MAX_PASSES: usize = 500;
pub use crate::flow::LOOP_TOLERANCE;

/// The priority-cascade strategy (see the module docs).
#[derive(Default, Debug)]
pub struct Priority {
    supply_used: Vec<f64>,
    snapshot: Vec<f64>,
    previous: Vec<f64>,
    /// Whether any unit has a finite inlet limit this step (else `has_limits` is not read).
    any_limits: bool,
    has_limits: Vec<bool>,
    fill: Vec<f64>,
    mass: Vec<f64>,
    order: Vec<(f64, usize)>,
    tables: Tables,
}

/// The topology's links as the cascade walks them, compiled once per topology (rebuilt when its
/// unit, port or link count changes) so that each visit reads one contiguous record per link
/// instead of chasing `link_from`, `link_from_port`, `link_to`, `link_cap` and `link_split`.
#[derive(Default, Debug)]
struct Tables {
    /// Units, ports and links of the topology they were built for.
    key: Option<[usize; 3]>,
    /// Supply links into each unit, in pull order (`Topology::pulled_into`).
    pull: Vec<PullLink>,
    /// Pushed links into each unit (`Topology::pushed_into` order).
    push: Vec<PushLink>,
    /// CSR start of each port's links in `route` (length `n_ports + 1`).
    route_start: Vec<u32>,
    /// Links leaving each port, in routing order (`Topology::links_of_port`).
    route: Vec<RouteLink>,
    /// Per unit: its flow kind and its ranges in `push`, `pull` and `outs`.
    unit: Vec<UnitPlan>,
    /// The ports a visit writes: a tank's supply, exit and (first) overflow ports in port
    /// order; any other unit's exit ports, then its driven ports routed by [`route_single`],
    /// then its other driven ports (each group in port order; see [`UnitPlan::outs`]).
    outs: Vec<OutPort>,
    /// The walk program: the plans of the units outside recycle loops that a visit changes
    /// (all but sources), in flow order, so that a run of them is visited by streaming through
    /// this array and, since `push`, `pull` and `outs` are laid out in flow order too, through
    /// theirs.
    program: Vec<UnitPlan>,
    /// The walk in flow order: runs of [`Tables::program`] and recycle loops.
    walk: Vec<Part>,
    /// Supply ports, in port order (see [`SupplyPort`]).
    supply_ports: Vec<SupplyPort>,
    /// The suppliers of supply links: the only units whose `supply_used` the walk reads, so
    /// the only entries `prepare` zeroes.
    suppliers: Vec<u32>,
    /// The entries of `Flows` the walk may read before it writes them in a step, or never
    /// writes (see [`Tables::plan_clearing`]): the only ones `allocate` zeroes.
    clear: Clearing,
}

/// A part of the walk.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// The units of `program[start..end]`, each visited once.
    Run([u32; 2]),
    /// The cyclic component of this index (visited by [`Priority::iterate`]).
    Loop(u32),
}

/// A unit as the walk visits it: one record read once per visit, instead of its kind and
/// three pairs of CSR starts read from four arrays.
#[derive(Clone, Copy, Debug)]
struct UnitPlan {
    /// The unit.
    u: u32,
    kind: FlowKind,
    /// Its pushed links' range in [`Tables::push`].
    push: [u32; 2],
    /// Its supply links' range in [`Tables::pull`].
    pull: [u32; 2],
    /// Its written ports in [`Tables::outs`]: `outs[0]..outs[3]`; for a unit other than a tank
    /// its exit ports are `outs[0]..outs[1]`, its ports routed by [`route_single`]
    /// `outs[1]..outs[2]` and its other driven ports `outs[2]..outs[3]`. Visiting them group by
    /// group instead of in port order changes no result: an exit writes only its `port`, a
    /// single-link port only its own entries and a link into a unit that is not a Demand unit,
    /// which no other port's routing reads (a cascade reads only the links into a Demand
    /// receiver).
    outs: [u32; 4],
}

/// `start..end` of a compiled range.
#[inline(always)]
fn span(r: [u32; 2]) -> std::ops::Range<usize> {
    r[0] as usize..r[1] as usize
}

/// What a visit does with one of the unit's ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Out {
    /// A driven port that cascades over its links.
    Cascade,
    /// A driven port that cascades over a single link into a unit that is not a Demand unit
    /// (routed by [`Priority::route_single`]).
    Single,
    /// A driven port with fixed split fractions.
    Split,
    /// An exit port (its share of the throughput leaves the park).
    Exit,
    /// A tank's supply port (its links' flows and leaks leave the tank).
    Supply,
    /// The supply port of a tank with one supply port outside recycle loops: its links' flows
    /// and leaks sum to the tank's `supply_used` when the tank is visited (see
    /// [`Priority::tank_overflow`]).
    Used,
    /// A tank's first overflow port.
    Overflow,
}

/// A port a visit writes. A port routed by [`route_single`] (role [`Out::Single`], or a tank's
/// overflow with `single` set) carries its one link's record, so routing it reads no table.
#[derive(Clone, Copy, Debug)]
struct OutPort {
    port: u32,
    role: Out,
    /// A cascade over one link into a unit that is not a Demand unit.
    single: bool,
    /// That link (0 when not `single`).
    link: u32,
    /// Its receiver.
    to: u32,
    /// Its capacity, m³/h.
    cap: f64,
    /// The port's links' range in [`Tables::route`] (a tank's supply links).
    links: [u32; 2],
}

/// Indices of the `Flows` entries that must be zero before the walk (see
/// [`Tables::plan_clearing`]).
#[derive(Default, Debug)]
struct Clearing {
    /// Links (both `link` and `leak`).
    links: Vec<u32>,
    /// Ports whose `port` entry the walk never writes.
    ports: Vec<u32>,
    /// Ports whose `spill` entry the walk never writes (all but the routed ones and the exits
    /// of units other than tanks).
    spills: Vec<u32>,
    /// Units whose `throughput` the walk does not assign (sources: booked with `+=`).
    throughput: Vec<u32>,
    /// Units whose `unmet` the walk never writes (sources: the visit of every other unit
    /// writes it, `0.0` for a unit that is not a Demand unit).
    unmet: Vec<u32>,
}

/// A supply port as the walk books it once every consumer has pulled.
#[derive(Clone, Copy, Debug)]
struct SupplyPort {
    port: u32,
    /// Its unit.
    unit: u32,
    /// Whether its unit is a source (its throughput is its withdrawal).
    source: bool,
    /// Whether the port's flow is its unit's `supply_used`: the unit's only supply port, and
    /// the unit supplies some consumer's pull (so `prepare` zeroes its `supply_used`).
    used: bool,
    /// Its links' range in [`Tables::route`] (summed when `used` is false).
    links: [u32; 2],
}

/// A supply link as a consumer pulls over it.
#[derive(Clone, Copy, Debug)]
struct PullLink {
    link: u32,
    /// The supplier.
    from: u32,
    /// The supplier's port.
    port: u32,
    /// Capacity, m³/h.
    cap: f64,
}

/// A pushed link into a unit.
#[derive(Clone, Copy, Debug)]
struct PushLink {
    link: u32,
    /// The upstream port.
    port: u32,
}

/// A link as its port routes water over it.
#[derive(Clone, Copy, Debug)]
struct RouteLink {
    link: u32,
    /// The receiving unit.
    to: u32,
    /// Capacity, m³/h.
    cap: f64,
    /// Split fraction (0 when the port cascades).
    split: f64,
    /// Whether the receiver is a Demand unit (its room left in the target bounds the link).
    demand: bool,
}

impl Tables {
    /// Builds the tables for `topo` unless they were built for its sizes.
    fn ensure(&mut self, topo: &Topology) {
        let key = [topo.n_units(), topo.n_ports(), topo.n_links()];
        if self.key == Some(key) {
            return;
        }
        let mut t = Tables {
            key: Some(key),
            ..Tables::default()
        };
        // Laid out in flow order, so the walk streams through each array.
        let mut pull = vec![[0u32; 2]; topo.n_units()];
        let mut push = vec![[0u32; 2]; topo.n_units()];
        for &u in &topo.flow_order {
            let u = u as usize;
            let p0 = t.pull.len() as u32;
            t.pull.extend(topo.pulled_into(u).iter().map(|&l| PullLink {
                link: l,
                from: topo.link_from[l as usize],
                port: topo.link_from_port[l as usize],
                cap: topo.link_cap[l as usize],
            }));
            pull[u] = [p0, t.pull.len() as u32];
            let s0 = t.push.len() as u32;
            t.push.extend(topo.pushed_into(u).iter().map(|&l| PushLink {
                link: l,
                port: topo.link_from_port[l as usize],
            }));
            push[u] = [s0, t.push.len() as u32];
        }
        t.route_start.push(0);
        for p in 0..topo.n_ports() {
            t.route
                .extend(topo.links_of_port(p).iter().map(|&l| RouteLink {
                    link: l,
                    to: topo.link_to[l as usize],
                    cap: topo.link_cap[l as usize],
                    split: topo.link_split[l as usize],
                    demand: topo.unit_flow[topo.link_to[l as usize] as usize] == FlowKind::Demand,
                }));
            t.route_start.push(t.route.len() as u32);
        }
        let single: Vec<bool> = (0..topo.n_ports())
            .map(|p| {
                let links = &t.route[t.route_start[p] as usize..t.route_start[p + 1] as usize];
                !topo.port_split[p] && links.len() == 1 && !links[0].demand
            })
            .collect();
        let mut in_loop = vec![false; topo.n_units()];
        for c in topo.flow_components.iter().filter(|c| c.cyclic) {
            for &u in &topo.flow_order[c.start as usize..c.end as usize] {
                in_loop[u as usize] = true;
            }
        }
        // Per unit: how many supply ports it has (a tank's or supplier's single supply port
        // can be booked from its `supply_used`).
        let n_supply: Vec<usize> = (0..topo.n_units())
            .map(|u| {
                topo.ports_of(u)
                    .filter(|&p| topo.port_role[p] == PortRole::Supply)
                    .count()
            })
            .collect();
        let mut outs = vec![[0u32; 4]; topo.n_units()];
        for &u in &topo.flow_order {
            let u = u as usize;
            let kind = topo.unit_flow[u];
            let o0 = t.outs.len();
            let mut overflow = false;
            for p in topo.ports_of(u) {
                let role = match (kind, topo.port_role[p]) {
                    (FlowKind::Tank, PortRole::Supply) if n_supply[u] == 1 && !in_loop[u] => {
                        Out::Used
                    }
                    (FlowKind::Tank, PortRole::Supply) => Out::Supply,
                    (FlowKind::Tank, PortRole::Exit(_)) => Out::Exit,
                    (FlowKind::Tank, PortRole::Overflow) if !overflow => {
                        overflow = true;
                        Out::Overflow
                    }
                    (FlowKind::Tank, _) => continue,
                    (_, PortRole::Driven) if topo.port_split[p] => Out::Split,
                    (_, PortRole::Driven) if single[p] => Out::Single,
                    (_, PortRole::Driven) => Out::Cascade,
                    (_, PortRole::Exit(_)) => Out::Exit,
                    _ => continue,
                };
                let rl = (single[p] && matches!(role, Out::Single | Out::Overflow))
                    .then(|| t.route[t.route_start[p] as usize]);
                t.outs.push(OutPort {
                    port: p as u32,
                    links: [t.route_start[p], t.route_start[p + 1]],
                    role,
                    single: rl.is_some(),
                    link: rl.map_or(0, |rl| rl.link),
                    to: rl.map_or(0, |rl| rl.to),
                    cap: rl.map_or(0.0, |rl| rl.cap),
                });
            }
            let end = t.outs.len();
            if kind == FlowKind::Tank {
                outs[u] = [o0 as u32, o0 as u32, o0 as u32, end as u32];
            } else {
                // Exits, then single-link ports, then the rest (a stable sort keeps port order
                // within each group).
                let group = |op: &OutPort| match op.role {
                    Out::Exit => 0,
                    Out::Single => 1,
                    _ => 2,
                };
                t.outs[o0..end].sort_by_key(group);
                let first = |g| {
                    o0 + t.outs[o0..end]
                        .iter()
                        .take_while(|op| group(op) < g)
                        .count()
                };
                outs[u] = [o0 as u32, first(1) as u32, first(2) as u32, end as u32];
            }
        }
        t.unit = (0..topo.n_units())
            .map(|u| UnitPlan {
                u: u as u32,
                kind: topo.unit_flow[u],
                push: push[u],
                pull: pull[u],
                outs: outs[u],
            })
            .collect();
        for (i, c) in topo.flow_components.iter().enumerate() {
            if c.cyclic {
                t.walk.push(Part::Loop(i as u32));
                continue;
            }
            let u = topo.flow_order[c.start as usize] as usize;
            if t.unit[u].kind == FlowKind::Source {
                continue;
            }
            let at = t.program.len() as u32;
            t.program.push(t.unit[u]);
            match t.walk.last_mut() {
                Some(Part::Run(r)) if r[1] == at => r[1] = at + 1,
                _ => t.walk.push(Part::Run([at, at + 1])),
            }
        }
        t.suppliers = t.pull.iter().map(|pl| pl.from).collect();
        t.suppliers.sort_unstable();
        t.suppliers.dedup();
        for p in 0..topo.n_ports() {
            if topo.port_role[p] == PortRole::Supply {
                let u = topo.port_unit[p];
                t.supply_ports.push(SupplyPort {
                    port: p as u32,
                    unit: u,
                    source: topo.unit_flow[u as usize] == FlowKind::Source,
                    used: n_supply[u as usize] == 1 && t.suppliers.binary_search(&u).is_ok(),
                    links: [t.route_start[p], t.route_start[p + 1]],
                });
            }
        }
        t.plan_clearing(topo);
        *self = t;
    }

    /// Finds the `Flows` entries the walk needs zeroed, by replaying the walk's reads and
    /// writes over the compiled order once (the first pass of each component; later passes
    /// over a loop only re-read entries the first pass wrote). Every other entry is assigned by
    /// the walk before anything reads it, so clearing it would be work done twice:
    ///
    /// - a link (`link` and `leak`) is assigned by its consumer's pull (a supply link) or its
    ///   port's routing (a driven or overflow port); it is cleared when the walk may read it
    ///   first (arrivals and committed inflow of a unit, the committed inflow of a Demand unit a
    ///   cascade routes to, a tank's supply links, the supply ports' booking) or never assigns
    ///   it (for example a link from a tank's driven port);
    /// - a port's `port` is assigned when it is routed, an exit or a supply port; `spill` only
    ///   when it is routed;
    /// - `throughput` is assigned for every unit but a source (booked with `+=`), and `unmet`
    ///   for every Demand unit.
    ///
    /// Reads that depend on data (a cascade reads a Demand receiver's committed inflow only
    /// when it still has water and room) are counted as always made, so the lists are a safe
    /// superset.
    fn plan_clearing(&mut self, topo: &Topology) {
        let mut written = vec![false; topo.n_links()];
        let mut clear = vec![false; topo.n_links()];
        let mut port_written = vec![false; topo.n_ports()];
        let mut spill_written = vec![false; topo.n_ports()];
        let read = |l: u32, written: &[bool], clear: &mut [bool]| {
            if !written[l as usize] {
                clear[l as usize] = true;
            }
        };
        for c in &topo.flow_components {
            for &u in &topo.flow_order[c.start as usize..c.end as usize] {
                let u = u as usize;
                if self.unit[u].kind == FlowKind::Source {
                    continue;
                }
                for pl in self.pushed_into(u) {
                    read(pl.link, &written, &mut clear);
                }
                for pl in self.pulled_into(u) {
                    written[pl.link as usize] = true;
                }
                let o = self.unit[u].outs;
                for op in &self.outs[o[0] as usize..o[3] as usize] {
                    let p = op.port as usize;
                    let links = self.route_start[p] as usize..self.route_start[p + 1] as usize;
                    match op.role {
                        // A tank's exits in `tank_overflow`; any other unit's exits also get
                        // their spill zeroed by the visit.
                        Out::Exit => {
                            port_written[p] = true;
                            spill_written[p] |= self.unit[u].kind != FlowKind::Tank;
                        }
                        Out::Supply | Out::Used => {
                            for rl in &self.route[links] {
                                read(rl.link, &written, &mut clear);
                            }
                        }
                        Out::Cascade | Out::Single | Out::Split | Out::Overflow => {
                            port_written[p] = true;
                            spill_written[p] = true;
                            for rl in &self.route[links] {
                                if rl.demand && !topo.port_split[p] {
                                    for pl in self.pushed_into(rl.to as usize) {
                                        if pl.link != rl.link {
                                            read(pl.link, &written, &mut clear);
                                        }
                                    }
                                }
                                written[rl.link as usize] = true;
                            }
                        }
                    }
                }
            }
        }
        for sp in &self.supply_ports {
            port_written[sp.port as usize] = true;
            for rl in &self.route[span(sp.links)] {
                read(rl.link, &written, &mut clear);
            }
        }
        self.clear = Clearing {
            links: (0..topo.n_links() as u32)
                .filter(|&l| clear[l as usize] || !written[l as usize])
                .collect(),
            ports: (0..topo.n_ports() as u32)
                .filter(|&p| !port_written[p as usize])
                .collect(),
            spills: (0..topo.n_ports() as u32)
                .filter(|&p| !spill_written[p as usize])
                .collect(),
            throughput: (0..topo.n_units() as u32)
                .filter(|&u| self.unit[u as usize].kind == FlowKind::Source)
                .collect(),
            unmet: (0..topo.n_units() as u32)
                .filter(|&u| self.unit[u as usize].kind == FlowKind::Source)
                .collect(),
        };
    }

    /// Supply links into unit `u`, in pull order.
    fn pulled_into(&self, u: usize) -> &[PullLink] {
        &self.pull[span(self.unit[u].pull)]
    }

    /// Pushed links into unit `u`.
    fn pushed_into(&self, u: usize) -> &[PushLink] {
        &self.push[span(self.unit[u].push)]
    }
}

/// The step's arrays the walk reads and writes, cut once per `allocate` to their exact lengths
/// (links, ports, units), so that after inlining one bounds check on an index covers every
/// array of its length.
struct Step<'a> {
    /// `Flows::link`, per link.
    link: &'a mut [f64],
    /// `Flows::leak`, per link.
    leak: &'a mut [f64],
    /// `UnitInputs::link_leak`, per link.
    link_leak: &'a [f64],
    /// `Flows::port`, per port.
    port: &'a mut [f64],
    /// `Flows::spill`, per port.
    spill: &'a mut [f64],
    /// `UnitInputs::port_share`, per port.
    port_share: &'a [f64],
    /// `Flows::throughput`, per unit.
    throughput: &'a mut [f64],
    /// `Flows::unmet`, per unit.
    unmet: &'a mut [f64],
    /// `UnitInputs::online`, per unit.
    online: &'a [bool],
    /// `UnitInputs::target`, per unit.
    target: &'a [f64],
    /// `UnitInputs::supply_avail`, per unit.
    supply_avail: &'a [f64],
    /// What each supplier gave this step, m³/h (leaks included), per unit.
    supply_used: &'a mut [f64],
}

impl<'a> Step<'a> {
    /// Cuts the arrays of `flows`, `inputs` and `supply_used` to the topology's sizes.
    fn new(
        topo: &Topology,
        inputs: &'a UnitInputs,
        flows: &'a mut Flows,
        supply_used: &'a mut [f64],
    ) -> Self {
        let (nl, np, nu) = (topo.n_links(), topo.n_ports(), topo.n_units());
        Step {
            link: &mut flows.link[..nl],
            leak: &mut flows.leak[..nl],
            link_leak: &inputs.link_leak[..nl],
            port: &mut flows.port[..np],
            spill: &mut flows.spill[..np],
            port_share: &inputs.port_share[..np],
            throughput: &mut flows.throughput[..nu],
            unmet: &mut flows.unmet[..nu],
            online: &inputs.online[..nu],
            target: &inputs.target[..nu],
            supply_avail: &inputs.supply_avail[..nu],
            supply_used: &mut supply_used[..nu],
        }
    }
}

impl Priority {
    /// A new strategy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Per-step setup: the tables (rebuilt only for a new topology), the suppliers' use zeroed,
    /// and which units have inlet limits. One branch-free scan of the limits decides whether the
    /// per-unit flags are needed at all (a park without limits skips them).
    fn prepare(&mut self, ctx: &AllocationContext<'_>) {
        let nu = ctx.topo.n_units();
        let ns = ctx.species.len();
        self.tables.ensure(ctx.topo);
        if self.supply_used.len() != nu {
            self.supply_used.clear();
            self.supply_used.resize(nu, 0.0);
        }
        for &s in &self.tables.suppliers {
            self.supply_used[s as usize] = 0.0;
        }
        self.snapshot.resize(nu, 0.0);
        self.previous.resize(nu, 0.0);
        self.any_limits = any_finite(&ctx.inputs.accept_limit);
        if self.any_limits {
            self.has_limits.clear();
            self.has_limits.extend((0..nu).map(|u| {
                ctx.inputs.accept_limit[u * ns..(u + 1) * ns]
                    .iter()
                    .any(|l| l.is_finite())
            }));
        }
        self.fill.resize(ns, 0.0);
        self.mass.resize(ns, 0.0);
    }

    /// Whether unit `u` has a finite inlet limit this step.
    #[inline(always)]
    fn limited(&self, u: usize) -> bool {
        self.any_limits && self.has_limits[u]
    }

    /// Per species, the cleanest concentration (previous step) among `u`'s supply links from
    /// position `from` on whose supplier still has water this step; the unit's own limit when
    /// there is none.
    // Kept out of line: the common visit (no limits, no demand downstream) stays small.
    #[inline(never)]
    fn load_fill(&mut self, u: usize, from: usize, a: &Step<'_>, ctx: &AllocationContext<'_>) {
        let ns = ctx.species.len();
        for s in 0..ns {
            self.fill[s] = ctx.inputs.accept_limit[u * ns + s];
        }
        let mut first = true;
        for pl in &self.tables.pulled_into(u)[from..] {
            let sup = pl.from as usize;
            if a.supply_avail[sup] - a.supply_used[sup] <= 0.0 || !a.online[sup] {
                continue;
            }
            let p = pl.port as usize;
            for s in 0..ns {
                let c = ctx.previous_quality.port[p * ns + s];
                self.fill[s] = if first { c } else { self.fill[s].min(c) };
            }
            first = false;
        }
    }

    /// Largest amount of a stream at concentrations `cand` (by port) that unit `u` can take,
    /// given `committed` m³/h already received with masses in `self.mass`, so that the blend
    /// filled up to `target` with the cleanest supply stays within every limit.
    // Kept out of line: the common visit (no limits, no demand downstream) stays small.
    #[inline(never)]
    fn quality_cap(
        &self,
        u: usize,
        cand_port: usize,
        committed: f64,
        target: f64,
        ctx: &AllocationContext<'_>,
    ) -> f64 {
        let ns = ctx.species.len();
        let mut cap = f64::INFINITY;
        for s in 0..ns {
            let limit = ctx.inputs.accept_limit[u * ns + s];
            if !limit.is_finite() {
                continue;
            }
            let c = ctx.previous_quality.port[cand_port * ns + s];
            let f = self.fill[s];
            if c <= f {
                continue;
            }
            let headroom = limit * target - self.mass[s] - (target - committed) * f;
            cap = cap.min(headroom.max(0.0) / (c - f));
        }
        cap
    }

    /// The flow of the pushed links into `t`, except `skip`; with `with_mass`, also loads
    /// `self.mass` with their mass rates (only a unit with inlet limits needs them).
    // Kept out of line: the common visit (no limits, no demand downstream) stays small.
    #[inline(never)]
    fn load_committed(
        &mut self,
        t: usize,
        skip: u32,
        with_mass: bool,
        a: &Step<'_>,
        ctx: &AllocationContext<'_>,
    ) -> f64 {
        let ns = ctx.species.len();
        let mut total = 0.0;
        if !with_mass {
            for pl in self.tables.pushed_into(t) {
                if pl.link != skip {
                    total += a.link[pl.link as usize];
                }
            }
            return total;
        }
        self.mass.iter_mut().for_each(|m| *m = 0.0);
        for pl in self.tables.pushed_into(t) {
            if pl.link == skip {
                continue;
            }
            let q = a.link[pl.link as usize];
            total += q;
            let p = pl.port as usize;
            for s in 0..ns {
                self.mass[s] += q * ctx.previous_quality.port[p * ns + s];
            }
        }
        total
    }

    /// Pulls the rest of unit `u`'s target over its supply links in pull order (see the module
    /// docs); returns the volume pulled, m³/h.
    #[inline(always)]
    fn pull<const LEAKS: bool>(
        &mut self,
        u: usize,
        links: [u32; 2],
        arrivals: f64,
        target: f64,
        a: &mut Step<'_>,
        ctx: &AllocationContext<'_>,
    ) -> f64 {
        let (first, end) = (links[0] as usize, links[1] as usize);
        if first >= end {
            return 0.0;
        }
        let ns = ctx.species.len();
        let mut remaining = (target - arrivals).max(0.0);
        let limited = remaining > 0.0 && self.limited(u);
        let mut committed = arrivals;
        if limited {
            self.load_committed(u, u32::MAX, true, a, ctx);
        }
        let mut total = 0.0;
        for j in first..end {
            if remaining.is_nan() || remaining <= 0.0 {
                // Nothing left to pull (or the target is not a number): every later link takes
                // `q = 0` and no leak, and adds `+0.0` to `supply_used`, `remaining` and
                // `total`, which leaves them as they are (none of them can be `−0.0`).
                for pl in &self.tables.pull[j..end] {
                    a.link[pl.link as usize] = 0.0;
                    a.leak[pl.link as usize] = 0.0;
                }
                break;
            }
            let (i, pl) = (j - first, self.tables.pull[j]);
            let l = pl.link as usize;
            let s = pl.from as usize;
            let mut q = 0.0;
            let leak = link_leak::<LEAKS>(l, a);
            if a.online[s] {
                let avail = (a.supply_avail[s] - a.supply_used[s] - leak).max(0.0);
                q = remaining.min(avail).min(pl.cap);
                let p = pl.port as usize;
                if limited && q > 0.0 {
                    // The rest is assumed to come from the cleanest supply still available
                    // from this link on (this one included: the cleanest is never capped).
                    self.load_fill(u, i, a, ctx);
                    q = q
                        .min(self.quality_cap(u, p, committed, target, ctx))
                        .max(0.0);
                    committed += q;
                    for sp in 0..ns {
                        self.mass[sp] += q * ctx.previous_quality.port[p * ns + sp];
                    }
                }
            }
            let leaked = if q > 0.0 { leak } else { 0.0 };
            a.link[l] = q;
            a.leak[l] = leaked;
            a.supply_used[s] += q + leaked;
            remaining -= q;
            total += q;
        }
        if limited && remaining > 0.0 {
            total += self.relax(u, remaining, a, ctx);
        }
        total
    }

    /// Demand comes before quality: water the blend rule held back, while the consumer still
    /// lacks water, is taken after all, cleanest supply first (by the largest ratio of
    /// concentration to limit); the solved inlet mix then reports the excess. Returns the volume
    /// added.
    // Kept out of line: the common visit (no limits, no demand downstream) stays small.
    #[inline(never)]
    fn relax(
        &mut self,
        u: usize,
        mut remaining: f64,
        a: &mut Step<'_>,
        ctx: &AllocationContext<'_>,
    ) -> f64 {
        let topo = ctx.topo;
        let ns = ctx.species.len();
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(topo.pulled_into(u).iter().map(|&l| {
            let p = topo.link_from_port[l as usize] as usize;
            let worst = (0..ns)
                .map(|sp| {
                    let lim = ctx.inputs.accept_limit[u * ns + sp];
                    if lim.is_finite() && lim > 0.0 {
                        ctx.previous_quality.port[p * ns + sp] / lim
                    } else {
                        0.0
                    }
                })
                .fold(0.0, f64::max);
            (worst, l as usize)
        }));
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut added = 0.0;
        for &(_, l) in &order {
            let s = topo.link_from[l] as usize;
            if remaining <= 0.0 || !a.online[s] {
                continue;
            }
            let new_leak = if a.link[l] > 0.0 { 0.0 } else { a.link_leak[l] };
            let avail = (a.supply_avail[s] - a.supply_used[s] - new_leak).max(0.0);
            let q = remaining
                .min(avail)
                .min(topo.link_cap[l] - a.link[l])
                .max(0.0);
            if q > 0.0 {
                a.leak[l] += new_leak;
                a.supply_used[s] += new_leak;
            }
            a.link[l] += q;
            a.supply_used[s] += q;
            remaining -= q;
            added += q;
        }
        self.order = order;
        added
    }

    /// Routes `y` over the links of a port with fixed split fractions: each link but the last
    /// gets `y·split`, the last what is left; a link's leak and capacity and an offline receiver
    /// turn the rest of its share into spill.
    #[inline(never)]
    fn route_split(&self, p: usize, y: f64, range: std::ops::Range<usize>, a: &mut Step<'_>) {
        let mut rem = y;
        let links = &self.tables.route[range];
        let n = links.len();
        let mut spill = 0.0;
        for (i, rl) in links.iter().enumerate() {
            let l = rl.link as usize;
            let share = if i + 1 == n {
                rem.max(0.0)
            } else {
                y * rl.split
            };
            rem -= share;
            let t = rl.to as usize;
            let leak = a.link_leak[l].min(share);
            let q = if a.online[t] {
                (share - leak).min(rl.cap)
            } else {
                0.0
            };
            let leak = if q > 0.0 { leak } else { 0.0 };
            a.link[l] = q;
            a.leak[l] = leak;
            spill += share - q - leak;
        }
        a.spill[p] = spill;
    }

    /// Sends `y` m³/h out of port `p`: by fixed splits, or as a cascade in routing order, each
    /// link up to its capacity (an offline receiver takes nothing) and, into a Demand unit, up
    /// to the room left in its target and its quality limit; the rest is spill.
    // Kept out of line: most ports are routed by `route_single`.
    #[inline(never)]
    fn route(&mut self, p: usize, y: f64, a: &mut Step<'_>, ctx: &AllocationContext<'_>) {
        let topo = ctx.topo;
        a.port[p] = y;
        let range = self.tables.route_start[p] as usize..self.tables.route_start[p + 1] as usize;
        if range.is_empty() {
            a.spill[p] = y.max(0.0);
            return;
        }
        if topo.port_split[p] {
            self.route_split(p, y, range, a);
            return;
        }
        let mut rem = y;
        for i in range {
            let rl = self.tables.route[i];
            let li = rl.link as usize;
            let t = rl.to as usize;
            let mut lim = if a.online[t] { rl.cap } else { 0.0 };
            if lim > 0.0 && rem > 0.0 && rl.demand {
                let limited = self.limited(t);
                let others = self.load_committed(t, rl.link, limited, a, ctx);
                let target = a.target[t];
                lim = lim.min((target - others).max(0.0));
                if limited && lim > 0.0 {
                    self.load_fill(t, 0, a, ctx);
                    lim = lim.min(self.quality_cap(t, p, others, target, ctx));
                }
            }
            rem = send::<true>(li, rem, lim, a);
        }
        a.spill[p] = rem.max(0.0);
    }

    /// Visits unit `u`: arrivals, pulls, throughput, unmet demand, then its driven and exit
    /// ports (a tank: its exits and overflow, see [`Priority::tank_overflow`]).
    ///
    /// Without `LEAKS` (no link leaks this step) a link's leak is the constant `+0.0` instead of
    /// `link_leak`'s entry, which then is `+0.0` too: the same operations on the same values,
    /// which the compiler simplifies only by exact identities (`x − 0.0` is `x` for every `x`,
    /// `if q > 0 { 0.0 } else { 0.0 }` is `0.0`; `q + 0.0` stays, since it turns `−0` into `+0`).
    #[inline(always)]
    fn update<const LEAKS: bool>(
        &mut self,
        plan: UnitPlan,
        a: &mut Step<'_>,
        ctx: &AllocationContext<'_>,
    ) {
        if plan.kind == FlowKind::Source {
            return;
        }
        let u = plan.u as usize;
        let online = a.online[u];
        let arrivals: f64 = self.tables.push[span(plan.push)]
            .iter()
            .map(|pl| a.link[pl.link as usize])
            .sum();
        let target = if online { a.target[u] } else { 0.0 };
        let pulled = self.pull::<LEAKS>(u, plan.pull, arrivals, target, a, ctx);
        let x = arrivals + pulled;
        a.throughput[u] = x;
        // Written for every visited unit (zero unless a Demand unit is short), so only the
        // sources' entries need clearing.
        a.unmet[u] = if plan.kind == FlowKind::Demand {
            let unmet = target - x;
            if unmet > 1e-12 * target { unmet } else { 0.0 }
        } else {
            0.0
        };
        if plan.kind == FlowKind::Tank {
            let outs = plan.outs[0] as usize..plan.outs[3] as usize;
            if let Some((i, over)) = self.tank_overflow(u, x, outs, a, ctx) {
                let op = self.tables.outs[i];
                if op.single {
                    route_single::<LEAKS>(&op, over, a);
                } else {
                    self.route(op.port as usize, over, a, ctx);
                }
            }
            return;
        }
        // By group (see `UnitPlan::outs`): exits, single-link ports, the rest.
        let o = plan.outs.map(|i| i as usize);
        for op in &self.tables.outs[o[0]..o[1]] {
            // An exit spills nothing: its spill is zeroed here rather than in `clear`.
            let p = op.port as usize;
            a.port[p] = a.port_share[p] * x;
            a.spill[p] = 0.0;
        }
        for op in &self.tables.outs[o[1]..o[2]] {
            route_single::<LEAKS>(op, a.port_share[op.port as usize] * x, a);
        }
        for i in o[2]..o[3] {
            let p = self.tables.outs[i].port as usize;
            self.route(p, a.port_share[p] * x, a, ctx);
        }
    }

    /// [`crate::flow::tank_exits`] over the tank's compiled ports: its exit ports take their
    /// shares of the inflow `x` (m³/h), and what would rise above its capacity by the end of the
    /// step, `(V0 + (x − out)·Δt − capacity)/Δt` with `out` its supply links (leaks included)
    /// and exits, leaves by its overflow port. Returns that port's position in [`Tables::outs`]
    /// and its flow (`None` when the tank has no overflow port).
    ///
    /// For a tank with one supply port outside recycle loops ([`Out::Used`]) the supply links'
    /// part of `out` is its `supply_used`: every link of that port is a supply link, assigned
    /// only by its consumer's pull (`supply_used += q + leak` as it assigns `link = q`,
    /// `leak = leak`; `relax` adds to both sides alike), and its consumers are all visited
    /// before the tank (flow order), so `supply_used = Σ (link + leak)` over the port's links,
    /// summed in pull order instead of the port's routing order (the same quantity; the last
    /// bits may differ). In a loop a consumer visited after the tank would be missing from it,
    /// so there the links are summed.
    fn tank_overflow(
        &self,
        u: usize,
        x: f64,
        outs: std::ops::Range<usize>,
        a: &mut Step<'_>,
        ctx: &AllocationContext<'_>,
    ) -> Option<(usize, f64)> {
        let dt = ctx.clock.dt_h;
        let mut out = 0.0;
        let mut overflow = None;
        for (i, op) in outs.clone().zip(&self.tables.outs[outs]) {
            let p = op.port as usize;
            match op.role {
                Out::Used => out += a.supply_used[u],
                Out::Supply => {
                    out += self.tables.route[span(op.links)]
                        .iter()
                        .map(|rl| a.link[rl.link as usize] + a.leak[rl.link as usize])
                        .sum::<f64>();
                }
                Out::Exit => {
                    let e = a.port_share[p] * x;
                    a.port[p] = e;
                    out += e;
                }
                _ => overflow = Some(i),
            }
        }
        let v_end = ctx.storage.volume[u] + (x - out) * dt;
        let over = ((v_end - ctx.storage.capacity[u]) / dt).max(0.0);
        overflow.map(|i| (i, over))
    }

    /// [`crate::flow::book_supply_ports`] over the compiled supply ports: every supply port
    /// carries what its links pulled (leaks included), and a source's throughput is its total
    /// withdrawal.
    ///
    /// The port of a supplier with one supply port ([`SupplyPort::used`]) carries its
    /// `supply_used`, which the walk already summed: every link of the port is a supply link,
    /// assigned only by its consumer's pull (`supply_used += q + leak` as it assigns
    /// `link = q`, `leak = leak`; `relax` adds to both sides alike; a recycle loop restores
    /// `supply_used` before each pass and re-pulls every link of its units), so after the walk
    /// `supply_used = Σ (link + leak)` over the port's links: the same sum as the port's, in
    /// pull order instead of routing order (the last bits may differ). Other supply ports sum
    /// their links.
    fn book_supply_ports(&self, flows: &mut Flows) {
        for sp in &self.tables.supply_ports {
            let y = if sp.used {
                self.supply_used[sp.unit as usize]
            } else {
                self.tables.route[span(sp.links)]
                    .iter()
                    .map(|rl| flows.link[rl.link as usize] + flows.leak[rl.link as usize])
                    .sum()
            };
            flows.port[sp.port as usize] = y;
            if sp.source {
                flows.throughput[sp.unit as usize] += y;
            }
        }
    }

    /// Zeroes the entries of `flows` the walk may read before it writes them, or never writes
    /// ([`Tables::plan_clearing`]); the walk assigns every other entry before reading it, so the
    /// flows equal those of a walk over fully zeroed arrays.
    fn clear(&self, flows: &mut Flows) {
        let c = &self.tables.clear;
        for &l in &c.links {
            flows.link[l as usize] = 0.0;
            flows.leak[l as usize] = 0.0;
        }
        for &p in &c.ports {
            flows.port[p as usize] = 0.0;
        }
        for &p in &c.spills {
            flows.spill[p as usize] = 0.0;
        }
        for &u in &c.throughput {
            flows.throughput[u as usize] = 0.0;
        }
        for &u in &c.unmet {
            flows.unmet[u as usize] = 0.0;
        }
    }

    /// Visits the walk's parts in flow order: a run of the program's units, or a recycle loop
    /// ([`Priority::iterate`], which always reads the leaks).
    fn walk<const LEAKS: bool>(
        &mut self,
        walk: &[Part],
        program: &[UnitPlan],
        a: &mut Step<'_>,
        ctx: &AllocationContext<'_>,
        diag: &mut Diagnostics,
    ) {
        for part in walk {
            match *part {
                Part::Run(r) => {
                    for &plan in &program[span(r)] {
                        self.update::<LEAKS>(plan, a, ctx);
                    }
                }
                Part::Loop(c) => {
                    self.iterate(&ctx.topo.flow_components[c as usize], a, ctx, diag);
                }
            }
        }
    }

    /// Visits a recycle loop's units repeatedly (Gauss–Seidel), its suppliers' availability
    /// restored before each pass, until no throughput changes by more than [`LOOP_TOLERANCE`]
    /// relative (see the module docs); raises `non_convergence` after [`MAX_PASSES`].
    fn iterate(
        &mut self,
        c: &Component,
        a: &mut Step<'_>,
        ctx: &AllocationContext<'_>,
        diag: &mut Diagnostics,
    ) {
        let topo = ctx.topo;
        let units = &topo.flow_order[c.start as usize..c.end as usize];
        for &s in &c.supplies {
            self.snapshot[s as usize] = a.supply_used[s as usize];
        }
        let mut converged = false;
        for pass in 0..MAX_PASSES {
            for &s in &c.supplies {
                a.supply_used[s as usize] = self.snapshot[s as usize];
            }
            for &u in units {
                self.previous[u as usize] = a.throughput[u as usize];
            }
            for &u in units {
                self.update::<true>(self.tables.unit[u as usize], a, ctx);
            }
            if pass > 0 && loop_converged(units, a.throughput, &self.previous) {
                converged = true;
                break;
            }
        }
        if !converged {
            report_non_convergence(diag, ctx, units, MAX_PASSES, "");
        }
    }
}

/// Routes `y` m³/h out of a cascading port with one link into a unit that is not a Demand unit
/// (most driven ports and tank overflows) from the link's record in `op`, without the general
/// [`Priority::route`]: the link takes `q = max(min(y − leak, cap), 0)` (no capacity when the
/// receiver is offline), the port spills `max(y − q − leak, 0)`, with the same operations in
/// the same order as `route`.
#[inline(always)]
fn route_single<const LEAKS: bool>(op: &OutPort, y: f64, a: &mut Step<'_>) {
    let p = op.port as usize;
    a.port[p] = y;
    let lim = if a.online[op.to as usize] {
        op.cap
    } else {
        0.0
    };
    let rem = send::<LEAKS>(op.link as usize, y, lim, a);
    a.spill[p] = rem.max(0.0);
}

/// Sends what link `li` takes of `rem` m³/h still to route from its port, up to `lim`: the
/// link carries `q = max(min(rem − leak, lim), 0)` and loses its leak rate only while it
/// carries water. Writes the link's flow and leak and returns what is left to route,
/// `rem − q − leak`. Shared by [`Priority::route`] and [`route_single`].
#[inline(always)]
fn send<const LEAKS: bool>(li: usize, rem: f64, lim: f64, a: &mut Step<'_>) -> f64 {
    let leak = link_leak::<LEAKS>(li, a);
    let q = (rem - leak).min(lim).max(0.0);
    let leak = if q > 0.0 { leak } else { 0.0 };
    a.link[li] = q;
    a.leak[li] = leak;
    rem - (q + leak)
}

/// Link `l`'s leak rate this step, m³/h: `+0.0` without `LEAKS` (a step whose `link_leak` is
/// all `+0.0`, see [`no_leaks`]), so the visit's leak terms fold away exactly.
#[inline(always)]
fn link_leak<const LEAKS: bool>(l: usize, a: &Step<'_>) -> f64 {
    if LEAKS { a.link_leak[l] } else { 0.0 }
}

/// `true` when every value is `+0.0` bit for bit (an OR of the bit patterns, which vectorises;
/// `−0.0` counts as a leak, so the leak-free visit sees exactly the values it assumes).
fn no_leaks(v: &[f64]) -> bool {
    v.iter().fold(0u64, |acc, x| acc | x.to_bits()) == 0
}

impl CouplingStrategy for Priority {
    fn name(&self) -> &str {
        "priority"
    }

    fn allocate(&mut self, ctx: &AllocationContext<'_>, flows: &mut Flows, diag: &mut Diagnostics) {
        let topo = ctx.topo;
        self.prepare(ctx);
        self.clear(flows);
        // Borrowed out of `self` for the walk (the visits take `&mut self` for their scratch).
        let mut supply_used = std::mem::take(&mut self.supply_used);
        let walk = std::mem::take(&mut self.tables.walk);
        let program = std::mem::take(&mut self.tables.program);
        let mut a = Step::new(topo, ctx.inputs, flows, &mut supply_used);
        if no_leaks(a.link_leak) {
            self.walk::<false>(&walk, &program, &mut a, ctx, diag);
        } else {
            self.walk::<true>(&walk, &program, &mut a, ctx, diag);
        }
        self.tables.walk = walk;
        self.tables.program = program;
        self.supply_used = supply_used;
        self.book_supply_ports(flows);
    }
}
