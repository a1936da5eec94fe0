//! `parktwin compare`: the same park and drivers under several coupling strategies, one KPI row
//! per strategy (terminal table, `compare.csv`, and a section of the HTML report).
//!
//! Each strategy gets its own World built from the same validated park (and, for a scenario
//! file, the same demand-noise seed), so the runs differ only in allocation.

use anyhow::{Context, Result, bail};
use parktwin_parks::build::{BuildOptions, NoiseOptions, build};
use parktwin_parks::summary::{RunSummary, summarize};
use parktwin_parks::validate::ValidPark;
use serde::Serialize;
use std::path::Path;

/// One strategy's KPIs.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CompareRow {
    /// Strategy name.
    pub strategy: String,
    /// Water withdrawn from every source, m³.
    pub withdrawal_m3: f64,
    /// Intake under the park's intake policy, m³.
    pub intake_m3: f64,
    /// Discharged, m³.
    pub discharge_m3: f64,
    /// Repeated-use rate `V_r/(V_i + V_r)`.
    pub repeated_use_rate: f64,
    /// Demand not met, m³.
    pub unmet_m3: f64,
    /// Spilled (unroutable), m³.
    pub spill_m3: f64,
    /// Electricity (units and pumping), kWh.
    pub electricity_kwh: f64,
    /// Carbon, t CO2e.
    pub co2e_t: f64,
    /// Cost, yuan.
    pub cost_yuan: f64,
    /// Steps with an inlet above a consumer's limit (`inlet_quality` diagnostics).
    pub inlet_quality_events: u64,
    /// Steps the `optimal` LP had no solution (`infeasible` diagnostics).
    pub infeasible_steps: u64,
    /// Worst relative closure residual.
    pub max_relative_residual: f64,
    /// Wall-clock time of the run, s (not reproducible; informative only).
    pub run_time_s: f64,
}

impl CompareRow {
    fn from_summary(s: &RunSummary, run_time_s: f64) -> Self {
        let w = &s.water_m3;
        Self {
            strategy: s.strategy.clone(),
            withdrawal_m3: w.by_source_kind.values().sum(),
            intake_m3: w.intake,
            discharge_m3: w.discharge,
            repeated_use_rate: w.repeated_use_rate,
            unmet_m3: w.unmet_demand,
            spill_m3: w.exits.get("spill").copied().unwrap_or(0.0),
            electricity_kwh: s.energy.electricity_kwh,
            co2e_t: s.co2e_total_t,
            cost_yuan: s.cost_total_yuan,
            inlet_quality_events: s.diagnostics.get("inlet_quality").copied().unwrap_or(0),
            infeasible_steps: s.diagnostics.get("infeasible").copied().unwrap_or(0),
            max_relative_residual: s.balance.max_relative_residual,
            run_time_s,
        }
    }
}

/// Runs `valid` once per strategy in `names` (each from a fresh copy of the park).
pub fn compare(
    valid: &ValidPark,
    noise: Option<NoiseOptions>,
    names: &[String],
) -> Result<Vec<CompareRow>> {
    if names.is_empty() {
        bail!("--strategies needs at least one name");
    }
    let mut rows = Vec::with_capacity(names.len());
    for name in names {
        let park = valid.clone();
        let strategy = parktwin_parks::strategies::make(name, &park).map_err(anyhow::Error::msg)?;
        let mut built = build(
            park,
            BuildOptions {
                strategy: Some(strategy),
                demand_noise: noise,
                ..Default::default()
            },
        )
        .with_context(|| format!("building the simulation for {name}"))?;
        let started = std::time::Instant::now();
        built.sim.run();
        let elapsed = started.elapsed().as_secs_f64();
        let summary = summarize(&built.sim, &built.meta);
        rows.push(CompareRow::from_summary(&summary, elapsed));
    }
    Ok(rows)
}

/// The rows as a terminal table.
pub fn to_text(rows: &[CompareRow]) -> String {
    let mut t = format!(
        "{:<10} {:>14} {:>14} {:>14} {:>7} {:>10} {:>10} {:>12} {:>10} {:>13} {:>6} {:>6} {:>8}\n",
        "strategy",
        "withdrawal m³",
        "intake m³",
        "discharge m³",
        "reuse%",
        "unmet m³",
        "spill m³",
        "electr. kWh",
        "CO2e t",
        "cost yuan",
        "inlet!",
        "infeas",
        "time s"
    );
    for r in rows {
        t.push_str(&format!(
            "{:<10} {:>14.1} {:>14.1} {:>14.1} {:>7.2} {:>10.1} {:>10.1} {:>12.0} {:>10.2} {:>13.0} {:>6} {:>6} {:>8.2}\n",
            r.strategy,
            r.withdrawal_m3,
            r.intake_m3,
            r.discharge_m3,
            100.0 * r.repeated_use_rate,
            r.unmet_m3,
            r.spill_m3,
            r.electricity_kwh,
            r.co2e_t,
            r.cost_yuan,
            r.inlet_quality_events,
            r.infeasible_steps,
            r.run_time_s
        ));
    }
    t
}

/// Writes `compare.csv` and `compare.json` into `dir`.
pub fn write(dir: &Path, rows: &[CompareRow]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::output::write_atomic(&dir.join("compare.csv"), &bytes)?;
    crate::output::write_atomic(
        &dir.join("compare.json"),
        serde_json::to_string_pretty(rows)?.as_bytes(),
    )?;
    Ok(())
}

/// Reads `compare.json` back from `dir`.
pub fn read(dir: &Path) -> Result<Vec<CompareRow>> {
    let path = dir.join("compare.json");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// The comparison as an HTML section of the report (`parktwin report DIR` on a `compare --out`
/// directory).
pub fn section(title: &str, rows: &[CompareRow]) -> String {
    use crate::sankey::esc;
    let mut s = format!(
        "<h1>{}</h1><p class=\"meta\">The same park and drivers under each coupling strategy (docs/strategies.md).</p>\
         <h2>KPIs by strategy</h2><table><tr><th>strategy</th><th>withdrawal, m³</th><th>intake, m³</th>\
         <th>discharge, m³</th><th>repeated-use rate</th><th>unmet, m³</th><th>spill, m³</th>\
         <th>electricity, kWh</th><th>CO2e, t</th><th>cost, yuan</th><th>inlet-limit events</th>\
         <th>infeasible steps</th><th>largest residual</th></tr>",
        esc(title)
    );
    for r in rows {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td><td>{:.2} %</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td><td>{:.1}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{:.1e}</td></tr>",
            esc(&r.strategy),
            r.withdrawal_m3,
            r.intake_m3,
            r.discharge_m3,
            100.0 * r.repeated_use_rate,
            r.unmet_m3,
            r.spill_m3,
            r.electricity_kwh,
            r.co2e_t,
            r.cost_yuan,
            r.inlet_quality_events,
            r.infeasible_steps,
            r.max_relative_residual
        ));
    }
    s.push_str("</table>");
    s
}
