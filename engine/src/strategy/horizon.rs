//! The `horizon` strategy: a rolling-horizon linear program over the next `H` steps, solved
//! with `good_lp`'s pure-Rust `microlp` backend like [`super::optimal`].
//!
//! A one-step LP sees storage only through a storage value per m³ kept, and a permit cap only
//! through this step's availability. Filling a tank at a cheap hour for an expensive one, or
//! keeping a capped source's permit for the hours that need it, takes foresight: `horizon`
//! plans the next `H` steps (the window) at once, applies the plan of the current step, and
//! plans again at the next step (or after `every` steps).
//!
//! # Formulation
//!
//! For window steps `t = 0 … T−1` (`T = min(H, steps left in the run)`), every variable of the
//! one-step LP of [`super::optimal`] is repeated: link flows `q_{l,t}` (bounded by capacity,
//! 0 when an end is offline), spills `σ_{p,t}`, tank overflows `o_{u,t}`. With
//! `x_{u,t} = Σ_{l→u} q_{l,t}` and, for a tank, its net volume change rate
//! `e_{u,t} = (1 − s_exit)·x_{u,t} − Σ_{l from u} q_{l,t} − o_{u,t}` (m³/h), so that
//! `V_{u,t+1} = V_{u,t} + Δt·e_{u,t}`:
//!
//! ```text
//! min  Σ_t [ Σ_l q_{l,t}·(ε + e_l·(w_co2·g(t0+t) + w_money·p_el(t0+t)))                pumping
//!          + Σ_{l from a source s} q_{l,t}·(w_fresh·F_s + w_money·P_s + w_co2·K_s)      intake
//!          + M_spill·Σ σ_{p,t} + M_over·Σ o_{u,t} ]
//!      − ω·Σ_u (V_{u,T} − V_{u,0})/Δt                                  terminal storage value
//! s.t. each step t: the constraints of the one-step LP (demands, pull targets, driven ports,
//!      split fractions, supply availability, inlet limits) with that step's forecast inputs;
//!      each tank u and step t:
//!        V_{u,t+1} = V_{u,0} + Δt·Σ_{τ≤t} e_{u,τ} ≤ V_max                      (capacity)
//!        Σ_{l from u} q_{l,t}·Δt ≤ V_{u,t} − V_min   (t ≥ 1; at t = 0 the tank's own offer)
//!        Σ_{l from u} q_{l,t} ≤ Q_out,max                                     (outlet rate)
//!        pulled into u at t ≤ R_u   (t ≥ 1: its refill rate; at t = 0 its refill target)
//!      each source s with an annual permit, over the window steps in this permit year:
//!        Σ_t Σ_{l from s} q_{l,t}·Δt ≤ permit_s − withdrawn_s this year
//! ```
//!
//! The tank volumes are not variables: `V_{u,t}` is written as `V_{u,0} + Δt·Σ_{τ<t} e_{u,τ}`,
//! so that a one-step window (`H = 1`) is exactly the LP of [`super::optimal`] (same
//! variables, constraints and objective in the same order), and gives its plan.
//!
//! **Terminal value.** Water left in store at the window's end is credited at the same storage
//! value `ω` per m³ as the one-step LP ([`super::optimal::Weights::storage`], default half the
//! objective cost of a m³ of the cheapest fresh water). Without it the plan would empty every
//! tank by the window's end, since the window does not see the steps after it; with `ω` below
//! the cost of fresh water, stored water is still drawn whenever it saves fresh water within
//! the window, and kept otherwise. Inside the window storage has no value of its own: it is
//! worth what it saves at the steps that draw it.
//!
//! # Forecasts
//!
//! The engine knows only the current step's [`crate::state::UnitInputs`]; the window's future
//! inputs come from [`HorizonConfig`], which the park builder fills from the park's driver
//! series (data by the time the World exists): a process's demand `production(t)·water per
//! unit`, a source's availability `cap·availability(t)` (bounded by this step's supply cap),
//! the tariff and grid-factor series. That is perfect foresight of the deterministic drivers;
//! stochastic demand noise, load-factor events and outages are not foreseen (the window uses
//! nominal demands and this step's online states). Every other input (cooling-tower make-up,
//! treatment feed set-points, shares, transfer coefficients, inlet limits, stream
//! concentrations for the pooling part) is held at its current value (persistence). Step 0 of
//! the window always uses the step's actual inputs, so the applied plan is feasible for the
//! step whatever the forecast said.
//!
//! # Re-solving
//!
//! By default the window is solved again every step (`every = 1`) and only its first step is
//! applied: the forecasts omit noise, events and the exact tank and quality dynamics, so a plan
//! drifts from the state it was made for, and re-planning from the actual state costs one LP
//! per step. With `every = k` (`1 ≤ k ≤ H`) the plans of the window's first `k` steps are
//! applied in turn (each realised on that step's actual inputs) before the next solve; a held
//! plan whose realisation leaves any demand unmet (its pulls were planned on forecast demands)
//! is dropped and the window is solved again from the actual state at that step.
//!
//! # Infeasible windows
//!
//! Demands are hard at every window step. When the window has no solution (a forecast demand
//! above what the park can supply at some step, a limit no mix meets) or the solver fails or
//! panics (caught), the window is solved again with penalised slacks on every demand and limit;
//! the non-zero slacks are the cause, reported as an `infeasible` diagnostic naming the unit
//! and the window step, and the step is allocated by the one-step [`super::optimal::Optimal`]
//! LP (which itself falls back to the priority cascade when the step alone is infeasible). The
//! balance is never lost: every applied plan goes through the [`Realiser`].

