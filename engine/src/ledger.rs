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

use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::network::{ExitKind, FlowKind, PortRole, QualityKind, Topology};
use crate::state::{Clock, Flows, Quality, Species, Storage, UnitInputs};
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
    /// Per unit: water terms over the run, m³.
    pub unit_water: Vec<Terms>,
    /// Per unit × species: mass terms over the run, g.
    pub unit_species: Vec<Terms>,
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
    #[serde(skip)]
    scratch: Vec<Terms>,
    #[serde(skip)]
    unit_scratch: Vec<Terms>,
}

impl Ledger {
    /// Empty ledger for `ns` conserved species.
    pub fn new(topo: &Topology, ns: usize) -> Self {
        Self {
            unit_water: vec![Terms::default(); topo.n_units()],
            unit_species: vec![Terms::default(); topo.n_units() * ns],
            park_water: Terms::default(),
            park_species: vec![Terms::default(); ns],
            worst_water: Worst::default(),
            worst_species: vec![Worst::default(); ns],
            violations: 0,
            species_by_exit: vec![[0.0; 7]; ns],
            species_reacted: vec![0.0; ns],
            species_from_sources: vec![0.0; ns],
            species_loads: vec![0.0; ns],
            scratch: vec![Terms::default(); ns],
            unit_scratch: vec![Terms::default(); ns],
        }
    }

