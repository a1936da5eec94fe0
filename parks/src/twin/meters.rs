//! Meters of the twin: what they measure, their noise, their faults, and seeded synthetic
//! readings from a simulated run.
//!
//! A park file lists its meters under `meters`:
//!
//! ```ron
//! meters: [
//!     (id: "FT-city", kind: Flow, link: "city->splitter", end: From, sd: 2.0),
//!     (id: "FT-a", kind: Flow, link: "splitter->a", sd: 1.0, bias: 0.0, drift_per_day: 0.0,
//!      dropout: 0.01),
//!     (id: "FT-src", kind: Flow, unit: "city", sd: 2.0),
//!     (id: "LT-tank", kind: Level, unit: "tank", sd: 0.5),
//!     (id: "CT-tower", kind: Conductivity, port: "ct.blowdown", sd: 20.0,
//!      tds_mg_per_l_per_us_per_cm: 0.64),
//!     (id: "PT-main", kind: Pressure, link: "city->splitter", sd: 5.0),
//! ]
//! ```
//!
//! What each kind reads (true value, before noise), in the meter's unit:
//!
//! - `Flow` (m³/h): on a link, the flow at its `end`: `To` (default) is what the downstream unit
//!   receives, `From` what the upstream port sends, which includes the link's leak
//!   (`q_from = q_to + leak`, as in the engine's `Flows`). On a unit: a source's withdrawal,
//!   any other unit's total inflow over its links.
//! - `Level` (m³): a tank's stored volume at the end of the step (a level gauge converted with
//!   the tank's geometry; the park file has no tank geometry, so level meters read volume).
//! - `Conductivity` (µS/cm): `EC = TDS / k` with `k` = `tds_mg_per_l_per_us_per_cm` (default
//!   0.64; natural and cooling waters lie between 0.55 and 0.8 — APHA *Standard Methods*
//!   2510 A and 1030 E), of the water at a `port` (`"ct.blowdown"`: a cooling tower's
//!   recirculating water), a `link` (its upstream port's water) or a `unit` (its inlet mix).
//! - `Pressure` (kPa): the link's pump discharge pressure `ρ·g·H/1000` while the link carries
//!   water, 0 otherwise. parktwin has no hydraulic network model, so pressure readings are
//!   written but not used by reconciliation.
//!
//! Noise model of a reading at step `k` (`t` days from the start):
//! `y = x + bias + drift_per_day·t + sd·ε`, `ε` standard normal from a ChaCha8 stream seeded by
//! the run's meter seed and the meter's index (so readings do not depend on which other meters
//! exist); with probability `dropout` the reading is missing. Readings are not clipped at zero
//! (an electromagnetic flow meter reads small negative values around zero flow), so the noise
//! stays unbiased.
//!
//! Faults are events, `MeterFault(meter: "FT-a", fault: Bias(5.0), from_h: 100.0, to_h: 200.0)`:
//! `Bias(x)` adds `x` (meter unit), `Drift(x)` adds `x` per day since the fault began, `Stuck`
//! repeats the last reading before the fault, `Dropout` loses every reading. Leaks are the
//! existing `Leak(link, m3_per_h)` events: they change the water, and so the true values.

use crate::schema::{EventSpec, Park};
use parktwin_engine::events::standard_normal;
use parktwin_engine::network::{FlowKind, Topology};
use parktwin_engine::record::{G, RHO_WATER};
use parktwin_engine::sim::Simulation;
use parktwin_engine::state::{Flows, Quality, Species, Storage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What a meter measures.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
pub enum MeterKind {
    /// Volumetric flow, m³/h.
    Flow,
    /// Stored volume of a tank, m³.
    Level,
    /// Electrical conductivity, µS/cm (TDS through a stated factor).
    Conductivity,
    /// Pump discharge pressure, kPa.
    Pressure,
}

impl MeterKind {
    /// The unit written with readings.
    pub fn unit(self) -> &'static str {
        match self {
            MeterKind::Flow => "m3/h",
            MeterKind::Level => "m3",
            MeterKind::Conductivity => "uS/cm",
            MeterKind::Pressure => "kPa",
        }
    }
}

/// Which end of a link a flow meter sits at.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum LinkEnd {
    /// The upstream end: reads what the port sends (leak included).
    From,
    /// The downstream end: reads what the unit receives.
    #[default]
    To,
}

