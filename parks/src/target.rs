//! Minimum fresh-water and wastewater targets by water cascade analysis (WCA).
//!
//! The designers' yardstick: for a single contaminant, how little fresh water can a set of
//! water-using operations take if every reuse that quality permits is made?
//!
//! **Data** (the fixed-flow formulation; Manan, Tan & Foo 2004, AIChE J. 50(12):3169–3183;
//! El-Halwagi 2006, *Process Integration*, ch. 3): *sinks* `j` need a flow `F_j` (t/h) at no
//! more than `C_j` (ppm = mg/L); *sources* `i` offer a flow `F_i` at `C_i`; one fresh-water
//! source of concentration `C_fw` makes up the rest; unused water leaves as wastewater. A
//! fixed-load operation (load `m` kg/h, limiting inlet and outlet concentrations) becomes a sink
//! `(F_lim, C_in,max)` and a source `(F_lim, C_out,max)` with `F_lim = 1000·m/(C_out,max −
//! C_in,max)` (outlets at their maximum concentrations: the limiting-data conversion of
//! Wang & Smith 1994 used in WCA). Flows are in t/h (m³/h at reference density), loads in kg/h
//! (`t/h × ppm × 10⁻³`).
//!
//! **Cascade.** With the distinct concentrations `c_0 < c_1 < … < c_n` of all streams and of
//! fresh water as levels, the net flow at level `k` is `ΣF_sources − ΣF_sinks` there; with fresh
//! water `F` entering at `C_fw`, the cumulative flow in interval `k` is `F·[C_fw ≤ c_k] +
//! Σ_{l ≤ k} net_l`, and the cumulative impurity load reaching level `k + 1` is
//! `L_{k+1} = Σ_{l ≤ k} cumflow_l·(c_{l+1} − c_l)·10⁻³`, equal to
//! `F·(c_{k+1} − C_fw)⁺·10⁻³ + D(c_{k+1})` with
//! `D(c) = 10⁻³·(Σ_i F_i·(c − C_i)⁺ − Σ_j F_j·(c − C_j)⁺)`.
//! A network exists if and only if every `L_k ≥ 0` (no level receives more impurity than the
//! water above it can carry) and the water balance leaves a non-negative wastewater
//! `W = F + ΣF_i − ΣF_j ≥ 0` (the condition at `c → ∞`; above the highest level `L` is linear
//! in `c`, so the levels and the balance are all the conditions there are). Hence
//!
//! `F_min = max(0, ΣF_j − ΣF_i, max_{c_k > C_fw} −D(c_k)/((c_k − C_fw)·10⁻³))`,
//!
//! which is the WCA's "largest interval fresh-water flow". The **pinch** is every level above
//! `C_fw` where the cascade with `F_min` carries zero load (within `1e-12` of the load scale);
//! when the water balance alone sets `F_min` (zero wastewater) or `F_min = 0` with load left at
//! every level, the problem is a *threshold* problem without a pinch (Foo 2009,
//! Ind. Eng. Chem. Res. 48:5125). Levels at or below `C_fw` get no fresh water, so they must
//! already have `L_k ≥ 0`, otherwise some sink needs water purer than any source (an error).
//!
//! **Composite curves** (El-Halwagi's material recovery pinch diagram): load (kg/h) against
//! cumulative flow (t/h), sinks in ascending order of concentration from the origin; the source
//! composite is fresh water (`F_min` at `C_fw`) followed by the sources in ascending order. At
//! the target the source composite lies on or below the sink composite up to the sinks' total
//! flow and touches it at the pinch.

use serde::{Deserialize, Serialize};

/// A sink or a source of the cascade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    /// Name (unit id, `id.in` and `id.out` for the two halves of an operation).
    pub id: String,
    /// Flow, t/h.
    pub flow_t_per_h: f64,
    /// Concentration (a sink's limit, a source's content), ppm (mg/L).
    pub conc_ppm: f64,
}

impl Stream {
    /// A stream from its name, flow (t/h) and concentration (ppm).
    pub fn new(id: impl Into<String>, flow_t_per_h: f64, conc_ppm: f64) -> Self {
        Self {
            id: id.into(),
            flow_t_per_h,
            conc_ppm,
        }
    }
}

