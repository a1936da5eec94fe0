//! Batch runs: a scenario's cases on an explicit rayon pool, one World per case, rows sent over
//! a crossbeam channel to one writer thread that appends them to a journal; at the end the rows
//! are sorted by case index and written as `results.csv`, `results.parquet` and `results.json`, with
//! `manifest.json`.
//!
//! - **Isolation**: a case that fails (invalid override, panic, non-finite state) is recorded
//!   with its reason (`status = failed`) and the batch goes on.
//! - **Resume**: `journal.ndjson` holds one JSON row per finished case, appended and flushed as
//!   each finishes; `--resume` skips the cases already there (a torn last line from a killed run
//!   is ignored and that case runs again).
//! - **Shards**: `--shard k/N` (k from 0 to N − 1) runs the cases whose index is `k` modulo
//!   `N`; `merge` combines shard directories into exactly what one run would have written.
//! - **Determinism**: every value in `results.*` is the same for any `--jobs`, shard split or
//!   completion order: rows are sorted by index, and timings are only in `manifest.json`.

use crate::output::write_atomic;
use anyhow::{Context, Result, bail};
use crossbeam_channel::bounded;
use parktwin_parks::build::{BuildOptions, build};
use parktwin_parks::scenario::{Case, Scenario};
use parktwin_parks::summary::summarize;
use parktwin_parks::validate::validate;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The metric columns of a results row, in order.
pub const METRICS: [&str; 16] = [
    "intake_m3",
    "total_inflow_m3",
    "unconventional_m3",
    "reuse_m3",
    "cooling_recirculation_m3",
    "repeated_use_rate",
    "discharge_m3",
    "consumption_m3",
    "unmet_demand_m3",
    "electricity_kwh",
    "heat_kwh",
    "co2e_t",
    "cost_yuan",
    "tds_discharged_kg",
    "max_relative_residual",
    "diagnostics",
];

/// One case's results.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Row {
    /// Case index.
    pub index: usize,
    /// Case id.
    pub id: String,
    /// `ok` or `failed`.
    pub status: String,
    /// Why it failed (empty when ok).
    pub error: String,
    /// Swept parameters.
    pub params: BTreeMap<String, Value>,
    /// Metrics by name ([`METRICS`]); empty when failed.
    pub metrics: BTreeMap<String, f64>,
}

/// Options of a sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Worker threads.
    pub jobs: usize,
    /// Output directory.
    pub out: PathBuf,
    /// Skip cases already in the journal.
    pub resume: bool,
    /// `(k, N)`: run only the cases with `index % N == k`.
    pub shard: Option<(usize, usize)>,
    /// Write per-case time series.
    pub series: bool,
}

/// Parses `k/N`.
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (k, n) = s
        .split_once('/')
        .context("--shard takes k/N, for example 0/4")?;
    let (k, n): (usize, usize) = (k.trim().parse()?, n.trim().parse()?);
    if n == 0 || k >= n {
        bail!("--shard {s}: need 0 ≤ k < N");
    }
    Ok((k, n))
}

