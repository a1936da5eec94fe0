//! Metered simulation runs, and the leak-detection evaluation harness: synthetic leak scenarios
//! over leak size, location and meter noise, replayed through reconciliation and the CUSUM.
//!
//! For each meter-noise factor `f` (every meter's `sd` × `f`, in synthesis and in the weights),
//! each link whose segment is a detectable location, and each leak size (in multiples of that
//! location's one-step leak noise `1/‖f_s‖` with the meters as written, so the same m³/h at
//! every noise factor), the park is run with a `Leak` on the link from
//! the middle of the run to its end; `seeds` sets of readings are drawn from the run and
//! replayed. A run **detects** the leak when an alarm is raised after the leak starts; it
//! **localises** it when the first such alarm names a location containing the leaking link;
//! **time to detect** is from the leak's start to that alarm (hours, counting the alarm step);
//! **false alarms** are alarms before the leak starts, per day of leak-free record (a leak-free
//! row, size 0, uses the whole run).

use super::leak::CusumSettings;
use super::meters::{MeterSet, resolve, synthesize, truth};
use super::readings::Aligned;
use super::reconcile::{Constraint, Model, TestSettings};
use super::replay::{observability, replay};
use crate::build::{BuildOptions, BuiltPark, build};
use crate::load::ParkFile;
use crate::schema::EventSpec;
use crate::validate::validate;
use parktwin_engine::state::Clock;
use serde::Serialize;

/// Runs a park file to its end and returns its meters, the meters' true values per step, and
/// the finished simulation.
pub fn run_metered(
    file: &ParkFile,
    options: BuildOptions,
) -> Result<(MeterSet, Vec<Vec<f64>>, BuiltPark), String> {
    let valid = validate(file).map_err(|e| e.to_string())?;
    let set = resolve(&file.park, &valid.topology, valid.meta.dt_h)?;
    let mut built = build(valid, options).map_err(|e| e.to_string())?;
    let steps = built.sim.resource::<Clock>().steps;
    let mut rows = Vec::with_capacity(steps);
    let mut row = Vec::new();
    while built.sim.resource::<Clock>().step < steps {
        built.sim.step();
        truth(&built.sim, &set, &mut row);
        rows.push(row.clone());
    }
    built.sim.finish();
    Ok((set, rows, built))
}

/// Options of the evaluation.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Leak sizes in multiples of the location's one-step leak noise.
    pub sizes_sd: Vec<f64>,
    /// Meter-noise factors.
    pub noise: Vec<f64>,
    /// Reading sets per scenario.
    pub seeds: u64,
    /// CUSUM settings.
    pub cusum: CusumSettings,
    /// Test settings.
    pub tests: TestSettings,
}

/// One row of the detection table.
#[derive(Clone, Debug, Serialize)]
pub struct EvalRow {
    /// Meter-noise factor.
    pub noise: f64,
    /// Leaking link (empty: leak-free).
    pub link: String,
    /// Whether the leak lost any water (a `Leak` acts only while its link carries water).
    pub active: bool,
    /// Leak size, multiples of the location's one-step noise with the meters as written
    /// (at noise factor `f` the leak is `size_sd / f` of that location's noise).
    pub size_sd: f64,
    /// Leak size, m³/h.
    pub size_m3_per_h: f64,
    /// Runs.
    pub runs: u64,
    /// Runs with an alarm after the leak began.
    pub detected: u64,
    /// Runs whose first alarm after the leak named the leaking link's location.
    pub localised: u64,
    /// Mean time to detect, h (NaN when none detected).
    pub mean_time_to_detect_h: f64,
    /// Alarms before the leak (or in a leak-free run).
    pub false_alarms: u64,
    /// Days of leak-free record.
    pub leak_free_days: f64,
}

