//! Sweeps on a Slurm cluster: `parktwin slurm` writes the batch scripts that run a scenario's
//! sweep as a job array of `N` shards and merge the shards when every one has succeeded.
//!
//! Three files, in the scripts directory (default `OUT/slurm/`):
//!
//! - `shards.sbatch`: a job array `--array=0-(N−1)`. Array task `K` runs
//!   `parktwin sweep SCENARIO --shard K/N --resume --out OUT/shard-K --jobs $SLURM_CPUS_PER_TASK`.
//!   Slurm numbers array tasks from the `--array` range, and `--shard k/N` numbers shards from 0
//!   (`sweep::parse_shard`), so the task id is the shard index unchanged. Because of `--resume`,
//!   a task submitted again (`sbatch --array=K shards.sbatch`) redoes only the cases its
//!   journal does not hold.
//! - `merge.sbatch`: one task, `parktwin merge OUT/shard-0 … OUT/shard-(N−1) --out OUT`, so the
//!   merged `results.csv` lands where a single-machine `parktwin sweep --out OUT` would put it.
//!   `merge` refuses (non-zero exit, naming the missing cases) unless every case is present.
//! - `submit.sh [TASKS]`: submits `shards.sbatch` (all tasks, or only the array indices `TASKS`,
//!   for example `1` or `0,2`) and then `merge.sbatch` with `--dependency=afterok:<array job id>`
//!   and `--kill-on-invalid-dep=yes`: the merge starts when every submitted task has exited 0,
//!   and is cancelled by Slurm, never run, if one fails. Resubmitting failed tasks is
//!   `submit.sh K`, which queues a fresh merge after them.
//!
//! Every path in the scripts is absolute (the binary, the scenario, `OUT`, the logs): the scripts
//! assume a filesystem shared by the submit host and the compute nodes at the same paths. Log
//! files are `LOGS/NAME-<array job id>_<task>.out` and `LOGS/NAME-merge-<job id>.out` (standard
//! output and error together).

use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `parktwin slurm` needs, with every path absolute (see [`SlurmOptions::resolve`]).
#[derive(Clone, Debug)]
pub struct SlurmOptions {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Number of shards, which is the number of array tasks.
    pub shards: usize,
    /// Cases of the scenario's sweep (for the scripts' comments and the check `shards ≤ cases`).
    pub cases: usize,
    /// Output directory: shard `K` writes `OUT/shard-K`, the merge writes `OUT` itself.
    pub out: PathBuf,
    /// CPUs per array task (`--cpus-per-task`); the shard runs that many worker threads.
    pub cpus_per_task: usize,
    /// Memory per task (`--mem`, Slurm's syntax: `4G`, `500M`); the cluster's default when absent.
    pub mem: Option<String>,
    /// Time limit per task (`--time`: `MM`, `HH:MM:SS`, `D-HH:MM`, …); the partition's
    /// default when absent.
    pub time: Option<String>,
    /// Partition (`--partition`); the cluster's default when absent.
    pub partition: Option<String>,
    /// Account to charge (`--account`); the user's default when absent.
    pub account: Option<String>,
    /// Job name (`--job-name`) of the array; the merge job is `NAME-merge`.
    pub job_name: String,
    /// Directory of the job logs.
    pub logs: PathBuf,
    /// The parktwin binary the jobs run.
    pub binary: PathBuf,
    /// Directory the scripts are written to.
    pub scripts: PathBuf,
}

/// The generated scripts' text.
#[derive(Clone, Debug, PartialEq)]
pub struct SlurmScripts {
    /// `shards.sbatch`: the job array.
    pub shards: String,
    /// `merge.sbatch`: the merge job.
    pub merge: String,
    /// `submit.sh`: submits both, the merge dependent on the array.
    pub submit: String,
}