use super::optimal::{EPS, M_OVER, M_QUALITY, M_SPILL, M_UNMET, Optimal, OptimalConfig};
use super::realise::{Plan, PullMode, Realiser};
use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::flow::{AllocationContext, CouplingStrategy};
use crate::network::{FlowKind, PortRole};
use crate::record::pumping_kwh;
use crate::series::Series;
use crate::state::Flows;
use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable, microlp,
    variable,
};

/// Hours in a permit year (the source model's permit year restarts every 8,760 h).
pub const PERMIT_YEAR_H: f64 = 8760.0;

/// Forecasts and unit data of the window (filled by the park builder).
#[derive(Clone, Debug)]
pub struct HorizonConfig {
    /// The one-step LP's data: weights (the storage value is the terminal value), fresh
    /// sources, prices, carbon, tariff and grid-factor series.
    pub optimal: OptimalConfig,
    /// Window length `H`, steps (≥ 1).
    pub steps: usize,
    /// Steps between solves `k` (1 ≤ k ≤ H).
    pub every: usize,
    /// Per unit: forecast target, m³/h, by absolute step (`None`: this step's target is held).
    pub target: Vec<Option<Series>>,
    /// Per unit: forecast supply availability, m³/h, by absolute step (`None`: held).
    pub supply: Vec<Option<Series>>,
    /// Per unit: a source's annual permit, m³ per 8,760 h (infinite when none).
    pub annual_cap_m3: Vec<f64>,
    /// Per unit: a tank's largest outflow, m³/h (infinite when none).
    pub max_outflow_m3_per_h: Vec<f64>,
    /// Per unit: a tank's refill rate, m³/h, its pull target at window steps after the first
    /// (0 for a tank without refill control).
    pub refill_m3_per_h: Vec<f64>,
}

/// The rolling-horizon LP strategy (see the module docs).
#[derive(Debug)]
pub struct Horizon {
    config: HorizonConfig,
    realiser: Realiser,
    fallback: Optimal,
    /// Plans of the last solved window's first `every` steps.
    plans: Vec<Plan>,
    /// Step at which the last window was solved.
    solved_at: Option<usize>,
    /// Per unit: withdrawn in the current permit year, m³ (sources with a permit).
    withdrawn_m3: Vec<f64>,
    /// Windows solved.
    pub solved_windows: usize,
    /// Steps allocated by the one-step fallback.
    pub fallback_steps: usize,
    /// Steps allocated by a held plan (`every > 1`).
    pub held_steps: usize,
}

/// A solved window: per window step, link flows and port flows; slacks when relaxed.
pub(crate) struct Window {
    link: Vec<Vec<f64>>,
    port: Vec<Vec<f64>>,
    /// `(window step, unit, m³/h short)`.
    short: Vec<(usize, usize, f64)>,
    /// `(window step, unit, species, g/h over)`.
    over: Vec<(usize, usize, usize, f64)>,
}

