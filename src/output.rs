//! Writing run results into a directory (`parktwin run PARK --out DIR`). Everything the report
//! (`parktwin report DIR`) needs is here, and every file opens in the tools people already use.
//!
//! | file | what |
//! | --- | --- |
//! | `summary.json` | the run summary, KPIs and balance tables included (`kpi`) |
//! | `kpis.json` | the KPI report alone (policy, KPIs per scope, products vs the Action Plan, balance tables) |
//! | `kpis.csv` | one row per scope and KPI: value, target, pass, numerator, denominator, definition |
//! | `products.csv` | unit-product intake against the Action Plan's 2020 baseline and 2025 target |
//! | `water_balance.csv` | GB/T 12452-style balance, one row per scope (park, then enterprises) |
//! | `discharge_species.csv` | kg per species discharged (and drained to others) per scope |
//! | `unit_series.csv` | per step and unit: throughput, unmet, stored volume, every species' concentration |
//! | `link_series.csv` | per step and link: flow |
//! | `park_series.csv` | per step: intake by source kind, exits, energy, carbon by origin, cost |
//! | `series.parquet` | all three series in one long, typed table (see [`crate::columnar`]) |
//! | `sankey/{water,<species>,energy,co2e}.{echarts,plotly}.json` | Sankey diagrams (see [`crate::sankey`]) |
//! | `network.geojson` | units and links with their flows (when units carry coordinates) |
//! | `network.dot` | the topology for Graphviz |
//!
//! CSV files are long (tidy): one row per step and item, `time` as `YYYY-MM-DDTHH:MM` local
//! time, numbers in Rust's shortest round-trip form, quoted where needed. Every file is written
//! to a temporary name in the same directory and renamed, so a reader never sees a partial file.

use crate::columnar::LongWriter;
use crate::observe::{ParkSeries, time_label, time_millis};
use crate::{geo, sankey};
use anyhow::{Context, Result};
use parktwin_engine::network::Topology;
use parktwin_engine::record::Recorder;
use parktwin_engine::sim::Simulation;
use parktwin_engine::state::Clock;
use parktwin_parks::kpi::KpiReport;
use parktwin_parks::summary::RunSummary;
use parktwin_parks::totals::Totals;
use parktwin_parks::validate::ParkMeta;
use std::path::Path;

/// Writes `bytes` to `path` atomically: see [`crate::atomic::write_atomic`].
pub use crate::atomic::write_atomic;

