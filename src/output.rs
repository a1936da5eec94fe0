//! Writing run results: `summary.json`, and hourly time series in long (tidy) CSV form, one
//! row per step and item, which pandas, polars and DuckDB read directly
//! (`unit_series.csv`: step, time_h, unit, throughput_m3_per_h, unmet_m3_per_h, volume_m3,
//! tds_mg_per_l; `link_series.csv`: step, time_h, link, flow_m3_per_h). Every file is written to a
//! temporary name in the same directory and renamed, so a reader never sees a partial file.

use anyhow::{Context, Result};
use parktwin_engine::network::Topology;
use parktwin_engine::record::Recorder;
use parktwin_engine::sim::Simulation;
use parktwin_engine::state::Clock;
use parktwin_parks::summary::RunSummary;
use parktwin_parks::validate::ParkMeta;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes the results of a finished run into `dir`.
pub fn write_run(
    dir: &Path,
    sim: &Simulation,
    _meta: &ParkMeta,
    summary: &RunSummary,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    write_atomic(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(summary)?.as_bytes(),
    )?;
    let rec = sim.resource::<Recorder>();
    let topo = sim.resource::<Topology>();
    let dt = sim.resource::<Clock>().dt_h;
    let nu = topo.n_units();
    let nl = topo.n_links();
    let mut units = String::from(
        "step,time_h,unit,throughput_m3_per_h,unmet_m3_per_h,volume_m3,tds_mg_per_l\n",
    );
    for k in 0..rec.steps {
        for u in 0..nu {
            let i = k * nu + u;
            units.push_str(&format!(
                "{k},{},{},{},{},{},{}\n",
                k as f64 * dt,
                topo.unit_id[u],
                rec.unit_throughput[i],
                rec.unit_unmet[i],
                rec.unit_volume[i],
                rec.unit_tds[i]
            ));
        }
    }
    write_atomic(&dir.join("unit_series.csv"), units.as_bytes())?;
    let mut links = String::from("step,time_h,link,flow_m3_per_h\n");
    for k in 0..rec.steps {
        for l in 0..nl {
            links.push_str(&format!(
                "{k},{},{},{}\n",
                k as f64 * dt,
                topo.link_id[l],
                rec.link_flow[k * nl + l]
            ));
        }
    }
    write_atomic(&dir.join("link_series.csv"), links.as_bytes())?;
    Ok(())
}
