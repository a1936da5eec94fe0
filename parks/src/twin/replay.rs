//! Replaying a park against meter readings: observability, per-step reconciliation, gross-error
//! tests and leak alarms over the whole record (see [`super::reconcile`] and [`super::leak`]).

use super::leak::{Alarm, CusumSettings, LeakDetector, Location, locations};
use super::meters::{MeterKind, MeterSet};
use super::readings::Aligned;
use super::reconcile::{Model, Reconciler, StepResult, TestSettings, Var};
use parktwin_engine::network::Topology;
use serde::Serialize;

/// What the meters determine (with every reading present).
#[derive(Clone, Debug, Serialize)]
pub struct Observability {
    /// Variables of the balance model.
    pub variables: usize,
    /// Constraints of the balance model.
    pub constraints: usize,
    /// Measurement slots (a level meter has two: this step's and the previous reading).
    pub measurement_slots: usize,
    /// Degree of redundancy (number of independent checks on the meters).
    pub redundancy: usize,
    /// Links whose flow (at the downstream end) the meters determine.
    pub determined_links: Vec<String>,
    /// Links whose flow they do not.
    pub undetermined_links: Vec<String>,
    /// Tanks whose end volume is determined.
    pub determined_tanks: Vec<String>,
    /// Meters that are redundant (testable: removing one leaves what it measures determined).
    pub redundant_meters: Vec<String>,
    /// Flow and level meters that are not redundant (their reading is taken as it is).
    pub non_redundant_meters: Vec<String>,
    /// Meters the flow and level reconciliation does not use (conductivity: see
    /// [`super::salt`]; pressure).
    pub unused_meters: Vec<String>,
    /// Leak locations that can be told apart.
    pub locations: Vec<Location>,
    /// Balances where a leak cannot be seen.
    pub blind: Vec<String>,
}

/// Per-meter result of the measurement tests over the record.
#[derive(Clone, Debug, Serialize)]
pub struct MeterVerdict {
    /// Meter id.
    pub meter: String,
    /// Steps the meter was tested (present and redundant).
    pub tested_steps: usize,
    /// Steps it was flagged as the gross error.
    pub flagged_steps: usize,
    /// Mean normalised residual over the tested steps.
    pub mean_normalised_residual: f64,
    /// `|mean|·√n`: standard normal for a sound meter if steps were independent.
    pub persistence_z: f64,
    /// Whether the meter is reported as suspect (`persistence_z > 5` and flagged in at least
    /// a quarter of its tested steps).
    pub suspect: bool,
}

/// Everything a replay produces.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayResult {
    /// Observability.
    pub observability: Observability,
    /// Steps replayed.
    pub steps: usize,
    /// Steps where the global test failed.
    pub global_failures: usize,
    /// Critical value of the measurement test with every meter present.
    pub z_crit: f64,
    /// Largest balance residual of a reconciled step, m³/h (0 to rounding: the balances are
    /// constraints).
    pub max_balance_residual: f64,
    /// Per meter.
    pub meters: Vec<MeterVerdict>,
    /// Leak alarms.
    pub alarms: Vec<Alarm>,
    /// Test and CUSUM settings.
    pub cusum: CusumSettings,
    /// Level of the tests.
    pub alpha: f64,
    /// Reconciled link flows (downstream end), `steps × links`, NaN where undetermined.
    #[serde(skip)]
    pub link_flows: Vec<f64>,
    /// Reconciled tank end volumes, `steps × tanks` (tank units in `tank_units`).
    #[serde(skip)]
    pub tank_volumes: Vec<f64>,
    /// Tank unit indices.
    #[serde(skip)]
    pub tank_units: Vec<usize>,
    /// Reconciled value of each meter's measured quantity, `steps × meters` (NaN: not a
    /// flow or level meter, or undetermined).
    #[serde(skip)]
    pub meter_reconciled: Vec<f64>,
    /// Normalised residual per meter and step (NaN: absent or not redundant).
    #[serde(skip)]
    pub meter_normalised: Vec<f64>,
    /// Meter flagged per step.
    #[serde(skip)]
    pub flagged: Vec<Option<usize>>,
}

