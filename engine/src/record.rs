//! Energy, carbon and cost accounting, and the recorders: summary accumulators (always) and
//! hourly time series (only when asked).
//!
//! Pumping on a link: `P = ρ·g·Q·H/η`, so `e = g·H/(3600·η)` kWh/m³ ≈ `0.002725·H/η`
//! (`ρ` = 1000 kg/m³, `g` = 9.80665 m/s²; DOMAIN.md, "Pumps and treatment energy").
//! Carbon by origin: grid electricity (unit equipment + pumping − on-site generation, never
//! below zero) × the grid factor of the hour; heat × the heat factor; chemicals and other direct
//! emissions as booked by the units. Cost: electricity and heat at their prices, chemicals,
//! and water charges booked by the units (purchase, discharge fees).

use crate::arith::{add_into, add_scaled, all_zero, any};
use crate::network::{ExitKind, PortRole, Topology};
use crate::state::{Clock, Energy, Factors, Flows, Quality, Species, Storage};
use bevy_ecs::resource::Resource;
use serde::Serialize;

/// Standard gravity, m/s².
pub const G: f64 = 9.80665;
/// Density of water at reference conditions, kg/m³ (volumes are accounted at this density).
pub const RHO_WATER: f64 = 1000.0;

/// Pumping electricity, kWh, for `q` m³/h through head `h` m at wire-to-water efficiency `eta`
/// over `dt_h` hours.
#[inline]
pub fn pumping_kwh(q_m3_per_h: f64, head_m: f64, eta: f64, dt_h: f64) -> f64 {
    // ρ·g·H/η J per m³, ÷ 3.6e6 J/kWh.
    q_m3_per_h * dt_h * RHO_WATER * G * head_m / eta / 3.6e6
}

/// Pumping electricity per m³ sent, kWh/m³, through head `head_m` m at wire-to-water
/// efficiency `eta`: `k = ρ·g·H/(η·3.6e6)`, so that `e = q·Δt·k` is [`pumping_kwh`] with its
/// constant factors multiplied once (the same quantity; the product is rounded in another
/// order, so `e` may differ from [`pumping_kwh`] in the last bits).
pub fn pumping_kwh_per_m3(head_m: f64, eta: f64) -> f64 {
    RHO_WATER * G * head_m / (eta * 3.6e6)
}

/// Per-unit figures a unit type books each step for KPIs (written in the Account phase).
#[derive(Resource, Clone, Debug)]
pub struct UnitOutputs {
    /// Product output this step, in the product's own unit (t, kL, 100 m).
    pub product: Vec<f64>,
    /// Water recirculated inside the unit this step (a cooling tower's circulation), m³.
    pub recirculated_m3: Vec<f64>,
    /// Steam generated this step (a steam system), t.
    pub steam_t: Vec<f64>,
    /// Condensate returned to the boiler this step, t.
    pub condensate_returned_t: Vec<f64>,
}

impl UnitOutputs {
    /// Zeros.
    pub fn new(topo: &Topology) -> Self {
        Self {
            product: vec![0.0; topo.n_units()],
            recirculated_m3: vec![0.0; topo.n_units()],
            steam_t: vec![0.0; topo.n_units()],
            condensate_returned_t: vec![0.0; topo.n_units()],
        }
    }
}

/// Carbon by origin, kg CO2e.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Carbon {
    /// Grid electricity.
    pub electricity: f64,
    /// Heat.
    pub heat: f64,
    /// Chemicals.
    pub chemicals: f64,
    /// Other direct emissions and embodied carbon of purchased water.
    pub other: f64,
}

impl Carbon {
    /// Sum over origins.
    pub fn total(&self) -> f64 {
        self.electricity + self.heat + self.chemicals + self.other
    }
}

/// Cost by item, yuan.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Cost {
    /// Electricity.
    pub electricity: f64,
    /// Heat.
    pub heat: f64,
    /// Chemicals.
    pub chemicals: f64,
    /// Water purchase and discharge charges.
    pub water: f64,
    /// Annualised capital cost.
    pub capital: f64,
}

impl Cost {
    /// Sum over items.
    pub fn total(&self) -> f64 {
        self.electricity + self.heat + self.chemicals + self.water + self.capital
    }
}

/// Totals of one unit over the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct UnitTotals {
    /// Throughput (a source: withdrawal), m³.
    pub throughput_m3: f64,
    /// Target (demand), m³.
    pub target_m3: f64,
    /// Unmet demand, m³.
    pub unmet_m3: f64,
    /// Water leaving by exits, by [`ExitKind::ALL`] order, m³.
    pub exits_m3: [f64; 7],
    /// Equipment electricity, kWh.
    pub electricity_kwh: f64,
    /// Heat, kWh_th.
    pub heat_kwh: f64,
    /// On-site generation, kWh.
    pub generation_kwh: f64,
    /// Chemicals, kg.
    pub chemicals_kg: f64,
    /// Carbon, kg CO2e.
    pub carbon: Carbon,
    /// Cost, yuan.
    pub cost: Cost,
    /// Product output, in the product's unit.
    pub product: f64,
    /// Recirculated water, m³.
    pub recirculated_m3: f64,
    /// Steam generated (steam systems), t.
    pub steam_t: f64,
    /// Condensate returned to boilers, t (condensate-return rate: this over `steam_t`).
    pub condensate_returned_t: f64,
    /// Steps with unmet demand.
    pub unmet_steps: u64,
    /// Water received that had already been used (repeated use in series), m³: the inflow of a
    /// water-using unit × the 'already used' tracer of each incoming stream.
    pub reused_m3: f64,
}