/// Command-line values of `parktwin slurm` before paths are made absolute.
#[derive(Clone, Debug, clap::Args)]
pub struct SlurmArgs {
    /// Scenario file (RON).
    pub scenario: PathBuf,
    /// Number of shards: array tasks 0 to N − 1, task K runs `sweep --shard K/N`.
    #[arg(long, value_name = "N")]
    pub shards: usize,
    /// Output directory on the shared filesystem: shard K writes OUT/shard-K, the merge
    /// writes OUT itself.
    #[arg(long)]
    pub out: PathBuf,
    /// CPUs per array task; the shard runs that many worker threads.
    #[arg(long, default_value_t = 1, value_name = "C")]
    pub cpus_per_task: usize,
    /// Memory per task (Slurm's --mem, e.g. 4G); the cluster's default when absent.
    #[arg(long, value_name = "M")]
    pub mem: Option<String>,
    /// Time limit per task (Slurm's --time, e.g. 02:00:00); the partition's default when absent.
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// Partition; the cluster's default when absent.
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// Account to charge; the user's default when absent.
    #[arg(long, value_name = "A")]
    pub account: Option<String>,
    /// Job name (default parktwin-<scenario name>; the merge job adds -merge).
    #[arg(long, value_name = "NAME")]
    pub job_name: Option<String>,
    /// Directory of the job logs (default: SCRIPTS/logs).
    #[arg(long, value_name = "DIR")]
    pub logs: Option<PathBuf>,
    /// The parktwin binary the jobs run (default: this one).
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// Where the scripts are written (default: OUT/slurm).
    #[arg(long, value_name = "DIR")]
    pub scripts: Option<PathBuf>,
}

impl SlurmOptions {
    /// Loads the scenario (so a bad file fails here, not on the cluster), counts its cases and
    /// makes every path absolute. Paths are not required to exist except the scenario and the
    /// binary.
    pub fn resolve(args: SlurmArgs) -> Result<SlurmOptions> {
        let sc = parktwin_parks::scenario::load(&args.scenario)?;
        let scenario = args
            .scenario
            .canonicalize()
            .with_context(|| format!("locating {}", args.scenario.display()))?;
        let out = std::path::absolute(&args.out)
            .with_context(|| format!("making {} absolute", args.out.display()))?;
        let scripts = match args.scripts {
            Some(p) => std::path::absolute(&p)
                .with_context(|| format!("making {} absolute", p.display()))?,
            None => out.join("slurm"),
        };
        let logs = match args.logs {
            Some(p) => std::path::absolute(&p)
                .with_context(|| format!("making {} absolute", p.display()))?,
            None => scripts.join("logs"),
        };
        let binary = match args.binary {
            Some(p) => p
                .canonicalize()
                .with_context(|| format!("--binary {}: not found", p.display()))?,
            None => std::env::current_exe().context("locating the parktwin binary")?,
        };
        let job_name = args.job_name.unwrap_or_else(|| {
            let name: String = sc
                .spec
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("parktwin-{name}")
        });
        Ok(SlurmOptions {
            scenario,
            shards: args.shards,
            cases: sc.cases.len(),
            out,
            cpus_per_task: args.cpus_per_task,
            mem: args.mem,
            time: args.time,
            partition: args.partition,
            account: args.account,
            job_name,
            logs,
            binary,
            scripts: scripts.to_path_buf(),
        })
    }
}

/// A path as UTF-8 text, absolute and without control characters (they cannot be quoted
/// safely in a batch script).
fn path_text<'a>(what: &str, p: &'a Path) -> Result<&'a str> {
    let s = p
        .to_str()
        .with_context(|| format!("{what} {}: not valid UTF-8", p.display()))?;
    if !p.is_absolute() {
        bail!("{what} {s}: must be an absolute path");
    }
    if s.chars().any(char::is_control) {
        bail!("{what} {s:?}: contains a control character");
    }
    Ok(s)
}