impl Horizon {
    /// A new strategy with `config` (`steps` and `every` are raised to at least 1 and `every`
    /// is capped at `steps`).
    pub fn new(mut config: HorizonConfig) -> Self {
        config.steps = config.steps.max(1);
        config.every = config.every.clamp(1, config.steps);
        let fallback = Optimal::new(config.optimal.clone());
        Self {
            config,
            realiser: Realiser::default(),
            fallback,
            plans: Vec::new(),
            solved_at: None,
            withdrawn_m3: Vec::new(),
            solved_windows: 0,
            fallback_steps: 0,
            held_steps: 0,
        }
    }

    fn solve(
        &self,
        ctx: &AllocationContext<'_>,
        relaxed: bool,
        n: usize,
    ) -> Result<Window, String> {
        solve_window(&self.config, &self.withdrawn_m3, ctx, relaxed, n)
    }

    /// Books this step's withdrawals against the sources' permits (restarted every 8,760 h,
    /// as the source model does).
    fn book_permits(&mut self, ctx: &AllocationContext<'_>, flows: &Flows) {
        let topo = ctx.topo;
        let nu = topo.n_units();
        self.withdrawn_m3.resize(nu, 0.0);
        let clock = ctx.clock;
        let hours = clock.hours();
        if clock.step > 0
            && (hours / PERMIT_YEAR_H).floor() > ((hours - clock.dt_h) / PERMIT_YEAR_H).floor()
        {
            self.withdrawn_m3.fill(0.0);
        }
        for u in 0..nu {
            if topo.unit_flow[u] == FlowKind::Source {
                self.withdrawn_m3[u] += flows.throughput[u] * clock.dt_h;
            }
        }
    }
}

impl HorizonConfig {
    /// The configuration of a one-step window: the per-step LP of `optimal` (no forecast is
    /// read in a window's first step, and a one-step window has no permit constraint).
    pub fn one_step(optimal: OptimalConfig) -> Self {
        Self {
            optimal,
            steps: 1,
            every: 1,
            target: Vec::new(),
            supply: Vec::new(),
            annual_cap_m3: Vec::new(),
            max_outflow_m3_per_h: Vec::new(),
            refill_m3_per_h: Vec::new(),
        }
    }

    /// Forecast target of unit `u` at absolute step `s` (window step ≥ 1).
    fn target_at(&self, ctx: &AllocationContext<'_>, u: usize, s: usize) -> f64 {
        if ctx.topo.unit_flow[u] == FlowKind::Tank {
            return self.refill_m3_per_h.get(u).copied().unwrap_or(0.0);
        }
        match self.target.get(u) {
            Some(Some(series)) => series.at(s),
            _ => ctx.inputs.target[u],
        }
        .max(0.0)
    }

    /// Forecast availability of source `u` at absolute step `s` (window step ≥ 1).
    fn supply_at(&self, ctx: &AllocationContext<'_>, u: usize, s: usize) -> f64 {
        match self.supply.get(u) {
            Some(Some(series)) => series.at(s).min(ctx.inputs.supply_cap[u]),
            _ => ctx.inputs.supply_avail[u],
        }
        .max(0.0)
    }
}

/// "LP" for one step, "window LP" for more (in error messages).
fn lp_name(n: usize) -> &'static str {
    if n > 1 { "window LP" } else { "LP" }
}

