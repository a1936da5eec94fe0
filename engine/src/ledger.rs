//! The water and species ledger: `in − out + generated − removed − Δstorage = 0` for every unit,
//! every step, and for the park, with each term computed from its own data.
//!
//! - `in`: sum over the unit's incoming links of flow (× the upstream port's concentration);
//! - `out`: sum over the unit's outgoing links, by port;
//! - `generated`: a source's withdrawal (× its quality); loads added per m³ of throughput;
//! - `removed`: exit ports (evaporation, drift, product, discharge, leak, solids) and spill, each
//!   × its port's concentration, plus mass destroyed by reaction and mass leaving as solids, each
//!   at a fraction of inlet mass;
//! - `Δstorage`: `V1 − V0` and `V1·C1 − V0·C0` of mixed volumes.
//!
//! The park's terms are summed separately: withdrawals, exits and storage changes only (internal
//! links cancel). A residual counts as a violation when `|r| > 1e-9·scale + floor`, where `scale` is
//! the largest term (including the stored amounts) and the floor is 1e-9 m³ of water or 1e-6 g of a
//! species per step; the relative residual reported is `|r| / max(scale, floor/1e-9)`.
//!
//! How a step is booked: the step's terms are struct-of-arrays (entry `u·m + k`, `m` = 1 +
//! declared species) filled by a pass over links ([`book_link`]), one over ports
//! ([`book_port`]) and one over units; in a [`crate::sim::Simulation`] the link and port passes
//! are shared with the rest of the accounting ([`crate::accounting`]), which also books the
//! leaks in a link pass of their own only when a link leaks and takes the unit terms from
//! lists of sources and mixed volumes ([`book_units_listed`]). The judge is then two straight
//! passes over the units, each keeping one register per balance kind (water and up to seven
//! species at once; more in blocks): the first ([`judge_units`]) computes every residual,
//! scale and relative residual and keeps the step's largest relative residual per kind and
//! whether any balance is a violation, writing nothing per balance; the second ([`add_units`])
//! adds the step into the run totals, clears the summed terms so that the next step starts from
//! zeros without a clearing pass, and sums the park's terms. Which unit is the step's worst is
//! needed only when that worst beats the run's worst so far, and diagnostics only in a step
//! with a violation: only then is the step (its terms still booked) scanned again, by the
//! former passes ([`judge_all`], the diagnostics in unit and kind order, [`worst_of_kind`]: the
//! first in unit order among equal relative residuals, a NaN kept once seen). The statistics
//! are the same, bit for bit, as a full scan of every step.
//!
//! The fused pass's judge ([`judge_and_clear_step`]) differs in how it keeps the run totals,
//! not in what it checks: the units' horizon inflow and outflow are not added each step but
//! derived from the links' run sums by [`Ledger::sync`] (`Δt·Σ_{l into u} Σ_t q·c`, the
//! per-step terms reassociated); one pass ([`add_unit_totals`]) adds the generated and
//! removed terms into the totals and sums the park's terms (the storage terms' totals are
//! added where they are assigned), and one ([`judge_and_clear`]) judges every balance, writes
//! its residual and scale and clears the summed terms; the rare rescan reads those residuals
//! and scales. Every unit balance is still judged every step from its own five terms.

use crate::arith::{add_into, add_scaled};
use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::network::{ExitKind, FlowKind, PortRole, QualityKind, Topology};
use crate::record::{FlowSums, Summary};
use crate::state::{Clock, Flows, Quality, Species, Storage, UnitInputs};
use crate::width::Width;
use bevy_ecs::resource::Resource;
use serde::Serialize;

/// Relative tolerance of the closure check.
pub const RELATIVE_TOLERANCE: f64 = 1e-9;
/// Absolute floor for water, m³ per step.
pub const WATER_FLOOR_M3: f64 = 1e-9;
/// Absolute floor for species, g per step.
pub const SPECIES_FLOOR_G: f64 = 1e-6;

/// The five terms of a balance, accumulated over time.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub struct Terms {
    /// Into the unit by links (m³ or g).
    pub inflow: f64,
    /// Out of the unit by links.
    pub outflow: f64,
    /// Generated inside (withdrawal, loads).
    pub generated: f64,
    /// Removed (exits, reaction, spill).
    pub removed: f64,
    /// Change in storage.
    pub storage_change: f64,
}

impl Terms {
    /// `in − out + generated − removed − Δstorage`.
    pub fn residual(&self) -> f64 {
        self.inflow - self.outflow + self.generated - self.removed - self.storage_change
    }
    fn add(&mut self, o: &Terms) {
        self.inflow += o.inflow;
        self.outflow += o.outflow;
        self.generated += o.generated;
        self.removed += o.removed;
        self.storage_change += o.storage_change;
    }
}

/// The run totals of every unit balance, struct of arrays: entry `u·m + k` is unit `u`'s water
/// (`k = 0`) or species `k − 1` balance, `m = 1 +` declared species — the layout of a step's
/// terms, so that one straight loop adds a step into them.
#[derive(Clone, Debug, Default, Serialize)]
struct BalanceTotals {
    inflow: Vec<f64>,
    outflow: Vec<f64>,
    generated: Vec<f64>,
    removed: Vec<f64>,
    storage_change: Vec<f64>,
}

impl BalanceTotals {
    /// `n` balances, all zero.
    fn new(n: usize) -> Self {
        Self {
            inflow: vec![0.0; n],
            outflow: vec![0.0; n],
            generated: vec![0.0; n],
            removed: vec![0.0; n],
            storage_change: vec![0.0; n],
        }
    }

    /// Balance `i`'s terms.
    fn terms(&self, i: usize) -> Terms {
        Terms {
            inflow: self.inflow[i],
            outflow: self.outflow[i],
            generated: self.generated[i],
            removed: self.removed[i],
            storage_change: self.storage_change[i],
        }
    }
}

/// The worst closure seen so far.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Worst {
    /// Largest relative residual.
    pub relative: f64,
    /// Absolute residual at that point (m³ or g).
    pub absolute: f64,
    /// Where (unit id or `"park"`).
    pub item: String,
    /// Step.
    pub step: usize,
}

/// Ledger totals and closure statistics of a run.
#[derive(Resource, Clone, Debug, Serialize)]
pub struct Ledger {
    /// Per unit: water and species terms over the run, m³ and g (read them with
    /// [`Ledger::unit_water`] and [`Ledger::unit_species`]).
    unit_totals: BalanceTotals,
    /// Park water terms, m³.
    pub park_water: Terms,
    /// Park species terms per species, g.
    pub park_species: Vec<Terms>,
    /// Worst water closure.
    pub worst_water: Worst,
    /// Worst closure per species.
    pub worst_species: Vec<Worst>,
    /// Number of unit-steps (and park-steps) whose closure exceeded the tolerance.
    pub violations: u64,
    /// Per species: mass leaving the park by each exit kind ([`ExitKind::ALL`] order), g.
    pub species_by_exit: Vec<[f64; 7]>,
    /// Per species: mass removed by reaction (destroyed) inside units, g.
    pub species_reacted: Vec<f64>,
    /// Per species: mass brought in by sources, g.
    pub species_from_sources: Vec<f64>,
    /// Per species: mass added by process loads, g.
    pub species_loads: Vec<f64>,
    /// Whether the fused pass books this ledger: its units' horizon inflow and outflow are
    /// then derived from run sums by [`Ledger::sync`] instead of added every step.
    #[serde(skip)]
    derived: bool,
    #[serde(skip)]
    step: StepTerms,
}

