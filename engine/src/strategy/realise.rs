//! Turning a strategy's *plan* (the free choices of a step) into consistent [`Flows`].
//!
//! A plan fixes, per link, either the **fraction** of its upstream port's flow that a pushed
//! link carries (links leaving driven and overflow ports) or the **pull** of a supply link
//! (an amount in m³/h, or a share of the consumer's missing target). Everything else follows
//! from the units' port equations, exactly as in the priority cascade
//! ([`crate::priority`]): a unit's throughput is the sum of its incoming links, each driven
//! port carries `share·x`, each exit port `share·x`, a tank spills
//! `max(0, V0 + (x − out)·Δt − V_max)/Δt`, a supply port carries what was pulled from it.
//!
//! Units are visited in the compiled flow order; recycle loops are iterated Gauss–Seidel to a
//! relative change of 1e-14 (at most [`MAX_PASSES`] passes), with the suppliers' availability
//! restored before each pass. Pushed water is delivered by the plan's fractions, each link
//! bounded by its capacity, by an offline consumer (nothing) and by the room left in a Demand
//! consumer's target; what the plan left over or a bound refused goes down the port's links
//! in routing order (the cascade) and what no link takes leaves as spill. Pulls are bounded by
//! the link's capacity and the supplier's availability left this step. Leaks are booked as in
//! the priority cascade (a link loses its leak rate while it carries water).
//!
//! So whatever a plan says, every unit's water balance is exact by construction: a plan
//! computed from an approximate model (an LP with assumed concentrations, a design point of
//! another step) can only be suboptimal, never unbalanced.

use crate::diagnostics::Diagnostics;
use crate::flow::{AllocationContext, loop_converged, report_non_convergence};
use crate::network::{FlowKind, PortRole};
use crate::state::Flows;

/// Passes over a recycle loop before giving up.
pub const MAX_PASSES: usize = 200;

/// How a plan's entries for pulled (supply) links are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullMode {
    /// The entry is the amount pulled, m³/h.
    Amount,
    /// The entry is the share of the consumer's missing target (`target − arrivals`) pulled
    /// over that link.
    ShareOfTarget,
}

/// A step's free choices (see the module docs).
#[derive(Clone, Debug)]
pub struct Plan {
    /// Per link: a pushed link's fraction of its port's flow (0–1), or a pulled link's pull.
    pub link: Vec<f64>,
    /// How pulls are read.
    pub pull: PullMode,
}

/// Buffers of the realiser, kept between steps.
#[derive(Default, Debug, Clone)]
pub struct Realiser {
    supply_used: Vec<f64>,
    snapshot: Vec<f64>,
    previous: Vec<f64>,
}