/// Totals of one link over the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LinkTotals {
    /// Volume carried, m³.
    pub volume_m3: f64,
    /// Largest hourly flow, m³/h.
    pub max_flow_m3_per_h: f64,
    /// Pumping electricity, kWh.
    pub pumping_kwh: f64,
}

/// Summary accumulators of a run.
#[derive(Resource, Clone, Debug, Serialize)]
pub struct Summary {
    /// Steps computed.
    pub steps: usize,
    /// Per unit.
    pub units: Vec<UnitTotals>,
    /// Per link.
    pub links: Vec<LinkTotals>,
    /// Park carbon by origin.
    pub carbon: Carbon,
    /// Park cost by item.
    pub cost: Cost,
    /// Park grid import after on-site generation, kWh.
    pub grid_import_kwh: f64,
    /// Park pumping electricity, kWh.
    pub pumping_kwh: f64,
    /// Stored volume at the start, m³.
    pub storage_start_m3: f64,
    /// Stored volume at the end, m³.
    pub storage_end_m3: f64,
    /// The fused pass's run sums, kept column-wise while stepping and written into `units`,
    /// `links` and the park's carbon and cost by [`Summary::sync`] (see [`RunColumns`]).
    #[serde(skip)]
    pub(crate) columns: RunColumns,
}

impl Summary {
    /// Empty summary.
    pub fn new(topo: &Topology) -> Self {
        Self {
            steps: 0,
            units: vec![UnitTotals::default(); topo.n_units()],
            links: vec![LinkTotals::default(); topo.n_links()],
            carbon: Carbon::default(),
            cost: Cost::default(),
            grid_import_kwh: 0.0,
            pumping_kwh: 0.0,
            storage_start_m3: 0.0,
            storage_end_m3: 0.0,
            columns: RunColumns::default(),
        }
    }

    /// Brings the totals the fused pass keeps column-wise ([`RunColumns`]) into `units`,
    /// `links` and the park's carbon and cost, from the run sums so far: `units[u]`'s
    /// throughput `Δt·Σ_t q`, electricity `Σ_t (P + E)` with its carbon `Σ_t (P + E)·g_t` and
    /// cost `Σ_t (P + E)·p_t`, chemicals, their carbon and cost, other carbon, water and
    /// capital cost, product and recirculation (each `Σ_t x`), and repeated use
    /// `Δt·Σ_{l into u} Σ_t q_l·u_l` (the flow sums' `link_used` of the unit's incoming links,
    /// for a water-using unit); `links[l]`'s volume `Δt·Σ_t q`, largest flow and pumping
    /// `(Σ_t q + Σ_t leak)·Δt·k_l` (`k_l` the link's [`Topology::link_pump_kwh_per_m3`], which
    /// nothing changes during a run); the park's carbon of chemicals and other, and cost of
    /// chemicals, water and capital, as `Σ_u` of the units' columns.
    ///
    /// These are the separate passes' per-step sums reassociated (`Σ_t q·Δt = Δt·Σ_t q` with a
    /// constant `Δt`; `Σ_t Σ_l x = Σ_l Σ_t x`; `Σ_t Σ_u x = Σ_u Σ_t x`): the same quantities,
    /// last bits may differ. Every field is written from the run sums (not added to), so the
    /// result does not depend on how often `sync` runs: a run synced after every step and one
    /// synced once at the end hold the same bits. Does nothing before the fused pass has booked
    /// a step (the separate passes book into `units` and `links` directly).
    /// [`crate::sim::Simulation::step`] and [`crate::sim::Simulation::finish`] call it.
    pub fn sync(&mut self, topo: &Topology, sums: &FlowSums, dt: f64) {
        let c = &self.columns;
        if !c.booked {
            return;
        }
        let (nu, nl) = (topo.n_units(), topo.n_links());
        let link_used = (sums.link_used.len() == nl).then_some(&sums.link_used[..]);
        for (u, t) in self.units[..nu].iter_mut().enumerate() {
            t.throughput_m3 = c.throughput[u] * dt;
            t.electricity_kwh = c.electricity[u];
            t.carbon.electricity = c.carbon_electricity[u];
            t.cost.electricity = c.cost_electricity[u];
            t.chemicals_kg = c.chemicals_kg[u];
            t.carbon.chemicals = c.carbon_chemicals[u];
            t.carbon.other = c.carbon_other[u];
            t.cost.chemicals = c.cost_chemicals[u];
            t.cost.water = c.cost_water[u];
            t.cost.capital = c.cost_capital[u];
            t.product = c.product[u];
            t.recirculated_m3 = c.recirculated[u];
            if let Some(used) = link_used
                && topo.unit_uses_water[u]
            {
                let r: f64 = topo.links_into(u).iter().map(|&l| used[l as usize]).sum();
                t.reused_m3 = r * dt;
            }
        }
        let sum = |v: &[f64]| v.iter().sum::<f64>();
        self.carbon.chemicals = sum(&c.carbon_chemicals);
        self.carbon.other = sum(&c.carbon_other);
        self.cost.chemicals = sum(&c.cost_chemicals);
        self.cost.water = sum(&c.cost_water);
        self.cost.capital = sum(&c.cost_capital);
        let leak = &sums.link_leak;
        let k = &topo.link_pump_kwh_per_m3;
        for (l, t) in self.links[..nl].iter_mut().enumerate() {
            t.volume_m3 = c.link_flow[l] * dt;
            t.max_flow_m3_per_h = c.link_max[l];
            // The pump lifts what it sends, leaks included.
            t.pumping_kwh = (c.link_flow[l] + leak.get(l).copied().unwrap_or(0.0)) * dt * k[l];
        }
    }
}