/// A meter as written in the park file (see the module docs).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MeterSpec {
    /// Meter id (tag), unique.
    pub id: String,
    /// What it measures.
    pub kind: MeterKind,
    /// Link id (`"FROM->TO"` by default), for flow, conductivity and pressure meters.
    #[serde(default)]
    pub link: Option<String>,
    /// End of the link a flow meter sits at (default `To`).
    #[serde(default)]
    pub end: LinkEnd,
    /// Unit id, for flow (withdrawal or inflow), level and conductivity (inlet mix) meters.
    #[serde(default)]
    pub unit: Option<String>,
    /// `"unit.port"`, for conductivity meters.
    #[serde(default)]
    pub port: Option<String>,
    /// Standard deviation of the random error, in the meter's unit (also the weight of the
    /// meter's readings in reconciliation).
    pub sd: f64,
    /// Constant offset, in the meter's unit (synthetic readings).
    #[serde(default)]
    pub bias: f64,
    /// Offset growing linearly in time, meter unit per day (synthetic readings).
    #[serde(default)]
    pub drift_per_day: f64,
    /// Probability that a reading is missing, 0–1 (synthetic readings).
    #[serde(default)]
    pub dropout: f64,
    /// TDS/EC factor `k` of a conductivity meter, mg/L per µS/cm (default 0.64).
    #[serde(default = "default_tds_factor")]
    pub tds_mg_per_l_per_us_per_cm: f64,
}

fn default_tds_factor() -> f64 {
    0.64
}

/// What goes wrong with a meter during a `MeterFault` event.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
pub enum FaultSpec {
    /// A constant offset, meter unit.
    Bias(f64),
    /// An offset growing by this much per day from the fault's start, meter unit.
    Drift(f64),
    /// The reading freezes at the last value before the fault.
    Stuck,
    /// No readings.
    Dropout,
}

/// Where a meter reads, resolved to engine indices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Site {
    /// A link's flow at the downstream end.
    LinkTo(usize),
    /// A link's flow at the upstream end (leak included).
    LinkFrom(usize),
    /// A source's withdrawal.
    SourceOut(usize),
    /// A unit's total inflow over its links.
    UnitIn(usize),
    /// A tank's volume at the end of the step.
    TankVolume(usize),
    /// TDS of the water leaving by a port.
    PortTds(usize),
    /// TDS of a unit's inlet mix.
    InletTds(usize),
    /// Pump discharge pressure of a link.
    LinkPressure(usize),
}

/// A meter resolved against the compiled topology.
#[derive(Clone, Debug, PartialEq)]
pub struct Meter {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: MeterKind,
    /// Where it reads.
    pub site: Site,
    /// Standard deviation, meter unit.
    pub sd: f64,
    /// Bias, meter unit.
    pub bias: f64,
    /// Drift, meter unit per day.
    pub drift_per_day: f64,
    /// Dropout probability.
    pub dropout: f64,
    /// TDS/EC factor, mg/L per µS/cm.
    pub tds_factor: f64,
}

/// A meter fault in steps `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fault {
    /// Meter index.
    pub meter: usize,
    /// What goes wrong.
    pub fault: FaultSpec,
    /// First step.
    pub from: usize,
    /// First step after the fault.
    pub to: usize,
}

/// The park's meters and their faults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeterSet {
    /// Meters in declaration order.
    pub meters: Vec<Meter>,
    /// Faults.
    pub faults: Vec<Fault>,
    /// Step length, h.
    pub dt_h: f64,
}

impl MeterSet {
    /// Index of a meter by id.
    pub fn index(&self, id: &str) -> Option<usize> {
        self.meters.iter().position(|m| m.id == id)
    }
}

fn link_ids(park: &Park) -> Vec<String> {
    park.links
        .iter()
        .map(|l| {
            l.id.clone()
                .unwrap_or_else(|| format!("{}->{}", l.from, l.to))
        })
        .collect()
}

