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
        Command::Run { park, out, json } => {
            let file = from_path(&park)?;
            let valid = validate(&file)?;
            let options = BuildOptions {
                record_series: out.is_some(),
                ..Default::default()
            };
            let mut built = build(valid, options).context("building the simulation")?;
            let started = std::time::Instant::now();
            built.sim.run();
            let elapsed = started.elapsed();
            let summary = summarize(&built.sim, &built.meta);
            if let Some(dir) = &out {
                output::write_run(dir, &built.sim, &built.meta, &summary)
                    .with_context(|| format!("writing results to {}", dir.display()))?;
            }
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&summary)?))
            } else {
                let mut text = summary.to_text();
                text.push_str(&format!("run time  {:.3} s\n", elapsed.as_secs_f64()));
                if let Some(dir) = &out {
                    text.push_str(&format!("results   {}\n", dir.display()));
                }
                emit(&text)
            }
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
