//! `parktwin slurm`: the generated batch scripts, parsed (array range, shard argument, merge
//! dependency) and executed without a scheduler (bash with the variables Slurm would set, and a
//! stand-in `sbatch` that records its arguments). The same scripts on a real Slurm cluster are
//! checked by `scripts/slurm-check.sh` (in `.ci/run`).

use crate::common::{SWEEP_PARK, bin};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Six cases: three shards of two.
const SCENARIO: &str = r#"Scenario(
    name: "s",
    park: "park.ron",
    seed: 3,
    stochastic: (demand_sd: 0.05),
    sweep: Grid({"units.ct.cycles": [3.0, 5.0, 7.0], "units.ro.recovery": [0.7, 0.8]}),
)"#;

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("park.ron"), SWEEP_PARK).unwrap();
    let sc = dir.path().join("scenario.ron");
    std::fs::write(&sc, SCENARIO).unwrap();
    (dir, sc)
}

fn run(cmd: &mut Command) -> Output {
    cmd.env("RUST_BACKTRACE", "0").output().unwrap()
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `#SBATCH --key=value` lines of a script, in a map (a repeated key is a test failure).
fn directives(script: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in script.lines().filter_map(|l| l.strip_prefix("#SBATCH ")) {
        let (k, v) = line
            .strip_prefix("--")
            .and_then(|l| l.split_once('='))
            .unwrap_or_else(|| panic!("not an #SBATCH --key=value line: {line}"));
        assert!(
            map.insert(k.to_string(), v.to_string()).is_none(),
            "{k} twice"
        );
    }
    map
}

/// The lines of a script that are neither comments nor blank, with backslash continuations
/// joined.
fn commands(script: &str) -> Vec<String> {
    script
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The generated array script asks for tasks `0-2` (Slurm's task ids are `--shard`'s 0-based k),
/// runs `sweep --shard $SLURM_ARRAY_TASK_ID/3 --resume` into `OUT/shard-K` with the task's
/// CPUs, with the resources asked for and absolute paths; the merge script names the three shard
/// directories and writes OUT; `submit.sh` submits the merge with `afterok:` the array's id.
#[test]
fn generated_scripts_name_array_shard_and_dependency() {
    let (d, sc) = setup();
    // Relative --out and --logs, run from the temporary directory: the scripts get absolute paths.
    ok(Command::new(bin()).current_dir(d.path()).args([
        "slurm",
        "scenario.ron",
        "--shards",
        "3",
        "--out",
        "run",
        "--cpus-per-task",
        "4",
        "--mem",
        "3G",
        "--time",
        "0-02:00:00",
        "--partition",
        "compute",
        "--logs",
        "logs",
    ]));
    let root = d.path().canonicalize().unwrap();
    let out = root.join("run");
    let scripts = out.join("slurm");
    let array = read(&scripts.join("shards.sbatch"));
    let merge = read(&scripts.join("merge.sbatch"));
    let submit = read(&scripts.join("submit.sh"));

    let a = directives(&array);
    assert_eq!(a["array"], "0-2");
    assert_eq!(a["cpus-per-task"], "4");
    assert_eq!(a["mem"], "3G");
    assert_eq!(a["time"], "0-02:00:00");
    assert_eq!(a["partition"], "compute");
    assert_eq!(a["job-name"], "parktwin-s");
    assert_eq!(
        a["output"],
        format!("{}/%x-%A_%a.out", root.join("logs").display())
    );
    let cmds = commands(&array);
    assert!(cmds.contains(&"shards=3".to_string()), "{cmds:?}");
    assert!(
        cmds.iter()
            .any(|c| c.starts_with("k=${SLURM_ARRAY_TASK_ID:?")),
        "{cmds:?}"
    );
    let exec = cmds.last().unwrap();
    let sc_abs = sc.canonicalize().unwrap();
    assert_eq!(
        exec,
        &format!(
            "exec '{}' sweep '{}' --shard \"$k/$shards\" --resume --out '{}'\"/shard-$k\" --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\"",
            Path::new(bin()).canonicalize().unwrap().display(),
            sc_abs.display(),
            out.display()
        )
    );

    let m = directives(&merge);
    assert!(!m.contains_key("array"));
    assert_eq!(m["job-name"], "parktwin-s-merge");
    assert_eq!(m["cpus-per-task"], "1");
    let exec = commands(&merge).pop().unwrap();
    let shard_dirs: Vec<String> = (0..3)
        .map(|k| format!("'{}/shard-{k}'", out.display()))
        .collect();
    assert!(
        exec.ends_with(&format!(
            "merge {} --out '{}'",
            shard_dirs.join(" "),
            out.display()
        )),
        "{exec}"
    );

    let s = commands(&submit);
    let array_line = s
        .iter()
        .find(|l| l.starts_with("array=$(sbatch"))
        .expect("submit.sh submits the array");
    assert!(
        array_line.contains("\"$scripts/shards.sbatch\""),
        "{array_line}"
    );
    let merge_line = s
        .iter()
        .find(|l| l.starts_with("merge=$(sbatch"))
        .expect("submit.sh submits the merge");
    assert!(
        merge_line.contains("--dependency=\"afterok:$array\"")
            && merge_line.contains("--kill-on-invalid-dep=yes")
            && merge_line.contains("\"$scripts/merge.sbatch\""),
        "{merge_line}"
    );
    assert!(s.contains(&format!("scripts='{}'", scripts.display())));
}

/// The scripts run as Slurm would run them (bash, `SLURM_ARRAY_TASK_ID` = 0, 1, 2) and the merge
/// script give exactly the single-machine `results.csv` and `results.json`. With a case lost
/// from a shard the merge script refuses and writes nothing; the task run again computes only
/// that case (`--resume`); a task id outside the array is refused.
#[test]
fn scripts_run_by_hand_give_the_single_run() {
    let (d, sc) = setup();
    let out = d.path().join("run");
    let single = d.path().join("single");
    ok(Command::new(bin()).args([
        "sweep",
        sc.to_str().unwrap(),
        "--jobs",
        "1",
        "--out",
        single.to_str().unwrap(),
    ]));
    ok(Command::new(bin()).args([
        "slurm",
        sc.to_str().unwrap(),
        "--shards",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]));
    let scripts = out.join("slurm");
    let task = |k: &str| {
        run(Command::new("bash")
            .arg(scripts.join("shards.sbatch"))
            .env("SLURM_ARRAY_TASK_ID", k)
            .env("SLURM_CPUS_PER_TASK", "1"))
    };
    for k in ["0", "1", "2"] {
        let o = task(k);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let manifest = |k: usize| read(&out.join(format!("shard-{k}/manifest.json")));
    assert!(
        manifest(1).contains("\"shards\": [\n    \"1/3\""),
        "{}",
        manifest(1)
    );
    // Task 1 loses its second case (as if killed): the merge script refuses and writes nothing.
    let journal = out.join("shard-1/journal.ndjson");
    let first = read(&journal).lines().next().unwrap().to_string();
    std::fs::write(&journal, format!("{first}\n")).unwrap();
    let refused = run(Command::new("bash").arg(scripts.join("merge.sbatch")));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("1 of 6 cases are missing"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!out.join("results.csv").exists());
    // A task killed before it finished has no manifest: the merge names that shard.
    std::fs::remove_file(out.join("shard-1/manifest.json")).unwrap();
    let refused = run(Command::new("bash").arg(scripts.join("merge.sbatch")));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("shard-1: no manifest.json, so this shard has not finished"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!out.join("results.csv").exists());
    // Run again, the task computes only the lost case.
    let o = task("1");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        manifest(1).contains("\"computed_last_run\": 1"),
        "{}",
        manifest(1)
    );
    ok(Command::new("bash").arg(scripts.join("merge.sbatch")));
    for f in ["results.csv", "results.json"] {
        assert_eq!(read(&single.join(f)), read(&out.join(f)), "{f}");
    }
    assert_eq!(read(&out.join("results.csv")).lines().count(), 7);
    // Task 3 does not exist in a 3-shard array; no task id at all is refused too.
    assert_eq!(task("3").status.code(), Some(2));
    let o = run(Command::new("bash")
        .arg(scripts.join("shards.sbatch"))
        .env_remove("SLURM_ARRAY_TASK_ID"));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("job array"));
}

/// `submit.sh` against a stand-in `sbatch` (records its arguments, prints ids, the first as
/// `ID;CLUSTER`): the merge depends on the array's id with `afterok`, and `submit.sh 1`
/// resubmits array task 1 alone and a new merge after it.
#[test]
fn submit_chains_the_merge_after_the_array() {
    let (d, sc) = setup();
    let out = d.path().join("run");
    ok(Command::new(bin()).args([
        "slurm",
        sc.to_str().unwrap(),
        "--shards",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]));
    let fake = d.path().join("fakebin");
    std::fs::create_dir_all(&fake).unwrap();
    let calls = d.path().join("calls.txt");
    let sbatch = fake.join("sbatch");
    std::fs::write(
        &sbatch,
        format!(
            "#!/usr/bin/env bash\nn=$(( $(wc -l < '{calls}' 2>/dev/null || echo 0) + 41 ))\n\
             echo \"$*\" >> '{calls}'\nif [ $n = 41 ]; then echo \"$n;cluster\"; else echo $n; fi\n",
            calls = calls.display()
        ),
    )
    .unwrap();
    ok(Command::new("chmod").arg("+x").arg(&sbatch));
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let submit = out.join("slurm/submit.sh");
    let first = ok(Command::new(&submit).env("PATH", &path));
    assert_eq!(first.lines().last(), Some("array=41 merge=42"), "{first}");
    let again = ok(Command::new(&submit).arg("1").env("PATH", &path));
    assert_eq!(again.lines().last(), Some("array=43 merge=44"), "{again}");
    let scripts = out.join("slurm");
    let expected = [
        format!("--parsable {}/shards.sbatch", scripts.display()),
        format!(
            "--parsable --dependency=afterok:41 --kill-on-invalid-dep=yes {}/merge.sbatch",
            scripts.display()
        ),
        format!("--parsable --array=1 {}/shards.sbatch", scripts.display()),
        format!(
            "--parsable --dependency=afterok:43 --kill-on-invalid-dep=yes {}/merge.sbatch",
            scripts.display()
        ),
    ];
    assert_eq!(read(&calls).lines().collect::<Vec<_>>(), expected);
    assert!(out.join("slurm/logs").is_dir());
}

/// Options that would make a broken script are refused with the option named: no shards, more
/// shards than cases, a log path with a blank (it goes on an `#SBATCH` line), a malformed
/// `--mem` or `--time`, a missing scenario.
#[test]
fn bad_options_are_refused() {
    let (d, sc) = setup();
    let sc = sc.to_str().unwrap();
    let out = d.path().join("o");
    let out = out.to_str().unwrap();
    let logs = d.path().join("my logs");
    let cases: [(Vec<&str>, &str); 6] = [
        (vec!["--shards", "0"], "--shards"),
        (vec!["--shards", "7"], "only 6 cases"),
        (
            vec!["--shards", "2", "--logs", logs.to_str().unwrap()],
            "--logs",
        ),
        (vec!["--shards", "2", "--mem", "2GB"], "--mem"),
        (vec!["--shards", "2", "--time", "1h"], "--time"),
        (
            vec!["--shards", "2", "--cpus-per-task", "0"],
            "--cpus-per-task",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["slurm", sc, "--out", out];
        args.extend(extra);
        let o = run(Command::new(bin()).args(&args));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!Path::new(out).join("slurm").exists());
    let o = run(Command::new(bin()).args(["slurm", "nowhere.ron", "--shards", "2", "--out", out]));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nowhere.ron"));
}