/// The fused pass's run sums, one array per quantity (struct of arrays): per unit the sums
/// over steps of its throughput (m³/h), electricity `P + E` (kWh: the step's pumping of the
/// links it sends by plus its equipment), that electricity's carbon and cost at the step's
/// grid factor and price, its chemicals (kg), their carbon and cost, other carbon, water and
/// capital cost, product and recirculation; per link the sum of its flow (m³/h) and its
/// largest flow. Each step adds one vectorised loop per unit column (instead of one update of
/// the unit's 25-field [`UnitTotals`]); a link's pumping total and a unit's repeated use are
/// derived from per-link sums kept anyway. [`Summary::sync`] writes them into the summary.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunColumns {
    /// Whether the fused pass has booked a step into the columns.
    booked: bool,
    throughput: Vec<f64>,
    electricity: Vec<f64>,
    carbon_electricity: Vec<f64>,
    cost_electricity: Vec<f64>,
    chemicals_kg: Vec<f64>,
    carbon_chemicals: Vec<f64>,
    carbon_other: Vec<f64>,
    cost_chemicals: Vec<f64>,
    cost_water: Vec<f64>,
    cost_capital: Vec<f64>,
    product: Vec<f64>,
    recirculated: Vec<f64>,
    /// Per link: `Σ_t q`, m³/h.
    pub(crate) link_flow: Vec<f64>,
    /// Per link: the largest flow so far, m³/h (starts at +0, see [`running_max`]).
    pub(crate) link_max: Vec<f64>,
}

impl RunColumns {
    /// Sizes the columns for `nu` units and `nl` links (zeros) unless they are sized already,
    /// and marks them booked.
    pub(crate) fn prepare(&mut self, nu: usize, nl: usize) {
        if self.booked && self.throughput.len() == nu && self.link_flow.len() == nl {
            return;
        }
        let units = || vec![0.0; nu];
        *self = Self {
            booked: true,
            throughput: units(),
            electricity: units(),
            carbon_electricity: units(),
            cost_electricity: units(),
            chemicals_kg: units(),
            carbon_chemicals: units(),
            carbon_other: units(),
            cost_chemicals: units(),
            cost_water: units(),
            cost_capital: units(),
            product: units(),
            recirculated: units(),
            link_flow: vec![0.0; nl],
            link_max: vec![0.0; nl],
        };
    }
}

/// Books pumping, carbon and cost of one step into `summary`.
///
/// Per link (in link order): pumping `e` ([`pumping_kwh`] of flow plus leak), charged to the
/// sending unit; per port (in port order): the unit's exits and spill, m³; per unit
/// ([`account_units`]): equipment energy, heat, chemicals, carbon and cost, and the park's grid
/// import after on-site generation.
#[expect(
    clippy::too_many_arguments,
    reason = "accounting reads every part of the step state"
)]
pub fn account_step(
    topo: &Topology,
    flows: &Flows,
    energy: &mut Energy,
    factors: &Factors,
    park: &crate::events::ParkModifiers,
    outputs: &UnitOutputs,
    clock: &Clock,
    summary: &mut Summary,
) {
    let dt = clock.dt_h;
    let prices = StepPrices::new(factors, park, clock.step);
    let mut park_electricity = 0.0;
    let mut any_leak = false;
    let nl = topo.n_links();
    let (link_q, link_leak) = (&flows.link[..nl], &flows.leak[..nl]);
    let (head, eta) = (&topo.link_head_m[..nl], &topo.link_eta[..nl]);
    let link_from = &topo.link_from[..nl];
    let pumping = &mut energy.pumping_kwh[..nl];
    let links = &mut summary.links[..nl];
    let units = &mut summary.units;
    for l in 0..nl {
        any_leak |= link_leak[l] != 0.0;
        park_electricity += account_link(
            link_q[l],
            link_leak[l],
            head[l],
            eta[l],
            dt,
            &prices,
            &mut pumping[l],
            &mut links[l],
            &mut units[link_from[l] as usize],
        );
    }
    summary.pumping_kwh += park_electricity;
    let np = topo.n_ports();
    for p in 0..np {
        let u = topo.port_unit[p] as usize;
        let (role, q, spill) = (topo.port_role[p], flows.port[p], flows.spill[p]);
        let exits = &mut summary.units[u].exits_m3;
        account_port(topo, flows, p, role, q, spill, any_leak, dt, exits);
    }
    account_units(
        topo,
        flows,
        energy,
        factors,
        outputs,
        &prices,
        dt,
        park_electricity,
        summary,
        None,
    );
}