/// One step's terms of every balance, struct of arrays: entry `u·m + k` is unit `u`'s water
/// (`k = 0`) or species `k − 1` balance, with `m = 1 + conserved species`.
///
/// Between calls of [`book`] the four summed terms are all zero: the judge pass clears each
/// entry after reading it, so no step begins with a clearing pass. The arrays are (re)built,
/// zeroed, when the balance count `n` or the width `m` changes (the first step).
#[derive(Clone, Debug, Default)]
pub(crate) struct StepTerms {
    inflow: Vec<f64>,
    outflow: Vec<f64>,
    generated: Vec<f64>,
    removed: Vec<f64>,
    storage_change: Vec<f64>,
    /// Largest amount stored at either end of the step (part of the scale).
    stored: Vec<f64>,
    /// Per balance: its absolute floor (water or species), m³ or g.
    floor: Vec<f64>,
    /// Per balance: the least denominator of its relative residual, `floor / 1e-9`.
    den_floor: Vec<f64>,
    /// Per balance: this step's residual `r` (written by the judge's rescan, only in a step
    /// with a violation or a new worst).
    residual: Vec<f64>,
    /// Per balance: this step's relative residual `|r| / max(scale, floor/1e-9)` (written by
    /// the judge's rescan, only in a step with a violation or a new worst).
    rel: Vec<f64>,
    /// Per balance: this step's scale (written with the residual by the fused pass's judge,
    /// [`judge_and_clear`], every step; read by its rescan).
    scale: Vec<f64>,
    /// Per balance kind: the step's largest relative residual.
    max_rel: Vec<f64>,
    /// The width `m` the arrays are laid out for.
    m: usize,
    /// The park's balances (water, then species).
    park: Vec<Terms>,
    /// The park's stored amounts per balance kind: the sum over its units of each one's
    /// `max(|start|, |end|)` (m³, g), the scale of the rounding in its storage change.
    park_stored: Vec<f64>,
    /// The step's worst (relative, absolute residual, unit) per balance kind.
    worst: Vec<(f64, f64, usize)>,
}

impl StepTerms {
    /// Sizes the arrays for `n = nu·m` balances. The summed terms are zero already (the judge
    /// clears them); storage terms are assigned, and only for mixed volumes, whose set the
    /// topology fixes, so every other entry stays zero from the first step on.
    fn reset(&mut self, n: usize, m: usize) {
        if self.inflow.len() == n && self.m == m {
            return;
        }
        self.m = m;
        for v in [
            &mut self.inflow,
            &mut self.outflow,
            &mut self.generated,
            &mut self.removed,
            &mut self.storage_change,
            &mut self.stored,
            &mut self.residual,
            &mut self.rel,
            &mut self.scale,
        ] {
            v.clear();
            v.resize(n, 0.0);
        }
        self.max_rel = vec![0.0; m];
        self.floor = (0..n).map(|i| floor_of(i % m.max(1))).collect::<Vec<_>>();
        self.den_floor = self.floor.iter().map(|f| f / RELATIVE_TOLERANCE).collect();
    }

    fn reset_park(&mut self, m: usize) {
        self.park.clear();
        self.park.resize(m, Terms::default());
        self.park_stored.clear();
        self.park_stored.resize(m, 0.0);
        self.worst.clear();
        // A relative residual is never below zero, so the first balance always enters the
        // comparison (and is taken, as it is the first).
        self.worst.resize(m, (f64::NEG_INFINITY, 0.0, usize::MAX));
    }
}

/// The step's link and port terms as slices, taken once before a pass: its loop then keeps
/// the arrays' addresses in registers instead of reloading them after every store.
pub(crate) struct FlowTerms<'a> {
    inflow: &'a mut [f64],
    outflow: &'a mut [f64],
    removed: &'a mut [f64],
}

impl StepTerms {
    /// The terms links and ports add to.
    pub(crate) fn flow_terms(&mut self) -> FlowTerms<'_> {
        FlowTerms {
            inflow: &mut self.inflow,
            outflow: &mut self.outflow,
            removed: &mut self.removed,
        }
    }
}

/// Absolute floor of balance kind `k` (0 water, m³; else a species, g).
fn floor_of(k: usize) -> f64 {
    if k == 0 {
        WATER_FLOOR_M3
    } else {
        SPECIES_FLOOR_G
    }
}

impl Ledger {
    /// Empty ledger for `ns` conserved species.
    pub fn new(topo: &Topology, ns: usize) -> Self {
        Self {
            unit_totals: BalanceTotals::new(topo.n_units() * (ns + 1)),
            park_water: Terms::default(),
            park_species: vec![Terms::default(); ns],
            worst_water: Worst::default(),
            worst_species: vec![Worst::default(); ns],
            violations: 0,
            species_by_exit: vec![[0.0; 7]; ns],
            species_reacted: vec![0.0; ns],
            species_from_sources: vec![0.0; ns],
            species_loads: vec![0.0; ns],
            derived: false,
            step: StepTerms::default(),
        }
    }

    /// Unit `u`'s water terms over the run, m³.
    pub fn unit_water(&self, u: usize) -> Terms {
        self.unit_totals.terms(u * self.balances_per_unit())
    }

    /// Unit `u`'s terms of declared species `s` over the run, g.
    pub fn unit_species(&self, u: usize, s: usize) -> Terms {
        self.unit_totals.terms(u * self.balances_per_unit() + 1 + s)
    }

    /// Every unit's water terms over the run, m³, in unit order.
    pub fn unit_water_all(&self) -> Vec<Terms> {
        let m = self.balances_per_unit();
        (0..self.unit_totals.inflow.len() / m)
            .map(|u| self.unit_totals.terms(u * m))
            .collect()
    }

    /// Every unit's species terms over the run, g: entry `u·n + s` for `n` declared species.
    pub fn unit_species_all(&self) -> Vec<Terms> {
        let m = self.balances_per_unit();
        (0..self.unit_totals.inflow.len())
            .filter(|i| i % m != 0)
            .map(|i| self.unit_totals.terms(i))
            .collect()
    }

    /// The run's worst closure of balance kind `k` (0 water, else declared species `k − 1`).
    fn worst_of(&mut self, k: usize) -> &mut Worst {
        if k == 0 {
            &mut self.worst_water
        } else {
            &mut self.worst_species[k - 1]
        }
    }

    /// Balances per unit: water and each declared species.
    fn balances_per_unit(&self) -> usize {
        1 + self.park_species.len()
    }

    /// Writes the units' horizon inflow and outflow of a ledger the fused pass books
    /// ([`crate::accounting`]) from run sums kept anyway, instead of adding each step's terms:
    /// per unit `u` and species `s` (`Σ_t` over the steps so far, `Δt` constant), inflow
    /// `Δt·Σ_{l into u} Σ_t q_l` m³ and `Δt·Σ_{l into u} Σ_t q_l·c_l,s` g, from the links'
    /// `Σ q` (the summary's run columns, kept for the links' volumes) and `Σ q·c`
    /// ([`FlowSums::link_species`]); outflow the same over the links out of `u`.
    ///
    /// These are the per-step terms `Σ_t Σ_l (q·Δt)·c` reassociated (`Σ_t Σ_l = Σ_l Σ_t`,
    /// `Σ_t (q·Δt)·c = Δt·Σ_t q·c`): the same quantities; the last bits may differ from a
    /// ledger that adds them every step. They come from the link flows and port
    /// concentrations, like the step terms, not from the solver's unit balances, so the
    /// horizon closure `in − out + generated − removed − Δstorage = 0` of each unit stays a
    /// check that can fail. Both are written, not added to, so the result does not depend on
    /// how often this runs. Does nothing for a ledger the separate pass ([`book_step`]) books,
    /// or when the sums are not laid out for the topology.
    /// [`crate::sim::Simulation::sync_summary`] calls it.
    pub fn sync(&mut self, topo: &Topology, summary: &Summary, sums: &FlowSums, dt: f64) {
        let m = self.balances_per_unit();
        let (nc, nu, nl) = (m - 1, topo.n_units(), topo.n_links());
        let flow = &summary.columns.link_flow;
        let laid_out = flow.len() == nl
            && sums.link_species.len() == nl * nc
            && self.unit_totals.inflow.len() == nu * m;
        if !self.derived || !laid_out {
            return;
        }
        let t = &mut self.unit_totals;
        let (inflow, outflow) = (&mut t.inflow[..nu * m], &mut t.outflow[..nu * m]);
        let links = [&topo.link_from[..nl], &topo.link_to[..nl]];
        let species = &sums.link_species[..nl * nc];
        crate::with_width!(nc, w => {
            derive_link_terms(w, links, &flow[..nl], species, dt, inflow, outflow)
        });
    }