/// Solves the flow LP over a window of `n` steps from this one (`n = 1`: the LP of
/// `optimal`); `withdrawn` is each source's withdrawal so far in its permit year (read only
/// when `n > 1`). With `relaxed`, demands and inlet limits get penalised slacks, whose values
/// say why the strict problem failed.
pub(crate) fn solve_window(
    config: &HorizonConfig,
    withdrawn: &[f64],
    ctx: &AllocationContext<'_>,
    relaxed: bool,
    n: usize,
) -> Result<Window, String> {
    let topo = ctx.topo;
    let inputs = ctx.inputs;
    let (nu, nl, np) = (topo.n_units(), topo.n_links(), topo.n_ports());
    let ns = ctx.species.len();
    let step = ctx.clock.step;
    let dt = ctx.clock.dt_h;
    let cfg = &config.optimal;
    let w = cfg.weights;
    let mut vars = ProblemVariables::new();
    let mut objective = Expression::with_capacity(n * (nl + np));
    let mut constraints = Vec::new();
    let mut q: Vec<Vec<Variable>> = Vec::with_capacity(n);
    let mut spill_vars: Vec<Vec<(usize, Variable)>> = Vec::with_capacity(n);
    let mut short_vars: Vec<(usize, usize, Variable)> = Vec::new();
    let mut over_vars: Vec<(usize, usize, usize, Variable)> = Vec::new();
    // Per tank: Σ_{τ<t} e_{u,τ}, the volume change so far over Δt.
    let mut cum: Vec<Expression> = vec![Expression::with_capacity(0); nu];
    // Per source with a permit: withdrawal over the window steps of this permit year.
    let year = |s: usize| (s as f64 * dt / PERMIT_YEAR_H).floor();
    let mut permit: Vec<Expression> = vec![Expression::with_capacity(0); nu];
    for t in 0..n {
        let s = step + t;
        let elec =
            w.co2e * cfg.grid_kg_per_kwh.at(s) + w.money * cfg.electricity_yuan_per_kwh.at(s);
        let mut qt: Vec<Variable> = Vec::with_capacity(nl);
        for l in 0..nl {
            let (from, to) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
            let open = inputs.online[from] && inputs.online[to];
            let ub = if open { topo.link_cap[l] } else { 0.0 };
            let v = vars.add(variable().min(0.0).max(ub));
            let mut c = EPS + pumping_kwh(1.0, topo.link_head_m[l], topo.link_eta[l], 1.0) * elec;
            if topo.unit_flow[from] == FlowKind::Source {
                let fresh = if cfg.fresh.get(from).copied().unwrap_or(false) {
                    1.0
                } else {
                    0.0
                };
                c += w.fresh_water * fresh
                    + w.money * cfg.price_yuan_per_m3.get(from).copied().unwrap_or(0.0)
                    + w.co2e * cfg.co2_kg_per_m3.get(from).copied().unwrap_or(0.0);
            }
            objective.add_mul(c, v);
            qt.push(v);
        }
        let mut spills: Vec<(usize, Variable)> = Vec::new();
        let inflow = |u: usize| -> Expression {
            let mut e = Expression::with_capacity(4);
            for &l in topo.links_into(u) {
                e.add_mul(1.0, qt[l as usize]);
            }
            e
        };
        for u in 0..nu {
            let kind = topo.unit_flow[u];
            let online = inputs.online[u];
            let target = match (online, t) {
                (false, _) => 0.0,
                (true, 0) => inputs.target[u].max(0.0),
                (true, _) => config.target_at(ctx, u, s),
            };
            // Supply ports: availability (a tank's from its planned volume after step 0).
            for p in topo.ports_of(u) {
                if topo.port_role[p] == PortRole::Supply && !topo.links_of_port(p).is_empty() {
                    let mut e = Expression::with_capacity(4);
                    for &l in topo.links_of_port(p) {
                        e.add_mul(1.0, qt[l as usize]);
                    }
                    if kind == FlowKind::Source && year(s) == year(step) {
                        permit[u].add_mul(dt, e.clone());
                    }
                    if !online {
                        constraints.push(e.leq(0.0));
                    } else if t == 0 {
                        constraints.push(e.leq(inputs.supply_avail[u].max(0.0)));
                    } else if kind == FlowKind::Tank {
                        let qmax = config
                            .max_outflow_m3_per_h
                            .get(u)
                            .copied()
                            .unwrap_or(f64::INFINITY);
                        if qmax.is_finite() {
                            constraints.push(e.clone().leq(qmax));
                        }
                        let mut v = e;
                        v.add_mul(-1.0, cum[u].clone());
                        let room = (ctx.storage.volume[u] - ctx.storage.minimum[u]) / dt;
                        constraints.push(v.leq(room.max(0.0)));
                    } else {
                        constraints.push(e.leq(config.supply_at(ctx, u, s)));
                    }
                }
            }
            if kind == FlowKind::Source {
                continue;
            }
            let x = inflow(u);
            let mut pulled = Expression::with_capacity(4);
            for &l in topo.pulled_into(u) {
                pulled.add_mul(1.0, qt[l as usize]);
            }
            let mut overflow: Option<Variable> = None;
            match kind {
                FlowKind::Demand => {
                    if relaxed {
                        let sl = vars.add(variable().min(0.0));
                        objective.add_mul(M_UNMET, sl);
                        short_vars.push((t, u, sl));
                        constraints.push((x.clone() + sl).eq(target));
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
                                e.add_mul(-1.0, qt[l as usize]);
                            }
                        }
                    }
                    e.add_mul(-1.0, o);
                    // Terminal value: −ω·(V_T − V_0)/Δt = −ω·Σ_t e_t.
                    if w.storage != 0.0 {
                        objective.add_mul(-w.storage, e.clone());
                    }
                    let room = (ctx.storage.capacity[u] - ctx.storage.volume[u]) / dt;
                    if t == 0 {
                        constraints.push(e.clone().leq(room));
                        cum[u] = e;
                    } else {
                        cum[u].add_mul(1.0, e);
                        constraints.push(cum[u].clone().leq(room));
                    }
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
                        let sl = vars.add(variable().min(0.0));
                        objective.add_mul(M_SPILL, sl);
                        let mut rhs = Expression::with_capacity(4);
                        rhs.add_mul(topo.link_split[l as usize], y.clone());
                        constraints.push((Expression::from(qt[l as usize]) + sl).eq(rhs));
                    }
                } else {
                    let sl = vars.add(variable().min(0.0));
                    objective.add_mul(M_SPILL, sl);
                    spills.push((p, sl));
                    let mut e = Expression::from(sl);
                    for &l in links {
                        e.add_mul(1.0, qt[l as usize]);
                    }
                    constraints.push(e.eq(y));
                }
            }
            // Inlet quality (conserved species with a limit), at held concentrations.
            for k in 0..ctx.species.conserved {
                let lim = inputs.accept_limit[u * ns + k];
                if !lim.is_finite() || topo.links_into(u).is_empty() {
                    continue;
                }
                let mut e = Expression::with_capacity(4);
                for &l in topo.links_into(u) {
                    let p = topo.link_from_port[l as usize] as usize;
                    e.add_mul(Optimal::stream_conc(ctx, p, k) - lim, qt[l as usize]);
                }
                if relaxed {
                    let v = vars.add(variable().min(0.0));
                    objective.add_mul(M_QUALITY, v);
                    over_vars.push((t, u, k, v));
                    e.add_mul(-1.0, v);
                }
                constraints.push(e.leq(0.0));
            }
        }
        q.push(qt);
        spill_vars.push(spills);
    }
    // Annual permits over the window (a one-step window has its permit in the offer).
    if n > 1 {
        permit_constraints(config, withdrawn, ctx, permit, &mut constraints);
    }
    let mut model = vars.minimise(objective).using(microlp);
    for c in constraints {
        model.add_constraint(c);
    }
    let solved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.solve()))
        .map_err(|_| "the LP solver panicked".to_string())?
        .map_err(|e| match e {
            ResolutionError::Infeasible => format!("the {} is infeasible", lp_name(n)),
            ResolutionError::Unbounded => format!("the {} is unbounded", lp_name(n)),
            other => format!("the LP solver failed: {other}"),
        })?;
    let mut link = Vec::with_capacity(n);
    let mut port = Vec::with_capacity(n);
    for t in 0..n {
        let lt: Vec<f64> = q[t].iter().map(|&v| solved.value(v).max(0.0)).collect();
        if lt.iter().any(|v| !v.is_finite()) {
            return Err("the LP solver returned a non-finite flow".to_string());
        }
        let mut pt = vec![0.0; np];
        for (p, sl) in &spill_vars[t] {
            pt[*p] = solved.value(*sl).max(0.0);
        }
        for (l, v) in lt.iter().enumerate() {
            pt[topo.link_from_port[l] as usize] += v;
        }
        link.push(lt);
        port.push(pt);
    }
    let short = short_vars
        .iter()
        .map(|&(t, u, sl)| (t, u, solved.value(sl)))
        .filter(|&(_, u, v)| v > 1e-9 * inputs.target[u].max(1.0))
        .collect();
    let over = over_vars
        .iter()
        .map(|&(t, u, k, v)| (t, u, k, solved.value(v)))
        .filter(|&(_, _, _, v)| v > 1e-6)
        .collect();
    Ok(Window {
        link,
        port,
        short,
        over,
    })
}

