//! The `optimal` strategy: a linear program per step, solved with `good_lp` and its pure-Rust
//! `microlp` backend (nothing to install).
//!
//! # Formulation
//!
//! Variables (all ≥ 0, m³/h): the flow `q_l` of every link (bounded by its capacity; 0 when
//! either end is offline), a spill `σ_p` per linked driven or overflow port, an overflow
//! `o_u` per tank. With `x_u = Σ_{l→u} q_l` the inflow of unit `u`:
//!
//! ```text
//! min  Σ_l q_l·[ε + e_l·(w_co2·g(t) + w_money·p_el(t))]                        link pumping
//!    + Σ_{l from a source s} q_l·(w_fresh·F_s + w_money·P_s + w_co2·K_s)          intake
//!    + M_spill·Σ σ_p + M_over·Σ o_u
//! s.t. x_u = T_u                          Demand unit u online (process, make-up, set feed)
//!      Σ_{l pulled into u} q_l ≤ T_u      Accept and Tank units (a pull target is a bound)
//!      Σ_{l∈p} q_l + σ_p = s_p·x_u        each linked driven port p (share s_p)
//!      q_l + σ_l = φ_l·s_p·x_u            links of a port with declared split fractions φ
//!      Σ_{l∈p} q_l ≤ A_u                  each supply port (source or tank availability A_u)
//!      (1 − s_exit)·x_u − Σ_{l from u} q_l − o_u ≤ (V_max − V0)/Δt      each tank
//!      Σ_{l∈overflow(u)} q_l + σ_p = o_u
//!      Σ_{l→u} q_l·(c_{l,k} − L_{u,k}) ≤ 0     each unit u and species k with a limit L
//! ```
//!
//! `e_l = ρ·g·H_l/(η_l·3.6e6)` kWh/m³ (as booked by [`crate::record::pumping_kwh`]), `g(t)` the
//! grid factor (kg CO2/kWh) and `p_el(t)` the electricity price of the step, `F_s` 1 for a
//! source counted as fresh water, `P_s` its price (yuan/m³) and `K_s` its embodied carbon
//! (kg CO2e/m³). `ε = 1e-7` per m³/h keeps water from circulating for nothing; the penalties
//! `M_spill = 10` and `M_over = 1e4` make spill and tank overflow last resorts; each tank adds
//! `−ω·ΔV_u/Δt`, a value `ω` ([`Weights::storage`]) per m³ left in store. The weights
//! `w_fresh` (per m³ of fresh water), `w_co2` (per kg CO2e) and `w_money` (per yuan) are the
//! user's ([`Weights`]). Unit energy (treatment kWh/m³, heat) is not in the objective: only
//! intake and link pumping are.
//!
//! # The pooling (bilinear) part
//!
//! A limit on a consumer's inlet is linear in the flows only when the concentrations `c_{l,k}`
//! of its supplies are known. They are fixed as in water-network synthesis (Wang & Smith
//! 1994; El-Halwagi 1997): the outlet of a unit that itself has an inlet limit `L_{w,k}` (a
//! fixed-load operation, a process) is taken at its **maximum outlet concentration**
//! `c = τ_{p,k}·L_{w,k} + λ_{p,k}` (its transfer coefficients at an inlet at the limit), which
//! bounds the real outlet from above whatever the unit receives, so a plan that satisfies the
//! LP satisfies the limits in the solved mix too (for fixed-load operations exactly the
//! formulation whose targets the literature publishes). Every other stream (sources, tanks,
//! treatment products) is taken at its **start-of-step** concentration (the previous step's
//! solved value). The quality solve after allocation is exact; an excess it finds is the
//! usual `inlet_quality` diagnostic.
//!
//! # Infeasible steps
//!
//! Demands are hard. When the LP has no solution (a source capped below the demand, a limit
//! no supply mix can meet) or the solver fails, the LP is solved again with every demand and
//! every quality limit relaxed by a penalised slack (`1e3` per m³/h short, `1` per g/h over);
//! the slacks that come out non-zero are the cause, reported as an `infeasible` diagnostic
//! ("ct short 12.000 m³/h; …"), and the step is allocated by the priority cascade, so the
//! balance is never lost.
//!
//! # Realisation and warm starts
//!
//! The LP's solution is turned into a [`Plan`] (fractions of each port's flow, amounts pulled)
//! and realised by the [`Realiser`], which recomputes every flow from the units' port
//! equations, so each unit's balance is exact to rounding whatever the LP's tolerances.
//! microlp restarts its simplex each step: its warm start seeds only the incumbent of a
//! branch-and-bound search (integer problems), not an LP basis, so there is nothing to gain
//! from it here and none is passed.

