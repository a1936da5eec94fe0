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

use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::flow::{AllocationContext, CouplingStrategy};
use crate::network::{FlowKind, PortRole, Topology};
use crate::state::Flows;

/// Passes over a recycle loop before giving up.
pub const MAX_PASSES: usize = 500;
/// Relative change in throughput below which a loop counts as converged.
pub const LOOP_TOLERANCE: f64 = 1e-14;

/// The priority-cascade strategy (see the module docs).
#[derive(Default, Debug)]
pub struct Priority {
    supply_used: Vec<f64>,
    snapshot: Vec<f64>,
    previous: Vec<f64>,
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
    /// CSR start of each unit's supply links in `pull` (length `n_units + 1`).
    pull_start: Vec<u32>,
    /// Supply links into each unit, in pull order (`Topology::pulled_into`).
    pull: Vec<PullLink>,
    /// CSR start of each unit's pushed links in `push` (length `n_units + 1`).
    push_start: Vec<u32>,
    /// Pushed links into each unit (`Topology::pushed_into` order).
    push: Vec<PushLink>,
    /// CSR start of each port's links in `route` (length `n_ports + 1`).
    route_start: Vec<u32>,
    /// Links leaving each port, in routing order (`Topology::links_of_port`).
    route: Vec<RouteLink>,
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
        t.pull_start.push(0);
        t.push_start.push(0);
        for u in 0..topo.n_units() {
            t.pull.extend(topo.pulled_into(u).iter().map(|&l| PullLink {
                link: l,
                from: topo.link_from[l as usize],
                port: topo.link_from_port[l as usize],
                cap: topo.link_cap[l as usize],
            }));
            t.pull_start.push(t.pull.len() as u32);
            t.push.extend(topo.pushed_into(u).iter().map(|&l| PushLink {
                link: l,
                port: topo.link_from_port[l as usize],
            }));
            t.push_start.push(t.push.len() as u32);
        }
        t.route_start.push(0);
        for p in 0..topo.n_ports() {
            t.route
                .extend(topo.links_of_port(p).iter().map(|&l| RouteLink {
                    link: l,
                    to: topo.link_to[l as usize],
                    cap: topo.link_cap[l as usize],
                    split: topo.link_split[l as usize],
                }));
            t.route_start.push(t.route.len() as u32);
        }
        *self = t;
    }

    /// Supply links into unit `u`, in pull order.
    fn pulled_into(&self, u: usize) -> &[PullLink] {
        &self.pull[self.pull_start[u] as usize..self.pull_start[u + 1] as usize]
    }

    /// Pushed links into unit `u`.
    fn pushed_into(&self, u: usize) -> &[PushLink] {
        &self.push[self.push_start[u] as usize..self.push_start[u + 1] as usize]
    }
}

impl Priority {
    /// A new strategy.
    pub fn new() -> Self {
        Self::default()
    }

    fn prepare(&mut self, ctx: &AllocationContext<'_>) {
        let nu = ctx.topo.n_units();
        let ns = ctx.species.len();
        self.supply_used.clear();
        self.supply_used.resize(nu, 0.0);
        self.snapshot.resize(nu, 0.0);
        self.previous.resize(nu, 0.0);
        self.has_limits.clear();
        self.has_limits.extend((0..nu).map(|u| {
            ctx.inputs.accept_limit[u * ns..(u + 1) * ns]
                .iter()
                .any(|l| l.is_finite())
        }));
        self.fill.resize(ns, 0.0);
        self.mass.resize(ns, 0.0);
        self.tables.ensure(ctx.topo);
    }