fn csv_bytes(header: &[String], rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The KPI tables as CSV files: `kpis.csv`, `products.csv`, `water_balance.csv`,
/// `discharge_species.csv`.
pub fn write_kpi_tables(dir: &Path, k: &KpiReport) -> Result<()> {
    let scopes = std::iter::once(&k.park_kpis).chain(&k.enterprises);
    let rows = scopes.clone().flat_map(|s| {
        s.kpis.iter().map(move |x| {
            vec![
                s.scope.clone(),
                x.key.clone(),
                x.name.clone(),
                x.name_zh.clone(),
                x.standard.clone(),
                x.formula.clone(),
                x.unit.clone(),
                opt(x.value),
                opt(x.target),
                x.pass.map(|p| p.to_string()).unwrap_or_default(),
                x.numerator.to_string(),
                x.denominator.to_string(),
                x.definition.clone(),
                x.note.clone(),
            ]
        })
    });
    write_atomic(
        &dir.join("kpis.csv"),
        &csv_bytes(
            &strings(&[
                "scope",
                "key",
                "name",
                "name_zh",
                "standard",
                "formula",
                "unit",
                "value",
                "target",
                "pass",
                "numerator",
                "denominator",
                "definition",
                "note",
            ]),
            rows,
        )?,
    )?;
    let rows = k.products.iter().map(|p| {
        let r = p.reference.as_ref();
        vec![
            p.enterprise.clone(),
            p.units.join(" "),
            p.product.clone(),
            p.product_unit.clone(),
            p.output.to_string(),
            p.intake_m3.to_string(),
            opt(p.m3_per_unit),
            r.map(|r| r.unit.clone()).unwrap_or_default(),
            opt(r.map(|r| r.baseline_2020)),
            opt(r.map(|r| r.target_2025)),
            p.meets_baseline_2020
                .map(|x| x.to_string())
                .unwrap_or_default(),
            p.meets_target_2025
                .map(|x| x.to_string())
                .unwrap_or_default(),
            opt(p.distance_to_target),
            opt(p.distance_to_target_pct),
            p.allocation.clone(),
            p.note.clone(),
        ]
    });
    write_atomic(
        &dir.join("products.csv"),
        &csv_bytes(
            &strings(&[
                "enterprise",
                "units",
                "product",
                "product_unit",
                "output",
                "intake_m3",
                "m3_per_unit",
                "plan_unit",
                "baseline_2020",
                "target_2025",
                "meets_baseline_2020",
                "meets_target_2025",
                "distance_to_target",
                "distance_to_target_pct",
                "allocation",
                "note",
            ]),
            rows,
        )?,
    )?;
    let mut kinds: Vec<String> = Vec::new();
    for b in &k.balances {
        for key in b.inflow_by_kind.keys() {
            if !kinds.contains(key) {
                kinds.push(key.clone());
            }
        }
    }
    let mut header = strings(&["scope", "name"]);
    header.extend(kinds.iter().map(|x| format!("in_{x}")));
    header.extend(strings(&[
        "intake",
        "unconventional",
        "total_inflow",
        "recirculated",
        "serial_reuse",
        "repeated_use",
        "total_use",
        "evaporation",
        "drift",
        "product",
        "solids",
        "consumption",
        "discharge",
        "drained_to_others",
        "leakage",
        "spill",
        "total_outflow",
        "storage_change",
        "closure_m3",
        "closure_error",
        "closure_ok",
    ]));
    let rows = k.balances.iter().map(|b| {
        let mut r = vec![b.scope.clone(), b.name.clone()];
        r.extend(
            kinds
                .iter()
                .map(|x| b.inflow_by_kind.get(x).copied().unwrap_or(0.0).to_string()),
        );
        r.extend(
            [
                b.intake,
                b.unconventional,
                b.total_inflow,
                b.recirculated,
                b.serial_reuse,
                b.repeated_use,
                b.total_use,
                b.evaporation,
                b.drift,
                b.product,
                b.solids,
                b.consumption,
                b.discharge,
                b.drained_to_others,
                b.leakage,
                b.spill,
                b.total_outflow,
                b.storage_change,
                b.closure_m3,
                b.closure_error,
            ]
            .iter()
            .map(|v| v.to_string()),
        );
        r.push(b.closure_ok.to_string());
        r
    });
    write_atomic(&dir.join("water_balance.csv"), &csv_bytes(&header, rows)?)?;
    let rows = scopes.flat_map(|s| {
        s.discharge_kg.iter().map(move |(sp, v)| {
            vec![
                s.scope.clone(),
                sp.clone(),
                v.to_string(),
                s.drained_kg
                    .get(sp)
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
            ]
        })
    });
    write_atomic(
        &dir.join("discharge_species.csv"),
        &csv_bytes(
            &strings(&["scope", "species", "discharge_kg", "drained_kg"]),
            rows,
        )?,
    )?;
    Ok(())
}

/// Writes the results of a finished run into `dir` (see the module docs), without park series
/// and with Sankey diagrams of the whole run.
pub fn write_run(
    dir: &Path,
    sim: &Simulation,
    meta: &ParkMeta,
    summary: &RunSummary,
) -> Result<()> {
    write_run_with(dir, sim, meta, summary, None, None)
}

/// Writes the results of a finished run into `dir` (see the module docs). `series` is the
/// park series observed while stepping; `window` the totals of a Sankey period (the whole run
/// when `None`). Unit and link series need the recorder enabled.
pub fn write_run_with(
    dir: &Path,
    sim: &Simulation,
    meta: &ParkMeta,
    summary: &RunSummary,
    series: Option<&ParkSeries>,
    window: Option<&Totals>,
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    write_atomic(
        &dir.join("kpis.json"),
        serde_json::to_string_pretty(&summary.kpi)?.as_bytes(),
    )?;
    write_kpi_tables(dir, &summary.kpi)?;
    let rec = sim.resource::<Recorder>();
    let topo = sim.resource::<Topology>();
    let dt = sim.resource::<Clock>().dt_h;
    let nu = topo.n_units();
    let nl = topo.n_links();
    let nc = meta.species.len();
    let steps = rec.steps;
    let labels: Vec<String> = (0..steps)
        .map(|k| time_label(&meta.start, k as f64 * dt))
        .collect();
    let millis: Vec<i64> = (0..steps)
        .map(|k| time_millis(&meta.start, k as f64 * dt))
        .collect();
    let mut header = strings(&[
        "step",
        "time",
        "time_h",
        "unit",
        "throughput_m3_per_h",
        "unmet_m3_per_h",
        "volume_m3",
    ]);
    header.extend(meta.species.iter().map(|s| format!("{s}_mg_per_l")));
    let conc_ok = rec.unit_conc.len() == steps * nu * nc;
    let rows = (0..steps).flat_map(|k| {
        let labels = &labels;
        (0..nu).map(move |u| {
            let i = k * nu + u;
            let mut r = vec![
                k.to_string(),
                labels[k].clone(),
                (k as f64 * dt).to_string(),
                topo.unit_id[u].clone(),
                rec.unit_throughput[i].to_string(),
                rec.unit_unmet[i].to_string(),
                rec.unit_volume[i].to_string(),
            ];
            for s in 0..nc {
                let c = if conc_ok {
                    rec.unit_conc[i * nc + s]
                } else if s == 0 {
                    rec.unit_tds[i]
                } else {
                    f64::NAN
                };
                r.push(c.to_string());
            }
            r
        })
    });
    write_atomic(&dir.join("unit_series.csv"), &csv_bytes(&header, rows)?)?;
    let rows = (0..steps).flat_map(|k| {
        let labels = &labels;
        (0..nl).map(move |l| {
            vec![
                k.to_string(),
                labels[k].clone(),
                (k as f64 * dt).to_string(),
                topo.link_id[l].clone(),
                rec.link_flow[k * nl + l].to_string(),
            ]
        })
    });
    write_atomic(
        &dir.join("link_series.csv"),
        &csv_bytes(
            &strings(&["step", "time", "time_h", "link", "flow_m3_per_h"]),
            rows,
        )?,
    )?;
    if let Some(ps) = series {
        let mut header = strings(&["step", "time", "time_h"]);
        header.extend(ps.columns.iter().cloned());
        let n = ps.steps();
        let rows = (0..n).map(|k| {
            let mut r = vec![
                k.to_string(),
                time_label(&meta.start, k as f64 * dt),
                (k as f64 * dt).to_string(),
            ];
            r.extend((0..ps.columns.len()).map(|c| ps.get(k, c).to_string()));
            r
        });
        write_atomic(&dir.join("park_series.csv"), &csv_bytes(&header, rows)?)?;
    }
    // Parquet: the same series in one long table.
    let mut pq = LongWriter::new()?;
    for u in 0..nu {
        let id = &topo.unit_id[u];
        let at = |v: &[f64], k: usize| v[k * nu + u];
        pq.series(
            "unit",
            id,
            "flow_m3_per_h",
            &millis,
            (0..steps).map(|k| at(&rec.unit_throughput, k)),
        )?;
        pq.series(
            "unit",
            id,
            "unmet_m3_per_h",
            &millis,
            (0..steps).map(|k| at(&rec.unit_unmet, k)),
        )?;
        pq.series(
            "unit",
            id,
            "volume_m3",
            &millis,
            (0..steps).map(|k| at(&rec.unit_volume, k)),
        )?;
        for (s, name) in meta.species.iter().enumerate() {
            let var = format!("{name}_mg_per_l");
            pq.series(
                "unit",
                id,
                &var,
                &millis,
                (0..steps).map(|k| {
                    if conc_ok {
                        rec.unit_conc[(k * nu + u) * nc + s]
                    } else if s == 0 {
                        rec.unit_tds[k * nu + u]
                    } else {
                        f64::NAN
                    }
                }),
            )?;
        }
    }
    for l in 0..nl {
        pq.series(
            "link",
            &topo.link_id[l],
            "flow_m3_per_h",
            &millis,
            (0..steps).map(|k| rec.link_flow[k * nl + l]),
        )?;
    }
    if let Some(ps) = series {
        let n = ps.steps().min(steps);
        for (c, name) in ps.columns.iter().enumerate() {
            pq.series(
                "park",
                "park",
                name,
                &millis[..n],
                (0..n).map(|k| ps.get(k, c)),
            )?;
        }
    }
    write_atomic(&dir.join("series.parquet"), &pq.finish()?)?;
    // Pictures as data.
    let full = parktwin_parks::totals::Totals::capture(sim);
    let t = window.unwrap_or(&full);
    let sk = dir.join("sankey");
    std::fs::create_dir_all(&sk)?;
    let mut diagrams = vec![sankey::material(topo, meta, t, None)];
    for s in 0..nc {
        diagrams.push(sankey::material(topo, meta, t, Some(s)));
    }
    diagrams.push(sankey::energy(topo, meta, t));
    diagrams.push(sankey::carbon(topo, meta, t));
    for d in &diagrams {
        write_atomic(
            &sk.join(format!("{}.echarts.json", d.quantity)),
            serde_json::to_string_pretty(&d.to_echarts())?.as_bytes(),
        )?;
        write_atomic(
            &sk.join(format!("{}.plotly.json", d.quantity)),
            serde_json::to_string_pretty(&d.to_plotly())?.as_bytes(),
        )?;
    }
    if let Some(g) = geo::geojson(topo, meta, t) {
        write_atomic(
            &dir.join("network.geojson"),
            serde_json::to_string_pretty(&g)?.as_bytes(),
        )?;
    }
    write_atomic(&dir.join("network.dot"), geo::dot(topo, meta, t).as_bytes())?;
    // Last, so that a directory holding summary.json holds every other file too (a run killed
    // while writing leaves no summary, and `report` refuses the directory).
    write_atomic(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(summary)?.as_bytes(),
    )?;
    Ok(())
}