/// A value written on an `#SBATCH` line: Slurm reads these lines itself, without a shell, so
/// the value may not contain blanks, quotes, `#` or `%` (a file-name pattern in `--output`).
fn sbatch_value<'a>(what: &str, s: &'a str) -> Result<&'a str> {
    if s.is_empty() {
        bail!("{what}: empty");
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "'\"#%\\$`".contains(*c))
    {
        bail!("{what} {s:?}: the character {c:?} cannot be used in an #SBATCH line");
    }
    Ok(s)
}

/// Shell single quotes: the text is taken literally (a `'` inside becomes `'\''`).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Checks the options and writes the three scripts' text (nothing touches the disk).
pub fn generate(o: &SlurmOptions) -> Result<SlurmScripts> {
    if o.shards == 0 {
        bail!("--shards must be at least 1");
    }
    if o.shards > o.cases {
        bail!(
            "--shards {}: the sweep has only {} cases, so at most {} shards",
            o.shards,
            o.cases,
            o.cases
        );
    }
    if o.cpus_per_task == 0 {
        bail!("--cpus-per-task must be at least 1");
    }
    if let Some(m) = &o.mem {
        let digits = m.trim_end_matches(['K', 'M', 'G', 'T']);
        if digits.is_empty()
            || !digits.chars().all(|c| c.is_ascii_digit())
            || m.len() - digits.len() > 1
        {
            bail!(
                "--mem {m:?}: expected a whole number with an optional K, M, G or T suffix (Slurm's --mem)"
            );
        }
    }
    if let Some(t) = &o.time
        && (t.is_empty()
            || !t
                .chars()
                .all(|c| c.is_ascii_digit() || c == ':' || c == '-')
            || !t.starts_with(|c: char| c.is_ascii_digit()))
    {
        bail!("--time {t:?}: expected Slurm's MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS");
    }
    let scenario = path_text("scenario", &o.scenario)?;
    let out = path_text("--out", &o.out)?;
    let binary = path_text("--binary", &o.binary)?;
    let scripts = path_text("--scripts", &o.scripts)?;
    let logs = sbatch_value("--logs", path_text("--logs", &o.logs)?)?;
    let job = sbatch_value("--job-name", &o.job_name)?;
    let n = o.shards;
    let version = env!("CARGO_PKG_VERSION");

    // Resource lines shared by both jobs.
    let mut resources = format!(
        "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task={}\n",
        o.cpus_per_task
    );
    let mut merge_resources = String::from("#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n");
    for (flag, value) in [
        ("mem", &o.mem),
        ("time", &o.time),
        ("partition", &o.partition),
        ("account", &o.account),
    ] {
        if let Some(v) = value {
            let v = sbatch_value(&format!("--{flag}"), v)?;
            writeln!(resources, "#SBATCH --{flag}={v}")?;
            writeln!(merge_resources, "#SBATCH --{flag}={v}")?;
        }
    }
    let assumption = "# Assumes a filesystem shared by the submit host and every compute node, at the same\n\
                      # absolute paths: the binary, the scenario and its park are read there, and the\n\
                      # output and log directories are written there.\n";

    let mut shards = String::new();
    writeln!(shards, "#!/bin/bash")?;
    writeln!(
        shards,
        "# A parktwin sweep as a Slurm job array, written by `parktwin slurm` (parktwin {version})."
    )?;
    writeln!(
        shards,
        "# Scenario {scenario}: {} cases in {n} shards.",
        o.cases
    )?;
    writeln!(
        shards,
        "# Array task K runs shard K/{n} (the cases whose index is K modulo {n}) into {out}/shard-K."
    )?;
    writeln!(
        shards,
        "# --resume: a task run again redoes only the cases its journal does not hold, so a failed"
    )?;
    writeln!(
        shards,
        "# task can be resubmitted alone:  sbatch --array=K {scripts}/shards.sbatch"
    )?;
    writeln!(
        shards,
        "# (or {scripts}/submit.sh K, which also queues the merge after it)."
    )?;
    shards.push_str(assumption);
    writeln!(shards, "#SBATCH --job-name={job}")?;
    writeln!(shards, "#SBATCH --array=0-{}", n - 1)?;
    shards.push_str(&resources);
    writeln!(shards, "#SBATCH --output={logs}/%x-%A_%a.out")?;
    writeln!(shards, "set -euo pipefail")?;
    writeln!(shards, "shards={n}")?;
    writeln!(
        shards,
        "k=${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}}"
    )?;
    writeln!(
        shards,
        "if [ \"$k\" -ge \"$shards\" ]; then echo \"array task $k: this sweep has shards 0 to $((shards - 1))\" >&2; exit 2; fi"
    )?;
    writeln!(
        shards,
        "echo \"parktwin shard $k/$shards on $(hostname) with ${{SLURM_CPUS_PER_TASK:-1}} CPUs, job ${{SLURM_JOB_ID:-?}}\""
    )?;
    writeln!(
        shards,
        "exec {} sweep {} --shard \"$k/$shards\" --resume --out {}\"/shard-$k\" --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\"",
        shell_quote(binary),
        shell_quote(scenario),
        shell_quote(out)
    )?;

    let mut merge = String::new();
    writeln!(merge, "#!/bin/bash")?;
    writeln!(
        merge,
        "# Merges the {n} shards of a parktwin sweep into {out}, written by `parktwin slurm` (parktwin {version})."
    )?;
    writeln!(
        merge,
        "# Submitted by submit.sh with --dependency=afterok:<array job id>; `parktwin merge` refuses"
    )?;
    writeln!(
        merge,
        "# (exit 1, naming the missing cases) unless every case of the sweep is in the shards."
    )?;
    merge.push_str(assumption);
    writeln!(merge, "#SBATCH --job-name={job}-merge")?;
    merge.push_str(&merge_resources);
    writeln!(merge, "#SBATCH --output={logs}/%x-%j.out")?;
    writeln!(merge, "set -euo pipefail")?;
    write!(merge, "exec {} merge", shell_quote(binary))?;
    for k in 0..n {
        write!(
            merge,
            " \\\n    {}",
            shell_quote(&format!("{out}/shard-{k}"))
        )?;
    }
    writeln!(merge, " \\\n    --out {}", shell_quote(out))?;

    let mut submit = String::new();
    writeln!(submit, "#!/usr/bin/env bash")?;
    writeln!(
        submit,
        "# Submits the parktwin sweep's job array, then its merge, written by `parktwin slurm` (parktwin {version})."
    )?;
    writeln!(submit, "#")?;
    writeln!(
        submit,
        "#   submit.sh          all {n} shards (array tasks 0-{}), then the merge",
        n - 1
    )?;
    writeln!(
        submit,
        "#   submit.sh TASKS    only these array tasks (sbatch --array syntax: 1 or 0,2 or 3-5),"
    )?;
    writeln!(
        submit,
        "#                      then the merge: how failed shards are resubmitted"
    )?;
    writeln!(submit, "#")?;
    writeln!(
        submit,
        "# The merge is submitted with --dependency=afterok:<array job id> --kill-on-invalid-dep=yes:"
    )?;
    writeln!(
        submit,
        "# it starts once every submitted task has exited 0 and is cancelled, never run, if one fails."
    )?;
    writeln!(
        submit,
        "# Prints the two job ids as `array=ID merge=ID` on the last line."
    )?;
    writeln!(submit, "set -euo pipefail")?;
    writeln!(submit, "scripts={}", shell_quote(scripts))?;
    writeln!(submit, "logs={}", shell_quote(logs))?;
    writeln!(submit, "out={}", shell_quote(out))?;
    writeln!(submit, "mkdir -p \"$logs\"")?;
    writeln!(submit, "array_opt=()")?;
    writeln!(
        submit,
        "if [ $# -gt 0 ]; then array_opt=(\"--array=$1\"); fi"
    )?;
    writeln!(
        submit,
        "array=$(sbatch --parsable ${{array_opt[@]+\"${{array_opt[@]}}\"}} \"$scripts/shards.sbatch\")"
    )?;
    writeln!(
        submit,
        "array=${{array%%;*}}  # --parsable prints ID or ID;CLUSTER"
    )?;
    writeln!(
        submit,
        "merge=$(sbatch --parsable --dependency=\"afterok:$array\" --kill-on-invalid-dep=yes \"$scripts/merge.sbatch\")"
    )?;
    writeln!(submit, "merge=${{merge%%;*}}")?;
    writeln!(
        submit,
        "echo \"shards: job $array (logs in $logs); merge into $out: job $merge, after every shard succeeds\""
    )?;
    writeln!(submit, "echo \"array=$array merge=$merge\"")?;
    Ok(SlurmScripts {
        shards,
        merge,
        submit,
    })
}