/// The data of a single-contaminant targeting problem.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// Water demands with their highest accepted concentration.
    pub sinks: Vec<Stream>,
    /// Water offered with its concentration.
    pub sources: Vec<Stream>,
    /// Concentration of the fresh water, ppm.
    pub fresh_ppm: f64,
}

impl Problem {
    /// Adds a fixed-load operation as a sink `(F_lim, C_in,max)` named `id.in` and a source
    /// `(F_lim, C_out,max)` named `id.out`, with `F_lim = 1000·m/(C_out,max − C_in,max)`.
    pub fn add_fixed_load(&mut self, id: &str, load_kg_per_h: f64, c_in: f64, c_out: f64) {
        let f = 1000.0 * load_kg_per_h / (c_out - c_in);
        self.sinks.push(Stream::new(format!("{id}.in"), f, c_in));
        self.sources
            .push(Stream::new(format!("{id}.out"), f, c_out));
    }
}

/// One level of the cascade table at the target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// Concentration of the level, ppm.
    pub conc_ppm: f64,
    /// Sources minus sinks at this level (fresh water included), t/h.
    pub net_flow_t_per_h: f64,
    /// Cumulative flow in the interval from this level to the next, t/h.
    pub cum_flow_t_per_h: f64,
    /// Load carried in that interval, kg/h.
    pub interval_load_kg_per_h: f64,
    /// Cumulative load arriving at this level from the levels below, kg/h (zero at a pinch).
    pub cum_load_kg_per_h: f64,
    /// Fresh water this level alone would need, t/h (the WCA's interval fresh-water flow; `None`
    /// at and below the fresh-water concentration).
    pub fresh_needed_t_per_h: Option<f64>,
}

/// A point of a composite curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Cumulative flow, t/h.
    pub flow_t_per_h: f64,
    /// Cumulative load, kg/h.
    pub load_kg_per_h: f64,
}

/// The targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Minimum fresh water, t/h.
    pub fresh_t_per_h: f64,
    /// Minimum wastewater, t/h.
    pub wastewater_t_per_h: f64,
    /// The pinch concentration (the lowest when there are several), ppm; `None` for a
    /// threshold problem.
    pub pinch_ppm: Option<f64>,
    /// Every pinch concentration, ascending.
    pub pinches_ppm: Vec<f64>,
    /// Whether this is a threshold problem (no pinch: zero wastewater or zero fresh water).
    pub threshold: bool,
    /// The cascade table at the target, ascending concentration.
    pub cascade: Vec<Level>,
    /// Sink composite curve.
    pub sink_composite: Vec<Point>,
    /// Source composite curve (fresh water first).
    pub source_composite: Vec<Point>,
    /// Total sink flow, t/h.
    pub sinks_t_per_h: f64,
    /// Total source flow (fresh water excluded), t/h.
    pub sources_t_per_h: f64,
}

/// Why a problem has no target.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TargetError {
    /// A flow or concentration is negative or not finite.
    #[error("{id}: {what} {value} must be a finite number ≥ 0")]
    BadValue {
        /// Stream.
        id: String,
        /// Which value.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// There are no sinks.
    #[error("no sinks: nothing needs water")]
    NoSinks,
    /// Some sink needs water purer than fresh water and no source can provide it.
    #[error(
        "the sinks at or below {conc_ppm} ppm need {deficit_kg_per_h} kg/h less impurity than the sources there carry, and fresh water at {fresh_ppm} ppm cannot help"
    )]
    TooPure {
        /// The level that fails.
        conc_ppm: f64,
        /// Missing load capacity, kg/h.
        deficit_kg_per_h: f64,
        /// Fresh-water concentration.
        fresh_ppm: f64,
    },
}

fn check(s: &Stream) -> Result<(), TargetError> {
    for (what, v) in [("flow", s.flow_t_per_h), ("concentration", s.conc_ppm)] {
        if !v.is_finite() || v < 0.0 {
            return Err(TargetError::BadValue {
                id: s.id.clone(),
                what,
                value: v,
            });
        }
    }
    Ok(())
}

