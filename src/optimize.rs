//! `parktwin optimize PROBLEM.ron`: NSGA-II ([`parktwin_parks::optimize::nsga2`]) over a park's
//! design, each generation's candidates run in parallel on an explicit rayon pool.
//!
//! Outputs in `--out DIR`:
//! - `front.csv`, `front.parquet`: the final non-dominated designs (feasible ones when there are
//!   any), sorted by the first objective: variables, objectives, every metric;
//! - `evaluations.csv`: every candidate evaluated, in order (generation, position), with its
//!   metrics, feasibility and violation, or its error;
//! - `optimize.json`: the problem, settings, counts and the front; `timing.json`: wall time and
//!   jobs (kept apart so the other files are identical for any `--jobs`);
//! - `report.html`: the objectives of every evaluation and the front as a chart, and the
//!   front's table.
//!
//! **Determinism**: NSGA-II draws every random number on the calling thread; candidates are
//! evaluated with `par_iter().map().collect()`, which keeps input order; each run is a pure
//! function of its design. Identical designs (as decoded) are run once and their outcome reused.
//! So every output but `timing.json` is byte-identical for any `--jobs`.

use crate::output::write_atomic;
use crate::sankey::{esc, fmt_num};
use crate::xy_chart::{Style, XySeries, xy_chart};
use anyhow::{Context, Result};
use parktwin_parks::optimize::nsga2::{self, Individual};
use parktwin_parks::optimize::{Decision, METRICS, OptimizeProblem, Outcome};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// One evaluated candidate.
#[derive(Clone, Debug, Serialize)]
pub struct EvalRow {
    /// Generation (0 for the initial population; the last generation for a row of the front).
    pub generation: usize,
    /// Position within the generation's batch (0 for a row of the front).
    pub position: usize,
    /// The design.
    pub decision: Decision,
    /// Its outcome.
    pub outcome: Outcome,
    /// NSGA-II's view: objectives (minimised) and violation.
    pub eval: nsga2::Evaluation,
}

/// The result of a search.
#[derive(Clone, Debug, Serialize)]
pub struct OptimizeResult {
    /// Problem name.
    pub name: String,
    /// Seed.
    pub seed: u64,
    /// Population.
    pub population: usize,
    /// Generations.
    pub generations: usize,
    /// Candidates evaluated (including repeats served from the cache).
    pub evaluations: usize,
    /// Distinct designs run.
    pub runs: usize,
    /// Variable labels.
    pub variables: Vec<String>,
    /// Objective metrics (as named, not negated).
    pub objectives: Vec<String>,
    /// The front: designs and outcomes.
    pub front: Vec<EvalRow>,
    /// Whether the front holds feasible designs (if not, the least infeasible).
    pub feasible: bool,
}

fn progress(total: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} candidates, {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    Some(bar)
}