impl Realiser {
    /// Writes the flows that `plan` implies into `flows` (see the module docs).
    pub fn realise(
        &mut self,
        plan: &Plan,
        ctx: &AllocationContext<'_>,
        flows: &mut Flows,
        diag: &mut Diagnostics,
    ) {
        let topo = ctx.topo;
        let nu = topo.n_units();
        self.supply_used.clear();
        self.supply_used.resize(nu, 0.0);
        self.snapshot.resize(nu, 0.0);
        self.previous.resize(nu, 0.0);
        flows.link.fill(0.0);
        flows.throughput.fill(0.0);
        flows.unmet.fill(0.0);
        flows.port.fill(0.0);
        flows.spill.fill(0.0);
        flows.leak.fill(0.0);
        for c in &topo.flow_components {
            let units = &topo.flow_order[c.start as usize..c.end as usize];
            if !c.cyclic {
                self.visit(units[0] as usize, plan, ctx, flows);
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
                    self.visit(u as usize, plan, ctx, flows);
                }
                if pass > 0 && loop_converged(units, &flows.throughput, &self.previous) {
                    converged = true;
                    break;
                }
            }
            if !converged {
                report_non_convergence(diag, ctx, units, MAX_PASSES, " of the plan");
            }
        }
        crate::flow::book_supply_ports(topo, flows);
    }

    fn visit(&mut self, u: usize, plan: &Plan, ctx: &AllocationContext<'_>, flows: &mut Flows) {
        let topo = ctx.topo;
        let kind = topo.unit_flow[u];
        if kind == FlowKind::Source {
            return;
        }
        let online = ctx.inputs.online[u];
        let arrivals: f64 = topo
            .pushed_into(u)
            .iter()
            .map(|&l| flows.link[l as usize])
            .sum();
        let target = if online { ctx.inputs.target[u] } else { 0.0 };
        let missing = (target - arrivals).max(0.0);
        let mut pulled = 0.0;
        for &l in topo.pulled_into(u) {
            let l = l as usize;
            let s = topo.link_from[l] as usize;
            let want = match plan.pull {
                PullMode::Amount => plan.link[l],
                PullMode::ShareOfTarget => plan.link[l] * missing,
            };
            let leak = ctx.inputs.link_leak[l];
            let mut q = 0.0;
            if online && ctx.inputs.online[s] && want > 0.0 {
                let avail = (ctx.inputs.supply_avail[s] - self.supply_used[s] - leak).max(0.0);
                q = want.min(avail).min(topo.link_cap[l]).max(0.0);
            }
            flows.link[l] = q;
            flows.leak[l] = if q > 0.0 { leak } else { 0.0 };
            self.supply_used[s] += q + flows.leak[l];
            pulled += q;
        }
        let x = arrivals + pulled;
        flows.throughput[u] = x;
        if kind == FlowKind::Demand {
            let unmet = target - x;
            flows.unmet[u] = if unmet > 1e-9 * target { unmet } else { 0.0 };
        }
        let ports = topo.ports_of(u);
        if kind == FlowKind::Tank {
            if let Some((p, over)) = crate::flow::tank_exits(u, x, ctx, flows) {
                self.route(p, over, plan, ctx, flows);
            }
            return;
        }
        for p in ports {
            match topo.port_role[p] {
                PortRole::Driven => {
                    let y = ctx.inputs.port_share[p] * x;
                    self.route(p, y, plan, ctx, flows);
                }
                PortRole::Exit(_) => flows.port[p] = ctx.inputs.port_share[p] * x,
                _ => {}
            }
        }
    }

    /// Room a pushed link `l` into `t` may fill: the link's capacity, nothing into an offline
    /// unit, and for a Demand unit what is left of its target after its other pushed links.
    fn room(&self, l: usize, ctx: &AllocationContext<'_>, flows: &Flows) -> f64 {
        let topo = ctx.topo;
        let t = topo.link_to[l] as usize;
        if !ctx.inputs.online[t] {
            return 0.0;
        }
        let mut lim = topo.link_cap[l];
        if topo.unit_flow[t] == FlowKind::Demand {
            let others: f64 = topo
                .pushed_into(t)
                .iter()
                .filter(|&&k| k as usize != l)
                .map(|&k| flows.link[k as usize])
                .sum();
            lim = lim.min((ctx.inputs.target[t] - others).max(0.0));
        }
        lim
    }

    fn route(
        &mut self,
        p: usize,
        y: f64,
        plan: &Plan,
        ctx: &AllocationContext<'_>,
        flows: &mut Flows,
    ) {
        let topo = ctx.topo;
        flows.port[p] = y;
        let links = topo.links_of_port(p);
        if links.is_empty() {
            flows.spill[p] = y.max(0.0);
            return;
        }
        if topo.port_split[p] {
            // Fixed split fractions declared in the park file are physics, not a choice.
            let n = links.len();
            let (mut rem, mut spill) = (y, 0.0);
            for (i, &l) in links.iter().enumerate() {
                let l = l as usize;
                let share = if i + 1 == n {
                    rem.max(0.0)
                } else {
                    y * topo.link_split[l]
                };
                rem -= share;
                let t = topo.link_to[l] as usize;
                let leak = ctx.inputs.link_leak[l].min(share);
                let q = if ctx.inputs.online[t] {
                    (share - leak).min(topo.link_cap[l])
                } else {
                    0.0
                };
                let leak = if q > 0.0 { leak } else { 0.0 };
                flows.link[l] = q;
                flows.leak[l] = leak;
                spill += share - q - leak;
            }
            flows.spill[p] = spill;
            return;
        }
        let mut rem = y;
        for &l in links {
            let l = l as usize;
            let f = plan.link[l];
            let share = if f.is_finite() { (f * y).max(0.0) } else { 0.0 };
            let leak = ctx.inputs.link_leak[l];
            let q = (share - leak)
                .min(rem - leak)
                .min(self.room(l, ctx, flows))
                .max(0.0);
            let leak = if q > 0.0 { leak } else { 0.0 };
            flows.link[l] = q;
            flows.leak[l] = leak;
            rem -= q + leak;
        }
        // The rest (left over by the plan, or refused by a bound) cascades in routing order.
        if rem > 1e-15 * y.abs() {
            for &l in links {
                let l = l as usize;
                if rem <= 0.0 {
                    break;
                }
                let leak = if flows.link[l] > 0.0 {
                    0.0
                } else {
                    ctx.inputs.link_leak[l]
                };
                let add = (rem - leak)
                    .min(self.room(l, ctx, flows) - flows.link[l])
                    .max(0.0);
                if add > 0.0 {
                    flows.link[l] += add;
                    flows.leak[l] += leak;
                    rem -= add + leak;
                }
            }
        }
        flows.spill[p] = rem.max(0.0);
    }
}