    /// Largest relative residual over water and every species.
    pub fn max_relative_residual(&self) -> f64 {
        self.worst_species
            .iter()
            .map(|w| w.relative)
            .fold(self.worst_water.relative, f64::max)
    }
}

/// The units' run inflow and outflow of [`Ledger::sync`], `m = nc + 1` terms per unit (water,
/// then the declared species): zeroed, then per link `l` from `v` to `u` its `Σ q` and `Σ q·c`
/// (`c` its `nc` species) added into `u`'s inflow and `v`'s outflow in link order, then every
/// term multiplied by `dt`. Instantiated per species count, so each link's terms are a
/// fixed-width add (as an unsized slice add this cost ~230 k instructions per call on the
/// 499-unit park, paid after every observed step).
fn derive_link_terms<W: Width>(
    w: W,
    [from, to]: [&[u32]; 2],
    flow: &[f64],
    species: &[f64],
    dt: f64,
    inflow: &mut [f64],
    outflow: &mut [f64],
) {
    let nc = w.n();
    let m = nc + 1;
    inflow.fill(0.0);
    outflow.fill(0.0);
    let add = |dst: &mut [f64], q: f64, c: &[f64]| {
        dst[0] += q;
        for s in 0..nc {
            dst[1 + s] += c[s];
        }
    };
    for (l, (&v, &u)) in from.iter().zip(to).enumerate() {
        let c = &species[l * nc..l * nc + nc];
        let (u, v) = (u as usize * m, v as usize * m);
        add(&mut inflow[u..u + m], flow[l], c);
        add(&mut outflow[v..v + m], flow[l], c);
    }
    for x in inflow.iter_mut() {
        *x *= dt;
    }
    for x in outflow.iter_mut() {
        *x *= dt;
    }
}

fn judge(t: &Terms, extra_scale: f64, floor: f64) -> (f64, f64, bool) {
    let r = t.residual();
    let scale = t
        .inflow
        .abs()
        .max(t.outflow.abs())
        .max(t.generated.abs())
        .max(t.removed.abs())
        .max(t.storage_change.abs())
        .max(extra_scale);
    let rel = r.abs() / scale.max(floor / RELATIVE_TOLERANCE);
    (r, rel, violates(r, scale, floor))
}

/// The closure verdict on a residual `r` of scale `scale` with absolute floor `floor`: a
/// violation when `|r| > 1e-9·scale + floor` or `r` is not finite (combined with `|`, so a
/// pass of verdicts stays branch-free).
#[inline(always)]
fn violates(r: f64, scale: f64, floor: f64) -> bool {
    (r.abs() > RELATIVE_TOLERANCE * scale + floor) | !r.is_finite()
}

/// `max(a, b)` for numbers that are not NaN: one comparison, written as the processor's own
/// maximum instruction computes it (`a > b ? a : b`), so that a loop of them vectorises. For a
/// NaN, or for `+0` and `−0`, it may differ from `f64::max`; neither changes a verdict or a
/// relative residual here (see [`residual_and_scale`]).
#[inline(always)]
fn fast_max(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

/// One balance's residual `r = in − out + generated − removed − Δstorage` and its scale, the
/// largest of the terms' magnitudes and `stored` (the amount stored at either end of the step).
/// The maximum is [`fast_max`]: a NaN among the terms or `stored` (which is NaN only if the
/// storage change is) makes the residual NaN, and then the verdict (a violation) and the
/// relative residual (NaN) do not depend on the scale; the sign of a zero scale changes
/// neither `max(scale, floor/1e-9)` nor `1e-9·scale + floor`.
#[inline(always)]
fn residual_and_scale(a: f64, b: f64, g: f64, x: f64, d: f64, stored: f64) -> (f64, f64) {
    let r = a - b + g - x - d;
    let scale = fast_max(
        fast_max(fast_max(a.abs(), b.abs()), fast_max(g.abs(), x.abs())),
        fast_max(d.abs(), stored),
    );
    (r, scale)
}

/// Checks and books one step.
///
/// One pass over links (inflow to the receiving unit, outflow and leaks from the sending one),
/// one over ports (exits and spills), one over units (withdrawals, loads, reaction, solids,
/// storage), then every balance is judged from its own five terms. The park's balance is summed
/// from withdrawals, exits and storage changes only. The passes are instantiated per species
/// count ([`crate::width`]).
#[expect(
    clippy::too_many_arguments,
    reason = "the ledger reads every part of the step state"
)]
pub fn book_step(
    ledger: &mut Ledger,
    topo: &Topology,
    species: &Species,
    inputs: &UnitInputs,
    flows: &Flows,
    quality: &Quality,
    storage: &Storage,
    clock: &Clock,
    diag: &mut Diagnostics,
) {
    debug_assert_eq!(species.len(), species.conserved + 1, "one tracer");
    crate::with_width!(species.conserved, w => book(
        w, ledger, topo, species, inputs, flows, quality, storage, clock, diag
    ))
}

#[expect(
    clippy::too_many_arguments,
    reason = "the ledger reads every part of the step state"
)]
#[inline(never)]
fn book<W: Width>(
    w: W,
    ledger: &mut Ledger,
    topo: &Topology,
    species: &Species,
    inputs: &UnitInputs,
    flows: &Flows,
    quality: &Quality,
    storage: &Storage,
    clock: &Clock,
    diag: &mut Diagnostics,
) {
    let nc = w.n();
    let ns = species.len();
    let (nl, np) = (topo.n_links(), topo.n_ports());
    let dt = clock.dt_h;
    let mut t = ledger.begin_step(topo.n_units(), nc + 1);
    let mut terms = t.flow_terms();
    let by_exit = &mut ledger.species_by_exit[..nc];
    let (link_q, link_leak) = (&flows.link[..nl], &flows.leak[..nl]);
    let (link_from, link_to) = (&topo.link_from[..nl], &topo.link_to[..nl]);
    let link_port = &topo.link_from_port[..nl];
    for l in 0..nl {
        let p = link_port[l] as usize;
        let c = &quality.port[p * ns..p * ns + nc];
        let (v, u) = (link_from[l] as usize, link_to[l] as usize);
        book_link(w, &mut terms, by_exit, link_q[l], link_leak[l], dt, v, u, c);
    }
    let (port_flow, port_spill) = (&flows.port[..np], &flows.spill[..np]);
    let (port_role, port_unit) = (&topo.port_role[..np], &topo.port_unit[..np]);
    for p in 0..np {
        let c = &quality.port[p * ns..p * ns + nc];
        let u = port_unit[p] as usize;
        book_port(
            w,
            &mut terms,
            by_exit,
            port_role[p],
            port_flow[p],
            port_spill[p],
            dt,
            u,
            c,
        );
    }
    finish_step(
        w, ledger, t, topo, species, inputs, flows, quality, storage, clock, diag,
    );
}

impl Ledger {
    /// The step's terms, sized for `nu` units of `m` balances each, summed terms zero: fill
    /// them with [`book_link`] and [`book_port`], then hand them to [`finish_step`].
    pub(crate) fn begin_step(&mut self, nu: usize, m: usize) -> StepTerms {
        let mut t = std::mem::take(&mut self.step);
        t.reset(nu * m, m);
        t
    }
}

/// The ledger's share of link `l` (flow `q` and leak `leak`, m³/h, over `dt` h, from unit `v`
/// to unit `u`, at its port's concentrations `c`, g/m³): `q·dt` (× `c`) into `u` and out of
/// `v`; the leak `leak·dt` (× `c`) removed from `v` and booked as an exit by leak. A link
/// that moves nothing is skipped. Every accumulator sees these operations in link order.
#[expect(
    clippy::too_many_arguments,
    reason = "one link's data, taken apart so a fused pass can share its loads"
)]
#[inline(always)]
pub(crate) fn book_link<W: Width>(
    w: W,
    t: &mut FlowTerms,
    by_exit: &mut [[f64; 7]],
    q: f64,
    leak: f64,
    dt: f64,
    v: usize,
    u: usize,
    c: &[f64],
) {
    if book_link_flow(w, t, q, leak, dt, v, u, c) {
        book_link_leak(w, t, by_exit, leak, dt, v, c);
    }
}