/// Runs the search with `jobs` threads; `quiet` suppresses progress output.
pub fn run(
    problem: &OptimizeProblem,
    jobs: usize,
    quiet: bool,
) -> Result<(OptimizeResult, Vec<EvalRow>)> {
    let spec = &problem.spec;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .context("starting the worker pool")?;
    let total = spec.population * (spec.generations + 1);
    let bar = if quiet { None } else { progress(total) };
    let t0 = Instant::now();
    let mut cache: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut rows: Vec<EvalRow> = Vec::with_capacity(total);
    let mut generation = 0usize;
    let mut evaluate = |xs: &[Vec<f64>]| -> Vec<nsga2::Evaluation> {
        let decisions: Vec<Decision> = xs.iter().map(|x| problem.decode(x)).collect();
        // Designs not seen before, each once, in first-seen order.
        let mut todo: Vec<&Decision> = Vec::new();
        let mut queued = std::collections::BTreeSet::new();
        for d in &decisions {
            let k = d.key();
            if !cache.contains_key(&k) && queued.insert(k) {
                todo.push(d);
            }
        }
        let outcomes: Vec<Outcome> =
            pool.install(|| todo.par_iter().map(|d| problem.evaluate(d)).collect());
        for (d, o) in todo.iter().zip(outcomes) {
            cache.insert(d.key(), o);
        }
        let mut evals = Vec::with_capacity(xs.len());
        for (position, d) in decisions.into_iter().enumerate() {
            let outcome = cache[&d.key()].clone();
            let eval = problem.score(&outcome);
            evals.push(eval.clone());
            rows.push(EvalRow {
                generation,
                position,
                decision: d,
                outcome,
                eval,
            });
        }
        generation += 1;
        evals
    };
    let mut report = |g: usize, pop: &[Individual]| {
        if quiet {
            return;
        }
        let feasible = pop.iter().filter(|i| i.eval.feasible()).count();
        let front = pop.iter().filter(|i| i.rank == 0).count();
        let msg = format!(
            "generation {g}/{}: {feasible} feasible, {front} on the front",
            spec.generations
        );
        match &bar {
            Some(b) => {
                b.set_position(((g + 1) * spec.population) as u64);
                b.set_message(msg);
            }
            None => eprintln!(
                "{msg} ({} candidates, {:.1} s)",
                (g + 1) * spec.population,
                t0.elapsed().as_secs_f64()
            ),
        }
    };
    let config = nsga2::Config {
        population: spec.population,
        generations: spec.generations,
        seed: spec.seed,
        ..Default::default()
    };
    let final_pop = nsga2::run(&config, &problem.bounds(), &mut evaluate, &mut report)?;
    if let Some(b) = bar {
        b.finish();
    }
    let runs = cache.len();
    let feasible = final_pop.iter().any(|i| i.eval.feasible());
    let mut front: Vec<&Individual> = final_pop.iter().filter(|i| i.rank == 0).collect();
    front.sort_by(|a, b| {
        a.eval.objectives[0]
            .total_cmp(&b.eval.objectives[0])
            .then_with(|| a.x.partial_cmp(&b.x).unwrap_or(std::cmp::Ordering::Equal))
    });
    // One row per distinct design.
    let mut seen = std::collections::BTreeSet::new();
    let front: Vec<EvalRow> = front
        .into_iter()
        .filter_map(|i| {
            let d = problem.decode(&i.x);
            seen.insert(d.key()).then(|| {
                let outcome = cache[&d.key()].clone();
                EvalRow {
                    generation: spec.generations,
                    position: 0,
                    decision: d,
                    outcome,
                    eval: i.eval.clone(),
                }
            })
        })
        .collect();
    let result = OptimizeResult {
        name: spec.name.clone(),
        seed: spec.seed,
        population: spec.population,
        generations: spec.generations,
        evaluations: rows.len(),
        runs,
        variables: spec.variables.iter().map(|v| v.label()).collect(),
        objectives: spec
            .objectives
            .iter()
            .map(|o| o.metric().to_string())
            .collect(),
        front,
        feasible,
    };
    Ok((result, rows))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        other => other.to_string(),
    }
}

fn metric_columns(rows: &[EvalRow]) -> Vec<String> {
    let mut cols: Vec<String> = METRICS.iter().map(|m| m.to_string()).collect();
    let mut diag: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for r in rows {
        for k in r.outcome.metrics.keys() {
            if k.starts_with("diagnostics.") {
                diag.insert(k.clone());
            }
        }
    }
    cols.extend(diag);
    cols
}

fn fmt_f(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| x.to_string())
}

/// A table of rows as CSV: optional generation/position, variables, feasibility, metrics, error.
fn table_csv(result: &OptimizeResult, rows: &[EvalRow], with_generation: bool) -> String {
    let metrics = metric_columns(rows);
    let mut head: Vec<String> = Vec::new();
    if with_generation {
        head.extend(["generation".into(), "position".into()]);
    }
    head.extend(result.variables.iter().cloned());
    head.extend(["feasible".into(), "violation".into()]);
    head.extend(metrics.iter().cloned());
    head.push("error".into());
    let mut s = head
        .iter()
        .map(|h| csv_field(h))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for r in rows {
        let mut f: Vec<String> = Vec::new();
        if with_generation {
            f.extend([r.generation.to_string(), r.position.to_string()]);
        }
        f.extend(
            r.decision
                .values
                .iter()
                .map(|(_, v)| csv_field(&value_text(v))),
        );
        f.push(if r.eval.feasible() { "1" } else { "0" }.into());
        f.push(r.eval.violation.to_string());
        for m in &metrics {
            f.push(fmt_f(r.outcome.metrics.get(m).copied()));
        }
        f.push(csv_field(r.outcome.error.as_deref().unwrap_or("")));
        s.push_str(&f.join(","));
        s.push('\n');
    }
    s
}

