//! The twin's commands (issue #7): synthetic meter readings from `parktwin run --meters`,
//! `parktwin replay` (observability, reconciliation, gross-error tests, leak alarms) and
//! `parktwin leak-eval` (the detection table). The methods live in `parktwin_parks::twin`.
//!
//! Files `replay --out DIR` writes:
//!
//! - `observability.json`: determined and undetermined links, redundant and non-redundant
//!   meters, leak locations with their one-step noise, blind balances;
//! - `reconciled.csv`: `step,timestamp,item_kind,item,value` with `item_kind` `link_flow`
//!   (m³/h at the downstream end), `tank_volume` (m³ at the end of the step) or `tds` (mg/L,
//!   reconciled TDS of a port's water or a unit's inlet mix); undetermined values are empty;
//! - `conductivity.csv`: `step,timestamp,meter,measured_us_per_cm,reconciled_us_per_cm,
//!   normalised_residual,flagged` for the conductivity meters (reconciled after the flows,
//!   `parktwin_parks::twin::salt`);
//! - `meters.csv`: `step,timestamp,meter,measured,reconciled,normalised_residual,flagged`;
//! - `alarms.csv` and `alarms.json`: leak alarms (location, start, alarm and end time, size,
//!   standard error, confidence);
//! - `replay.json` (everything above but the series), `replay.md` (the report section) and
//!   `replay.html` (the report page, [`crate::replay_report`]).

use anyhow::{Context, Result, bail};
use parktwin_engine::sim::Simulation;
use parktwin_parks::load::{ParkFile, from_path};
use parktwin_parks::twin::evaluate::{EvalOptions, evaluate, to_markdown};
use parktwin_parks::twin::leak::CusumSettings;
use parktwin_parks::twin::meters::{MeterSet, resolve, synthesize, truth};
use parktwin_parks::twin::readings::{
    align, format_timestamp, read_records, start_minutes, write_csv,
};
use parktwin_parks::twin::reconcile::TestSettings;
use parktwin_parks::twin::replay::replay;
use parktwin_parks::twin::salt::reconcile_salt_of_park;
use parktwin_parks::validate::validate;
use std::fmt::Write as _;
use std::path::Path;

/// Collects the meters' true values while a run steps.
pub struct MeterTap {
    /// The meters.
    pub set: MeterSet,
    /// True values per step.
    pub rows: Vec<Vec<f64>>,
    buf: Vec<f64>,
}

impl MeterTap {
    /// A tap for the park file's meters (errors when it has none).
    pub fn new(file: &ParkFile) -> Result<Self> {
        let valid = validate(file)?;
        let set =
            resolve(&file.park, &valid.topology, valid.meta.dt_h).map_err(anyhow::Error::msg)?;
        if set.meters.is_empty() {
            bail!(
                "{} has no meters: add a `meters: [...]` list (see docs/twin.md)",
                file.path.display()
            );
        }
        Ok(Self {
            set,
            rows: Vec::new(),
            buf: Vec::new(),
        })
    }

    /// Records the step just computed.
    pub fn observe(&mut self, sim: &Simulation) {
        truth(sim, &self.set, &mut self.buf);
        self.rows.push(self.buf.clone());
    }