/// The flow part of [`book_link`]: `q·dt` (× `c`) into `u` and out of `v`, unless the link
/// moves nothing (`q·dt = 0` and `leak·dt = 0`). Returns whether it booked.
#[expect(
    clippy::too_many_arguments,
    reason = "one link's data, taken apart so a fused pass can share its loads"
)]
#[inline(always)]
pub(crate) fn book_link_flow<W: Width>(
    w: W,
    t: &mut FlowTerms,
    q: f64,
    leak: f64,
    dt: f64,
    v: usize,
    u: usize,
    c: &[f64],
) -> bool {
    let q = q * dt;
    let leak = leak * dt;
    if q == 0.0 && leak == 0.0 {
        return false;
    }
    add_link_flow(w, t, q, v, u, c);
    true
}

/// The booking of [`book_link_flow`] without its test: `a` m³ (× `c`) into `u` and out of
/// `v`. The fused pass calls it for the links it listed as moving (flow or leak not ±0):
/// those the test would skip there (`q·Δt` and `leak·Δt` both 0 though one of `q`, `leak` is
/// not: an underflow) add `±0`, which changes no term (a term is −0 only if all it received
/// are −0), unless a concentration is not finite, which the judge reports either way.
#[inline(always)]
pub(crate) fn add_link_flow<W: Width>(
    w: W,
    t: &mut FlowTerms,
    a: f64,
    v: usize,
    u: usize,
    c: &[f64],
) {
    let nc = w.n();
    let m = nc + 1;
    let c = &c[..nc];
    add_amount(&mut t.inflow[u * m..u * m + m], a, c);
    add_amount(&mut t.outflow[v * m..v * m + m], a, c);
}

/// The leak part of [`book_link`]: `leak·dt` (× `c`) removed from `v` and booked as an exit by
/// leak, when it is not zero. The removed terms and the exits by leak receive nothing from the
/// flow part, so a pass may run this after all links' flow parts (still in link order) and
/// give the same sums; a step without leaks skips it.
#[inline(always)]
pub(crate) fn book_link_leak<W: Width>(
    w: W,
    t: &mut FlowTerms,
    by_exit: &mut [[f64; 7]],
    leak: f64,
    dt: f64,
    v: usize,
    c: &[f64],
) {
    let nc = w.n();
    let m = nc + 1;
    let leak = leak * dt;
    if leak != 0.0 {
        let c = &c[..nc];
        add_amount(&mut t.removed[v * m..v * m + m], leak, c);
        add_by_exit(&mut by_exit[..nc], ExitKind::Leak, leak, c);
    }
}

/// One balance entry's share of an amount of water `a` (m³) at concentrations `c` (g/m³):
/// `a` to its water term, `a·c` to each species term (`dst` is `[water, species…]`).
#[inline(always)]
fn add_amount(dst: &mut [f64], a: f64, c: &[f64]) {
    dst[0] += a;
    add_scaled(&mut dst[1..], a, c);
}

/// The park's species leaving by exit kind `k`: `a·c` per species, g.
#[inline(always)]
fn add_by_exit(by_exit: &mut [[f64; 7]], k: ExitKind, a: f64, c: &[f64]) {
    for (row, &cs) in by_exit.iter_mut().zip(c) {
        row[k.index()] += a * cs;
    }
}

/// The ledger's share of port `p` of unit `u` (flow `q` and spill `spill`, m³/h, over `dt`
/// h, at concentrations `c`): an exit port's `q·dt` and the spill `spill·dt` (× `c`) are
/// removed from `u` and booked by exit kind. A port that removes nothing is skipped.
#[expect(
    clippy::too_many_arguments,
    reason = "one port's data, taken apart so a fused pass can share its loads"
)]
#[inline(always)]
pub(crate) fn book_port<W: Width>(
    w: W,
    t: &mut FlowTerms,
    by_exit: &mut [[f64; 7]],
    role: PortRole,
    q: f64,
    spill: f64,
    dt: f64,
    u: usize,
    c: &[f64],
) {
    let nc = w.n();
    let m = nc + 1;
    let exit = match role {
        PortRole::Exit(_) => q * dt,
        _ => 0.0,
    };
    let spill = spill * dt;
    if exit == 0.0 && spill == 0.0 {
        return;
    }
    let c = &c[..nc];
    let by_exit = &mut by_exit[..nc];
    add_amount(&mut t.removed[u * m..u * m + m], exit + spill, c);
    if let PortRole::Exit(k) = role
        && exit != 0.0
    {
        add_by_exit(by_exit, k, exit, c);
    }
    if spill != 0.0 {
        add_by_exit(by_exit, ExitKind::Spill, spill, c);
    }
}

/// The per-unit terms of [`finish_step`] (withdrawals, loads, reaction, solids, storage) for a
/// pass that has the topology's `sources` and `mixed` volumes listed (ascending): a source's
/// withdrawal `x = throughput·Δt` into its water term; per unit with throughput, per species,
/// the load `g·x` (into generated, and the park's from-sources or loads), reaction
/// `f_r·x·c_in` and solids `f_s·x·c_in` (into removed, the park's reacted and exits by
/// solids); per mixed volume its storage change `V1 − V0`, `V1·C1 − V0·C0` and stored amount.
/// The same operations as [`finish_step`]'s unit loop: every accumulator that more than one
/// unit adds to (the park's) still receives its terms in unit order, and the water terms of
/// sources and the storage terms receive one term each. `ns` is the species stride (all
/// species, tracers included); called with a constant for the usual one-tracer layout.
///
/// The storage terms are assigned, and only here, so their run totals are added here (for
/// the listed mixed volumes only: every other unit's storage terms stay zero); the generated
/// and removed totals are added by [`add_unit_totals`].
#[expect(
    clippy::too_many_arguments,
    reason = "the ledger reads every part of the step state"
)]
#[inline(always)]
pub(crate) fn book_units_listed<W: Width>(
    w: W,
    ns: usize,
    ledger: &mut Ledger,
    t: &mut StepTerms,
    topo: &Topology,
    inputs: &UnitInputs,
    flows: &Flows,
    quality: &Quality,
    storage: &Storage,
    dt: f64,
    sources: &[u32],
    mixed: &[u32],
) {
    let nc = w.n();
    let m = nc + 1;
    let nu = topo.n_units();
    let StepTerms {
        generated,
        removed,
        storage_change,
        stored,
        ..
    } = t;
    let (generated, removed) = (&mut generated[..nu * m], &mut removed[..nu * m]);
    let throughput = &flows.throughput[..nu];
    let unit_flow = &topo.unit_flow[..nu];
    let gen_all = &inputs.generated_g_per_m3[..nu * ns];
    let rem_all = &inputs.removed_fraction[..nu * ns];
    let sol_all = &inputs.solids_fraction[..nu * ns];
    let inlet_all = &quality.inlet[..nu * ns];
    let reacted = &mut ledger.species_reacted[..nc];
    let by_exit = &mut ledger.species_by_exit[..nc];
    let from_sources = &mut ledger.species_from_sources[..nc];
    let loads = &mut ledger.species_loads[..nc];
    for &u in sources {
        let u = u as usize;
        generated[u * m] += throughput[u] * dt;
    }
    for u in 0..nu {
        let x = throughput[u] * dt;
        if x == 0.0 {
            continue;
        }
        let park = if unit_flow[u] == FlowKind::Source {
            &mut *from_sources
        } else {
            &mut *loads
        };
        let i = u * m;
        species_terms(
            x,
            &gen_all[u * ns..u * ns + nc],
            &rem_all[u * ns..u * ns + nc],
            &sol_all[u * ns..u * ns + nc],
            &inlet_all[u * ns..u * ns + nc],
            &mut generated[i + 1..i + 1 + nc],
            &mut removed[i + 1..i + 1 + nc],
            reacted,
            by_exit,
            park,
        );
    }
    let (storage_change, stored) = (&mut storage_change[..nu * m], &mut stored[..nu * m]);
    let total_storage = &mut ledger.unit_totals.storage_change[..nu * m];
    let (volume, volume_end) = (&storage.volume[..nu], &storage.volume_end[..nu]);
    let (conc, conc_end) = (&storage.conc[..nu * ns], &storage.conc_end[..nu * ns]);
    for &u in mixed {
        let u = u as usize;
        let i = u * m;
        let (ds, st) = (&mut storage_change[i..i + m], &mut stored[i..i + m]);
        storage_terms(
            volume[u],
            volume_end[u],
            &conc[u * ns..u * ns + nc],
            &conc_end[u * ns..u * ns + nc],
            ds,
            st,
        );
        // The storage terms are assigned, and only here: their run totals are added here
        // (the judge adds the generated and removed ones).
        add_into(&mut total_storage[i..i + m], ds);
    }
}