/// `D(c)` in kg/h (see the module docs) and the sum of the magnitudes of its terms.
fn deficit(p: &Problem, c: f64) -> (f64, f64) {
    let (mut d, mut scale) = (0.0, 0.0);
    for s in &p.sources {
        let t = s.flow_t_per_h * (c - s.conc_ppm).max(0.0) * 1e-3;
        d += t;
        scale += t;
    }
    for s in &p.sinks {
        let t = s.flow_t_per_h * (c - s.conc_ppm).max(0.0) * 1e-3;
        d -= t;
        scale += t;
    }
    (d, scale)
}

fn composite(streams: &[Stream], start: Point) -> Vec<Point> {
    let mut sorted: Vec<&Stream> = streams.iter().collect();
    sorted.sort_by(|a, b| a.conc_ppm.total_cmp(&b.conc_ppm));
    let mut pts = vec![start];
    let mut cur = start;
    for s in sorted {
        cur = Point {
            flow_t_per_h: cur.flow_t_per_h + s.flow_t_per_h,
            load_kg_per_h: cur.load_kg_per_h + s.flow_t_per_h * s.conc_ppm * 1e-3,
        };
        pts.push(cur);
    }
    pts
}

/// Computes the minimum fresh water, minimum wastewater and pinch of `p` (see the module docs).
pub fn target(p: &Problem) -> Result<Target, TargetError> {
    p.sinks.iter().chain(&p.sources).try_for_each(check)?;
    check(&Stream::new("fresh water", 0.0, p.fresh_ppm))?;
    if p.sinks.is_empty() {
        return Err(TargetError::NoSinks);
    }
    let cfw = p.fresh_ppm;
    let mut levels: Vec<f64> = p
        .sinks
        .iter()
        .chain(&p.sources)
        .map(|s| s.conc_ppm)
        .chain([cfw])
        .collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let sinks: f64 = p.sinks.iter().map(|s| s.flow_t_per_h).sum();
    let sources: f64 = p.sources.iter().map(|s| s.flow_t_per_h).sum();
    // Fresh water: the water balance, then every level above the fresh water's concentration.
    let mut fresh = (sinks - sources).max(0.0);
    for &c in &levels {
        let (d, scale) = deficit(p, c);
        if c <= cfw {
            if d < -1e-12 * scale.max(f64::MIN_POSITIVE) {
                return Err(TargetError::TooPure {
                    conc_ppm: c,
                    deficit_kg_per_h: -d,
                    fresh_ppm: cfw,
                });
            }
        } else {
            fresh = fresh.max(-d / ((c - cfw) * 1e-3));
        }
    }
    // The cascade table at the target.
    let mut cascade = Vec::with_capacity(levels.len());
    let mut cum_flow = 0.0;
    let mut pinches = Vec::new();
    for (k, &c) in levels.iter().enumerate() {
        let mut net: f64 = p
            .sources
            .iter()
            .filter(|s| s.conc_ppm == c)
            .map(|s| s.flow_t_per_h)
            .sum::<f64>()
            - p.sinks
                .iter()
                .filter(|s| s.conc_ppm == c)
                .map(|s| s.flow_t_per_h)
                .sum::<f64>();
        if c == cfw {
            net += fresh;
        }
        // The load arriving at this level, evaluated in closed form (no round-off build-up
        // along the cascade), and the same by the cascade sum for the table.
        let (d, scale) = deficit(p, c);
        let exact = d + fresh * (c - cfw).max(0.0) * 1e-3;
        let load_scale = scale + fresh * (c - cfw).max(0.0) * 1e-3;
        let pinch = c > cfw && exact.abs() <= 1e-12 * load_scale && fresh > 0.0;
        if pinch {
            pinches.push(c);
        }
        // `+ 0.0` turns a negative zero into zero for display.
        let fresh_needed = (c > cfw).then(|| -d / ((c - cfw) * 1e-3) + 0.0);
        cum_flow += net;
        let next = levels.get(k + 1).copied();
        let interval = next.map_or(0.0, |n| cum_flow * (n - c) * 1e-3);
        cascade.push(Level {
            conc_ppm: c,
            net_flow_t_per_h: net,
            cum_flow_t_per_h: cum_flow,
            interval_load_kg_per_h: interval,
            // Zero at a pinch (round-off of the closed form is below 1e-12 of the load scale).
            cum_load_kg_per_h: if pinch || k == 0 { 0.0 } else { exact },
            fresh_needed_t_per_h: fresh_needed,
        });
    }
    let wastewater = fresh + sources - sinks;
    let threshold = pinches.is_empty();
    let sink_composite = composite(
        &p.sinks,
        Point {
            flow_t_per_h: 0.0,
            load_kg_per_h: 0.0,
        },
    );
    let source_composite = composite(
        &p.sources,
        Point {
            flow_t_per_h: 0.0,
            load_kg_per_h: 0.0,
        },
    );
    // Fresh water first: shift the sources along the fresh-water line.
    let mut source_composite: Vec<Point> = source_composite
        .into_iter()
        .map(|q| Point {
            flow_t_per_h: q.flow_t_per_h + fresh,
            load_kg_per_h: q.load_kg_per_h + fresh * cfw * 1e-3,
        })
        .collect();
    source_composite.insert(
        0,
        Point {
            flow_t_per_h: 0.0,
            load_kg_per_h: 0.0,
        },
    );
    Ok(Target {
        fresh_t_per_h: fresh,
        wastewater_t_per_h: wastewater.max(0.0),
        pinch_ppm: pinches.first().copied(),
        pinches_ppm: pinches,
        threshold,
        cascade,
        sink_composite,
        source_composite,
        sinks_t_per_h: sinks,
        sources_t_per_h: sources,
    })
}