    /// Per species, the cleanest concentration (previous step) among `u`'s supply links from
    /// position `from` on whose supplier still has water this step; the unit's own limit when
    /// there is none.
    // Kept out of line: the common visit (no limits, no demand downstream) stays small.
    #[inline(never)]
    fn load_fill(&mut self, u: usize, from: usize, ctx: &AllocationContext<'_>) {
        let ns = ctx.species.len();
        for s in 0..ns {
            self.fill[s] = ctx.inputs.accept_limit[u * ns + s];
        }
        let mut first = true;
        for pl in &self.tables.pulled_into(u)[from..] {
            let sup = pl.from as usize;
            if ctx.inputs.supply_avail[sup] - self.supply_used[sup] <= 0.0
                || !ctx.inputs.online[sup]
            {
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
        flows: &Flows,
        ctx: &AllocationContext<'_>,
    ) -> f64 {
        let ns = ctx.species.len();
        let mut total = 0.0;
        if !with_mass {
            for pl in self.tables.pushed_into(t) {
                if pl.link != skip {
                    total += flows.link[pl.link as usize];
                }
            }
            return total;
        }
        self.mass.iter_mut().for_each(|m| *m = 0.0);
        for pl in self.tables.pushed_into(t) {
            if pl.link == skip {
                continue;
            }
            let q = flows.link[pl.link as usize];
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
    fn pull(
        &mut self,
        u: usize,
        arrivals: f64,
        target: f64,
        ctx: &AllocationContext<'_>,
        flows: &mut Flows,
    ) -> f64 {
        let (a, b) = (
            self.tables.pull_start[u] as usize,
            self.tables.pull_start[u + 1] as usize,
        );
        if a >= b {
            return 0.0;
        }
        let ns = ctx.species.len();
        let mut remaining = (target - arrivals).max(0.0);
        let limited = self.has_limits[u] && remaining > 0.0;
        let mut committed = arrivals;
        if limited {
            self.load_committed(u, u32::MAX, true, flows, ctx);
        }
        let mut total = 0.0;
        for j in a..b {
            let (i, pl) = (j - a, self.tables.pull[j]);
            let l = pl.link as usize;
            let s = pl.from as usize;
            let mut q = 0.0;
            let leak = ctx.inputs.link_leak[l];
            if remaining > 0.0 && ctx.inputs.online[s] {
                let avail = (ctx.inputs.supply_avail[s] - self.supply_used[s] - leak).max(0.0);
                q = remaining.min(avail).min(pl.cap);
                let p = pl.port as usize;
                if limited && q > 0.0 {
                    // The rest is assumed to come from the cleanest supply still available
                    // from this link on (this one included: the cleanest is never capped).
                    self.load_fill(u, i, ctx);
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
            flows.link[l] = q;
            flows.leak[l] = leaked;
            self.supply_used[s] += q + leaked;
            remaining -= q;
            total += q;
        }
        if limited && remaining > 0.0 {
            total += self.relax(u, remaining, ctx, flows);
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
        ctx: &AllocationContext<'_>,
        flows: &mut Flows,
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
            if remaining <= 0.0 || !ctx.inputs.online[s] {
                continue;
            }
            let new_leak = if flows.link[l] > 0.0 {
                0.0
            } else {
                ctx.inputs.link_leak[l]
            };
            let avail = (ctx.inputs.supply_avail[s] - self.supply_used[s] - new_leak).max(0.0);
            let q = remaining
                .min(avail)
                .min(topo.link_cap[l] - flows.link[l])
                .max(0.0);
            if q > 0.0 {
                flows.leak[l] += new_leak;
                self.supply_used[s] += new_leak;
            }
            flows.link[l] += q;
            self.supply_used[s] += q;
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
    fn route_split(
        &self,
        p: usize,
        y: f64,
        range: std::ops::Range<usize>,
        ctx: &AllocationContext<'_>,
        flows: &mut Flows,
    ) {
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
            let leak = ctx.inputs.link_leak[l].min(share);
            let q = if ctx.inputs.online[t] {
                (share - leak).min(rl.cap)
            } else {
                0.0
            };
            let leak = if q > 0.0 { leak } else { 0.0 };
            flows.link[l] = q;
            flows.leak[l] = leak;
            spill += share - q - leak;
        }
        flows.spill[p] = spill;
    }

    /// Sends `y` m³/h out of port `p`: by fixed splits, or as a cascade in routing order, each
    /// link up to its capacity (an offline receiver takes nothing) and, into a Demand unit, up
    /// to the room left in its target and its quality limit; the rest is spill.
    fn route(&mut self, p: usize, y: f64, ctx: &AllocationContext<'_>, flows: &mut Flows) {
        let topo = ctx.topo;
        flows.port[p] = y;
        let range = self.tables.route_start[p] as usize..self.tables.route_start[p + 1] as usize;
        if range.is_empty() {
            flows.spill[p] = y.max(0.0);
            return;
        }
        if topo.port_split[p] {
            self.route_split(p, y, range, ctx, flows);
            return;
        }
        let mut rem = y;
        for i in range {
            let rl = self.tables.route[i];
            let li = rl.link as usize;
            let t = rl.to as usize;
            let mut lim = if ctx.inputs.online[t] { rl.cap } else { 0.0 };
            if lim > 0.0 && rem > 0.0 && topo.unit_flow[t] == FlowKind::Demand {
                let others = self.load_committed(t, rl.link, self.has_limits[t], flows, ctx);
                let target = ctx.inputs.target[t];
                lim = lim.min((target - others).max(0.0));
                if self.has_limits[t] && lim > 0.0 {
                    self.load_fill(t, 0, ctx);
                    lim = lim.min(self.quality_cap(t, p, others, target, ctx));
                }
            }
            let leak = ctx.inputs.link_leak[li];
            let q = (rem - leak).min(lim).max(0.0);
            let leak = if q > 0.0 { leak } else { 0.0 };
            flows.link[li] = q;
            flows.leak[li] = leak;
            rem -= q + leak;
        }
        flows.spill[p] = rem.max(0.0);
    }

    /// Visits unit `u`: arrivals, pulls, throughput, unmet demand, then its driven and exit
    /// ports (a tank: its exits and overflow).
    fn update(&mut self, u: usize, ctx: &AllocationContext<'_>, flows: &mut Flows) {
        let topo = ctx.topo;
        let kind = topo.unit_flow[u];
        if kind == FlowKind::Source {
            return;
        }
        let online = ctx.inputs.online[u];
        let arrivals: f64 = self
            .tables
            .pushed_into(u)
            .iter()
            .map(|pl| flows.link[pl.link as usize])
            .sum();
        let target = if online { ctx.inputs.target[u] } else { 0.0 };
        let pulled = self.pull(u, arrivals, target, ctx, flows);
        let x = arrivals + pulled;
        flows.throughput[u] = x;
        if kind == FlowKind::Demand {
            let unmet = target - x;
            flows.unmet[u] = if unmet > 1e-12 * target { unmet } else { 0.0 };
        }
        let ports = topo.ports_of(u);
        if kind == FlowKind::Tank {
            if let Some((p, over)) = crate::flow::tank_exits(u, x, ctx, flows) {
                self.route(p, over, ctx, flows);
            }
            return;
        }
        for p in ports {
            match topo.port_role[p] {
                PortRole::Driven => {
                    let y = ctx.inputs.port_share[p] * x;
                    self.route(p, y, ctx, flows);
                }
                PortRole::Exit(_) => flows.port[p] = ctx.inputs.port_share[p] * x,
                _ => {}
            }
        }
    }
}

impl CouplingStrategy for Priority {
    fn name(&self) -> &str {
        "priority"
    }

    fn allocate(&mut self, ctx: &AllocationContext<'_>, flows: &mut Flows, diag: &mut Diagnostics) {
        let topo = ctx.topo;
        self.prepare(ctx);
        flows.link.fill(0.0);
        flows.throughput.fill(0.0);
        flows.unmet.fill(0.0);
        flows.port.fill(0.0);
        flows.spill.fill(0.0);
        flows.leak.fill(0.0);
        for c in &topo.flow_components {
            let units = &topo.flow_order[c.start as usize..c.end as usize];
            if !c.cyclic {
                self.update(units[0] as usize, ctx, flows);
                continue;
            }
            for &s in &c.supplies {
                self.snapshot[s as usize] = self.supply_used[s as usize];
            }
            let mut converged = false;
            for pass in 0..MAX_PASSES {
                for &s in &c.supplies {
                    self.supply_used[s as usize] = self.snapshot[s as usize];
                }
                for &u in units {
                    self.previous[u as usize] = flows.throughput[u as usize];
                }
                for &u in units {
                    self.update(u as usize, ctx, flows);
                }
                if pass > 0 {
                    let mut diff: f64 = 0.0;
                    let mut scale: f64 = 0.0;
                    for &u in units {
                        let x = flows.throughput[u as usize];
                        diff = diff.max((x - self.previous[u as usize]).abs());
                        scale = scale.max(x.abs());
                    }
                    if diff <= LOOP_TOLERANCE * scale {
                        converged = true;
                        break;
                    }
                }
            }
            if !converged {
                let first = units[0] as usize;
                diag.push(
                    DiagnosticKind::NonConvergence,
                    ctx.clock.step,
                    Some(&topo.unit_id[first]),
                    || {
                        format!(
                            "flow loop through {} did not converge in {MAX_PASSES} passes",
                            topo.unit_id[first]
                        )
                    },
                );
            }
        }
        crate::flow::book_supply_ports(topo, flows);
    }
}