/// One unit's species terms for `x` m³ through it in the step, per species `s`: the load
/// `g_s·x` into `gen_u` and the park's `park` (from sources, or loads), reaction
/// `r = f_r,s·x·c_in,s` and solids `f_s,s·x·c_in,s` into `rem_u`, the reaction into the park's
/// `reacted` and the solids into its exits by solids (g). One helper for the fused pass and
/// the reference [`finish_step`], so both do the same operations in the same order.
#[expect(
    clippy::too_many_arguments,
    reason = "one unit's inputs and the accumulators they feed, taken apart for both passes"
)]
#[inline(always)]
fn species_terms(
    x: f64,
    gen_in: &[f64],
    rem_in: &[f64],
    sol_in: &[f64],
    inlet: &[f64],
    gen_u: &mut [f64],
    rem_u: &mut [f64],
    reacted: &mut [f64],
    by_exit: &mut [[f64; 7]],
    park: &mut [f64],
) {
    let nc = gen_u.len();
    let solids_exit = ExitKind::Solids.index();
    let (gen_in, rem_in, sol_in, inlet) =
        (&gen_in[..nc], &rem_in[..nc], &sol_in[..nc], &inlet[..nc]);
    let (rem_u, reacted, by_exit, park) = (
        &mut rem_u[..nc],
        &mut reacted[..nc],
        &mut by_exit[..nc],
        &mut park[..nc],
    );
    for s in 0..nc {
        let g = gen_in[s] * x;
        let inlet_mass = x * inlet[s];
        let r = rem_in[s] * inlet_mass;
        let solids = sol_in[s] * inlet_mass;
        gen_u[s] += g;
        rem_u[s] += r + solids;
        reacted[s] += r;
        by_exit[s][solids_exit] += solids;
        park[s] += g;
    }
}

/// A mixed volume's storage terms from its volume `v0 → v1` (m³) and concentrations `c0 → c1`
/// (g/m³): into `ds` (`[water, species…]`) the change `V1 − V0`, `V1·C1 − V0·C0`, and into `st`
/// the stored amount `max(V0, V1)`, `max(|V0·C0|, |V1·C1|)`. Shared by the fused pass and
/// the reference [`finish_step`].
#[inline(always)]
fn storage_terms(v0: f64, v1: f64, c0: &[f64], c1: &[f64], ds: &mut [f64], st: &mut [f64]) {
    ds[0] = v1 - v0;
    st[0] = v0.max(v1);
    let (ds, st) = (&mut ds[1..], &mut st[1..]);
    let nc = ds.len();
    let (c0, c1, st) = (&c0[..nc], &c1[..nc], &mut st[..nc]);
    for s in 0..nc {
        let m0 = v0 * c0[s];
        let m1 = v1 * c1[s];
        ds[s] = m1 - m0;
        st[s] = m0.abs().max(m1.abs());
    }
}

/// Completes the step begun by [`Ledger::begin_step`] once every link and port is booked:
/// the per-unit terms (withdrawals, loads, reaction, solids, storage), then the judge of
/// every balance and of the park's.
#[expect(
    clippy::too_many_arguments,
    reason = "the ledger reads every part of the step state"
)]
#[inline(always)]
pub(crate) fn finish_step<W: Width>(
    w: W,
    ledger: &mut Ledger,
    mut t: StepTerms,
    topo: &Topology,
    species: &Species,
    inputs: &UnitInputs,
    flows: &Flows,
    quality: &Quality,
    storage: &Storage,
    clock: &Clock,
    diag: &mut Diagnostics,
) {
    let nc = w.n();
    let ns = species.len();
    let m = nc + 1;
    let nu = topo.n_units();
    let dt = clock.dt_h;
    let StepTerms {
        generated,
        removed,
        storage_change,
        stored,
        ..
    } = &mut t;
    // Units: withdrawals, loads, reaction, solids, storage.
    for u in 0..nu {
        let x = flows.throughput[u] * dt;
        let i = u * m;
        let is_source = topo.unit_flow[u] == FlowKind::Source;
        if is_source {
            generated[i] += x;
        }
        if x != 0.0 {
            let park = if is_source {
                &mut ledger.species_from_sources[..]
            } else {
                &mut ledger.species_loads[..]
            };
            species_terms(
                x,
                &inputs.generated_g_per_m3[u * ns..u * ns + nc],
                &inputs.removed_fraction[u * ns..u * ns + nc],
                &inputs.solids_fraction[u * ns..u * ns + nc],
                &quality.inlet[u * ns..u * ns + nc],
                &mut generated[i + 1..i + 1 + nc],
                &mut removed[i + 1..i + 1 + nc],
                &mut ledger.species_reacted,
                &mut ledger.species_by_exit,
                park,
            );
        }
        if topo.unit_quality[u] == QualityKind::Mixed {
            storage_terms(
                storage.volume[u],
                storage.volume_end[u],
                &storage.conc[u * ns..u * ns + nc],
                &storage.conc_end[u * ns..u * ns + nc],
                &mut storage_change[i..i + 1 + nc],
                &mut stored[i..i + 1 + nc],
            );
        }
    }
    judge_step(w, ledger, t, topo, species, clock, diag);
}

/// The judge of a step whose every term is booked: each balance's residual, relative residual
/// and verdict, the park's terms and the step's worst per kind, the run totals, and the
/// closure diagnostics (see the module docs).
#[inline(always)]
pub(crate) fn judge_step<W: Width>(
    w: W,
    ledger: &mut Ledger,
    mut t: StepTerms,
    topo: &Topology,
    species: &Species,
    clock: &Clock,
    diag: &mut Diagnostics,
) {
    let nc = w.n();
    let m = nc + 1;
    let nu = topo.n_units();
    let step = clock.step;
    // Judge every balance in two straight passes over the units (see `judge_units` and
    // `add_units`): the first computes every residual, scale and relative residual and keeps,
    // per balance kind, the step's largest relative residual and whether any balance is a
    // violation; the second adds the step into the run totals, clears the summed terms for the
    // next step and sums the park's terms. The unit and kind of the step's worst are needed
    // only when it beats the run's worst so far (otherwise `note` would keep the old one), and
    // diagnostics only in a step with a violation: then, and only then, the terms (still
    // booked) are scanned again by `judge_all`, the diagnostics pass in unit and kind order and
    // `worst_of_kind`, which give exactly the unit, residual and NaN handling of a full scan.
    t.reset_park(m);
    let (mut park_v, mut worst_v) = (std::mem::take(&mut t.park), std::mem::take(&mut t.worst));
    let mut park_stored = std::mem::take(&mut t.park_stored);
    let n = nu * m;
    let StepTerms {
        inflow,
        outflow,
        generated,
        removed,
        storage_change,
        stored,
        floor,
        den_floor,
        rel,
        residual,
        max_rel,
        ..
    } = &mut t;
    let (inflow, outflow, generated) = (&mut inflow[..n], &mut outflow[..n], &mut generated[..n]);
    let (removed, storage_change, stored) = (&mut removed[..n], &storage_change[..n], &stored[..n]);
    let any_bad = judge_units(
        w,
        inflow,
        outflow,
        generated,
        removed,
        storage_change,
        stored,
        max_rel,
    );
    // `max_rel` holds no NaN in a step without violation (a NaN residual is one), so a plain
    // comparison decides whether the step's worst of kind `k` can replace the run's.
    let new_worst = (0..m).any(|k| max_rel[k] > ledger.worst_of(k).relative);
    if any_bad || new_worst {
        let any_bad = judge_all(
            inflow,
            outflow,
            generated,
            removed,
            storage_change,
            stored,
            &floor[..n],
            &den_floor[..n],
            &mut residual[..n],
            &mut rel[..n],
        );
        if any_bad {
            diagnose(m, ledger, topo, species, step, diag, floor, |i| {
                residual_and_scale(
                    inflow[i],
                    outflow[i],
                    generated[i],
                    removed[i],
                    storage_change[i],
                    stored[i],
                )
            });
        }
        for (k, slot) in worst_v.iter_mut().enumerate() {
            *slot = worst_of_kind(k, m, &residual[..n], &rel[..n]);
        }
    }
    let totals = &mut ledger.unit_totals;
    add_units(
        w,
        &mut totals.inflow[..n],
        &mut totals.outflow[..n],
        &mut totals.generated[..n],
        &mut totals.removed[..n],
        &mut totals.storage_change[..n],
        inflow,
        outflow,
        generated,
        removed,
        storage_change,
        stored,
        &mut park_v[..m],
        &mut park_stored[..m],
    );
    t.park = park_v;
    t.park_stored = park_stored;
    t.worst = worst_v;
    close_step(ledger, t, topo, species, step, diag);
}