/// Checks the meters and meter faults of a park file: returns `(item, message)` problems.
/// `link_ids` are the links' ids in declaration order.
pub fn check(park: &Park, link_ids: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, m) in park.meters.iter().enumerate() {
        let it = format!("meters[{i}] {:?}", m.id);
        if m.id.is_empty() {
            out.push((it.clone(), "a meter needs an id".into()));
        }
        if !seen.insert(m.id.as_str()) {
            out.push((it.clone(), format!("meter id {:?} is used twice", m.id)));
        }
        if !(m.sd.is_finite() && m.sd > 0.0) {
            out.push((format!("{it}.sd"), format!("sd {} must be above 0", m.sd)));
        }
        for (f, v) in [("bias", m.bias), ("drift_per_day", m.drift_per_day)] {
            if !v.is_finite() {
                out.push((format!("{it}.{f}"), format!("{f} {v} is not finite")));
            }
        }
        if !(0.0..=1.0).contains(&m.dropout) {
            out.push((
                format!("{it}.dropout"),
                format!("dropout {} is not a probability", m.dropout),
            ));
        }
        if !(m.tds_mg_per_l_per_us_per_cm.is_finite() && m.tds_mg_per_l_per_us_per_cm > 0.0) {
            out.push((
                format!("{it}.tds_mg_per_l_per_us_per_cm"),
                "the TDS/EC factor must be above 0".into(),
            ));
        }
        let places = [m.link.is_some(), m.unit.is_some(), m.port.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if places != 1 {
            out.push((
                it.clone(),
                "a meter names exactly one of link, unit or port".into(),
            ));
            continue;
        }
        if let Some(l) = &m.link
            && !link_ids.contains(l)
        {
            out.push((format!("{it}.link"), format!("unknown link {l:?}")));
        }
        if let Some(u) = &m.unit
            && !park.units.iter().any(|s| s.id() == u)
        {
            out.push((format!("{it}.unit"), format!("unknown unit {u:?}")));
        }
        if let Some(p) = &m.port {
            let unit = p.split_once('.').map(|(u, _)| u).unwrap_or("");
            if !park.units.iter().any(|s| s.id() == unit) {
                out.push((
                    format!("{it}.port"),
                    format!("{p:?} is not \"unit.port\" of a known unit"),
                ));
            }
        }
        let ok = match m.kind {
            MeterKind::Flow => m.port.is_none(),
            MeterKind::Level => m.unit.is_some(),
            MeterKind::Conductivity => true,
            MeterKind::Pressure => m.link.is_some(),
        };
        if !ok {
            out.push((
                it.clone(),
                format!(
                    "a {:?} meter reads on {}",
                    m.kind,
                    match m.kind {
                        MeterKind::Flow => "a link or a unit",
                        MeterKind::Level => "a unit (a tank)",
                        _ => "a link",
                    }
                ),
            ));
        }
    }
    for (k, e) in park.events.iter().enumerate() {
        if let EventSpec::MeterFault { meter, fault, .. } = e {
            let it = format!("events[{k}] MeterFault");
            if !park.meters.iter().any(|m| &m.id == meter) {
                out.push((format!("{it}.meter"), format!("unknown meter {meter:?}")));
            }
            if let FaultSpec::Bias(x) | FaultSpec::Drift(x) = fault
                && !x.is_finite()
            {
                out.push((format!("{it}.fault"), format!("{x} is not finite")));
            }
        }
    }
    out
}

/// Resolves the park's meters and faults against the compiled topology (the park must have
/// passed [`crate::validate::validate`], which runs [`check`]). Errors name the meter.
pub fn resolve(park: &Park, topo: &Topology, dt_h: f64) -> Result<MeterSet, String> {
    let ids = link_ids(park);
    let link = |id: &str| -> Result<usize, String> {
        // Declaration order and compiled order are matched through the link's id.
        topo.link_id
            .iter()
            .position(|x| x == id)
            .or_else(|| {
                let k = ids.iter().position(|x| x == id)?;
                topo.link_id.iter().position(|x| *x == ids[k])
            })
            .ok_or_else(|| format!("unknown link {id:?}"))
    };
    let unit = |id: &str| {
        topo.unit_index(id)
            .ok_or_else(|| format!("unknown unit {id:?}"))
    };
    let mut meters = Vec::new();
    for m in &park.meters {
        let err = |e: String| format!("meter {:?}: {e}", m.id);
        let site = match (m.kind, &m.link, &m.unit, &m.port) {
            (MeterKind::Flow, Some(l), _, _) => {
                let l = link(l).map_err(err)?;
                match m.end {
                    LinkEnd::To => Site::LinkTo(l),
                    LinkEnd::From => Site::LinkFrom(l),
                }
            }
            (MeterKind::Flow, None, Some(u), _) => {
                let u = unit(u).map_err(err)?;
                if topo.unit_flow[u] == FlowKind::Source {
                    Site::SourceOut(u)
                } else {
                    Site::UnitIn(u)
                }
            }
            (MeterKind::Level, _, Some(u), _) => {
                let ui = unit(u).map_err(err)?;
                if topo.unit_flow[ui] != FlowKind::Tank {
                    return Err(err(format!("{u:?} is not a tank")));
                }
                Site::TankVolume(ui)
            }
            (MeterKind::Conductivity, Some(l), _, _) => {
                Site::PortTds(topo.link_from_port[link(l).map_err(err)?] as usize)
            }
            (MeterKind::Conductivity, _, Some(u), _) => Site::InletTds(unit(u).map_err(err)?),
            (MeterKind::Conductivity, _, _, Some(p)) => {
                let (u, port) = p
                    .split_once('.')
                    .ok_or_else(|| err(format!("{p:?} is not \"unit.port\"")))?;
                let ui = unit(u).map_err(err)?;
                Site::PortTds(
                    topo.port_index(ui, port)
                        .ok_or_else(|| err(format!("unit {u:?} has no port {port:?}")))?,
                )
            }
            (MeterKind::Pressure, Some(l), _, _) => Site::LinkPressure(link(l).map_err(err)?),
            _ => return Err(err("the meter's kind and place do not fit".into())),
        };
        meters.push(Meter {
            id: m.id.clone(),
            kind: m.kind,
            site,
            sd: m.sd,
            bias: m.bias,
            drift_per_day: m.drift_per_day,
            dropout: m.dropout,
            tds_factor: m.tds_mg_per_l_per_us_per_cm,
        });
    }
    let mut set = MeterSet {
        meters,
        faults: Vec::new(),
        dt_h,
    };
    for e in &park.events {
        if let EventSpec::MeterFault {
            meter,
            fault,
            from_h,
            to_h,
        } = e
        {
            let m = set
                .index(meter)
                .ok_or_else(|| format!("meter fault: unknown meter {meter:?}"))?;
            set.faults.push(Fault {
                meter: m,
                fault: *fault,
                from: (from_h / dt_h).round().max(0.0) as usize,
                to: (to_h / dt_h).round().max(0.0) as usize,
            });
        }
    }
    Ok(set)
}

