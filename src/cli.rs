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
        /// Coupling strategy: priority, fixed or optimal (default: the park's own).
        #[arg(long, value_name = "NAME")]
        strategy: Option<String>,
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

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            park,
            out,
            json,
            stream,
            report,
            sankey_from_h,
            sankey_to_h,
            strategy,
        } => {
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
            let options = BuildOptions {
                record_series: out.is_some(),
                demand_noise,
                strategy,
            };
            let mut built = build(valid, options).context("building the simulation")?;
            let started = std::time::Instant::now();
            let run = crate::run::run(
                &mut built,
                out.is_some(),
                stream,
                sankey_from_h,
                sankey_to_h,
            )?;
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