/// Generates the scripts and writes them (executable) into `o.scripts`, creating it and the
/// log directory. Returns the paths written: `shards.sbatch`, `merge.sbatch`, `submit.sh`.
pub fn write(o: &SlurmOptions) -> Result<[PathBuf; 3]> {
    let s = generate(o)?;
    std::fs::create_dir_all(&o.scripts)
        .with_context(|| format!("creating {}", o.scripts.display()))?;
    std::fs::create_dir_all(&o.logs).with_context(|| format!("creating {}", o.logs.display()))?;
    let paths = [
        o.scripts.join("shards.sbatch"),
        o.scripts.join("merge.sbatch"),
        o.scripts.join("submit.sh"),
    ];
    for (p, text) in paths.iter().zip([&s.shards, &s.merge, &s.submit]) {
        crate::output::write_atomic(p, text.as_bytes())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("making {} executable", p.display()))?;
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(shards: usize) -> SlurmOptions {
        SlurmOptions {
            scenario: "/data/sc/demo_sweep.ron".into(),
            shards,
            cases: 24,
            out: "/scratch/out".into(),
            cpus_per_task: 4,
            mem: Some("2G".into()),
            time: Some("01:30:00".into()),
            partition: None,
            account: None,
            job_name: "parktwin-demo_sweep".into(),
            logs: "/scratch/out/slurm/logs".into(),
            binary: "/opt/parktwin/bin/parktwin".into(),
            scripts: "/scratch/out/slurm".into(),
        }
    }

    #[test]
    fn array_range_and_resources() {
        let s = generate(&opts(3)).unwrap();
        assert!(s.shards.contains("\n#SBATCH --array=0-2\n"), "{}", s.shards);
        assert!(s.shards.contains("\n#SBATCH --cpus-per-task=4\n"));
        assert!(s.shards.contains("\n#SBATCH --mem=2G\n"));
        assert!(s.shards.contains("\n#SBATCH --time=01:30:00\n"));
        assert!(!s.shards.contains("--partition"));
        assert!(
            s.merge
                .contains("'/scratch/out/shard-2' \\\n    --out '/scratch/out'\n")
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(generate(&opts(0)).is_err());
        assert!(generate(&opts(25)).is_err());
        let mut o = opts(3);
        o.logs = "/scratch/my logs".into();
        let e = generate(&o).unwrap_err().to_string();
        assert!(e.contains("--logs"), "{e}");
        let mut o = opts(3);
        o.mem = Some("2 GB".into());
        assert!(generate(&o).unwrap_err().to_string().contains("--mem"));
        let mut o = opts(3);
        o.time = Some("1h".into());
        assert!(generate(&o).unwrap_err().to_string().contains("--time"));
        let mut o = opts(3);
        o.out = "relative/out".into();
        assert!(generate(&o).unwrap_err().to_string().contains("absolute"));
    }

    #[test]
    fn quoting_is_literal() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