/// The step's electricity price and grid factor, after the park's event modifiers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StepPrices {
    /// Grid carbon factor, kg CO2e/kWh.
    pub(crate) grid: f64,
    /// Electricity price, yuan/kWh.
    pub(crate) price: f64,
}

impl StepPrices {
    /// The factors of `step`.
    pub(crate) fn new(factors: &Factors, park: &crate::events::ParkModifiers, step: usize) -> Self {
        Self {
            grid: factors.grid_kg_per_kwh.at(step) * park.grid_factor,
            price: factors.electricity_price.at(step) * park.price_factor,
        }
    }
}

/// Accounting of one link carrying `q` m³/h and losing `leak` m³/h through head `head` m at
/// efficiency `eta` over `dt` h: the pump lifts what it sends, leaks included, so
/// `e = pumping_kwh(q + leak)`; `e` is stored in `pumping`, and booked on the link's totals and
/// on its sending unit (electricity, its carbon `e·grid` and cost `e·price`). Returns `e`.
#[expect(
    clippy::too_many_arguments,
    reason = "one link's data, taken apart so a fused pass can share its loads"
)]
#[inline(always)]
pub(crate) fn account_link(
    q: f64,
    leak: f64,
    head: f64,
    eta: f64,
    dt: f64,
    prices: &StepPrices,
    pumping: &mut f64,
    t: &mut LinkTotals,
    ut: &mut UnitTotals,
) -> f64 {
    let e = pumping_kwh(q + leak, head, eta, dt);
    *pumping = e;
    t.volume_m3 += q * dt;
    t.max_flow_m3_per_h = running_max(t.max_flow_m3_per_h, q);
    t.pumping_kwh += e;
    // Pumping is charged to the unit that sends the water.
    ut.electricity_kwh += e;
    ut.carbon.electricity += e * prices.grid;
    ut.cost.electricity += e * prices.price;
    e
}

/// `max(m, q)` for a link's running maximum flow `m`, which starts at +0 and is only ever
/// updated here: `q > m ? q : m`, one comparison instead of `f64::max`'s NaN handling (on
/// x86-64, `maxsd` and a blend). The same bits as `f64::max` for such an `m`: it is never NaN
/// (it starts at +0 and takes only values `q > m`) and never −0 (a tie keeps `m`), so the two
/// differ in nothing (a NaN `q` is ignored by both). Callgrind, 720 steps of the 499-unit park:
/// `sim::account` 280.4 M with `f64::max`, 274.8 M with this.
#[inline(always)]
pub(crate) fn running_max(m: f64, q: f64) -> f64 {
    if q > m { q } else { m }
}

/// Water leaving by port `p` (role `role`, flow `q` and spill `spill`, m³/h) over `dt` h into
/// its unit's `exits` (m³ by [`ExitKind::ALL`]): an exit port's flow by its kind, the spill, and (when any link leaks) the leaks of the
/// port's links.
#[expect(
    clippy::too_many_arguments,
    reason = "one port's data, taken apart so a fused pass can share its loads"
)]
#[inline(always)]
pub(crate) fn account_port(
    topo: &Topology,
    flows: &Flows,
    p: usize,
    role: PortRole,
    q: f64,
    spill: f64,
    any_leak: bool,
    dt: f64,
    exits: &mut [f64; 7],
) {
    if let PortRole::Exit(k) = role {
        exits[k.index()] += q * dt;
    }
    exits[ExitKind::Spill.index()] += spill * dt;
    if any_leak {
        for &l in topo.links_of_port(p) {
            exits[ExitKind::Leak.index()] += flows.leak[l as usize] * dt;
        }
    }
}