    /// Largest relative residual over water and every species.
    pub fn max_relative_residual(&self) -> f64 {
        self.worst_species
            .iter()
            .map(|w| w.relative)
            .fold(self.worst_water.relative, f64::max)
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
    (
        r,
        rel,
        r.abs() > RELATIVE_TOLERANCE * scale + floor || !r.is_finite(),
    )
}

/// Checks and books one step.
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
    let ns = species.len();
    let nc = species.conserved;
    let dt = clock.dt_h;
    let step = clock.step;
    let mut park_w = Terms::default();
    let mut park_s = std::mem::take(&mut ledger.scratch);
    park_s.iter_mut().for_each(|t| *t = Terms::default());
    // Reused per-unit buffer: no allocation in the per-step path.
    let mut species_terms = std::mem::take(&mut ledger.unit_scratch);
    species_terms.resize(nc, Terms::default());
    for u in 0..topo.n_units() {
        let x = flows.throughput[u];
        let mut w = Terms::default();
        species_terms.iter_mut().for_each(|t| *t = Terms::default());
        for &l in topo.links_into(u) {
            let q = flows.link[l as usize] * dt;
            w.inflow += q;
            let p = topo.link_from_port[l as usize] as usize;
            for s in 0..nc {
                species_terms[s].inflow += q * quality.port[p * ns + s];
            }
        }
        for p in topo.ports_of(u) {
            let c = &quality.port[p * ns..(p + 1) * ns];
            match topo.port_role[p] {
                PortRole::Exit(k) => {
                    let q = flows.port[p] * dt;
                    w.removed += q;
                    for s in 0..nc {
                        species_terms[s].removed += q * c[s];
                        ledger.species_by_exit[s][k.index()] += q * c[s];
                    }
                }
                _ => {
                    for &l in topo.links_of_port(p) {
                        let q = flows.link[l as usize] * dt;
                        w.outflow += q;
                        for s in 0..nc {
                            species_terms[s].outflow += q * c[s];
                        }
                        let leak = flows.leak[l as usize] * dt;
                        if leak != 0.0 {
                            w.removed += leak;
                            for s in 0..nc {
                                species_terms[s].removed += leak * c[s];
                                ledger.species_by_exit[s][ExitKind::Leak.index()] += leak * c[s];
                            }
                        }
                    }
                }
            }
            let spill = flows.spill[p] * dt;
            if spill != 0.0 {
                w.removed += spill;
                for s in 0..nc {
                    species_terms[s].removed += spill * c[s];
                    ledger.species_by_exit[s][ExitKind::Spill.index()] += spill * c[s];
                }
            }
        }
        if topo.unit_flow[u] == FlowKind::Source {
            w.generated += x * dt;
        }
        let is_source = topo.unit_flow[u] == FlowKind::Source;
        for s in 0..nc {
            let g = inputs.generated_g_per_m3[u * ns + s] * x * dt;
            let inlet_mass = x * dt * quality.inlet[u * ns + s];
            let r = inputs.removed_fraction[u * ns + s] * inlet_mass;
            let solids = inputs.solids_fraction[u * ns + s] * inlet_mass;
            species_terms[s].generated += g;
            species_terms[s].removed += r + solids;
            ledger.species_reacted[s] += r;
            ledger.species_by_exit[s][ExitKind::Solids.index()] += solids;
            if is_source {
                ledger.species_from_sources[s] += g;
            } else {
                ledger.species_loads[s] += g;
            }
        }
        let mut stored_w = 0.0;
        if topo.unit_quality[u] == QualityKind::Mixed {
            w.storage_change = storage.volume_end[u] - storage.volume[u];
            stored_w = storage.volume[u].max(storage.volume_end[u]);
            for s in 0..nc {
                let m0 = storage.volume[u] * storage.conc[u * ns + s];
                let m1 = storage.volume_end[u] * storage.conc_end[u * ns + s];
                species_terms[s].storage_change = m1 - m0;
            }
        }
        let (r, rel, bad) = judge(&w, stored_w, WATER_FLOOR_M3);
        note(&mut ledger.worst_water, rel, r, &topo.unit_id[u], step);
        if bad {
            ledger.violations += 1;
            diag.push(
                DiagnosticKind::ClosureViolation,
                step,
                Some(&topo.unit_id[u]),
                || format!("water balance of {} off by {r:.3e} m³", topo.unit_id[u]),
            );
        }
        ledger.unit_water[u].add(&w);
        park_w.generated += w.generated;
        park_w.removed += w.removed;
        park_w.storage_change += w.storage_change;
        for s in 0..nc {
            let t = &species_terms[s];
            let stored = if topo.unit_quality[u] == QualityKind::Mixed {
                (storage.volume[u] * storage.conc[u * ns + s])
                    .abs()
                    .max((storage.volume_end[u] * storage.conc_end[u * ns + s]).abs())
            } else {
                0.0
            };
            let (r, rel, bad) = judge(t, stored, SPECIES_FLOOR_G);
            note(&mut ledger.worst_species[s], rel, r, &topo.unit_id[u], step);
            if bad {
                ledger.violations += 1;
                diag.push(
                    DiagnosticKind::ClosureViolation,
                    step,
                    Some(&topo.unit_id[u]),
                    || {
                        format!(
                            "{} balance of {} off by {r:.3e} g",
                            species.names[s], topo.unit_id[u]
                        )
                    },
                );
            }
            ledger.unit_species[u * nc + s].add(t);
            park_s[s].generated += t.generated;
            park_s[s].removed += t.removed;
            park_s[s].storage_change += t.storage_change;
        }
    }
    let (r, rel, bad) = judge(&park_w, 0.0, WATER_FLOOR_M3);
    note(&mut ledger.worst_water, rel, r, "park", step);
    if bad {
        ledger.violations += 1;
        diag.push(DiagnosticKind::ClosureViolation, step, None, || {
            format!("park water balance off by {r:.3e} m³")
        });
    }
    ledger.park_water.add(&park_w);
    for s in 0..nc {
        let (r, rel, bad) = judge(&park_s[s], 0.0, SPECIES_FLOOR_G);
        note(&mut ledger.worst_species[s], rel, r, "park", step);
        if bad {
            ledger.violations += 1;
            diag.push(DiagnosticKind::ClosureViolation, step, None, || {
                format!("park {} balance off by {r:.3e} g", species.names[s])
            });
        }
        ledger.park_species[s].add(&park_s[s]);
    }
    ledger.scratch = park_s;
    ledger.unit_scratch = species_terms;
}

fn note(w: &mut Worst, rel: f64, r: f64, item: &str, step: usize) {
    if rel > w.relative || (rel.is_nan() && !w.relative.is_nan()) {
        w.relative = rel;
        w.absolute = r;
        w.item = item.to_string();
        w.step = step;
    }
}
