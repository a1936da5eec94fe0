//! Command-line interface: raw flags are turned once into calls of the libraries.

use crate::output;
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use parktwin_parks::build::{BuildOptions, build};
use parktwin_parks::generate::{GenerateOptions, generate, to_ron};
use parktwin_parks::load::from_path;
use parktwin_parks::summary::summarize;
use parktwin_parks::validate::validate;
use std::path::PathBuf;

/// parktwin: a digital twin of an industrial park's water, salt, energy and carbon.
#[derive(Parser, Debug)]
#[command(name = "parktwin", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Longest horizon accepted, steps (default 87600; also PARKTWIN_MAX_STEPS).
    #[arg(long, global = true, value_name = "STEPS")]
    pub max_steps: Option<usize>,
    /// Refuse a run whose estimated memory is above this, MB (default 4096; also
    /// PARKTWIN_MAX_MEMORY_MB).
    #[arg(long, global = true, value_name = "MB")]
    pub max_memory_mb: Option<u64>,
    /// Largest number of cases a sweep may expand to (default 1000000; also PARKTWIN_MAX_CASES).
    #[arg(long, global = true, value_name = "N")]
    pub max_cases: Option<usize>,
}

/// Commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a park for its horizon and print a summary.
    Run {
        /// Park file (RON).
        park: PathBuf,
        /// Write summary.json and hourly CSV time series (units and links) into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the summary as one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Stream the twin's state as newline-delimited JSON on standard output, one line per
        /// step (the summary then goes to standard error).
        #[arg(long)]
        stream: bool,
        /// Write the HTML report to this file (results go to --out, or to FILE's name + `_run/`).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Start of the Sankey period, hours from the start (default 0).
        #[arg(long, value_name = "H")]
        sankey_from_h: Option<f64>,
        /// End of the Sankey period, hours from the start (default: the end of the run).
        #[arg(long, value_name = "H")]
        sankey_to_h: Option<f64>,
        /// Write seeded synthetic readings of the park's meters to this long CSV (docs/twin.md).
        #[arg(long, value_name = "FILE")]
        meters: Option<PathBuf>,
        /// Seed of the synthetic readings' noise.
        #[arg(long, default_value_t = 1)]
        meter_seed: u64,
        /// Coupling strategy: priority, fixed, optimal or horizon (default: the park's own).
        #[arg(long, value_name = "NAME")]
        strategy: Option<String>,
    },
    /// Replay a park against meter readings: observability, reconciliation, gross-error tests
    /// and leak alarms (docs/twin.md).
    Replay {
        /// Park file (RON) with meters.
        park: PathBuf,
        /// Readings: long CSV, NDJSON, or a sealed chain file.
        #[arg(long)]
        meters: PathBuf,
        /// Write reconciled series, alarms and the report section into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Level of the global and measurement tests.
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
        /// CUSUM reference value κ, in noise standard deviations.
        #[arg(long, default_value_t = 1.0)]
        cusum_k: f64,
        /// CUSUM decision interval h.
        #[arg(long, default_value_t = 5.0)]
        cusum_h: f64,
    },
    /// Tamper-evident meter records: seal readings into a SHA-256 chain, or verify one.
    Ledger {
        /// What to do.
        #[command(subcommand)]
        action: crate::cli::LedgerAction,
    },
    /// Evaluate leak detection on synthetic leaks over size, location and meter noise.
    LeakEval {
        /// Park file (RON) with meters.
        park: PathBuf,
        /// Leak sizes in multiples of the location's one-step noise, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = vec![1.0, 2.0, 3.0, 5.0])]
        sizes: Vec<f64>,
        /// Meter-noise factors, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = vec![1.0, 2.0])]
        noise: Vec<f64>,
        /// Reading sets per scenario.
        #[arg(long, default_value_t = 20)]
        seeds: u64,
        /// Write the table to this file as well.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run the same park and drivers under several coupling strategies; print a KPI table.
    Compare {
        /// Park or scenario file (RON).
        park: PathBuf,
        /// Strategies, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "fixed,priority,optimal")]
        strategies: Vec<String>,
        /// Seed of a scenario's demand noise (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Write compare.csv and compare.json into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the self-contained HTML report of a run directory (or of a sweep's results.csv).
    Report {
        /// Directory written by `parktwin run --out` (or a sweep's output directory).
        run_dir: PathBuf,
        /// Output file.
        #[arg(short, long, default_value = "report.html")]
        output: PathBuf,
        /// Units whose concentration is charted, comma-separated (default: tanks, cooling
        /// towers and outfalls).
        #[arg(long, value_delimiter = ',')]
        points: Vec<String>,
        /// Species charted at those points (default tds).
        #[arg(long)]
        species: Option<String>,
    },
    /// Run every case of a scenario's sweep in parallel and write one results row per case.
    Sweep {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Output directory (results.csv, results.json, manifest.json, journal.ndjson).
        #[arg(long, default_value = "out/sweep")]
        out: PathBuf,
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// List the cases and stop.
        #[arg(long)]
        dry_run: bool,
        /// Skip the cases already finished in the output directory.
        #[arg(long)]
        resume: bool,
        /// Run only shard k of N (k from 0 to N − 1): the cases whose index is k modulo N.
        #[arg(long, value_name = "k/N")]
        shard: Option<String>,
        /// Also write each case's hourly time series under OUT/cases/ID/.
        #[arg(long)]
        series: bool,
    },
    /// Combine shard directories of one sweep into the results a single run would have written.
    Merge {
        /// Shard directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write Slurm batch scripts that run a scenario's sweep as a job array of shards and merge
    /// them when every shard has succeeded (see docs/slurm.md).
    Slurm(crate::slurm::SlurmArgs),
    /// Smart dosing and make-up of cooling towers against fixed cycles on the same park and
    /// drivers: water, chemicals, carbon and the recirculating LSI (docs/dosing.md).
    Dosing {
        /// Park file (RON) with a CoolingTower that has smart_control.
        park: PathBuf,
        /// Fixed cycles to compare with, comma-separated (default: the tower's design cycles).
        #[arg(long, value_delimiter = ',')]
        fixed: Vec<f64>,
        /// Half-width of the LSI band around the target.
        #[arg(long, default_value_t = 0.2)]
        band: f64,
        /// Hours left out of the index statistics (the start-up).
        #[arg(long, default_value_t = 72.0)]
        skip_h: f64,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
        /// Write dosing.csv (per-step series) and dosing.md (the table) into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Minimum fresh water, wastewater and pinch of a park's single-contaminant data by water
    /// cascade analysis (FixedLoad units; processes with an inlet limit for the species).
    Target {
        /// Park file (RON).
        park: PathBuf,
        /// The contaminant.
        #[arg(long, default_value = "tds")]
        species: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Write target.json, cascade.csv, composite.csv and target.html into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Multi-objective design search (NSGA-II) over a park's parameters, as a problem file says.
    Optimize {
        /// Problem file (RON, `Optimize(...)`).
        problem: PathBuf,
        /// Output directory (front.csv, front.parquet, evaluations.csv, optimize.json, report.html).
        #[arg(long, default_value = "out/optimize")]
        out: PathBuf,
        /// Worker threads (default: every core); results are the same for any number.
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Check a park file and report every problem found.
    Validate {
        /// Park file (RON).
        park: PathBuf,
    },
    /// Write a synthetic but plausible park (for benchmarks and tests) as RON.
    Generate {
        /// Number of enterprises.
        #[arg(long, default_value_t = 10)]
        enterprises: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of hourly steps.
        #[arg(long, default_value_t = 8760)]
        steps: usize,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// `parktwin ledger` actions.
#[derive(Subcommand, Debug)]
pub enum LedgerAction {
    /// Append readings (long CSV or NDJSON) to a chain and export its checkpoints.
    Seal {
        /// Readings.
        readings: PathBuf,
        /// Chain file (NDJSON; created when missing).
        #[arg(short, long)]
        output: PathBuf,
        /// A checkpoint every this many records (and at the end).
        #[arg(long, default_value_t = 1000)]
        every: usize,
    },
    /// Verify a chain; names the first bad record (exit status 1 when tampered).
    Verify {
        /// Chain file.
        chain: PathBuf,
        /// Anchored checkpoint, `SEQ:HASH` or `HASH` (repeatable).
        #[arg(long)]
        checkpoint: Vec<String>,
        /// Anchored checkpoints file (`seq,hash` lines, as `seal` exports).
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> Result<()> {
    let mut limits = parktwin_parks::limits::Limits::from_env().map_err(anyhow::Error::msg)?;
    limits.max_steps = cli.max_steps.unwrap_or(limits.max_steps);
    limits.max_memory_mb = cli.max_memory_mb.unwrap_or(limits.max_memory_mb);
    limits.max_cases = cli.max_cases.unwrap_or(limits.max_cases);
    parktwin_parks::limits::install(limits);
    match cli.command {
        Command::Run {
            park,
            out,
            json,
            stream,
            report,
            sankey_from_h,
            sankey_to_h,
            meters,
            meter_seed,
            strategy,
        } => {
            let mut tap = match &meters {
                Some(_) => Some(crate::replay::MeterTap::new(&from_path(&park)?)?),
                None => None,
            };
            let (valid, demand_noise) = load_for_run(&park)?;
            let strategy = strategy
                .map(|n| parktwin_parks::strategies::make(&n, &valid))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            // A report needs a results directory: --out, or one named after the report.
            let out = out.or_else(|| {
                report.as_ref().map(|r| {
                    let stem = r.file_stem().unwrap_or_default().to_string_lossy();
                    r.with_file_name(format!("{stem}_run"))
                })
            });
            parktwin_parks::limits::check_park(&valid, out.is_some())
                .map_err(|m| anyhow::anyhow!("{}: {m}", park.display()))?;
            let options = BuildOptions {
                record_series: out.is_some(),
                demand_noise,
                strategy,
            };
            let mut built = build(valid, options).context("building the simulation")?;
            let started = std::time::Instant::now();
            let mut observe = |sim: &parktwin_engine::sim::Simulation| {
                if let Some(t) = tap.as_mut() {
                    t.observe(sim)
                }
            };
            let run = crate::run::run_with(
                &mut built,
                out.is_some(),
                stream,
                sankey_from_h,
                sankey_to_h,
                meters.is_some().then_some(&mut observe as _),
            )?;
            let metered = match (&tap, &meters) {
                (Some(t), Some(path)) => {
                    Some((t.write(path, &built.meta.start, meter_seed)?, path))
                }
                _ => None,
            };
            let elapsed = started.elapsed();
            let summary = summarize(&built.sim, &built.meta);
            if stream {
                crate::run::end_stream(&summary)?;
            }
            if let Some(dir) = &out {
                output::write_run_with(
                    dir,
                    &built.sim,
                    &built.meta,
                    &summary,
                    run.series.as_ref(),
                    run.window.as_ref(),
                )
                .with_context(|| format!("writing results to {}", dir.display()))?;
            }
            if let (Some(file), Some(dir)) = (&report, &out) {
                let html = crate::report::render(dir, &Default::default())?;
                output::write_atomic(file, html.as_bytes())
                    .with_context(|| format!("writing {}", file.display()))?;
            }
            let text = if json {
                format!("{}\n", serde_json::to_string_pretty(&summary)?)
            } else {
                let mut text = summary.to_text();
                text.push_str(&format!("run time  {:.3} s\n", elapsed.as_secs_f64()));
                if let Some(dir) = &out {
                    text.push_str(&format!("results   {}\n", dir.display()));
                }
                if let Some(file) = &report {
                    text.push_str(&format!("report    {}\n", file.display()));
                }
                if let Some((n, path)) = metered {
                    text.push_str(&format!("meters    {n} readings in {}\n", path.display()));
                }
                text
            };
            if stream {
                eprint!("{text}");
                Ok(())
            } else {
                emit(&text)
            }
        }
        Command::Compare {
            park,
            strategies,
            seed,
            out,
        } => {
            let (valid, mut noise) = load_for_run(&park)?;
            if let (Some(n), Some(s)) = (noise.as_mut(), seed) {
                n.seed = s;
            }
            let rows = crate::compare::compare(&valid, noise, &strategies)?;
            let mut text = crate::compare::to_text(&rows);
            if let Some(dir) = &out {
                crate::compare::write(dir, &rows)?;
                text.push_str(&format!(
                    "results   {}\n",
                    dir.join("compare.csv").display()
                ));
            }
            emit(&text)
        }
        Command::Report {
            run_dir,
            output: file,
            points,
            species,
        } => {
            let html =
                crate::report::render(&run_dir, &crate::report::ReportOptions { points, species })?;
            output::write_atomic(&file, html.as_bytes())
                .with_context(|| format!("writing {}", file.display()))?;
            emit(&format!("report    {}\n", file.display()))
        }
        Command::Sweep {
            scenario,
            out,
            jobs,
            dry_run,
            resume,
            shard,
            series,
        } => {
            let sc = parktwin_parks::scenario::load(&scenario)?;
            if dry_run {
                let mut text = format!("{} cases of {}\n", sc.cases.len(), scenario.display());
                for c in &sc.cases {
                    let params: Vec<String> =
                        c.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    text.push_str(&format!("{}  {}\n", c.id, params.join("  ")));
                }
                return emit(&text);
            }
            let opts = crate::sweep::SweepOptions {
                jobs: jobs
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                out: out.clone(),
                resume,
                shard: shard
                    .as_deref()
                    .map(crate::sweep::parse_shard)
                    .transpose()?,
                series,
            };
            let (done, failed) = crate::sweep::run_sweep(&sc, &opts)?;
            emit(&format!(
                "{done} of {} cases in {} ({} failed): {}\n",
                sc.cases.len(),
                out.display(),
                failed,
                out.join("results.csv").display()
            ))
        }
        Command::Merge { dirs, out } => {
            let failed = crate::sweep::merge(&dirs, &out)?;
            emit(&format!(
                "merged {} directories into {} ({} failed cases)\n",
                dirs.len(),
                out.display(),
                failed
            ))
        }
        Command::Slurm(args) => {
            let o = crate::slurm::SlurmOptions::resolve(args)?;
            let [array, merge, submit] = crate::slurm::write(&o)?;
            emit(&format!(
                "{} cases in {} shards
job array {}
merge     {}
submit    {}
results   {}
",
                o.cases,
                o.shards,
                array.display(),
                merge.display(),
                submit.display(),
                o.out.join("results.csv").display()
            ))
        }
        Command::Dosing {
            park,
            fixed,
            band,
            skip_h,
            json,
            out,
        } => {
            let c = crate::dosing::run(&park, &fixed, band, skip_h)?;
            if let Some(dir) = &out {
                crate::dosing::write(dir, &c)?;
            }
            emit(&if json {
                format!("{}\n", serde_json::to_string_pretty(&c)?)
            } else {
                c.to_markdown()
            })
        }
        Command::Target {
            park,
            species,
            json,
            out,
        } => {
            let r = crate::target::analyse(&park, &species)?;
            if let Some(dir) = &out {
                crate::target::write(dir, &r)
                    .with_context(|| format!("writing results to {}", dir.display()))?;
            }
            emit(&if json {
                format!("{}\n", serde_json::to_string_pretty(&r)?)
            } else {
                crate::target::to_text(&r)
            })
        }
        Command::Optimize { problem, out, jobs } => {
            let p = parktwin_parks::optimize::load(&problem)?;
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let started = std::time::Instant::now();
            let (result, rows) = crate::optimize::run(&p, jobs, false)?;
            let wall = started.elapsed().as_secs_f64();
            crate::optimize::write(&out, &result, &rows, wall, jobs)
                .with_context(|| format!("writing results to {}", out.display()))?;
            emit(&format!(
                "{}search time {wall:.1} s on {jobs} threads\nresults     {}\n",
                crate::optimize::to_text(&result),
                out.display()
            ))
        }
        Command::Replay {
            park,
            meters,
            out,
            alpha,
            cusum_k,
            cusum_h,
        } => {
            let ok = alpha > 0.0
                && alpha < 1.0
                && cusum_k.is_finite()
                && cusum_k >= 0.0
                && cusum_h > 0.0;
            if !ok || !cusum_h.is_finite() {
                bail!("--alpha must be in (0, 1), --cusum-k at least 0 and --cusum-h above 0");
            }
            let tests = parktwin_parks::twin::reconcile::TestSettings {
                alpha,
                ..Default::default()
            };
            let cusum = parktwin_parks::twin::leak::CusumSettings {
                k: cusum_k,
                h: cusum_h,
            };
            emit(&crate::replay::run_replay(
                &park,
                &meters,
                out.as_deref(),
                tests,
                cusum,
            )?)
        }
        Command::Ledger { action } => match action {
            LedgerAction::Seal {
                readings,
                output,
                every,
            } => emit(&crate::ledger_cmd::run_seal(&readings, &output, every)?),
            LedgerAction::Verify {
                chain,
                checkpoint,
                checkpoints,
            } => {
                let mut anchors = Vec::new();
                for c in &checkpoint {
                    anchors.push(
                        c.parse::<parktwin_parks::twin::hashchain::Anchor>()
                            .map_err(anyhow::Error::msg)
                            .with_context(|| format!("--checkpoint {c}"))?,
                    );
                }
                if let Some(f) = &checkpoints {
                    anchors.extend(crate::ledger_cmd::read_checkpoints(f)?);
                }
                emit(&crate::ledger_cmd::run_verify(&chain, &anchors)?)
            }
        },
        Command::LeakEval {
            park,
            sizes,
            noise,
            seeds,
            output,
        } => {
            if seeds == 0
                || sizes
                    .iter()
                    .chain(&noise)
                    .any(|x| !(x.is_finite() && *x > 0.0))
            {
                bail!("--seeds must be at least 1 and --sizes and --noise positive");
            }
            let opts = parktwin_parks::twin::evaluate::EvalOptions {
                sizes_sd: sizes,
                noise,
                seeds,
                cusum: Default::default(),
                tests: Default::default(),
            };
            let started = std::time::Instant::now();
            let table = crate::replay::run_leak_eval(&park, &opts)?;
            if let Some(path) = &output {
                output::write_atomic(path, table.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            eprintln!("leak-eval took {:.1} s", started.elapsed().as_secs_f64());
            emit(&table)
        }
        Command::Validate { park } => {
            let file = from_path(&park)?;
            let valid = validate(&file)?;
            emit(&format!(
                "{}: valid ({} units, {} links, {} species, {} steps of {} h, largest loop {} units)\n",
                park.display(),
                valid.topology.n_units(),
                valid.topology.n_links(),
                valid.meta.species.len(),
                valid.meta.steps,
                valid.meta.dt_h,
                valid.topology.largest_loop
            ))
        }
        Command::Generate {
            enterprises,
            seed,
            steps,
            output,
        } => {
            if enterprises == 0 {
                bail!("--enterprises must be at least 1");
            }
            let park = generate(&GenerateOptions {
                enterprises,
                seed,
                steps,
            });
            let text = to_ron(&park);
            match output {
                Some(path) => output::write_atomic(&path, text.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?,
                None => emit(&text)?,
            }
            Ok(())
        }
    }
}

/// Writes to standard output; a closed pipe (`parktwin run ... | head`) is not an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Reads a park file, or a scenario file (its base case, without the sweep), and validates it.
fn load_for_run(
    path: &std::path::Path,
) -> Result<(
    parktwin_parks::validate::ValidPark,
    Option<parktwin_parks::build::NoiseOptions>,
)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if parktwin_parks::scenario::is_scenario(&text) {
        let sc = parktwin_parks::scenario::load(path)?;
        let mut base = sc.cases[0].clone();
        base.params.clear();
        let file = sc.case_file(&base).map_err(anyhow::Error::msg)?;
        let valid = validate(&file)?;
        Ok((valid, sc.noise(&base)))
    } else {
        Ok((validate(&from_path(path)?)?, None))
    }
}