/// The per-unit part of [`account_step`], after its link and port parts: throughput, unmet
/// demand, equipment electricity and heat (carbon at the grid factor and the unit's or park's
/// heat factor; cost at the step's prices), chemicals, other emissions, water charges, capital,
/// products; then the park's grid import `max(0, pumping + equipment − generation)` with its
/// carbon and cost. `park_electricity` is the step's pumping, summed in link order.
///
/// With `sent_kwh` (the fused pass: per unit the step's pumping `Σ_l e_l` over the links it
/// sends by, read and reset to zero here), the unit's electricity is `Σ_l e_l + E`, booked
/// once with its carbon and cost `(Σ_l e_l + E)·f` (`Σ_l e_l·f + E·f` reassociated), and the
/// per-unit sums go into the summary's [`RunColumns`], one loop per column (each vectorises
/// over the units), the park's sums of those columns being derived by [`Summary::sync`];
/// repeated use is derived there too. The separate passes ([`account_step`], [`book_reuse`])
/// give `None` and book into each unit's [`UnitTotals`] as before.
///
/// Unmet demand, heat, on-site generation and steam are booked in loops of their own (each
/// total still receives its units in unit order), straight into [`UnitTotals`]. With the
/// fused pass, a loop whose values are all zero this step is skipped: it would add only
/// zeros (`h·f` is ±0 too when every factor and price that applies is finite, which is
/// checked), and adding ±0 leaves a total unchanged unless the total is −0, which none is
/// (each starts at +0, and a sum is −0 only if all its terms are).
#[expect(
    clippy::too_many_arguments,
    reason = "accounting reads every part of the step state"
)]
pub(crate) fn account_units(
    topo: &Topology,
    flows: &Flows,
    energy: &Energy,
    factors: &Factors,
    outputs: &UnitOutputs,
    prices: &StepPrices,
    dt: f64,
    mut park_electricity: f64,
    summary: &mut Summary,
    sent_kwh: Option<&mut [f64]>,
) {
    let fused_pass = sent_kwh.is_some();
    let (grid, price) = (prices.grid, prices.price);
    // The per-unit arrays are sliced to the unit count, so the loops do not check bounds.
    let nu = topo.n_units();
    let (throughput, unmet) = (&flows.throughput[..nu], &flows.unmet[..nu]);
    let (electricity, heat) = (&energy.electricity_kwh[..nu], &energy.heat_kwh[..nu]);
    let (generation, chemicals) = (&energy.generation_kwh[..nu], &energy.chemicals_kg[..nu]);
    let (heat_factors, heat_prices) = (
        &energy.heat_kg_per_kwh[..nu],
        &energy.heat_yuan_per_kwh[..nu],
    );
    let (chemicals_co2, other_co2) = (&energy.chemicals_co2_kg[..nu], &energy.other_co2_kg[..nu]);
    let (chemicals_cost, water_cost) = (&energy.chemicals_cost[..nu], &energy.water_cost[..nu]);
    let capital_cost = &energy.capital_cost[..nu];
    let (product, recirculated) = (&outputs.product[..nu], &outputs.recirculated_m3[..nu]);
    let (steam, condensate) = (&outputs.steam_t[..nu], &outputs.condensate_returned_t[..nu]);
    if let Some(sent) = sent_kwh {
        let c = &mut summary.columns;
        // One loop per column: each adds a dense array into a dense array and vectorises.
        add_into(&mut c.throughput, throughput);
        add_into(&mut c.chemicals_kg, chemicals);
        add_into(&mut c.carbon_chemicals, chemicals_co2);
        add_into(&mut c.carbon_other, other_co2);
        add_into(&mut c.cost_chemicals, chemicals_cost);
        add_into(&mut c.cost_water, water_cost);
        add_into(&mut c.cost_capital, capital_cost);
        add_into(&mut c.product, product);
        add_into(&mut c.recirculated, recirculated);
        let sent = &mut sent[..nu];
        let e_total = &mut c.electricity[..nu];
        let (e_carbon, e_cost) = (
            &mut c.carbon_electricity[..nu],
            &mut c.cost_electricity[..nu],
        );
        for u in 0..nu {
            let e = std::mem::replace(&mut sent[u], 0.0) + electricity[u];
            e_total[u] += e;
            e_carbon[u] += e * grid;
            e_cost[u] += e * price;
        }
        // The park's electricity is summed in unit order (its import is decided per step).
        for &e in electricity {
            park_electricity += e;
        }
    } else {
        // The park's sums are held in locals through the loop (the same additions in the
        // same order), so the loop does not reload them after each store.
        let mut carbon = summary.carbon;
        let mut cost = summary.cost;
        for (u, ut) in summary.units[..nu].iter_mut().enumerate() {
            ut.throughput_m3 += throughput[u] * dt;
            let e = electricity[u];
            ut.electricity_kwh += e;
            ut.chemicals_kg += chemicals[u];
            ut.carbon.electricity += e * grid;
            ut.carbon.chemicals += chemicals_co2[u];
            ut.carbon.other += other_co2[u];
            ut.cost.electricity += e * price;
            ut.cost.chemicals += chemicals_cost[u];
            ut.cost.water += water_cost[u];
            ut.cost.capital += capital_cost[u];
            ut.product += product[u];
            ut.recirculated_m3 += recirculated[u];
            park_electricity += e;
            carbon.chemicals += chemicals_co2[u];
            carbon.other += other_co2[u];
            cost.chemicals += chemicals_cost[u];
            cost.water += water_cost[u];
            cost.capital += capital_cost[u];
        }
        summary.carbon = carbon;
        summary.cost = cost;
    }
    let units = &mut summary.units[..nu];
    // With the fused pass, one scan over the rare columns decides whether any is non-zero in
    // this step (most parks have no unmet demand, heat user, generator or steam system); only
    // then is each checked (and booked) on its own.
    let quiet = fused_pass && all_zero([unmet, heat, generation, steam, condensate]);
    // Unmet demand in a loop of its own, skipped (with `fused`) in a step without any: it
    // would add `±0·Δt` (Δt is finite) and count no step.
    if !quiet && (!fused_pass || any(unmet, |x| x != 0.0)) {
        for (ut, &x) in units.iter_mut().zip(unmet) {
            ut.unmet_m3 += x * dt;
            if x > 0.0 {
                ut.unmet_steps += 1;
            }
        }
    }
    let no_heat = fused_pass
        && (quiet || !any(heat, |h| h != 0.0))
        && factors.heat_kg_per_kwh.is_finite()
        && factors.heat_price.is_finite()
        && !any(heat_factors, f64::is_infinite)
        && !any(heat_prices, f64::is_infinite);
    if !no_heat {
        let (mut carbon_heat, mut cost_heat) = (summary.carbon.heat, summary.cost.heat);
        for (u, ut) in units.iter_mut().enumerate() {
            let h = heat[u];
            ut.heat_kwh += h;
            let heat_factor = if heat_factors[u].is_nan() {
                factors.heat_kg_per_kwh
            } else {
                heat_factors[u]
            };
            ut.carbon.heat += h * heat_factor;
            let heat_price = if heat_prices[u].is_nan() {
                factors.heat_price
            } else {
                heat_prices[u]
            };
            ut.cost.heat += h * heat_price;
            carbon_heat += h * heat_factor;
            cost_heat += h * heat_price;
        }
        (summary.carbon.heat, summary.cost.heat) = (carbon_heat, cost_heat);
    }
    let park_generation = if quiet {
        0.0
    } else {
        let park_generation =
            add_column(units, generation, fused_pass, |ut| &mut ut.generation_kwh);
        add_column(units, steam, fused_pass, |ut| &mut ut.steam_t);
        add_column(units, condensate, fused_pass, |ut| {
            &mut ut.condensate_returned_t
        });
        park_generation
    };
    // On-site generation offsets grid import hour by hour, never below zero.
    let import = (park_electricity - park_generation).max(0.0);
    summary.grid_import_kwh += import;
    summary.carbon.electricity += import * grid;
    summary.cost.electricity += import * price;
    summary.steps += 1;
}

