//! Limits and pathological values: each refusal names the item or the setting to change.
//! Limits are set per process (flag or environment), so these tests run the real binary;
//! pathological values in the file are checked through the library as well.

use crate::common::error_of;
use std::path::PathBuf;
use std::process::{Command, Output};

fn parktwin(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parktwin"));
    c.args(args).env("RUST_BACKTRACE", "0");
    for k in [
        "PARKTWIN_MAX_STEPS",
        "PARKTWIN_MAX_MEMORY_MB",
        "PARKTWIN_MAX_CASES",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = parktwin(args, env);
    assert_eq!(out.status.code(), Some(1), "parktwin {args:?} {env:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn accepted(args: &[&str], env: &[(&str, &str)]) {
    let out = parktwin(args, env);
    assert!(
        out.status.success(),
        "parktwin {args:?} {env:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn park_file() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("park.ron");
    std::fs::write(&p, crate::common::SWEEP_PARK).unwrap();
    (d, p)
}

/// The horizon maximum comes from `--max-steps` or `PARKTWIN_MAX_STEPS`; the message names
/// `time.steps`, the maximum and both ways to change it.
#[test]
fn horizon_beyond_the_maximum() {
    let (_d, p) = park_file();
    let p = p.to_str().unwrap();
    accepted(&["validate", p], &[]);
    let want = "time.steps: 168 is out of range: must be 1 to 100 (the maximum is set by --max-steps or PARKTWIN_MAX_STEPS)";
    let e = refused(&["validate", p, "--max-steps", "100"], &[]);
    assert!(e.contains(want), "{e}");
    let e = refused(&["validate", p], &[("PARKTWIN_MAX_STEPS", "100")]);
    assert!(e.contains(want), "{e}");
    // The flag wins over the environment.
    accepted(
        &["validate", p, "--max-steps", "200"],
        &[("PARKTWIN_MAX_STEPS", "100")],
    );
    let e = refused(&["validate", p], &[("PARKTWIN_MAX_STEPS", "lots")]);
    assert!(
        e.contains("PARKTWIN_MAX_STEPS=\"lots\" is not a whole number"),
        "{e}"
    );
}

/// The default maximum is ten years of hourly steps (87,600).
#[test]
fn default_horizon_maximum() {
    let e = error_of(&crate::common::SWEEP_PARK.replace("steps: 168", "steps: 87601"));
    assert!(
        e.contains("time.steps: 87601 is out of range: must be 1 to 87600"),
        "{e}"
    );
}

/// Memory estimate (see `parks::limits`): this 6-unit, 8-link park at 168 steps needs about
/// 17 MB without series and about 185 MB with them (160 MiB of output buffers + 24 bytes per
/// recorded value); a 100 MB cap lets the plain run through and refuses the recorded one with
/// what to change.
#[test]
fn memory_cap_refuses_recorded_runs_with_advice() {
    let (d, p) = park_file();
    let p = p.to_str().unwrap();
    let out = d.path().join("o");
    accepted(&["run", p, "--max-memory-mb", "100"], &[]);
    let e = refused(
        &[
            "run",
            p,
            "--out",
            out.to_str().unwrap(),
            "--max-memory-mb",
            "100",
        ],
        &[],
    );
    assert!(e.contains("park.ron: estimated memory "), "{e}");
    assert!(
        e.contains("168 steps × 6 units, 8 links, 2 species, time series recorded) is above the cap of 100 MB"),
        "{e}"
    );
    assert!(
        e.contains("run without time series") && e.contains("PARKTWIN_MAX_MEMORY_MB"),
        "{e}"
    );
    assert!(!out.exists(), "nothing is written when refused");
    let e = refused(
        &["run", p, "--out", out.to_str().unwrap()],
        &[("PARKTWIN_MAX_MEMORY_MB", "100")],
    );
    assert!(e.contains("above the cap of 100 MB"), "{e}");
}

/// Even without series, a cap below the least a park needs is refused at validation, on
/// `time.steps`.
#[test]
fn memory_cap_at_validation() {
    let (_d, p) = park_file();
    let e = refused(
        &["validate", p.to_str().unwrap(), "--max-memory-mb", "10"],
        &[],
    );
    assert!(
        e.contains("time.steps: estimated memory 17 MB (168 steps × 6 units, 8 links, 2 species, no time series) is above the cap of 10 MB"),
        "{e}"
    );
}

/// In a sweep with `--series`, a case over the memory cap fails with the reason and the batch
/// goes on: at a 190 MB cap the 24-step case (about 185 MB) runs and the 8,760-step case (about
/// 195 MB) is refused.
#[test]
fn memory_cap_in_a_sweep_fails_the_case_not_the_batch() {
    let (d, _p) = park_file();
    let sc = d.path().join("s.ron");
    std::fs::write(
        &sc,
        r#"Scenario(name: "m", park: "park.ron", sweep: List([{"time.steps": 24}, {"time.steps": 8760}]))"#,
    )
    .unwrap();
    let out = d.path().join("o");
    accepted(
        &[
            "sweep",
            sc.to_str().unwrap(),
            "--series",
            "--out",
            out.to_str().unwrap(),
            "--max-memory-mb",
            "190",
        ],
        &[],
    );
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(rows[0].contains(",ok,"), "{csv}");
    assert!(
        rows[1].contains(",failed,") && rows[1].contains("above the cap of 190 MB"),
        "{csv}"
    );
}

/// A sweep above the case maximum is refused before anything is expanded: by the flag, and by
/// default for sample counts and grids too large to hold (a 10-axis grid of 100 values each is
/// 10²⁰ cases, more than 2⁶⁴).
#[test]
fn sweep_size_limit() {
    let (d, _p) = park_file();
    let write = |name: &str, text: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let grid = write(
        "g.ron",
        r#"Scenario(name: "g", park: "park.ron", sweep: Grid({"units.ct.cycles": [3.0, 4.0, 5.0], "units.ro.recovery": [0.7, 0.8]}))"#,
    );
    accepted(&["sweep", &grid, "--dry-run", "--max-cases", "6"], &[]);
    let e = refused(&["sweep", &grid, "--dry-run", "--max-cases", "5"], &[]);
    assert!(
        e.contains("sweep: the sweep has 6 cases, above the maximum of 5: split it into several scenario files, or raise the maximum with --max-cases or PARKTWIN_MAX_CASES"),
        "{e}"
    );
    let e = refused(
        &["sweep", &grid, "--dry-run"],
        &[("PARKTWIN_MAX_CASES", "5")],
    );
    assert!(e.contains("above the maximum of 5"), "{e}");
    let mc = write(
        "mc.ron",
        r#"Scenario(name: "mc", park: "park.ron", sweep: MonteCarlo(samples: 1000000000000, ranges: {"units.ct.cycles": Uniform(3.0, 5.0)}))"#,
    );
    let e = refused(&["sweep", &mc, "--dry-run"], &[]);
    assert!(
        e.contains("the sweep has 1000000000000 cases, above the maximum of 1000000"),
        "{e}"
    );
    let axes: Vec<String> = (0..10)
        .map(|i| {
            let values: Vec<String> = (0..100).map(|v| format!("{v}.0")).collect();
            format!("\"events.[{i}].factor\": [{}]", values.join(", "))
        })
        .collect();
    let huge = write(
        "huge.ron",
        &format!(
            "Scenario(name: \"h\", park: \"park.ron\", sweep: Grid({{{}}}))",
            axes.join(", ")
        ),
    );
    let e = refused(&["sweep", &huge, "--dry-run"], &[]);
    assert!(e.contains("the sweep has more than 2^64 cases"), "{e}");
}

const GOOD: &str = r#"Park(
    name: "ok",
    time: (steps: 24),
    units: [
        Source(id: "s", kind: Municipal, cap_m3_per_h: 100.0, price_yuan_per_m3: 4.0),
        Process(id: "p", production_per_h: Const(1.0), water_m3_per_unit: 10.0),
        Discharge(id: "out"),
    ],
    links: [
        (from: "s", to: "p", head_m: 20.0),
        (from: "p.waste", to: "out"),
    ],
)"#;

/// NaN, infinities and absurd magnitudes are refused at validation, each named by its item
/// path, all reported at once.
#[test]
fn pathological_numbers_are_named() {
    crate::common::run_text(GOOD, false);
    let cases = [
        (
            "cap_m3_per_h: 100.0",
            "cap_m3_per_h: inf",
            r#"units[0] "s".cap_m3_per_h: inf is out of range: must be finite, at least 0"#,
        ),
        (
            "cap_m3_per_h: 100.0",
            "cap_m3_per_h: 1e300",
            r#"units[0] "s".cap_m3_per_h: 1e300 is out of range"#,
        ),
        (
            "price_yuan_per_m3: 4.0",
            "price_yuan_per_m3: NaN",
            r#"units[0] "s".price_yuan_per_m3: NaN is out of range"#,
        ),
        (
            "water_m3_per_unit: 10.0",
            "water_m3_per_unit: -inf",
            r#"units[1] "p".water_m3_per_unit: -inf is out of range"#,
        ),
        (
            "Const(1.0)",
            "Const(NaN)",
            r#"units[1] "p".production_per_h: value NaN at step 0 is not finite"#,
        ),
        (
            "Const(1.0)",
            "Hourly([1.0, 1.0, 1.0, inf, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])",
            r#"units[1] "p".production_per_h: value inf at step 3 is not finite"#,
        ),
        (
            "Const(1.0)",
            "Const(1e200)",
            r#"units[1] "p".production_per_h: value 1e200 is out of range"#,
        ),
        (
            "head_m: 20.0",
            "head_m: NaN",
            r#"links[0] "s->p".head_m: NaN is out of range"#,
        ),
        (
            "time: (steps: 24)",
            "time: (steps: 24, step_h: inf)",
            "time.step_h: inf is out of range",
        ),
    ];
    for (from, to, want) in cases {
        let text = GOOD.replace(from, to);
        assert_ne!(text, GOOD, "{from}");
        let e = error_of(&text);
        assert!(e.contains(want), "{to}: {e}");
    }
    // All at once.
    let text = GOOD
        .replace("cap_m3_per_h: 100.0", "cap_m3_per_h: inf")
        .replace("Const(1.0)", "Const(NaN)")
        .replace("head_m: 20.0", "head_m: 1e99");
    let e = error_of(&text);
    assert!(e.contains("3 problems found"), "{e}");
}

/// A sweep value that is not finite or is absurd fails its case at validation with the item
/// path (CSV-quoted in `results.csv`); RON's `inf` in an override is refused when the scenario
/// is read (JSON has no infinities), naming the path.
#[test]
fn pathological_sweep_values() {
    let (d, _p) = park_file();
    let sc = d.path().join("s.ron");
    std::fs::write(
        &sc,
        r#"Scenario(name: "p", park: "park.ron", sweep: List([{"units.ct.cycles": 1e300}, {"units.ct.cycles": 4.0}]))"#,
    )
    .unwrap();
    let out = d.path().join("o");
    accepted(
        &[
            "sweep",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(
        rows[0].contains(",failed,")
            && rows[0].contains(r#"units[2] ""ct"".cycles: 1e300 is out of range"#),
        "{csv}"
    );
    assert!(rows[1].contains(",ok,"), "{csv}");
    std::fs::write(
        &sc,
        r#"Scenario(name: "p", park: "park.ron", overrides: {"units.ct.cycles": inf})"#,
    )
    .unwrap();
    let e = refused(&["sweep", sc.to_str().unwrap(), "--dry-run"], &[]);
    assert!(
        e.contains(r#""units.ct.cycles": the value holds NaN, an infinity or an empty value"#),
        "{e}"
    );
}