/// The true values of every meter after the step just computed, in meter order.
pub fn truth(sim: &Simulation, set: &MeterSet, out: &mut Vec<f64>) {
    let topo = sim.resource::<Topology>();
    let flows = sim.resource::<Flows>();
    let q = sim.resource::<Quality>();
    let storage = sim.resource::<Storage>();
    let species = sim.resource::<Species>();
    let ns = species.len();
    let tds = species.index("tds").unwrap_or(0);
    out.clear();
    for m in &set.meters {
        let v = match m.site {
            Site::LinkTo(l) => flows.link[l],
            Site::LinkFrom(l) => flows.link[l] + flows.leak[l],
            Site::SourceOut(u) => flows.throughput[u],
            Site::UnitIn(u) => topo
                .links_into(u)
                .iter()
                .map(|&l| flows.link[l as usize])
                .sum(),
            Site::TankVolume(u) => storage.volume_end[u],
            Site::PortTds(p) => q.port[p * ns + tds] / m.tds_factor,
            Site::InletTds(u) => q.inlet[u * ns + tds] / m.tds_factor,
            Site::LinkPressure(l) => {
                if flows.link[l] > 0.0 {
                    RHO_WATER * G * topo.link_head_m[l] / 1000.0
                } else {
                    0.0
                }
            }
        };
        out.push(v);
    }
}

/// One reading: step, meter index and value (`None`: missing).
pub type Reading = (usize, usize, f64);

/// Seeded synthetic readings from true values (`truth[k][m]`, steps × meters): the noise
/// model and faults of the module docs. Returns readings in time order, then meter order.
pub fn synthesize(truth: &[Vec<f64>], set: &MeterSet, seed: u64) -> Vec<Reading> {
    let nm = set.meters.len();
    let mut rngs: Vec<ChaCha8Rng> = (0..nm)
        .map(|m| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            r.set_stream(m as u64 + 1);
            r
        })
        .collect();
    let mut last: Vec<Option<f64>> = vec![None; nm];
    let mut out = Vec::with_capacity(truth.len() * nm);
    for (k, row) in truth.iter().enumerate() {
        let days = k as f64 * set.dt_h / 24.0;
        for (m, meter) in set.meters.iter().enumerate() {
            let rng = &mut rngs[m];
            // Draw every random number every step, so faults and dropouts do not shift the
            // stream of later readings.
            let eps = standard_normal(rng);
            let u: f64 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let mut y = row[m] + meter.bias + meter.drift_per_day * days + meter.sd * eps;
            let mut missing = u < meter.dropout;
            let mut stuck = false;
            for f in &set.faults {
                if f.meter != m || k < f.from || k >= f.to {
                    continue;
                }
                match f.fault {
                    FaultSpec::Bias(x) => y += x,
                    FaultSpec::Drift(x) => y += x * (k - f.from) as f64 * set.dt_h / 24.0,
                    FaultSpec::Stuck => stuck = true,
                    FaultSpec::Dropout => missing = true,
                }
            }
            if stuck && let Some(v) = last[m] {
                y = v;
            }
            if missing {
                continue;
            }
            if !stuck {
                last[m] = Some(y);
            }
            out.push((k, m, y));
        }
    }
    out
}