/// The judge of a step the fused pass booked ([`crate::accounting`]): the same verdicts,
/// worsts, diagnostics and park terms as [`judge_step`], in two passes over the units: the
/// first ([`add_unit_totals`]) adds the generated and removed terms into the unit totals and
/// sums the park's terms (inflow and outflow are not added: [`Ledger::sync`] derives them
/// from the links' run sums; the storage totals were added by [`book_units_listed`]); the
/// second ([`judge_and_clear`]) judges every balance, writes its residual and scale and
/// clears the four summed terms. Only in a step with a violation or a new worst are the
/// residuals and scales read again: the relative residuals, the diagnostics in unit and kind
/// order and [`worst_of_kind`], exactly as [`judge_step`]'s rescan computes them from the
/// terms (the residual and scale are the same operations on the same values).
#[inline(always)]
pub(crate) fn judge_and_clear_step<W: Width>(
    w: W,
    ledger: &mut Ledger,
    mut t: StepTerms,
    topo: &Topology,
    species: &Species,
    clock: &Clock,
    diag: &mut Diagnostics,
) {
    let m = w.n() + 1;
    let n = topo.n_units() * m;
    let step = clock.step;
    // This judge adds no inflow or outflow into the run totals: `Ledger::sync` derives them.
    ledger.derived = true;
    t.reset_park(m);
    let StepTerms {
        inflow,
        outflow,
        generated,
        removed,
        storage_change,
        stored,
        floor,
        den_floor,
        rel,
        residual,
        scale,
        max_rel,
        park,
        park_stored,
        worst,
        ..
    } = &mut t;
    let (residual, scale) = (&mut residual[..n], &mut scale[..n]);
    let totals = &mut ledger.unit_totals;
    add_unit_totals(
        w,
        &mut totals.generated[..n],
        &mut totals.removed[..n],
        &generated[..n],
        &removed[..n],
        &storage_change[..n],
        &stored[..n],
        park,
        park_stored,
    );
    let any_bad = judge_and_clear(
        w,
        &mut inflow[..n],
        &mut outflow[..n],
        &mut generated[..n],
        &mut removed[..n],
        &storage_change[..n],
        &stored[..n],
        residual,
        scale,
        max_rel,
    );
    // As in `judge_step`: no NaN in `max_rel` without a violation.
    let new_worst = (0..m).any(|k| max_rel[k] > ledger.worst_of(k).relative);
    if any_bad || new_worst {
        let (residual, scale) = (&residual[..n], &scale[..n]);
        if any_bad {
            diagnose(m, ledger, topo, species, step, diag, floor, |i| {
                (residual[i], scale[i])
            });
        }
        let rel = &mut rel[..n];
        let balances = residual.iter().zip(scale).zip(&den_floor[..n]);
        for (rel, ((r, scale), den)) in rel.iter_mut().zip(balances) {
            *rel = r.abs() / fast_max(*scale, *den);
        }
        for (k, slot) in worst.iter_mut().enumerate() {
            *slot = worst_of_kind(k, m, residual, rel);
        }
    }
    close_step(ledger, t, topo, species, step, diag);
}

/// The end of a judged step, shared by both judges: notes the step's worst unit balance per
/// kind (when the judge found one: only in a step with a new worst or a violation), judges the
/// park's balance of each kind from its terms and stored amounts, adds the park's terms into
/// its run totals, and keeps the step's arrays for the next step.
fn close_step(
    ledger: &mut Ledger,
    t: StepTerms,
    topo: &Topology,
    species: &Species,
    step: usize,
    diag: &mut Diagnostics,
) {
    for (k, &(rel, r, u)) in t.worst.iter().enumerate() {
        if u == usize::MAX {
            continue;
        }
        note(ledger.worst_of(k), rel, r, &topo.unit_id[u], step);
    }
    for (k, terms) in t.park.iter().enumerate() {
        let floor = floor_of(k);
        // The park's storage change sums its units' `V1·C1 − V0·C0`, each rounded at the
        // scale of what the unit stores, so the stored amounts scale the park's judge as they
        // scale each unit's.
        let (r, rel, bad) = judge(terms, t.park_stored[k], floor);
        note(ledger.worst_of(k), rel, r, "park", step);
        if bad {
            ledger.violations += 1;
            diag.push(DiagnosticKind::ClosureViolation, step, None, || {
                if k == 0 {
                    format!("park water balance off by {r:.3e} m³")
                } else {
                    format!("park {} balance off by {r:.3e} g", species.names[k - 1])
                }
            });
        }
        if k == 0 {
            ledger.park_water.add(terms);
        } else {
            ledger.park_species[k - 1].add(terms);
        }
    }
    ledger.step = t;
}

/// Every balance's residual `r` (into `residual`) and relative residual
/// `|r| / max(scale, floor/1e-9)` (into `rel`), from its five terms and stored amount; returns
/// whether any is a violation (`|r| > 1e-9·scale + floor`, or `r` not finite). Straight
/// arithmetic over equal-length arrays, which the compiler vectorises; each array is an
/// argument of its own so it knows they do not overlap.
#[expect(
    clippy::too_many_arguments,
    reason = "each array is an argument so the compiler knows they do not overlap"
)]
#[inline(never)]
fn judge_all(
    inflow: &[f64],
    outflow: &[f64],
    generated: &[f64],
    removed: &[f64],
    storage_change: &[f64],
    stored: &[f64],
    floor: &[f64],
    den_floor: &[f64],
    residual: &mut [f64],
    rel: &mut [f64],
) -> bool {
    let n = rel.len();
    let (inflow, outflow, generated) = (&inflow[..n], &outflow[..n], &generated[..n]);
    let (removed, storage_change, stored) = (&removed[..n], &storage_change[..n], &stored[..n]);
    let (floor, den_floor, residual) = (&floor[..n], &den_floor[..n], &mut residual[..n]);
    let mut any_bad = false;
    for i in 0..n {
        let (r, scale) = residual_and_scale(
            inflow[i],
            outflow[i],
            generated[i],
            removed[i],
            storage_change[i],
            stored[i],
        );
        residual[i] = r;
        rel[i] = r.abs() / fast_max(scale, den_floor[i]);
        any_bad |= violates(r, scale, floor[i]);
    }
    any_bad
}