/// The front as Parquet: variables (DOUBLE when numeric or a built flag, else their text),
/// `feasible` BOOLEAN, `violation` and every metric DOUBLE (null when absent).
pub fn front_parquet(result: &OptimizeResult) -> Result<Vec<u8>> {
    use parquet::basic::{LogicalType, Repetition, Type as Physical};
    use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;
    use std::sync::Arc;

    let rows = &result.front;
    let metrics = metric_columns(rows);
    let nv = result.variables.len();
    let numeric: Vec<bool> = (0..nv)
        .map(|k| {
            rows.iter()
                .all(|r| matches!(r.decision.values[k].1, Value::Number(_) | Value::Bool(_)))
        })
        .collect();
    let mut fields = Vec::new();
    for (name, &num) in result.variables.iter().zip(&numeric) {
        fields.push(Arc::new(if num {
            Type::primitive_type_builder(name, Physical::DOUBLE)
                .with_repetition(Repetition::REQUIRED)
                .build()?
        } else {
            Type::primitive_type_builder(name, Physical::BYTE_ARRAY)
                .with_repetition(Repetition::REQUIRED)
                .with_logical_type(Some(LogicalType::String))
                .build()?
        }));
    }
    fields.push(Arc::new(
        Type::primitive_type_builder("feasible", Physical::BOOLEAN)
            .with_repetition(Repetition::REQUIRED)
            .build()?,
    ));
    for name in std::iter::once("violation").chain(metrics.iter().map(String::as_str)) {
        fields.push(Arc::new(
            Type::primitive_type_builder(name, Physical::DOUBLE)
                .with_repetition(Repetition::OPTIONAL)
                .build()?,
        ));
    }
    let schema = Arc::new(
        Type::group_type_builder("parktwin_front")
            .with_fields(fields)
            .build()?,
    );
    let props = WriterProperties::builder()
        .set_created_by(format!("parktwin {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, Arc::new(props))?;
    let mut rg = writer.next_row_group()?;
    let mut c = 0usize;
    while let Some(mut col) = rg.next_column()? {
        if c < nv {
            if numeric[c] {
                let v: Vec<f64> = rows
                    .iter()
                    .map(|r| match &r.decision.values[c].1 {
                        Value::Bool(b) => f64::from(u8::from(*b)),
                        x => x.as_f64().unwrap_or(f64::NAN),
                    })
                    .collect();
                col.typed::<DoubleType>().write_batch(&v, None, None)?;
            } else {
                let v: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| ByteArray::from(value_text(&r.decision.values[c].1).as_str()))
                    .collect();
                col.typed::<ByteArrayType>().write_batch(&v, None, None)?;
            }
        } else if c == nv {
            let v: Vec<bool> = rows.iter().map(|r| r.eval.feasible()).collect();
            col.typed::<BoolType>().write_batch(&v, None, None)?;
        } else {
            let k = c - nv - 1;
            let (mut v, mut def) = (Vec::new(), Vec::new());
            for r in rows {
                let x = if k == 0 {
                    Some(r.eval.violation)
                } else {
                    r.outcome.metrics.get(&metrics[k - 1]).copied()
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
        col.close()?;
        c += 1;
    }
    rg.close()?;
    Ok(writer.into_inner()?)
}

/// The report section: a chart of the first two objectives (every evaluation in grey, the
/// front in colour) and the front's table.
pub fn section(result: &OptimizeResult, rows: &[EvalRow]) -> String {
    let mut s = format!(
        "<h2>Design optimisation: {}</h2><p class=\"meta\">NSGA-II (Deb et al. 2002), population {}, {} generations, seed {}: {} candidates, {} distinct designs run; {} designs on the front{}.</p>",
        esc(&result.name),
        result.population,
        result.generations,
        result.seed,
        result.evaluations,
        result.runs,
        result.front.len(),
        if result.feasible {
            ""
        } else {
            " (no feasible design found: the least infeasible are shown)"
        }
    );
    let metric = |r: &EvalRow, k: usize| {
        r.outcome
            .metrics
            .get(&result.objectives[k])
            .copied()
            .unwrap_or(f64::NAN)
    };
    if result.objectives.len() >= 2 {
        let all: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.outcome.error.is_none())
            .map(|r| (metric(r, 0), metric(r, 1)))
            .collect();
        let front: Vec<(f64, f64)> = result
            .front
            .iter()
            .map(|r| (metric(r, 0), metric(r, 1)))
            .collect();
        s.push_str("<figure>");
        s.push_str(&xy_chart(
            "Pareto front",
            &result.objectives[0],
            &result.objectives[1],
            &[
                XySeries {
                    name: "every evaluation".into(),
                    points: all,
                    style: Style::Faint,
                },
                XySeries {
                    name: "front".into(),
                    points: front,
                    style: Style::Line,
                },
            ],
            false,
        ));
        s.push_str("<figcaption>Every candidate evaluated (grey) and the final non-dominated designs (colour), first two objectives.</figcaption></figure>");
    }
    s.push_str("<table><tr>");
    for v in &result.variables {
        let _ = write!(s, "<th>{}</th>", esc(v));
    }
    for o in &result.objectives {
        let _ = write!(s, "<th>{}</th>", esc(o));
    }
    s.push_str("<th>feasible</th></tr>");
    for r in &result.front {
        s.push_str("<tr>");
        for (_, v) in &r.decision.values {
            let text = match v {
                Value::Number(n) => n.as_f64().map_or(v.to_string(), fmt_num),
                other => value_text(other),
            };
            let _ = write!(s, "<td>{}</td>", esc(&text));
        }
        for k in 0..result.objectives.len() {
            let _ = write!(s, "<td>{}</td>", fmt_num(metric(r, k)));
        }
        let _ = write!(
            s,
            "<td>{}</td></tr>",
            if r.eval.feasible() { "yes" } else { "no" }
        );
    }
    s.push_str("</table>");
    s
}

/// Writes every output file into `dir` (see the module docs).
pub fn write(
    dir: &Path,
    result: &OptimizeResult,
    rows: &[EvalRow],
    wall_s: f64,
    jobs: usize,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(
        &dir.join("front.csv"),
        table_csv(result, &result.front, false).as_bytes(),
    )?;
    write_atomic(&dir.join("front.parquet"), &front_parquet(result)?)?;
    write_atomic(
        &dir.join("evaluations.csv"),
        table_csv(result, rows, true).as_bytes(),
    )?;
    write_atomic(
        &dir.join("optimize.json"),
        serde_json::to_string_pretty(result)?.as_bytes(),
    )?;
    write_atomic(
        &dir.join("timing.json"),
        serde_json::to_string_pretty(&serde_json::json!({"wall_time_s": wall_s, "jobs": jobs}))?
            .as_bytes(),
    )?;
    let html = crate::report::page_with(
        &format!("Design optimisation: {}", result.name),
        &format!(
            "<h1>Design optimisation: {}</h1>{}",
            esc(&result.name),
            section(result, rows)
        ),
    );
    write_atomic(&dir.join("report.html"), html.as_bytes())?;
    Ok(())
}

/// The front as text for the terminal.
pub fn to_text(result: &OptimizeResult) -> String {
    let mut s = format!(
        "{}: {} candidates ({} distinct designs run), {} on the front{}\n",
        result.name,
        result.evaluations,
        result.runs,
        result.front.len(),
        if result.feasible {
            ""
        } else {
            " (none feasible)"
        }
    );
    let head: Vec<String> = result
        .variables
        .iter()
        .chain(&result.objectives)
        .cloned()
        .collect();
    s.push_str(&head.join("  "));
    s.push('\n');
    for r in &result.front {
        let mut f: Vec<String> = r
            .decision
            .values
            .iter()
            .map(|(_, v)| match v {
                Value::Number(n) => n.as_f64().map_or(v.to_string(), |x| format!("{x:.4}")),
                other => value_text(other),
            })
            .collect();
        for o in &result.objectives {
            f.push(format!(
                "{:.6e}",
                r.outcome.metrics.get(o).copied().unwrap_or(f64::NAN)
            ));
        }
        s.push_str(&f.join("  "));
        s.push('\n');
    }
    s
}