/// The targeting data of a park for one species, and what was left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extraction {
    /// The sinks, sources and fresh-water concentration.
    pub problem: Problem,
    /// The source taken as fresh water (the cleanest in the species).
    pub fresh_source: String,
    /// Units not represented, with the reason.
    pub notes: Vec<String>,
}

fn species_value(map: &crate::schema::SpeciesMap, species: &str) -> Option<f64> {
    map.get(species).copied()
}

/// Reads the single-contaminant data of `park` for `species`:
///
/// - `FixedLoad` units of that species: a sink and a source by the limiting-data conversion;
/// - `Process` units with an accepted-inlet limit for the species: a sink `(F, C_lim)` with
///   `F = production × water_m3_per_unit` (production averaged over the park's horizon when it
///   varies: the analysis is a steady-state yardstick), and a source of the
///   wastewater at its highest concentration, `((1 − f)·F, (C_lim + γ)/(1 − f))` when the loss
///   evaporates, `((1 − f)·F, C_lim + γ)` when it is bound into the product, with
///   `γ = 1000·(adds_kg_per_m3 + adds_kg_per_unit/water_m3_per_unit)` mg/L;
/// - the cleanest `Source` in the species (ties: the first) is the fresh water; when the park's
///   `strategy.fresh_sources` names the fresh sources, the cleanest of those, and every other
///   `Source` is a process source of flow `cap_m3_per_h` at its quality.
///
/// Every other unit (cooling towers, treatment, tanks, ...) and processes without those data
/// are listed in [`Extraction::notes`]: the analysis covers the classic sink/source problem
/// only. Expects a park that passed validation.
pub fn from_park(file: &crate::load::ParkFile, species: &str) -> Result<Extraction, String> {
    use crate::drivers::{Axis, DriverCache, to_series};
    use crate::schema::{Driver, LossSpec, UnitSpec};
    let park = &file.park;
    let start = crate::calendar::parse_start(&park.time.start)
        .ok_or_else(|| format!("time.start {:?} is not a date", park.time.start))?;
    let axis = Axis {
        start,
        dt_h: park.time.step_h,
        steps: park.time.steps,
    };
    let mut csv = DriverCache::default();
    if !park.species.iter().any(|s| s == species) && species != "tds" {
        return Err(format!(
            "species {species:?} is not declared in the park (declared: {})",
            park.species.join(", ")
        ));
    }
    let mut problem = Problem::default();
    let mut notes = Vec::new();
    let mut fresh: Option<(String, f64)> = None;
    // With `strategy.fresh_sources`, the other sources are process sources (flow = their cap).
    let fresh_ids = park
        .strategy
        .as_ref()
        .and_then(|s| s.fresh_sources.as_ref());
    let mut other_sources = Vec::new();
    for u in &park.units {
        match u {
            UnitSpec::Source(s) => {
                let c = species_value(&s.quality_mg_per_l, species).unwrap_or(0.0);
                let process_source = fresh_ids.is_some_and(|ids| !ids.contains(&s.id));
                if process_source {
                    // Named outside the strategy's fresh sources: a process source of its cap.
                    if s.cap_m3_per_h.is_finite() && s.cap_m3_per_h > 0.0 {
                        problem
                            .sources
                            .push(Stream::new(s.id.clone(), s.cap_m3_per_h, c));
                    } else {
                        notes.push(format!(
                            "{}: a source outside strategy.fresh_sources without a finite cap, left out",
                            s.id
                        ));
                    }
                } else {
                    other_sources.push(s.id.clone());
                    if fresh.as_ref().is_none_or(|(_, best)| c < *best) {
                        fresh = Some((s.id.clone(), c));
                    }
                }
            }
            UnitSpec::FixedLoad(s) => {
                if s.species == species {
                    problem.add_fixed_load(
                        &s.id,
                        s.load_kg_per_h,
                        s.c_in_max_mg_per_l,
                        s.c_out_max_mg_per_l,
                    );
                } else {
                    notes.push(format!(
                        "{}: a fixed-load operation of {:?}, not {species:?}",
                        s.id, s.species
                    ));
                }
            }
            UnitSpec::Process(s) => {
                let Some(limit) = species_value(&s.accepts_mg_per_l, species) else {
                    notes.push(format!(
                        "{}: a process without an accepts_mg_per_l limit for {species:?}",
                        s.id
                    ));
                    continue;
                };
                let production = match &s.production_per_h {
                    Driver::Const(p) => *p,
                    d => {
                        let series = to_series(d, axis, file.dir(), &mut csv)
                            .map_err(|e| format!("{}.production_per_h: {e}", s.id))?;
                        let n = axis.steps.max(1);
                        (0..n).map(|k| series.at(k)).sum::<f64>() / n as f64
                    }
                };
                let flow = production * s.water_m3_per_unit;
                let f = s.consumptive_fraction;
                let per_unit = species_value(&s.adds_kg_per_unit, species).unwrap_or(0.0);
                let gamma = 1000.0 * species_value(&s.adds_kg_per_m3, species).unwrap_or(0.0)
                    + if s.water_m3_per_unit > 0.0 {
                        1000.0 * per_unit / s.water_m3_per_unit
                    } else {
                        0.0
                    };
                let c_out = match s.loss {
                    LossSpec::Evaporated => (limit + gamma) / (1.0 - f),
                    LossSpec::IntoProduct => limit + gamma,
                };
                problem
                    .sinks
                    .push(Stream::new(format!("{}.in", s.id), flow, limit));
                if (1.0 - f) * flow > 0.0 {
                    problem.sources.push(Stream::new(
                        format!("{}.out", s.id),
                        (1.0 - f) * flow,
                        c_out,
                    ));
                }
            }
            other => notes.push(format!(
                "{}: a {} is not part of the sink/source analysis",
                other.id(),
                other.type_name()
            )),
        }
    }
    let Some((fresh_source, fresh_ppm)) = fresh else {
        return Err("the park has no Source unit to take as fresh water".into());
    };
    for id in other_sources.iter().filter(|id| **id != fresh_source) {
        notes.push(format!(
            "{id}: a source not taken as fresh water and not in the analysis (list the fresh sources in strategy.fresh_sources to count the others as process sources)"
        ));
    }
    if problem.sinks.is_empty() {
        return Err(format!(
            "no sinks for {species:?}: the analysis needs FixedLoad units of that species or Process units with an accepts_mg_per_l limit for it"
        ));
    }
    problem.fresh_ppm = fresh_ppm;
    Ok(Extraction {
        problem,
        fresh_source,
        notes,
    })
}