/// `field(u) += v[u]` for every unit, in unit order; returns `Σ v` (from zero, in unit order).
/// With `skip_zero`, nothing is done and 0 returned when every value is zero (see
/// [`account_units`]: adding zeros changes no total, and a sum of zeros from +0 is +0).
#[inline(always)]
fn add_column(
    units: &mut [UnitTotals],
    v: &[f64],
    skip_zero: bool,
    field: impl Fn(&mut UnitTotals) -> &mut f64,
) -> f64 {
    let mut sum = 0.0;
    if skip_zero && !any(v, |x| x != 0.0) {
        return sum;
    }
    for (ut, &x) in units.iter_mut().zip(v) {
        *field(ut) += x;
        sum += x;
    }
    sum
}

/// Books repeated use in series: for every water-using unit, each incoming link's flow times
/// the 'already used' tracer concentration of the port it comes from.
pub fn book_reuse(
    topo: &Topology,
    species: &Species,
    flows: &Flows,
    quality: &Quality,
    dt_h: f64,
    summary: &mut Summary,
) {
    let Some(t) = species.used_tracer() else {
        return;
    };
    let ns = species.len();
    for u in 0..topo.n_units() {
        if !topo.unit_uses_water[u] {
            continue;
        }
        let mut reused = 0.0;
        for &l in topo.links_into(u) {
            let p = topo.link_from_port[l as usize] as usize;
            reused += flows.link[l as usize] * quality.port[p * ns + t];
        }
        summary.units[u].reused_m3 += reused * dt_h;
    }
}

/// Hourly time series, recorded only when asked.
#[derive(Resource, Clone, Debug, Default)]
pub struct Recorder {
    /// Whether to record.
    pub enabled: bool,
    /// Steps recorded.
    pub steps: usize,
    /// Per step × unit: throughput, m³/h.
    pub unit_throughput: Vec<f64>,
    /// Per step × unit: unmet demand, m³/h.
    pub unit_unmet: Vec<f64>,
    /// Per step × unit: stored volume at the end of the step, m³ (0 for units without storage).
    pub unit_volume: Vec<f64>,
    /// Per step × unit: TDS, mg/L — a source's supply quality, the contents at the end of the
    /// step for a mixed volume, the inlet mix otherwise.
    pub unit_tds: Vec<f64>,
    /// Per step × link: flow, m³/h.
    pub link_flow: Vec<f64>,
    /// Per step × unit × declared species: concentration, mg/L, at the same point as
    /// `unit_tds` (recorded with the series).
    pub unit_conc: Vec<f64>,
    /// Always-on accumulators for KPIs and flow pictures, whether or not series are recorded.
    pub sums: FlowSums,
}