/// The closure diagnostics of a step with a violation: every balance whose residual breaks the
/// tolerance (`|r| > 1e-9·scale + floor`, or `r` not finite) is counted and reported, in unit
/// and kind order; `balance(i)` gives balance `i`'s residual and scale.
#[expect(
    clippy::too_many_arguments,
    reason = "the ledger, the step's place and the diagnostics it reports to"
)]
#[cold]
#[inline(never)]
fn diagnose(
    m: usize,
    ledger: &mut Ledger,
    topo: &Topology,
    species: &Species,
    step: usize,
    diag: &mut Diagnostics,
    floor: &[f64],
    balance: impl Fn(usize) -> (f64, f64),
) {
    for u in 0..topo.n_units() {
        for k in 0..m {
            let i = u * m + k;
            let (r, scale) = balance(i);
            if violates(r, scale, floor[i]) {
                ledger.violations += 1;
                diag.push(
                    DiagnosticKind::ClosureViolation,
                    step,
                    Some(&topo.unit_id[u]),
                    || {
                        if k == 0 {
                            format!("water balance of {} off by {r:.3e} m³", topo.unit_id[u])
                        } else {
                            format!(
                                "{} balance of {} off by {r:.3e} g",
                                species.names[k - 1],
                                topo.unit_id[u]
                            )
                        }
                    },
                );
            }
        }
    }
}

/// For balance kind `k` (of `m` per unit), from the residuals and relative residuals
/// [`judge_all`] wrote: the step's worst balance `(relative, r, unit)`, the first in unit order
/// with the largest relative residual, or the first NaN (`usize::MAX` as unit when there are no
/// units).
#[expect(
    clippy::neg_cmp_op_on_partial_ord,
    reason = "`!(rk <= worst)` is also true for a NaN: one cheap test lets a new worst and a NaN in"
)]
#[inline(never)]
fn worst_of_kind(k: usize, m: usize, residual: &[f64], rel: &[f64]) -> (f64, f64, usize) {
    // A relative residual is never below zero, so the first balance always enters the
    // comparison (and is taken, as it is the first).
    let mut worst = (f64::NEG_INFINITY, 0.0, usize::MAX);
    let n = rel.len();
    let residual = &residual[..n];
    let mut i = k;
    let mut u = 0;
    while i < n {
        let rk = rel[i];
        if !(rk <= worst.0)
            && (worst.2 == usize::MAX || rk > worst.0 || (rk.is_nan() && !worst.0.is_nan()))
        {
            worst = (rk, residual[i], u);
        }
        i += m;
        u += 1;
    }
    worst
}

/// Balance kinds per unit that the judge's passes keep in registers at once: water and up to
/// seven species, every count [`crate::with_width!`] instantiates as [`crate::width::Fixed`].
/// A wider unit (more species, [`crate::width::Dyn`]) is judged in blocks of this many kinds.
const LANES: usize = 8;

/// `min(a, b)` for numbers that are not NaN, one comparison (`a < b ? a : b`, the processor's
/// minimum instruction), so that a loop of them vectorises; `b` when `a` is NaN.
#[inline(always)]
fn fast_min(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

/// Calls `pass(k0, width)` for each block of at most [`LANES`] balance kinds `k0..k0 + width`
/// of the `m` per unit: one block, `(0, m)`, for every [`crate::width::Fixed`] width, so the
/// pass runs with constant bounds (the loop has one trip and `pass` one call site, so it is
/// inlined with `k0 = 0` and `width = m`).
#[inline(always)]
fn kind_blocks(m: usize, mut pass: impl FnMut(usize, usize)) {
    let blocks = if m <= LANES { 1 } else { m.div_ceil(LANES) };
    for b in 0..blocks {
        let k0 = b * LANES;
        pass(k0, LANES.min(m - k0));
    }
}

/// The absolute floors of balance kinds `k0..k0 + width` and the least denominators of their
/// relative residuals (`floor / 1e-9`), one lane per kind.
#[inline(always)]
fn kind_floors(k0: usize, width: usize) -> ([f64; LANES], [f64; LANES]) {
    let mut floor = [0.0; LANES];
    let mut den = [0.0; LANES];
    for k in 0..width {
        floor[k] = floor_of(k0 + k);
        den[k] = floor[k] / RELATIVE_TOLERANCE;
    }
    (floor, den)
}

/// One balance's relative residual `|r| / max(scale, den)` and verdict: a violation when
/// `|r| > 1e-9·scale + floor` or `r` is not finite, tested as
/// `!(|r| ≤ min(1e-9·scale + floor, f64::MAX))` (see [`judge_units`]).
#[expect(
    clippy::neg_cmp_op_on_partial_ord,
    reason = "`!(|r| <= limit)` is also true for a NaN residual, which is a violation"
)]
#[inline(always)]
fn judge_lane(r: f64, scale: f64, den: f64, floor: f64) -> (f64, bool) {
    let rel = r.abs() / fast_max(scale, den);
    let limit = fast_min(RELATIVE_TOLERANCE * scale + floor, f64::MAX);
    (rel, !(r.abs() <= limit))
}

/// The judge's first pass, straight arithmetic over the units (`m` balances each, in registers
/// per kind): every balance's residual `r = in − out + generated − removed − Δstorage` and
/// scale (the largest term magnitude and stored amount, [`residual_and_scale`]); into
/// `max_rel[k]` the largest relative residual `|r| / max(scale, floor/1e-9)` of kind `k`; and
/// whether any balance is a violation, `|r| > 1e-9·scale + floor` or `r` not finite — tested as
/// `!(|r| ≤ min(1e-9·scale + floor, f64::MAX))`, the same verdict: the comparison fails for a
/// NaN `|r|`, and `|r| ≤ min(t, MAX)` holds exactly when `|r| ≤ t` and `|r|` is finite (a
/// NaN `t`, from a NaN stored amount beside finite terms, becomes `MAX`: `|r| > NaN` is false
/// too). It writes nothing per balance. The separate pass's judge ([`judge_step`]); the fused
/// pass's is [`judge_and_clear`].
#[expect(
    clippy::too_many_arguments,
    reason = "each array is an argument so the compiler knows they do not overlap"
)]
#[inline(never)]
fn judge_units<W: Width>(
    w: W,
    inflow: &[f64],
    outflow: &[f64],
    generated: &[f64],
    removed: &[f64],
    storage_change: &[f64],
    stored: &[f64],
    max_rel: &mut [f64],
) -> bool {
    let m = w.n() + 1;
    let max_rel = &mut max_rel[..m];
    let mut any_bad = false;
    kind_blocks(m, |k0, width| {
        let (floor, den) = kind_floors(k0, width);
        let mut most = [0.0f64; LANES];
        let mut bad = [false; LANES];
        let units = inflow
            .chunks_exact(m)
            .zip(outflow.chunks_exact(m))
            .zip(generated.chunks_exact(m))
            .zip(removed.chunks_exact(m))
            .zip(storage_change.chunks_exact(m))
            .zip(stored.chunks_exact(m));
        for (((((a, b), g), x), d), s) in units {
            let (a, b, g) = (&a[k0..k0 + width], &b[k0..k0 + width], &g[k0..k0 + width]);
            let (x, d, s) = (&x[k0..k0 + width], &d[k0..k0 + width], &s[k0..k0 + width]);
            for k in 0..width {
                let (r, scale) = residual_and_scale(a[k], b[k], g[k], x[k], d[k], s[k]);
                let (rel, violation) = judge_lane(r, scale, den[k], floor[k]);
                bad[k] |= violation;
                most[k] = fast_max(most[k], rel);
            }
        }
        max_rel[k0..k0 + width].copy_from_slice(&most[..width]);
        any_bad |= bad.iter().any(|&b| b);
    });
    any_bad
}

/// The park's sums over the units of a block of balance kinds, per kind: generated, removed,
/// Δstorage and stored amounts ([`add_units`]).
#[derive(Default)]
struct ParkSums {
    generated: [f64; LANES],
    removed: [f64; LANES],
    storage_change: [f64; LANES],
    stored: [f64; LANES],
}

impl ParkSums {
    /// The sums of kinds `k0..k0 + width` as the park's step terms (its in and out stay
    /// zero) and stored amounts.
    #[inline(always)]
    fn write(&self, k0: usize, width: usize, park: &mut [Terms], park_stored: &mut [f64]) {
        for k in 0..width {
            let terms = &mut park[k0 + k];
            terms.generated = self.generated[k];
            terms.removed = self.removed[k];
            terms.storage_change = self.storage_change[k];
            park_stored[k0 + k] = self.stored[k];
        }
    }
}