    /// Writes seeded synthetic readings as long CSV; returns how many were written.
    pub fn write(&self, path: &Path, start: &str, seed: u64) -> Result<usize> {
        let readings = synthesize(&self.rows, &self.set, seed);
        let start = start_minutes(start).unwrap_or(0.0);
        let mut bytes = Vec::new();
        write_csv(&mut bytes, &readings, &self.set, start)?;
        crate::output::write_atomic(path, &bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(readings.len())
    }
}

/// `parktwin replay PARK --meters FILE [--out DIR]`: returns the text to print.
pub fn run_replay(
    park: &Path,
    meters: &Path,
    out: Option<&Path>,
    tests: TestSettings,
    cusum: CusumSettings,
) -> Result<String> {
    let file = from_path(park)?;
    let valid = validate(&file)?;
    let dt = valid.meta.dt_h;
    let set = resolve(&file.park, &valid.topology, dt).map_err(anyhow::Error::msg)?;
    if set.meters.is_empty() {
        bail!("{} has no meters", park.display());
    }
    let (records, bad) = read_records(meters).map_err(anyhow::Error::msg)?;
    let start = start_minutes(&valid.meta.start).unwrap_or(0.0);
    let (aligned, report) = align(&records, bad, &set, start, valid.meta.steps);
    let r = replay(&valid.topology, &set, &aligned, tests, cusum);
    let salt = reconcile_salt_of_park(&file, &set, &aligned, &r.link_flows, tests)
        .map_err(anyhow::Error::msg)?;
    let mut text = report.to_text();
    text.push_str(&r.to_markdown(dt));
    if let Some(s) = &salt {
        text.push_str(&s.to_markdown());
    }
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let w = |name: &str, bytes: &[u8]| -> Result<()> {
            let p = dir.join(name);
            crate::output::write_atomic(&p, bytes)
                .with_context(|| format!("writing {}", p.display()))
        };
        let ts = |k: usize| format_timestamp(start + k as f64 * dt * 60.0);
        let num = |v: f64| {
            if v.is_finite() {
                format!("{v}")
            } else {
                String::new()
            }
        };
        let topo = &valid.topology;
        let nl = topo.n_links();
        let nt = r.tank_units.len();
        let mut s = String::from("step,timestamp,item_kind,item,value\n");
        for k in 0..r.steps {
            let t = ts(k);
            for l in 0..nl {
                let _ = writeln!(
                    s,
                    "{k},{t},link_flow,{},{}",
                    topo.link_id[l],
                    num(r.link_flows[k * nl + l])
                );
            }
            for (i, &u) in r.tank_units.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "{k},{t},tank_volume,{},{}",
                    topo.unit_id[u],
                    num(r.tank_volumes[k * nt + i])
                );
            }
        }
        if let Some(sr) = &salt {
            let nv = sr.vars.len();
            let nm = set.meters.len();
            for k in 0..r.steps {
                let t = ts(k);
                for (j, label) in sr.var_labels.iter().enumerate() {
                    let _ = writeln!(s, "{k},{t},tds,\"{label}\",{}", num(sr.tds[k * nv + j]));
                }
            }
            let mut c = String::from(
                "step,timestamp,meter,measured_us_per_cm,reconciled_us_per_cm,normalised_residual,flagged\n",
            );
            for k in 0..r.steps {
                let t = ts(k);
                for (m, meter) in set.meters.iter().enumerate() {
                    if meter.kind != parktwin_parks::twin::meters::MeterKind::Conductivity {
                        continue;
                    }
                    let _ = writeln!(
                        c,
                        "{k},{t},{},{},{},{},{}",
                        meter.id,
                        num(aligned.get(k, m)),
                        num(sr.meter_reconciled[k * nm + m]),
                        num(sr.meter_normalised[k * nm + m]),
                        u8::from(sr.flagged[k] == Some(m))
                    );
                }
            }
            w("conductivity.csv", c.as_bytes())?;
        }
        w("reconciled.csv", s.as_bytes())?;
        let nm = set.meters.len();
        let mut s =
            String::from("step,timestamp,meter,measured,reconciled,normalised_residual,flagged\n");
        for k in 0..r.steps {
            let t = ts(k);
            for m in 0..nm {
                let _ = writeln!(
                    s,
                    "{k},{t},{},{},{},{},{}",
                    set.meters[m].id,
                    num(aligned.get(k, m)),
                    num(r.meter_reconciled[k * nm + m]),
                    num(r.meter_normalised[k * nm + m]),
                    u8::from(r.flagged[k] == Some(m))
                );
            }
        }
        w("meters.csv", s.as_bytes())?;
        let mut s = String::from(
            "location,start_step,start,alarm_step,alarm,end_step,end,leak_m3_per_h,leak_se_m3_per_h,confidence\n",
        );
        for a in &r.alarms {
            let _ = writeln!(
                s,
                "\"{}\",{},{},{},{},{},{},{},{},{}",
                a.name,
                a.start_step,
                ts(a.start_step),
                a.alarm_step,
                ts(a.alarm_step),
                a.end_step.map_or(String::new(), |e| e.to_string()),
                a.end_step.map_or(String::new(), ts),
                a.estimate_m3_per_h,
                a.estimate_se_m3_per_h,
                a.confidence
            );
        }
        w("alarms.csv", s.as_bytes())?;
        w(
            "alarms.json",
            serde_json::to_string_pretty(&r.alarms)?.as_bytes(),
        )?;
        w(
            "observability.json",
            serde_json::to_string_pretty(&r.observability)?.as_bytes(),
        )?;
        w(
            "replay.json",
            serde_json::to_string_pretty(&serde_json::json!({
                "alignment": report,
                "replay": r,
                "conductivity": salt,
            }))?
            .as_bytes(),
        )?;
        let mut md = r.to_markdown(dt);
        if let Some(s) = &salt {
            md.push_str(&s.to_markdown());
        }
        w("replay.md", md.as_bytes())?;
        let page = crate::replay_report::ReplayPage {
            park: &file.park.name,
            start: &valid.meta.start,
            dt_h: dt,
            set: &set,
            aligned: &aligned,
            flows: &r,
            salt: salt.as_ref(),
        };
        w("replay.html", page.render().as_bytes())?;
        let _ = writeln!(text, "\nresults   {}", dir.display());
    }
    Ok(text)
}

/// `parktwin leak-eval PARK`: the detection table as Markdown.
pub fn run_leak_eval(park: &Path, opts: &EvalOptions) -> Result<String> {
    let file = from_path(park)?;
    let rows = evaluate(&file, opts).map_err(anyhow::Error::msg)?;
    Ok(to_markdown(&rows))
}