/// Sums over steps of per-step rates, kept for every run (recording or not), from which KPIs
/// and Sankey diagrams are built. Each entry is `Σ_steps rate` (m³/h or g/h): multiply by the
/// step length `dt_h` for volumes (m³) and masses (g). Species are the declared (conserved)
/// ones, in [`Species`] order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowSums {
    /// Steps summed.
    pub steps: usize,
    /// Number of declared species the per-species arrays are laid out for.
    pub species: usize,
    /// Per link: `Σ q·u`, with `q` the link flow and `u` the 'already used' tracer of the port
    /// it leaves (used water carried), m³/h.
    pub link_used: Vec<f64>,
    /// Per link: `Σ leak`, water lost from the link, m³/h.
    pub link_leak: Vec<f64>,
    /// Per link × species: `Σ q·c` carried (leaks excluded), g/h.
    pub link_species: Vec<f64>,
    /// Per unit × exit kind ([`ExitKind::ALL`] order) × species: mass leaving by exit ports,
    /// spill and leaks from the unit's outgoing links, g/h.
    pub exit_species: Vec<f64>,
}

impl FlowSums {
    fn accumulate(&mut self, topo: &Topology, species: &Species, flows: &Flows, quality: &Quality) {
        crate::with_width!(species.conserved, w => self.accumulate_w(w, topo, species, flows, quality))
    }

    /// Sizes the arrays for `nl` links, `nu` units and `nc` declared species (zeros), if they
    /// are not laid out for them yet.
    pub(crate) fn prepare(&mut self, nl: usize, nu: usize, nc: usize) {
        if self.link_used.len() != nl || self.species != nc {
            self.species = nc;
            self.link_used = vec![0.0; nl];
            self.link_leak = vec![0.0; nl];
            self.link_species = vec![0.0; nl * nc];
            self.exit_species = vec![0.0; nu * ExitKind::ALL.len() * nc];
        }
    }

    #[inline(never)]
    fn accumulate_w<W: crate::width::Width>(
        &mut self,
        w: W,
        topo: &Topology,
        species: &Species,
        flows: &Flows,
        quality: &Quality,
    ) {
        let ns = species.len();
        let nc = w.n();
        let (nl, nu, np) = (topo.n_links(), topo.n_units(), topo.n_ports());
        self.prepare(nl, nu, nc);
        let used = species.used_tracer();
        let (link_q, link_leak) = (&flows.link[..nl], &flows.leak[..nl]);
        let (link_port, link_from) = (&topo.link_from_port[..nl], &topo.link_from[..nl]);
        let mut sums = self.slices();
        for l in 0..nl {
            let q = link_q[l];
            let p = link_port[l] as usize;
            let c = &quality.port[p * ns..p * ns + ns];
            let qu = used.map(|t| q * c[t]);
            sums.link(w, l, q, link_leak[l], link_from[l] as usize, qu, c);
        }
        let (port_flow, port_spill) = (&flows.port[..np], &flows.spill[..np]);
        let (port_role, port_unit) = (&topo.port_role[..np], &topo.port_unit[..np]);
        for p in 0..np {
            let c = &quality.port[p * ns..p * ns + nc];
            let u = port_unit[p] as usize;
            sums.port(w, u, port_role[p], port_flow[p], port_spill[p], c);
        }
        self.steps += 1;
    }

    /// The arrays as slices, taken once before a pass (its loop then keeps their addresses in
    /// registers instead of reloading them after every store).
    pub(crate) fn slices(&mut self) -> SumsMut<'_> {
        SumsMut {
            link_used: &mut self.link_used,
            link_leak: &mut self.link_leak,
            link_species: &mut self.link_species,
            exit_species: &mut self.exit_species,
        }
    }
}

/// The per-link and per-unit arrays of [`FlowSums`], as slices for a pass.
pub(crate) struct SumsMut<'a> {
    pub(crate) link_used: &'a mut [f64],
    pub(crate) link_leak: &'a mut [f64],
    pub(crate) link_species: &'a mut [f64],
    pub(crate) exit_species: &'a mut [f64],
}