/// `Σ withdrawal·Δt ≤ permit − withdrawn` for each source with a finite annual permit.
fn permit_constraints(
    config: &HorizonConfig,
    withdrawn: &[f64],
    ctx: &AllocationContext<'_>,
    permit: Vec<Expression>,
    constraints: &mut Vec<good_lp::Constraint>,
) {
    for (u, e) in permit.into_iter().enumerate() {
        let cap = config
            .annual_cap_m3
            .get(u)
            .copied()
            .unwrap_or(f64::INFINITY);
        if ctx.topo.unit_flow[u] != FlowKind::Source || !cap.is_finite() {
            continue;
        }
        let used = withdrawn.get(u).copied().unwrap_or(0.0);
        constraints.push(e.leq((cap - used).max(0.0)));
    }
}

/// The plan of window step `t`: fractions of each pushed port's flow, amounts pulled.
pub(crate) fn window_plan(ctx: &AllocationContext<'_>, win: &Window, t: usize) -> Plan {
    let topo = ctx.topo;
    let link = (0..topo.n_links())
        .map(|l| {
            let p = topo.link_from_port[l] as usize;
            match topo.port_role[p] {
                PortRole::Supply => win.link[t][l],
                _ => {
                    let y = win.port[t][p];
                    if y > 0.0 { win.link[t][l] / y } else { 0.0 }
                }
            }
        })
        .collect();
    Plan {
        link,
        pull: PullMode::Amount,
    }
}