/// Runs the evaluation (see the module docs).
pub fn evaluate(file: &ParkFile, opts: &EvalOptions) -> Result<Vec<EvalRow>, String> {
    let mut rows = Vec::new();
    // Leak sizes are fixed in m³/h across noise factors: multiples of each location's
    // one-step noise with the meters as written (noise factor 1).
    let base_sd: Vec<(usize, f64)> = {
        let valid = validate(file).map_err(|e| e.to_string())?;
        let set = resolve(&file.park, &valid.topology, valid.meta.dt_h)?;
        let mut model = Model::new(&valid.topology, &set);
        let obs = observability(&mut model, &valid.topology, &set);
        obs.locations
            .iter()
            .flat_map(|loc| {
                let c = &model.constraints;
                loc.constraints.iter().filter_map(move |&k| match c[k] {
                    Constraint::Segment(l) => Some((l, loc.sd_m3_per_h)),
                    _ => None,
                })
            })
            .collect()
    };
    for &f in &opts.noise {
        let mut base = file.clone();
        for m in &mut base.park.meters {
            m.sd *= f;
        }
        let valid = validate(&base).map_err(|e| e.to_string())?;
        let topo = valid.topology.clone();
        let dt = valid.meta.dt_h;
        let steps = valid.meta.steps;
        let set = resolve(&base.park, &topo, dt)?;
        let mut model = Model::new(&topo, &set);
        let obs = observability(&mut model, &topo, &set);
        let leak_from = steps / 2;
        let mut cases: Vec<(String, f64, f64)> = vec![(String::new(), 0.0, 0.0)];
        for &(l, sd) in &base_sd {
            for &s in &opts.sizes_sd {
                cases.push((topo.link_id[l].clone(), s, s * sd));
            }
        }
        for (link, size_sd, q) in cases {
            let mut case = base.clone();
            if !link.is_empty() {
                case.park.events.push(EventSpec::Leak {
                    link: link.clone(),
                    m3_per_h: q,
                    from_h: leak_from as f64 * dt,
                    to_h: steps as f64 * dt,
                });
            }
            let (set, truths, built) = run_metered(&case, BuildOptions::default())?;
            let leaked: f64 = built
                .sim
                .resource::<parktwin_engine::record::Summary>()
                .units
                .iter()
                .map(|u| u.exits_m3[parktwin_engine::network::ExitKind::Leak.index()])
                .sum();
            let target: Vec<usize> = obs
                .locations
                .iter()
                .enumerate()
                .filter(|(_, loc)| {
                    loc.constraints.iter().any(|&c| {
                        matches!(model.constraints[c], Constraint::Segment(l) if topo.link_id[l] == link)
                    })
                })
                .map(|(i, _)| i)
                .collect();
            let mut row = EvalRow {
                noise: f,
                link: link.clone(),
                active: link.is_empty() || leaked > 0.0,
                size_sd,
                size_m3_per_h: q,
                runs: opts.seeds,
                detected: 0,
                localised: 0,
                mean_time_to_detect_h: f64::NAN,
                false_alarms: 0,
                leak_free_days: 0.0,
            };
            let free_steps = if link.is_empty() { steps } else { leak_from };
            let mut ttd = 0.0;
            for seed in 0..opts.seeds {
                let readings = synthesize(&truths, &set, seed + 1);
                let aligned = Aligned::from_readings(&readings, truths.len(), set.meters.len());
                let r = replay(&topo, &set, &aligned, opts.tests, opts.cusum);
                row.false_alarms += r
                    .alarms
                    .iter()
                    .filter(|a| a.alarm_step < free_steps)
                    .count() as u64;
                row.leak_free_days += free_steps as f64 * dt / 24.0;
                if !link.is_empty()
                    && let Some(a) = r.alarms.iter().find(|a| a.alarm_step >= leak_from)
                {
                    row.detected += 1;
                    ttd += (a.alarm_step + 1 - leak_from) as f64 * dt;
                    if target.contains(&a.location) {
                        row.localised += 1;
                    }
                }
            }
            if row.detected > 0 {
                row.mean_time_to_detect_h = ttd / row.detected as f64;
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The detection table as Markdown.
pub fn to_markdown(rows: &[EvalRow]) -> String {
    let mut t = String::from(
        "| noise × | leaking link | size (σ_loc at noise × 1) | size (m³/h) | runs | detection rate | localised | mean time to detect (h) | false alarms per day |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let inactive: Vec<&str> = rows
        .iter()
        .filter(|r| !r.active)
        .map(|r| r.link.as_str())
        .collect();
    for r in rows.iter().filter(|r| r.active) {
        let rate = |x: u64| format!("{:.2}", x as f64 / r.runs.max(1) as f64);
        t.push_str(&format!(
            "| {} | {} | {} | {:.2} | {} | {} | {} | {} | {:.4} |\n",
            r.noise,
            if r.link.is_empty() { "(none)" } else { &r.link },
            r.size_sd,
            r.size_m3_per_h,
            r.runs,
            if r.link.is_empty() {
                "—".into()
            } else {
                rate(r.detected)
            },
            if r.link.is_empty() {
                "—".into()
            } else {
                rate(r.localised)
            },
            if r.mean_time_to_detect_h.is_finite() {
                format!("{:.1}", r.mean_time_to_detect_h)
            } else {
                "—".into()
            },
            r.false_alarms as f64 / r.leak_free_days.max(1e-12)
        ));
    }
    let mut inactive = inactive;
    inactive.dedup();
    if !inactive.is_empty() {
        t.push_str(&format!(
            "\nLeft out: no water lost on {} (the link carried no water while the leak was on).\n",
            inactive.join(", ")
        ));
    }
    t
}