use super::realise::{Plan, PullMode, Realiser};
use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::flow::{AllocationContext, CouplingStrategy};
use crate::network::{FlowKind, PortRole};
use crate::priority::Priority;
use crate::record::pumping_kwh;
use crate::series::Series;
use crate::state::Flows;
use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable, microlp,
    variable,
};

/// Weights of the objective.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    /// Per m³ of fresh water taken.
    pub fresh_water: f64,
    /// Per kg CO2e (intake's embodied carbon, link pumping).
    pub co2e: f64,
    /// Per yuan (water price, pumping electricity).
    pub money: f64,
    /// Value of a m³ left in storage at the end of the step (a one-step "water value", as in
    /// reservoir scheduling): without it a one-step LP never fills a tank, since a tank releases
    /// only what it held at the start of the step. Keep it below the weight of the water it
    /// saves later (the park builder uses half the cheapest fresh source's cost), so that stored
    /// water is still drawn when fresh water would otherwise be taken.
    pub storage: f64,
}

impl Default for Weights {
    /// Fresh water only.
    fn default() -> Self {
        Self {
            fresh_water: 1.0,
            co2e: 0.0,
            money: 0.0,
            storage: 0.5,
        }
    }
}

/// Unit-level data the LP needs beyond the engine's state (filled by the park builder).
#[derive(Clone, Debug)]
pub struct OptimalConfig {
    /// Objective weights.
    pub weights: Weights,
    /// Per unit: whether a source counts as fresh water in the objective.
    pub fresh: Vec<bool>,
    /// Per unit: a source's price, yuan/m³.
    pub price_yuan_per_m3: Vec<f64>,
    /// Per unit: a source's embodied carbon, kg CO2e/m³.
    pub co2_kg_per_m3: Vec<f64>,
    /// Grid factor, kg CO2/kWh, per step.
    pub grid_kg_per_kwh: Series,
    /// Electricity price, yuan/kWh, per step.
    pub electricity_yuan_per_kwh: Series,
}

pub(crate) const EPS: f64 = 1e-7;
pub(crate) const M_SPILL: f64 = 10.0;
pub(crate) const M_OVER: f64 = 1e4;
pub(crate) const M_UNMET: f64 = 1e3;
pub(crate) const M_QUALITY: f64 = 1.0;

/// The per-step LP strategy (see the module docs).
#[derive(Debug)]
pub struct Optimal {
    config: OptimalConfig,
    realiser: Realiser,
    fallback: Priority,
    /// Steps solved by the LP.
    pub solved_steps: usize,
    /// Steps that fell back to the priority cascade.
    pub fallback_steps: usize,
}

/// A solved LP: link flows and, when relaxed, the slacks that were needed.
struct Solved {
    link: Vec<f64>,
    /// Per port: the LP's flow of the port (links + spill), for fractions.
    port: Vec<f64>,
    /// `(unit, m³/h short)`.
    short: Vec<(usize, f64)>,
    /// `(unit, species, g/h over)`.
    over: Vec<(usize, usize, f64)>,
}

impl Optimal {
    /// A new strategy with `config`.
    pub fn new(config: OptimalConfig) -> Self {
        Self {
            config,
            realiser: Realiser::default(),
            fallback: Priority::new(),
            solved_steps: 0,
            fallback_steps: 0,
        }
    }

    /// Concentration (mg/L) assumed for species `k` of the water leaving port `p` (see the
    /// module docs on pooling).
    pub(crate) fn stream_conc(ctx: &AllocationContext<'_>, p: usize, k: usize) -> f64 {
        let ns = ctx.species.len();
        let w = ctx.topo.port_unit[p] as usize;
        let lim = ctx.inputs.accept_limit[w * ns + k];
        if ctx.topo.unit_flow[w] == FlowKind::Demand && lim.is_finite() {
            ctx.inputs.tau[p * ns + k] * lim + ctx.inputs.lambda[p * ns + k]
        } else {
            ctx.previous_quality.port[p * ns + k]
        }
    }