impl SumsMut<'_> {
    /// Link `l`'s share (flow `q`, leak `leak`, m³/h, from unit `v`, at its port's
    /// concentrations `c`): `Σ q·u` (`qu`, the used water carried, when there is a tracer),
    /// `Σ leak`, `Σ q·c` per species, and a leak's `leak·c` as an exit by leak of `v`.
    #[expect(
        clippy::too_many_arguments,
        reason = "one link's data, taken apart so a fused pass can share its loads"
    )]
    #[inline(always)]
    pub(crate) fn link<W: crate::width::Width>(
        &mut self,
        w: W,
        l: usize,
        q: f64,
        leak: f64,
        v: usize,
        qu: Option<f64>,
        c: &[f64],
    ) {
        if let Some(qu) = qu {
            self.link_used[l] += qu;
        }
        self.link_leak[l] += leak;
        self.link_flow(w, l, q, c);
        self.link_leak_exit(w, v, leak, c);
    }

    /// The flow part of [`SumsMut::link`]: `Σ q·c` per species of link `l`.
    #[inline(always)]
    pub(crate) fn link_flow<W: crate::width::Width>(&mut self, w: W, l: usize, q: f64, c: &[f64]) {
        let nc = w.n();
        add_scaled(&mut self.link_species[l * nc..(l + 1) * nc], q, c);
    }

    /// A leak's `leak·c` as an exit by leak of unit `v` (the leak part of [`SumsMut::link`],
    /// with `Σ leak` apart), when the leak is not zero. Only links add to the exits by leak,
    /// so a pass may run this after all links' flow parts (in link order) with the same sums.
    #[inline(always)]
    pub(crate) fn link_leak_exit<W: crate::width::Width>(
        &mut self,
        w: W,
        v: usize,
        leak: f64,
        c: &[f64],
    ) {
        if leak != 0.0 {
            add_scaled(self.exit_row(w.n(), v, ExitKind::Leak), leak, c);
        }
    }

    /// Port `p`'s share (of unit `u`, with role `role`, flow `q` and spill `spill`, m³/h, at
    /// concentrations `c`): an exit port's `q·c` by its exit kind and the spill's `spill·c`.
    #[inline(always)]
    pub(crate) fn port<W: crate::width::Width>(
        &mut self,
        w: W,
        u: usize,
        role: PortRole,
        q: f64,
        spill: f64,
        c: &[f64],
    ) {
        let nc = w.n();
        if let PortRole::Exit(k) = role
            && q != 0.0
        {
            add_scaled(self.exit_row(nc, u, k), q, c);
        }
        if spill != 0.0 {
            add_scaled(self.exit_row(nc, u, ExitKind::Spill), spill, c);
        }
    }

    /// Unit `u`'s species leaving by exit kind `k` (`nc` species), g/h summed over steps.
    #[inline(always)]
    fn exit_row(&mut self, nc: usize, u: usize, k: ExitKind) -> &mut [f64] {
        let base = (u * ExitKind::ALL.len() + k.index()) * nc;
        &mut self.exit_species[base..base + nc]
    }
}

/// Appends one step to `rec`: the flow sums ([`FlowSums`], always), then the series (when
/// recording, [`record_series`]).
pub fn record_step(
    rec: &mut Recorder,
    topo: &Topology,
    species: &Species,
    flows: &Flows,
    quality: &Quality,
    storage: &Storage,
) {
    rec.sums.accumulate(topo, species, flows, quality);
    record_series(rec, topo, species, flows, quality, storage);
}

/// Appends one step's time series to `rec` when it records (the flow sums are booked apart:
/// by [`record_step`], or by the fused accounting pass of a [`crate::sim::Simulation`]).
pub fn record_series(
    rec: &mut Recorder,
    topo: &Topology,
    species: &Species,
    flows: &Flows,
    quality: &Quality,
    storage: &Storage,
) {
    if !rec.enabled {
        return;
    }
    let ns = species.len();
    rec.steps += 1;
    rec.unit_throughput.extend_from_slice(&flows.throughput);
    rec.unit_unmet.extend_from_slice(&flows.unmet);
    rec.unit_volume
        .extend((0..topo.n_units()).map(|u| match topo.unit_quality[u] {
            crate::network::QualityKind::Mixed => storage.volume_end[u],
            crate::network::QualityKind::Affine => 0.0,
        }));
    rec.unit_tds.extend((0..topo.n_units()).map(|u| {
        if topo.unit_flow[u] == crate::network::FlowKind::Source {
            quality.port[topo.unit_port_start[u] as usize * ns]
        } else {
            match topo.unit_quality[u] {
                crate::network::QualityKind::Mixed => storage.conc_end[u * ns],
                crate::network::QualityKind::Affine => quality.inlet[u * ns],
            }
        }
    }));
    rec.link_flow.extend_from_slice(&flows.link);
    let nc = species.conserved;
    rec.unit_conc.extend((0..topo.n_units()).flat_map(|u| {
        (0..nc).map(move |s| {
            if topo.unit_flow[u] == crate::network::FlowKind::Source {
                quality.port[topo.unit_port_start[u] as usize * ns + s]
            } else {
                match topo.unit_quality[u] {
                    crate::network::QualityKind::Mixed => storage.conc_end[u * ns + s],
                    crate::network::QualityKind::Affine => quality.inlet[u * ns + s],
                }
            }
        })
    }));
}