/// The judge's second pass, straight over the units: adds every term of the step into the run
/// totals (`total += step`), clears the four summed terms for the next step (the storage terms
/// are assigned, not summed), and sums, per balance kind, the park's generated, removed and
/// Δstorage terms and its stored amounts (in unit order from zero, in registers per kind; the
/// park's in and out stay zero: internal links cancel). The totals are arguments of their own,
/// not fields of a struct of slices, so that the compiler knows no two arrays overlap and
/// vectorises the pass.
#[expect(
    clippy::too_many_arguments,
    reason = "each array is an argument so the compiler knows they do not overlap"
)]
#[inline(never)]
fn add_units<W: Width>(
    w: W,
    t_in: &mut [f64],
    t_out: &mut [f64],
    t_gen: &mut [f64],
    t_rem: &mut [f64],
    t_ds: &mut [f64],
    inflow: &mut [f64],
    outflow: &mut [f64],
    generated: &mut [f64],
    removed: &mut [f64],
    storage_change: &[f64],
    stored: &[f64],
    park: &mut [Terms],
    park_stored: &mut [f64],
) {
    let m = w.n() + 1;
    let (park, park_stored) = (&mut park[..m], &mut park_stored[..m]);
    kind_blocks(m, |k0, width| {
        let mut p = ParkSums::default();
        let units = t_in
            .chunks_exact_mut(m)
            .zip(t_out.chunks_exact_mut(m))
            .zip(t_gen.chunks_exact_mut(m))
            .zip(t_rem.chunks_exact_mut(m))
            .zip(t_ds.chunks_exact_mut(m))
            .zip(inflow.chunks_exact_mut(m))
            .zip(outflow.chunks_exact_mut(m))
            .zip(generated.chunks_exact_mut(m))
            .zip(removed.chunks_exact_mut(m))
            .zip(storage_change.chunks_exact(m))
            .zip(stored.chunks_exact(m));
        for ((((((((((ta, tb), tg), tx), td), a), b), g), x), d), s) in units {
            let r = k0..k0 + width;
            let (ta, tb, tg) = (&mut ta[r.clone()], &mut tb[r.clone()], &mut tg[r.clone()]);
            let (tx, td) = (&mut tx[r.clone()], &mut td[r.clone()]);
            let (a, b, g) = (&mut a[r.clone()], &mut b[r.clone()], &mut g[r.clone()]);
            let (x, d, s) = (&mut x[r.clone()], &d[r.clone()], &s[r]);
            for k in 0..width {
                ta[k] += std::mem::take(&mut a[k]);
                tb[k] += std::mem::take(&mut b[k]);
                p.generated[k] += g[k];
                tg[k] += std::mem::take(&mut g[k]);
                p.removed[k] += x[k];
                tx[k] += std::mem::take(&mut x[k]);
                p.storage_change[k] += d[k];
                td[k] += d[k];
                p.stored[k] += s[k];
            }
        }
        p.write(k0, width, park, park_stored);
    });
}

/// The fused pass's judge, one straight pass over the units (`m` balances each, in registers
/// per kind): every balance's residual `r = in − out + generated − removed − Δstorage` and
/// scale ([`residual_and_scale`]), written to `residual` and `scale`; per kind the largest
/// relative residual into `max_rel` and the verdict, as [`judge_units`] ([`judge_lane`]; the
/// verdicts are or-ed as integers, which stays in vector registers); and the four summed terms
/// cleared for the next step (each read once, then zeroed: the storage terms are assigned,
/// not summed). Returns whether any balance is a violation. The run totals and the park's
/// terms are summed before, by [`add_unit_totals`]: with them in this loop its registers
/// spill (callgrind, 720 steps of the 499-unit park: 44.7 M with them against 30.6 M without).
#[expect(
    clippy::too_many_arguments,
    reason = "each array is an argument so the compiler knows they do not overlap"
)]
#[inline(never)]
fn judge_and_clear<W: Width>(
    w: W,
    inflow: &mut [f64],
    outflow: &mut [f64],
    generated: &mut [f64],
    removed: &mut [f64],
    storage_change: &[f64],
    stored: &[f64],
    residual: &mut [f64],
    scale: &mut [f64],
    max_rel: &mut [f64],
) -> bool {
    let m = w.n() + 1;
    let max_rel = &mut max_rel[..m];
    let mut any_bad = false;
    kind_blocks(m, |k0, width| {
        let (floor, den) = kind_floors(k0, width);
        let mut most = [0.0f64; LANES];
        let mut bad = [0u64; LANES];
        let units = inflow
            .chunks_exact_mut(m)
            .zip(outflow.chunks_exact_mut(m))
            .zip(generated.chunks_exact_mut(m))
            .zip(removed.chunks_exact_mut(m))
            .zip(storage_change.chunks_exact(m))
            .zip(stored.chunks_exact(m))
            .zip(residual.chunks_exact_mut(m))
            .zip(scale.chunks_exact_mut(m));
        for (((((((a, b), g), x), d), s), ro), so) in units {
            let r = k0..k0 + width;
            let (a, b, g) = (&mut a[r.clone()], &mut b[r.clone()], &mut g[r.clone()]);
            let (x, d, s) = (&mut x[r.clone()], &d[r.clone()], &s[r.clone()]);
            let (ro, so) = (&mut ro[r.clone()], &mut so[r]);
            for k in 0..width {
                let (ak, bk) = (std::mem::take(&mut a[k]), std::mem::take(&mut b[k]));
                let (gk, xk) = (std::mem::take(&mut g[k]), std::mem::take(&mut x[k]));
                let (r, sc) = residual_and_scale(ak, bk, gk, xk, d[k], s[k]);
                ro[k] = r;
                so[k] = sc;
                let (rel, violation) = judge_lane(r, sc, den[k], floor[k]);
                bad[k] |= u64::from(violation);
                most[k] = fast_max(most[k], rel);
            }
        }
        max_rel[k0..k0 + width].copy_from_slice(&most[..width]);
        any_bad |= bad.iter().any(|&b| b != 0);
    });
    any_bad
}

/// The fused pass's run totals of a step, straight over the units before its judge
/// ([`judge_and_clear`]): the generated and removed terms into the units' run totals
/// (`total += step`; inflow and outflow are derived, [`Ledger::sync`], and the storage
/// terms' totals are added where they are assigned, [`book_units_listed`]), and per kind the
/// park's generated, removed and Δstorage terms and stored amounts (in unit order from zero,
/// as [`add_units`]).
#[expect(
    clippy::too_many_arguments,
    reason = "each array is an argument so the compiler knows they do not overlap"
)]
#[inline(never)]
fn add_unit_totals<W: Width>(
    w: W,
    total_generated: &mut [f64],
    total_removed: &mut [f64],
    generated: &[f64],
    removed: &[f64],
    storage_change: &[f64],
    stored: &[f64],
    park: &mut [Terms],
    park_stored: &mut [f64],
) {
    let m = w.n() + 1;
    let (park, park_stored) = (&mut park[..m], &mut park_stored[..m]);
    kind_blocks(m, |k0, width| {
        let mut p = ParkSums::default();
        let units = total_generated
            .chunks_exact_mut(m)
            .zip(total_removed.chunks_exact_mut(m))
            .zip(generated.chunks_exact(m))
            .zip(removed.chunks_exact(m))
            .zip(storage_change.chunks_exact(m))
            .zip(stored.chunks_exact(m));
        for (((((tg, tx), g), x), d), s) in units {
            let r = k0..k0 + width;
            let (tg, tx) = (&mut tg[r.clone()], &mut tx[r.clone()]);
            let (g, x, d, s) = (&g[r.clone()], &x[r.clone()], &d[r.clone()], &s[r]);
            for k in 0..width {
                tg[k] += g[k];
                tx[k] += x[k];
                p.generated[k] += g[k];
                p.removed[k] += x[k];
                p.storage_change[k] += d[k];
                p.stored[k] += s[k];
            }
        }
        p.write(k0, width, park, park_stored);
    });
}

fn note(w: &mut Worst, rel: f64, r: f64, item: &str, step: usize) {
    if rel > w.relative || (rel.is_nan() && !w.relative.is_nan()) {
        w.relative = rel;
        w.absolute = r;
        w.item = item.to_string();
        w.step = step;
    }
}
