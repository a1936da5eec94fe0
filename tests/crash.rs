//! Crash safety with real processes: a sweep killed with SIGKILL part-way and resumed gives the
//! results of an uninterrupted run; an output path that cannot be written is a clear error and
//! leaves no file that looks complete; names from input files cannot leave `--out`; the
//! resource limits refuse work with a message that says what to change.

use crate::common::{SWEEP_PARK, bin};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// 1,500 Monte Carlo cases of a 480-step horizon with demand noise: long enough (seconds) to be
/// killed part-way on any machine the tests run on.
const SWEEP: &str = r#"Scenario(
    name: "k",
    park: "park.ron",
    seed: 5,
    overrides: {"time.steps": 480},
    stochastic: (demand_sd: 0.05),
    sweep: MonteCarlo(samples: 1500, ranges: {
        "units.ct.cycles": Uniform(3.0, 7.0),
        "units.ro.recovery": Uniform(0.6, 0.85),
    }),
)"#;

fn parktwin(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.args(args).env("RUST_BACKTRACE", "0");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(args: &[&str]) {
    let out = parktwin(args, &[]);
    assert!(
        out.status.success(),
        "parktwin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn failure(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = parktwin(args, env);
    assert!(!out.status.success(), "parktwin {args:?} should fail");
    assert_eq!(out.status.code(), Some(1), "an error, not a crash");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn setup(scenario: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("park.ron"), SWEEP_PARK).unwrap();
    let path = dir.path().join("scenario.ron");
    std::fs::write(&path, scenario).unwrap();
    (dir, path)
}

fn lines(p: &Path) -> usize {
    std::fs::read(p).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

/// Every file of a directory tree (relative paths).
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Starts a sweep and SIGKILLs it (`Child::kill` sends SIGKILL on Unix) once its journal holds
/// at least `at` rows. Returns the rows journalled when it died. Panics if the sweep finished
/// before it could be killed (the test would then prove nothing).
fn kill_at(sc: &str, out: &Path, at: usize, resume: bool) -> usize {
    let mut args = vec!["sweep", sc, "--jobs", "2", "--out", out.to_str().unwrap()];
    if resume {
        args.push("--resume");
    }
    let mut child = Command::new(bin())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = out.join("journal.ndjson");
    // A generous bound on waiting, not an assertion on speed.
    let deadline = Instant::now() + Duration::from_secs(600);
    while lines(&journal) < at {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the sweep ended ({status}) before it could be killed");
        }
        assert!(Instant::now() < deadline, "the sweep made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let n = lines(&journal);
    assert!(
        n < 1500 && !out.join("results.csv").exists(),
        "killed too late: {n} rows"
    );
    n
}

/// The manifest without what legitimately differs between runs (timings, threads, how many
/// cases the last run computed).
fn manifest(dir: &Path) -> serde_json::Value {
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    for k in ["wall_time_s", "computed_last_run", "jobs"] {
        m.as_object_mut().unwrap().remove(k);
    }
    m
}

/// A sweep killed with SIGKILL twice (after about 10 % and 40 % of its cases; the second kill
/// interrupts a resumed run), with a torn half-row appended to its journal as a kill inside a
/// write would leave, then resumed to the end, writes byte-identical `results.csv`,
/// `results.json` and `results.parquet` to an uninterrupted run, and the same manifest apart
/// from timings. No temporary file is left behind.
#[test]
fn killed_sweep_resumes_to_identical_results() {
    let (d, sc) = setup(SWEEP);
    let sc = sc.to_str().unwrap();
    let full = d.path().join("full");
    let part = d.path().join("part");
    let first = kill_at(sc, &part, 150, false);
    let second = kill_at(sc, &part, 600, true);
    assert!(first >= 150 && second >= 600 && second > first);
    // A torn last row, as if killed inside a write.
    let mut journal = std::fs::read(part.join("journal.ndjson")).unwrap();
    journal.extend_from_slice(br#"{"index":7,"id":"k-00007","sta"#);
    std::fs::write(part.join("journal.ndjson"), journal).unwrap();
    ok(&[
        "sweep",
        sc,
        "--jobs",
        "2",
        "--out",
        part.to_str().unwrap(),
        "--resume",
    ]);
    ok(&["sweep", sc, "--jobs", "2", "--out", full.to_str().unwrap()]);
    for f in ["results.csv", "results.json", "results.parquet"] {
        assert!(
            std::fs::read(full.join(f)).unwrap() == std::fs::read(part.join(f)).unwrap(),
            "{f} differs after kill and resume"
        );
    }
    assert_eq!(manifest(&full), manifest(&part));
    let csv = std::fs::read_to_string(part.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1501);
    for f in files(&part) {
        assert!(
            !f.to_string_lossy().contains(".tmp-"),
            "temporary file left: {}",
            f.display()
        );
    }
}

/// `--out` under a regular file (so even root cannot create it): every command that writes
/// says which path it could not create and leaves nothing behind.
#[test]
fn unwritable_output_is_a_clear_error() {
    let (d, sc) = setup(
        r#"Scenario(name: "u", park: "park.ron", sweep: List([{"units.ro.recovery": 0.8}]))"#,
    );
    let blocker = d.path().join("not_a_dir");
    std::fs::write(&blocker, "a regular file").unwrap();
    let out = blocker.join("out");
    let park = d.path().join("park.ron");
    let e = failure(
        &[
            "sweep",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        e.contains("cannot create the output directory") && e.contains("not_a_dir/out"),
        "{e}"
    );
    let e = failure(
        &[
            "run",
            park.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        e.contains("cannot create the output directory") && e.contains("not_a_dir/out"),
        "{e}"
    );
    let e = failure(
        &[
            "generate",
            "--steps",
            "24",
            "-o",
            out.join("g.ron").to_str().unwrap(),
        ],
        &[],
    );
    assert!(e.contains("not_a_dir/out is not a directory"), "{e}");
    let e = failure(
        &[
            "merge",
            out.to_str().unwrap(),
            "--out",
            out.join("m").to_str().unwrap(),
        ],
        &[],
    );
    assert!(e.contains("not_a_dir/out"), "{e}");
    // Nothing was created next to the blocker.
    assert_eq!(
        files(d.path()),
        vec![
            PathBuf::from("not_a_dir"),
            PathBuf::from("park.ron"),
            PathBuf::from("scenario.ron")
        ]
    );
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "a regular file");
}

/// A write that fails after its temporary file was created (here the target is a directory,
/// so the rename fails) names both paths, leaves the target as it was and removes the
/// temporary file.
#[test]
fn failed_rename_leaves_no_temporary_file() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("g.ron");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("inside"), "kept").unwrap();
    let e = failure(
        &["generate", "--steps", "24", "-o", target.to_str().unwrap()],
        &[],
    );
    assert!(e.contains("cannot rename") && e.contains("g.ron"), "{e}");
    assert_eq!(files(d.path()), vec![PathBuf::from("g.ron/inside")]);
}

/// `parktwin run --out` writes `summary.json` last: a directory with a summary holds every
/// other result file (checked on a completed run: the files the summary promises exist).
#[test]
fn run_directory_is_complete_when_it_has_a_summary() {
    let d = tempfile::tempdir().unwrap();
    let park = d.path().join("park.ron");
    std::fs::write(&park, SWEEP_PARK).unwrap();
    let out = d.path().join("r");
    ok(&[
        "run",
        park.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    for f in [
        "summary.json",
        "kpis.json",
        "unit_series.csv",
        "link_series.csv",
        "park_series.csv",
        "series.parquet",
        "network.dot",
        "sankey/water.echarts.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let summary = std::fs::metadata(out.join("summary.json"))
        .unwrap()
        .modified()
        .unwrap();
    for f in files(&out) {
        let t = std::fs::metadata(out.join(&f)).unwrap().modified().unwrap();
        assert!(t <= summary, "{} written after summary.json", f.display());
    }
}

/// A scenario name that would put case directories outside `--out` is refused when the
/// scenario is read, naming the field; a plain name is accepted and its series stay inside.
#[test]
fn scenario_names_cannot_escape_the_output_directory() {
    for bad in ["../../escape", "a/b", "..", ".hidden"] {
        let (d, sc) = setup(&format!(
            r#"Scenario(name: {bad:?}, park: "park.ron", sweep: List([{{"units.ro.recovery": 0.8}}]))"#
        ));
        let out = d.path().join("o");
        let e = failure(
            &[
                "sweep",
                sc.to_str().unwrap(),
                "--series",
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert!(
            e.contains("name: ") && e.contains("cannot name output files"),
            "{bad}: {e}"
        );
        assert!(!out.exists(), "{bad}: output directory created");
    }
    let (d, sc) = setup(
        r#"Scenario(name: "fine name", park: "park.ron", sweep: List([{"units.ro.recovery": 0.8}]))"#,
    );
    let out = d.path().join("o");
    ok(&[
        "sweep",
        sc.to_str().unwrap(),
        "--series",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(out.join("cases/fine name-00000/summary.json").is_file());
    // Everything written is under --out.
    let mut top = files(d.path());
    top.retain(|f| !f.starts_with("o"));
    assert_eq!(
        top,
        vec![PathBuf::from("park.ron"), PathBuf::from("scenario.ron")]
    );
}
