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
//! The LP is built and solved by `horizon`'s window LP over this one step
//! (`strategy::horizon::solve_window` with `n = 1`): one builder for both strategies, and a
//! one-step window reads no forecast and has no permit constraint.
//!
//! The LP's solution is turned into a plan (fractions of each port's flow, amounts pulled)
//! and realised by the realiser (`strategy::realise`), which recomputes every flow from the units' port
//! equations, so each unit's balance is exact to rounding whatever the LP's tolerances.
//! microlp restarts its simplex each step: its warm start seeds only the incumbent of a
//! branch-and-bound search (integer problems), not an LP basis, so there is nothing to gain
//! from it here and none is passed.

use super::horizon::{HorizonConfig, solve_window, window_cause, window_plan};
use super::realise::Realiser;
use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::flow::{AllocationContext, CouplingStrategy};
use crate::network::FlowKind;
use crate::priority::Priority;
use crate::series::Series;
use crate::state::Flows;

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
    /// The LP's data as a one-step window of the window LP (`strategy::horizon`).
    window: HorizonConfig,
    realiser: Realiser,
    fallback: Priority,
    /// Steps solved by the LP.
    pub solved_steps: usize,
    /// Steps that fell back to the priority cascade.
    pub fallback_steps: usize,
}

impl Optimal {
    /// A new strategy with `config`.
    pub fn new(config: OptimalConfig) -> Self {
        Self {
            window: HorizonConfig::one_step(config),
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
}

impl CouplingStrategy for Optimal {
    fn name(&self) -> &str {
        "optimal"
    }

    fn allocate(&mut self, ctx: &AllocationContext<'_>, flows: &mut Flows, diag: &mut Diagnostics) {
        // The LP is the window LP of `horizon` over this step alone.
        match solve_window(&self.window, &[], ctx, false, 1) {
            Ok(solved) => {
                let plan = window_plan(ctx, &solved, 0);
                self.realiser.realise(&plan, ctx, flows, diag);
                self.solved_steps += 1;
            }
            Err(e) => {
                let cause = window_cause(&self.window, &[], ctx, &e, 1);
                diag.push(DiagnosticKind::Infeasible, ctx.clock.step, None, || {
                    format!("optimal: {cause}; the priority cascade allocated this step")
                });
                self.fallback.allocate(ctx, flows, diag);
                self.fallback_steps += 1;
            }
        }
    }
}