    fn solve(&self, ctx: &AllocationContext<'_>, relaxed: bool) -> Result<Solved, String> {
        let topo = ctx.topo;
        let inputs = ctx.inputs;
        let (nu, nl, np) = (topo.n_units(), topo.n_links(), topo.n_ports());
        let ns = ctx.species.len();
        let step = ctx.clock.step;
        let w = self.config.weights;
        let mut vars = ProblemVariables::new();
        let mut objective = Expression::with_capacity(nl + np);
        let elec = w.co2e * self.config.grid_kg_per_kwh.at(step)
            + w.money * self.config.electricity_yuan_per_kwh.at(step);
        let mut q: Vec<Variable> = Vec::with_capacity(nl);
        for l in 0..nl {
            let (from, to) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
            let open = inputs.online[from] && inputs.online[to];
            let ub = if open { topo.link_cap[l] } else { 0.0 };
            let v = vars.add(variable().min(0.0).max(ub));
            let mut c = EPS + pumping_kwh(1.0, topo.link_head_m[l], topo.link_eta[l], 1.0) * elec;
            if topo.unit_flow[from] == FlowKind::Source {
                let fresh = if self.config.fresh.get(from).copied().unwrap_or(false) {
                    1.0
                } else {
                    0.0
                };
                c += w.fresh_water * fresh
                    + w.money
                        * self
                            .config
                            .price_yuan_per_m3
                            .get(from)
                            .copied()
                            .unwrap_or(0.0)
                    + w.co2e * self.config.co2_kg_per_m3.get(from).copied().unwrap_or(0.0);
            }
            objective.add_mul(c, v);
            q.push(v);
        }
        let mut constraints = Vec::new();
        let mut spill_vars: Vec<(usize, Variable)> = Vec::new();
        let mut short_vars: Vec<(usize, Variable)> = Vec::new();
        let mut over_vars: Vec<(usize, usize, Variable)> = Vec::new();
        let inflow = |u: usize| -> Expression {
            let mut e = Expression::with_capacity(4);
            for &l in topo.links_into(u) {
                e.add_mul(1.0, q[l as usize]);
            }
            e
        };
        for u in 0..nu {
            let kind = topo.unit_flow[u];
            let online = inputs.online[u];
            let target = if online {
                inputs.target[u].max(0.0)
            } else {
                0.0
            };
            // Supply ports: availability.
            for p in topo.ports_of(u) {
                if topo.port_role[p] == PortRole::Supply && !topo.links_of_port(p).is_empty() {
                    let avail = if online {
                        inputs.supply_avail[u].max(0.0)
                    } else {
                        0.0
                    };
                    let mut e = Expression::with_capacity(4);
                    for &l in topo.links_of_port(p) {
                        e.add_mul(1.0, q[l as usize]);
                    }
                    constraints.push(e.leq(avail));
                }
            }
            if kind == FlowKind::Source {
                continue;
            }
            let x = inflow(u);
            let mut pulled = Expression::with_capacity(4);
            for &l in topo.pulled_into(u) {
                pulled.add_mul(1.0, q[l as usize]);
            }
            let mut overflow: Option<Variable> = None;
            match kind {
                FlowKind::Demand => {
                    if relaxed {
                        let s = vars.add(variable().min(0.0));
                        objective.add_mul(M_UNMET, s);
                        short_vars.push((u, s));
                        constraints.push((x.clone() + s).eq(target));
                    } else {
                        constraints.push(x.clone().eq(target));
                    }
                }
                FlowKind::Accept => constraints.push(pulled.leq(target)),
                FlowKind::Tank => {
                    constraints.push(pulled.leq(target));
                    let o = vars.add(variable().min(0.0));
                    objective.add_mul(M_OVER, o);
                    let exit_share: f64 = topo
                        .ports_of(u)
                        .filter(|&p| matches!(topo.port_role[p], PortRole::Exit(_)))
                        .map(|p| inputs.port_share[p])
                        .sum();
                    let mut e = Expression::with_capacity(8);
                    e.add_mul(1.0 - exit_share, x.clone());
                    for p in topo.ports_of(u) {
                        if topo.port_role[p] == PortRole::Supply {
                            for &l in topo.links_of_port(p) {
                                e.add_mul(-1.0, q[l as usize]);
                            }
                        }
                    }
                    e.add_mul(-1.0, o);
                    // Storage value: −ω·ΔV/Δt = −ω·((1 − s_exit)·x − out − o).
                    if w.storage != 0.0 {
                        objective.add_mul(-w.storage, e.clone());
                    }
                    let dt = ctx.clock.dt_h;
                    constraints.push(e.leq((ctx.storage.capacity[u] - ctx.storage.volume[u]) / dt));
                    overflow = Some(o);
                }
                FlowKind::Source => {}
            }
            // Driven and overflow ports.
            for p in topo.ports_of(u) {
                let links = topo.links_of_port(p);
                if links.is_empty() {
                    continue;
                }
                let y: Expression = match topo.port_role[p] {
                    PortRole::Driven => {
                        let mut e = Expression::with_capacity(4);
                        e.add_mul(inputs.port_share[p], x.clone());
                        e
                    }
                    PortRole::Overflow => match overflow {
                        Some(o) => Expression::from(o),
                        None => continue,
                    },
                    _ => continue,
                };
                if topo.port_split[p] {
                    for &l in links {
                        let s = vars.add(variable().min(0.0));
                        objective.add_mul(M_SPILL, s);
                        let mut rhs = Expression::with_capacity(4);
                        rhs.add_mul(topo.link_split[l as usize], y.clone());
                        constraints.push((Expression::from(q[l as usize]) + s).eq(rhs));
                    }
                } else {
                    let s = vars.add(variable().min(0.0));
                    objective.add_mul(M_SPILL, s);
                    spill_vars.push((p, s));
                    let mut e = Expression::from(s);
                    for &l in links {
                        e.add_mul(1.0, q[l as usize]);
                    }
                    constraints.push(e.eq(y));
                }
            }
            // Inlet quality (conserved species with a limit).
            {
                for k in 0..ctx.species.conserved {
                    let lim = inputs.accept_limit[u * ns + k];
                    if !lim.is_finite() || topo.links_into(u).is_empty() {
                        continue;
                    }
                    let mut e = Expression::with_capacity(4);
                    for &l in topo.links_into(u) {
                        let p = topo.link_from_port[l as usize] as usize;
                        e.add_mul(Self::stream_conc(ctx, p, k) - lim, q[l as usize]);
                    }
                    if relaxed {
                        let v = vars.add(variable().min(0.0));
                        objective.add_mul(M_QUALITY, v);
                        over_vars.push((u, k, v));
                        e.add_mul(-1.0, v);
                    }
                    constraints.push(e.leq(0.0));
                }
            }
        }
        let mut model = vars.minimise(objective).using(microlp);
        for c in constraints {
            model.add_constraint(c);
        }
        let solved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.solve()))
            .map_err(|_| "the LP solver panicked".to_string())?
            .map_err(|e| match e {
                ResolutionError::Infeasible => "the LP is infeasible".to_string(),
                ResolutionError::Unbounded => "the LP is unbounded".to_string(),
                other => format!("the LP solver failed: {other}"),
            })?;
        let link: Vec<f64> = q.iter().map(|&v| solved.value(v).max(0.0)).collect();
        if link.iter().any(|v| !v.is_finite()) {
            return Err("the LP solver returned a non-finite flow".to_string());
        }
        let mut port = vec![0.0; np];
        for (p, s) in &spill_vars {
            port[*p] = solved.value(*s).max(0.0);
        }
        for l in 0..nl {
            port[topo.link_from_port[l] as usize] += link[l];
        }
        let short = short_vars
            .iter()
            .map(|&(u, s)| (u, solved.value(s)))
            .filter(|&(u, v)| v > 1e-9 * inputs.target[u].max(1.0))
            .collect();
        let over = over_vars
            .iter()
            .map(|&(u, k, v)| (u, k, solved.value(v)))
            .filter(|&(_, _, v)| v > 1e-6)
            .collect();
        Ok(Solved {
            link,
            port,
            short,
            over,
        })
    }

    /// The plan of a solved LP: fractions of each pushed port's flow, amounts pulled.
    fn plan(ctx: &AllocationContext<'_>, solved: &Solved) -> Plan {
        let topo = ctx.topo;
        let link = (0..topo.n_links())
            .map(|l| {
                let p = topo.link_from_port[l] as usize;
                match topo.port_role[p] {
                    PortRole::Supply => solved.link[l],
                    _ => {
                        let y = solved.port[p];
                        if y > 0.0 { solved.link[l] / y } else { 0.0 }
                    }
                }
            })
            .collect();
        Plan {
            link,
            pull: PullMode::Amount,
        }
    }

    /// Why the strict LP failed, from the relaxed one.
    fn cause(&self, ctx: &AllocationContext<'_>, error: &str) -> String {
        let topo = ctx.topo;
        match self.solve(ctx, true) {
            Ok(r) if !r.short.is_empty() || !r.over.is_empty() => {
                let mut parts: Vec<String> = r
                    .short
                    .iter()
                    .map(|&(u, v)| format!("{} short {v:.3} m³/h", topo.unit_id[u]))
                    .collect();
                parts.extend(r.over.iter().map(|&(u, k, v)| {
                    format!(
                        "{} over its {} limit by {:.3} kg/h",
                        topo.unit_id[u],
                        ctx.species.names[k],
                        v / 1000.0
                    )
                }));
                format!("{error}: {}", parts.join("; "))
            }
            Ok(_) => format!("{error} (the relaxed LP needs no slack: numerical trouble)"),
            Err(e) => format!("{error}; relaxed: {e}"),
        }
    }
}

impl CouplingStrategy for Optimal {
    fn name(&self) -> &str {
        "optimal"
    }

    fn allocate(&mut self, ctx: &AllocationContext<'_>, flows: &mut Flows, diag: &mut Diagnostics) {
        match self.solve(ctx, false) {
            Ok(solved) => {
                let plan = Self::plan(ctx, &solved);
                self.realiser.realise(&plan, ctx, flows, diag);
                self.solved_steps += 1;
            }
            Err(e) => {
                let cause = self.cause(ctx, &e);
                diag.push(DiagnosticKind::Infeasible, ctx.clock.step, None, || {
                    format!("optimal: {cause}; the priority cascade allocated this step")
                });
                self.fallback.allocate(ctx, flows, diag);
                self.fallback_steps += 1;
            }
        }
    }
}