fn run_case(scenario: &Scenario, case: &Case, series_dir: Option<&Path>) -> Result<Row, String> {
    let file = scenario.case_file(case)?;
    let valid = validate(&file).map_err(|e| e.to_string())?;
    parktwin_parks::limits::check_park(&valid, series_dir.is_some())?;
    let mut built = build(
        valid,
        BuildOptions {
            record_series: series_dir.is_some(),
            demand_noise: scenario.noise(case),
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    built.sim.run();
    let s = summarize(&built.sim, &built.meta);
    if let Some(n) = s.diagnostics.get("non_finite") {
        let first = s
            .diagnostics_first
            .iter()
            .find(|d| {
                matches!(
                    d.kind,
                    parktwin_engine::diagnostics::DiagnosticKind::NonFinite
                )
            })
            .map(|d| format!(" (first at step {}: {})", d.step, d.message))
            .unwrap_or_default();
        return Err(format!("non-finite state in {n} steps{first}"));
    }
    if let Some(dir) = series_dir {
        crate::output::write_run(dir, &built.sim, &built.meta, &s).map_err(|e| format!("{e:#}"))?;
    }
    let w = &s.water_m3;
    let values = [
        w.intake,
        w.total_inflow,
        w.unconventional,
        w.reuse,
        w.cooling_recirculation,
        w.repeated_use_rate,
        w.discharge,
        w.consumption,
        w.unmet_demand,
        s.energy.electricity_kwh,
        s.energy.heat_kwh,
        s.co2e_total_t,
        s.cost_total_yuan,
        s.species
            .first()
            .map_or(0.0, |t| t.exits_kg.get("discharge").copied().unwrap_or(0.0)),
        s.balance.max_relative_residual,
        s.diagnostics.values().sum::<u64>() as f64,
    ];
    Ok(Row {
        index: case.index,
        id: case.id.clone(),
        status: "ok".into(),
        error: String::new(),
        params: case.params.clone(),
        metrics: METRICS.iter().map(|m| m.to_string()).zip(values).collect(),
    })
}

/// Runs one case, turning any failure (including a panic) into a failed row.
pub fn run_guarded(scenario: &Scenario, case: &Case, series_dir: Option<&Path>) -> Row {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_case(scenario, case, series_dir)
    }));
    let error = match outcome {
        Ok(Ok(row)) => return row,
        Ok(Err(e)) => e,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            format!("panicked: {msg}")
        }
    };
    Row {
        index: case.index,
        id: case.id.clone(),
        status: "failed".into(),
        // One line per row: the problems of an invalid case are joined with "; ".
        error: error
            .lines()
            .map(|l| l.trim().trim_start_matches("- "))
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        params: case.params.clone(),
        metrics: BTreeMap::new(),
    }
}

/// Reads the rows of a journal; a line that does not parse (a torn write) is skipped.
pub fn read_journal(path: &Path) -> Result<Vec<Row>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut rows = Vec::new();
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        if let Ok(row) = serde_json::from_str::<Row>(&line) {
            rows.push(row);
        }
    }
    Ok(rows)
}

fn fmt_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `results.csv`: one row per case sorted by index: index, id, status, swept parameters, metrics,
/// error. Numbers are written in Rust's shortest round-trip form.
pub fn results_csv(rows: &[Row], swept: &[String]) -> String {
    let mut out = String::from("index,id,status");
    for p in swept {
        out.push(',');
        out.push_str(&csv_field(p));
    }
    for m in METRICS {
        out.push(',');
        out.push_str(m);
    }
    out.push_str(",error\n");
    for r in rows {
        out.push_str(&format!("{},{},{}", r.index, csv_field(&r.id), r.status));
        for p in swept {
            out.push(',');
            out.push_str(&csv_field(
                &r.params.get(p).map(fmt_value).unwrap_or_default(),
            ));
        }
        for m in METRICS {
            out.push(',');
            if let Some(v) = r.metrics.get(m) {
                out.push_str(&format!("{v:?}"));
            }
        }
        out.push(',');
        out.push_str(&csv_field(&r.error));
        out.push('\n');
    }
    out
}

/// What a manifest records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// parktwin version.
    pub version: String,
    /// Scenario file.
    pub scenario: String,
    /// SHA-256 of the scenario file.
    pub scenario_sha256: String,
    /// Park file.
    pub park: String,
    /// SHA-256 of the park file.
    pub park_sha256: String,
    /// Scenario seed.
    pub seed: u64,
    /// Number of cases in the whole sweep.
    pub cases_total: usize,
    /// Swept paths.
    pub swept: Vec<String>,
    /// Shards this directory holds (`k/N`), or `all`.
    pub shards: Vec<String>,
    /// Cases in this directory.
    pub cases: usize,
    /// Failed cases.
    pub failed: usize,
    /// Worker threads of the last run.
    pub jobs: usize,
    /// Wall time of the last run, s (not a result: excluded from comparisons).
    pub wall_time_s: f64,
    /// Cases computed by the last run (the rest were resumed).
    pub computed_last_run: usize,
}

fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn finish(dir: &Path, rows: &[Row], swept: &[String], manifest: &Manifest) -> Result<()> {
    write_atomic(
        &dir.join("results.csv"),
        results_csv(rows, swept).as_bytes(),
    )?;
    write_atomic(
        &dir.join("results.json"),
        serde_json::to_string_pretty(rows)?.as_bytes(),
    )?;
    write_atomic(&dir.join("results.parquet"), &results_parquet(rows, swept)?)?;
    write_atomic(
        &dir.join("manifest.json"),
        serde_json::to_string_pretty(manifest)?.as_bytes(),
    )?;
    Ok(())
}

/// Runs (a shard of) a scenario's sweep into `opts.out`. Returns the number of cases in the
/// directory and how many of them failed.
pub fn run_sweep(scenario: &Scenario, opts: &SweepOptions) -> Result<(usize, usize)> {
    let dir = &opts.out;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    let journal_path = dir.join("journal.ndjson");
    let mine: Vec<&Case> = scenario
        .cases
        .iter()
        .filter(|c| opts.shard.is_none_or(|(k, n)| c.index % n == k))
        .collect();
    let wanted: BTreeSet<usize> = mine.iter().map(|c| c.index).collect();
    let existing = read_journal(&journal_path)?;
    if !opts.resume && !existing.is_empty() {
        bail!(
            "{} already holds results of {} cases: add --resume to continue, or choose another --out",
            dir.display(),
            existing.len()
        );
    }
    let done: BTreeSet<usize> = existing
        .iter()
        .filter(|r| {
            wanted.contains(&r.index) && scenario.cases.get(r.index).is_some_and(|c| c.id == r.id)
        })
        .map(|r| r.index)
        .collect();
    let todo: Vec<&Case> = mine
        .iter()
        .copied()
        .filter(|c| !done.contains(&c.index))
        .collect();
    let started = Instant::now();
    let total = todo.len();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .context("starting the worker pool")?;
    let (tx, rx) = bounded::<Row>(256);
    let mut journal = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal_path)
        .with_context(|| format!("opening {}", journal_path.display()))?;
    // A run killed mid-write leaves a torn last line: end it, so the next row starts afresh.
    let ends_clean =
        std::fs::read(&journal_path).map_or(true, |b| b.is_empty() || b.ends_with(b"\n"));
    if !ends_clean {
        journal.write_all(b"\n")?;
    }
    let tty = std::io::stderr().is_terminal();
    let writer = std::thread::spawn(move || -> Result<usize> {
        let mut journal = std::io::BufWriter::new(journal);
        let bar = if tty {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} cases, {per_sec}, ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            Some(bar)
        } else {
            None
        };
        let (mut n, mut failed) = (0usize, 0usize);
        let mut last_line = Instant::now();
        let t0 = Instant::now();
        for row in rx {
            serde_json::to_writer(&mut journal, &row)?;
            journal.write_all(b"\n")?;
            journal.flush()?;
            n += 1;
            if row.status != "ok" {
                failed += 1;
            }
            match &bar {
                Some(b) => b.inc(1),
                None => {
                    if last_line.elapsed().as_secs_f64() >= 10.0 || n == total {
                        let rate = n as f64 / t0.elapsed().as_secs_f64().max(1e-9);
                        let eta = (total - n) as f64 / rate.max(1e-9);
                        eprintln!(
                            "{n}/{total} cases, {rate:.1}/s, ETA {eta:.0} s, {failed} failed"
                        );
                        last_line = Instant::now();
                    }
                }
            }
        }
        if let Some(b) = bar {
            b.finish();
        }
        journal.get_ref().sync_all()?;
        Ok(failed)
    });
    let series_root = opts.series.then(|| dir.join("cases"));
    pool.install(|| {
        todo.par_iter().for_each_with(tx, |tx, case| {
            // A case id names a directory: it may not leave the output directory.
            let series = series_root
                .as_ref()
                .map(|r| crate::atomic::child_path(r, &case.id))
                .transpose();
            let row = match series {
                Ok(series) => run_guarded(scenario, case, series.as_deref()),
                Err(e) => Row {
                    index: case.index,
                    id: case.id.clone(),
                    status: "failed".into(),
                    error: format!("{e:#}"),
                    params: case.params.clone(),
                    metrics: BTreeMap::new(),
                },
            };
            // The writer only stops when every sender is gone.
            let _ = tx.send(row);
        });
    });
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
    let mut rows: Vec<Row> = read_journal(&journal_path)?
        .into_iter()
        .filter(|r| wanted.contains(&r.index))
        .collect();
    rows.sort_by_key(|r| r.index);
    rows.dedup_by_key(|r| r.index);
    let failed = rows.iter().filter(|r| r.status != "ok").count();
    let manifest = Manifest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: scenario.path.display().to_string(),
        scenario_sha256: sha256_file(&scenario.path)?,
        park: scenario.park_path.display().to_string(),
        park_sha256: sha256_file(&scenario.park_path)?,
        seed: scenario.spec.seed,
        cases_total: scenario.cases.len(),
        swept: scenario.swept.clone(),
        shards: vec![
            opts.shard
                .map_or("all".to_string(), |(k, n)| format!("{k}/{n}")),
        ],
        cases: rows.len(),
        failed,
        jobs: opts.jobs,
        wall_time_s: started.elapsed().as_secs_f64(),
        computed_last_run: total,
    };
    finish(dir, &rows, &scenario.swept, &manifest)?;
    Ok((rows.len(), failed))
}