/// Observability of `model` with every reading present.
pub fn observability(model: &mut Model, topo: &Topology, set: &MeterSet) -> Observability {
    let all = vec![true; model.slots.len()];
    let mut rec = Reconciler::new(model.clone(), TestSettings::default(), set.meters.len());
    let zeros: Vec<f64> = vec![0.0; set.meters.len()];
    // Two steps so that the previous-reading slots are present too.
    rec.step(&zeros);
    let r = rec.step(&zeros);
    let mut o = Observability {
        variables: model.n_vars(),
        constraints: model.constraints.len(),
        measurement_slots: all.len(),
        redundancy: r.dof,
        determined_links: vec![],
        undetermined_links: vec![],
        determined_tanks: vec![],
        redundant_meters: vec![],
        non_redundant_meters: vec![],
        unused_meters: vec![],
        locations: vec![],
        blind: vec![],
    };
    for (i, v) in model.vars.iter().enumerate() {
        match *v {
            Var::LinkTo(l) if r.z[i].is_finite() => {
                o.determined_links.push(topo.link_id[l].clone())
            }
            Var::LinkTo(l) => o.undetermined_links.push(topo.link_id[l].clone()),
            Var::TankEnd(u) if r.z[i].is_finite() => {
                o.determined_tanks.push(topo.unit_id[u].clone())
            }
            _ => {}
        }
    }
    for (m, meter) in set.meters.iter().enumerate() {
        let slots: Vec<usize> = (0..model.slots.len())
            .filter(|&i| model.slots[i].meter == m && model.slots[i].lag == 0)
            .collect();
        if slots.is_empty() {
            o.unused_meters.push(meter.id.clone());
        } else if slots.iter().any(|&i| r.normalised[i].is_finite()) {
            o.redundant_meters.push(meter.id.clone());
        } else {
            o.non_redundant_meters.push(meter.id.clone());
        }
    }
    let (locs, blind) = locations(model);
    o.locations = locs;
    o.blind = blind;
    o
}

/// Replays `aligned` readings through the balance model of `topo` and `set`.
pub fn replay(
    topo: &Topology,
    set: &MeterSet,
    aligned: &Aligned,
    tests: TestSettings,
    cusum: CusumSettings,
) -> ReplayResult {
    let mut model = Model::new(topo, set);
    let obs = observability(&mut model, topo, set);
    let mut detector = LeakDetector::new(obs.locations.clone(), cusum);
    let nm = set.meters.len();
    let nl = topo.n_links();
    let tank_units: Vec<usize> = model
        .vars
        .iter()
        .filter_map(|v| match v {
            Var::TankEnd(u) => Some(*u),
            _ => None,
        })
        .collect();
    let tank_vars: Vec<usize> = (0..model.vars.len())
        .filter(|&i| matches!(model.vars[i], Var::TankEnd(_)))
        .collect();
    let slot_of: Vec<Option<usize>> = (0..nm)
        .map(|m| {
            (0..model.slots.len()).find(|&i| model.slots[i].meter == m && model.slots[i].lag == 0)
        })
        .collect();
    let mut rec = Reconciler::new(model, tests, nm);
    let steps = aligned.steps;
    let mut out = ReplayResult {
        observability: obs,
        steps,
        global_failures: 0,
        z_crit: 0.0,
        max_balance_residual: 0.0,
        meters: vec![],
        alarms: vec![],
        cusum,
        alpha: tests.alpha,
        link_flows: Vec::with_capacity(steps * nl),
        tank_volumes: Vec::with_capacity(steps * tank_units.len()),
        tank_units,
        meter_reconciled: Vec::with_capacity(steps * nm),
        meter_normalised: Vec::with_capacity(steps * nm),
        flagged: Vec::with_capacity(steps),
    };
    let mut tested = vec![0usize; nm];
    let mut flagged = vec![0usize; nm];
    let mut sum_r = vec![0.0; nm];
    for k in 0..steps {
        let row = &aligned.values[k * nm..(k + 1) * nm];
        let r: StepResult = rec.step(row);
        detector.update(k, &r, &rec.model);
        if let Some((g, c)) = r.global
            && g > c
        {
            out.global_failures += 1;
        }
        out.z_crit = out.z_crit.max(r.z_crit);
        out.max_balance_residual = out.max_balance_residual.max(r.max_balance_residual);
        for l in 0..nl {
            out.link_flows.push(r.z[2 * l + 1]);
        }
        for &v in &tank_vars {
            out.tank_volumes.push(r.z[v]);
        }
        for m in 0..nm {
            let (val, nr) = match slot_of[m] {
                Some(i) => {
                    let s = &rec.model.slots[i];
                    let v: f64 = s.terms.iter().map(|&(j, c)| c * r.z[j]).sum();
                    (v, r.normalised[i])
                }
                None => (f64::NAN, f64::NAN),
            };
            out.meter_reconciled.push(val);
            out.meter_normalised.push(nr);
            if nr.is_finite() {
                tested[m] += 1;
                sum_r[m] += nr;
            }
        }
        if let Some(m) = r.flagged {
            flagged[m] += 1;
        }
        out.flagged.push(r.flagged);
    }
    out.alarms = detector.alarms;
    out.meters = set
        .meters
        .iter()
        .enumerate()
        .filter(|(_, m)| matches!(m.kind, MeterKind::Flow | MeterKind::Level))
        .map(|(m, meter)| {
            let n = tested[m].max(1) as f64;
            let mean = sum_r[m] / n;
            let pz = mean.abs() * n.sqrt();
            MeterVerdict {
                meter: meter.id.clone(),
                tested_steps: tested[m],
                flagged_steps: flagged[m],
                mean_normalised_residual: mean,
                persistence_z: pz,
                suspect: pz > 5.0 && flagged[m] as f64 >= 0.25 * tested[m] as f64,
            }
        })
        .collect();
    out
}