/// Why the strict window failed, from the relaxed one.
pub(crate) fn window_cause(
    config: &HorizonConfig,
    withdrawn: &[f64],
    ctx: &AllocationContext<'_>,
    error: &str,
    n: usize,
) -> String {
    let topo = ctx.topo;
    let step = ctx.clock.step;
    // A one-step LP's slacks are all of this step: no step to name.
    let at = |t: usize| {
        if n > 1 {
            format!(" at step {}", step + t)
        } else {
            String::new()
        }
    };
    match solve_window(config, withdrawn, ctx, true, n) {
        Ok(r) if !r.short.is_empty() || !r.over.is_empty() => {
            let mut parts: Vec<String> = r
                .short
                .iter()
                .take(5)
                .map(|&(t, u, v)| format!("{} short {v:.3} m³/h{}", topo.unit_id[u], at(t)))
                .collect();
            parts.extend(r.over.iter().take(5).map(|&(t, u, k, v)| {
                format!(
                    "{} over its {} limit by {:.3} kg/h{}",
                    topo.unit_id[u],
                    ctx.species.names[k],
                    v / 1000.0,
                    at(t)
                )
            }));
            format!("{error}: {}", parts.join("; "))
        }
        Ok(_) => format!("{error} (the relaxed LP needs no slack: numerical trouble)"),
        Err(e) => format!("{error}; relaxed: {e}"),
    }
}

impl CouplingStrategy for Horizon {
    fn name(&self) -> &str {
        "horizon"
    }

    fn allocate(&mut self, ctx: &AllocationContext<'_>, flows: &mut Flows, diag: &mut Diagnostics) {
        let step = ctx.clock.step;
        let n = self
            .config
            .steps
            .min(ctx.clock.steps.saturating_sub(step))
            .max(1);
        let held = self
            .solved_at
            .map(|s| step.saturating_sub(s))
            .filter(|&o| o > 0 && o < self.plans.len());
        // A held plan is kept only while it still meets every demand; otherwise (actual
        // demands away from the forecast) the window is solved again from the actual state.
        let kept = held.is_some_and(|o| {
            self.realiser.realise(&self.plans[o], ctx, flows, diag);
            flows.unmet.iter().all(|&u| u <= 0.0)
        });
        if kept {
            self.held_steps += 1;
        } else {
            match self.solve(ctx, false, n) {
                Ok(win) => {
                    let k = self.config.every.min(n);
                    self.plans = (0..k).map(|t| window_plan(ctx, &win, t)).collect();
                    self.solved_at = Some(step);
                    self.realiser.realise(&self.plans[0], ctx, flows, diag);
                    self.solved_windows += 1;
                }
                Err(e) => {
                    let cause = window_cause(&self.config, &self.withdrawn_m3, ctx, &e, n);
                    diag.push(DiagnosticKind::Infeasible, step, None, || {
                        format!("horizon: {cause}; the one-step optimal LP allocated this step")
                    });
                    self.plans.clear();
                    self.solved_at = None;
                    self.fallback.allocate(ctx, flows, diag);
                    self.fallback_steps += 1;
                }
            }
        }
        self.book_permits(ctx, flows);
    }
}