/// Combines shard directories into `out`: exactly the rows one run would have written. Every
/// case of the sweep must be present once; shards must come from the same scenario and park.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<usize> {
    if dirs.is_empty() {
        bail!("merge needs at least one directory");
    }
    let mut manifests = Vec::new();
    let mut rows: BTreeMap<usize, Row> = BTreeMap::new();
    for d in dirs {
        if !d.join("manifest.json").exists() && d.join("journal.ndjson").exists() {
            bail!(
                "{}: no manifest.json, so this shard has not finished: run it again (with --resume) before merging",
                d.display()
            );
        }
        let m: Manifest = serde_json::from_slice(
            &std::fs::read(d.join("manifest.json"))
                .with_context(|| format!("reading {}/manifest.json", d.display()))?,
        )
        .with_context(|| format!("{}/manifest.json is not a parktwin manifest", d.display()))?;
        for r in read_journal(&d.join("journal.ndjson"))? {
            if r.index >= m.cases_total {
                bail!("{}: case {} is outside the sweep", d.display(), r.id);
            }
            if let Some(prev) = rows.get(&r.index)
                && prev != &r
            {
                bail!("case {} differs between shards", r.id);
            }
            rows.insert(r.index, r);
        }
        manifests.push(m);
    }
    let first = &manifests[0];
    for (d, m) in dirs.iter().zip(&manifests) {
        if m.scenario_sha256 != first.scenario_sha256
            || m.park_sha256 != first.park_sha256
            || m.cases_total != first.cases_total
        {
            bail!(
                "{} comes from a different scenario or park than {}",
                d.display(),
                dirs[0].display()
            );
        }
    }
    let missing: Vec<usize> = (0..first.cases_total)
        .filter(|i| !rows.contains_key(i))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} of {} cases are missing (first: index {}); run the missing shards, with --resume where they stopped",
            missing.len(),
            first.cases_total,
            missing[0]
        );
    }
    let rows: Vec<Row> = rows.into_values().collect();
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the output directory {}", out.display()))?;
    // The merged directory can itself be resumed or merged again.
    let mut journal = String::new();
    for r in &rows {
        journal.push_str(&serde_json::to_string(r)?);
        journal.push('\n');
    }
    write_atomic(&out.join("journal.ndjson"), journal.as_bytes())?;
    let failed = rows.iter().filter(|r| r.status != "ok").count();
    let manifest = Manifest {
        shards: manifests.iter().flat_map(|m| m.shards.clone()).collect(),
        cases: rows.len(),
        failed,
        wall_time_s: manifests.iter().map(|m| m.wall_time_s).sum(),
        computed_last_run: 0,
        ..first.clone()
    };
    finish(out, &rows, &first.swept, &manifest)?;
    Ok(failed)
}