impl ReplayResult {
    /// The report section (Markdown).
    pub fn to_markdown(&self, dt_h: f64) -> String {
        let o = &self.observability;
        let mut t = String::from("## Meters, reconciliation and leaks\n\n");
        t.push_str(&format!(
            "Balance model: {} variables, {} constraints, {} measurement slots; degree of redundancy {}.\n\n",
            o.variables, o.constraints, o.measurement_slots, o.redundancy
        ));
        t.push_str(&format!(
            "- Links whose flow the meters determine: {} of {}{}\n",
            o.determined_links.len(),
            o.determined_links.len() + o.undetermined_links.len(),
            if o.undetermined_links.is_empty() {
                String::new()
            } else {
                format!(" (not determined: {})", o.undetermined_links.join(", "))
            }
        ));
        t.push_str(&format!(
            "- Redundant (testable) meters: {}\n- Non-redundant meters: {}\n- Not used by the flow reconciliation: {}\n",
            list(&o.redundant_meters),
            list(&o.non_redundant_meters),
            list(&o.unused_meters)
        ));
        t.push_str(&format!(
            "- Leak locations the meters tell apart: {}; blind balances: {}\n\n",
            o.locations.len(),
            list(&o.blind)
        ));
        t.push_str(&format!(
            "{} steps reconciled; largest balance residual after reconciliation {:.2e} m³/h; global test (α = {}) failed in {} steps ({:.1} %).\n\n",
            self.steps,
            self.max_balance_residual,
            self.alpha,
            self.global_failures,
            100.0 * self.global_failures as f64 / self.steps.max(1) as f64
        ));
        t.push_str(&meter_table(&self.meters));
        t.push_str(&format!(
            "\nLeak alarms (CUSUM κ = {}, h = {}): {}\n\n",
            self.cusum.k,
            self.cusum.h,
            self.alarms.len()
        ));
        if !self.alarms.is_empty() {
            t.push_str("| location | start (h) | alarm (h) | end (h) | leak m³/h (± se) | confidence |\n|---|---|---|---|---|---|\n");
            for a in &self.alarms {
                t.push_str(&format!(
                    "| {} | {} | {} | {} | {:.2} ± {:.2} | {:.4} |\n",
                    a.name,
                    a.start_step as f64 * dt_h,
                    a.alarm_step as f64 * dt_h,
                    a.end_step
                        .map_or("—".to_string(), |e| format!("{}", e as f64 * dt_h)),
                    a.estimate_m3_per_h,
                    a.estimate_se_m3_per_h,
                    a.confidence
                ));
            }
        }
        t
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The Markdown table of meter verdicts (flow and level meters here, conductivity meters in
/// [`super::salt`]).
pub(crate) fn meter_table(meters: &[MeterVerdict]) -> String {
    let mut t = String::from(
        "| meter | tested steps | flagged steps | mean normalised residual | persistence z | suspect |\n|---|---|---|---|---|---|\n",
    );
    for m in meters {
        t.push_str(&format!(
            "| {} | {} | {} | {:.2} | {:.1} | {} |\n",
            m.meter,
            m.tested_steps,
            m.flagged_steps,
            m.mean_normalised_residual,
            m.persistence_z,
            if m.suspect { "yes" } else { "" }
        ));
    }
    t
}