/// `results.parquet`: the same table as `results.csv`, typed: `index` INT64, `id` and
/// `status` STRING, one column per swept path (DOUBLE when every value is a number, else the
/// value's JSON text as STRING), one DOUBLE column per metric (null for a failed case), and
/// `error` STRING. Column names are the paths and metric names as in the CSV.
pub fn results_parquet(rows: &[Row], swept: &[String]) -> Result<Vec<u8>> {
    use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;
    use std::sync::Arc;

    let numeric: Vec<bool> = swept
        .iter()
        .map(|p| {
            rows.iter()
                .all(|r| r.params.get(p).is_none_or(Value::is_number))
        })
        .collect();
    let string = |name: &str, rep: Repetition| {
        Type::primitive_type_builder(name, Physical::BYTE_ARRAY)
            .with_repetition(rep)
            .with_logical_type(Some(LogicalType::String))
            .build()
    };
    let double = |name: &str| {
        Type::primitive_type_builder(name, Physical::DOUBLE)
            .with_repetition(Repetition::OPTIONAL)
            .build()
    };
    let mut fields = vec![
        Arc::new(
            Type::primitive_type_builder("index", Physical::INT64)
                .with_repetition(Repetition::REQUIRED)
                .build()?,
        ),
        Arc::new(string("id", Repetition::REQUIRED)?),
        Arc::new(string("status", Repetition::REQUIRED)?),
    ];
    for (p, &num) in swept.iter().zip(&numeric) {
        fields.push(Arc::new(if num {
            double(p)?
        } else {
            string(p, Repetition::OPTIONAL)?
        }));
    }
    for m in METRICS {
        fields.push(Arc::new(double(m)?));
    }
    fields.push(Arc::new(string("error", Repetition::REQUIRED)?));
    let schema = Arc::new(
        Type::group_type_builder("parktwin_results")
            .with_fields(fields)
            .build()?,
    );
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("parktwin {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, Arc::new(props))?;
    let mut rg = writer.next_row_group()?;
    let mut c = 0usize;
    let n_params = swept.len();
    while let Some(mut col) = rg.next_column()? {
        if c == 0 {
            let v: Vec<i64> = rows.iter().map(|r| r.index as i64).collect();
            col.typed::<Int64Type>().write_batch(&v, None, None)?;
        } else if c == 1 || c == 2 || c == 3 + n_params + METRICS.len() {
            let v: Vec<ByteArray> = rows
                .iter()
                .map(|r| {
                    ByteArray::from(match c {
                        1 => r.id.as_str(),
                        2 => r.status.as_str(),
                        _ => r.error.as_str(),
                    })
                })
                .collect();
            col.typed::<ByteArrayType>().write_batch(&v, None, None)?;
        } else {
            // Optional columns: values of the present entries, and definition levels.
            let k = c - 3;
            let mut def = Vec::with_capacity(rows.len());
            if k < n_params && !numeric[k] {
                let mut v = Vec::new();
                for r in rows {
                    match r.params.get(&swept[k]) {
                        Some(x) => {
                            v.push(ByteArray::from(fmt_value(x).as_str()));
                            def.push(1);
                        }
                        None => def.push(0),
                    }
                }
                col.typed::<ByteArrayType>()
                    .write_batch(&v, Some(&def), None)?;
            } else {
                let mut v = Vec::new();
                for r in rows {
                    let x = if k < n_params {
                        r.params.get(&swept[k]).and_then(Value::as_f64)
                    } else {
                        r.metrics.get(METRICS[k - n_params]).copied()
                    };
                    match x {
                        Some(x) => {
                            v.push(x);
                            def.push(1);
                        }
                        None => def.push(0),
                    }
                }
                col.typed::<DoubleType>()
                    .write_batch(&v, Some(&def), None)?;
            }
        }
        col.close()?;
        c += 1;
    }
    rg.close()?;
    Ok(writer.into_inner()?)
}
