//! What-if scenarios and sweeps: overrides, events, expansion, isolation of failures,
//! determinism across jobs and shards, merge and resume. Sweeps run the real binary.

use crate::common::{bin, run_text};
use std::path::{Path, PathBuf};
use std::process::Command;

const PARK: &str = r#"Park(
    name: "sweep park",
    time: (steps: 168),
    species: ["tds"],
    units: [
        Source(id: "city", kind: Municipal, quality_mg_per_l: {"tds": 400.0}, cap_m3_per_h: 500.0, price_yuan_per_m3: 4.0),
        Process(id: "p", production_per_h: Profile(base: 20.0, daily: [0.6, 0.6, 0.6, 0.6, 0.6, 0.8, 1.0, 1.2, 1.3, 1.3, 1.3, 1.2, 1.1, 1.2, 1.3, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8, 0.7, 0.7, 0.6]),
                water_m3_per_unit: 5.0, consumptive_fraction: 0.1, adds_kg_per_m3: {"tds": 0.5}),
        CoolingTower(id: "ct", heat_load_mw: Const(30.0), range_c: 8.0, cycles: 4.0, holding_volume_m3: 600.0, initial_mg_per_l: {"tds": 1600.0}),
        Treatment(id: "ro", recovery: 0.75, removal_to_reject: {"tds": 0.95}, kwh_per_m3: 1.2),
        Tank(id: "reuse", capacity_m3: 400.0, initial_m3: 200.0, initial_mg_per_l: {"tds": 100.0}),
        Discharge(id: "out"),
    ],
    links: [
        (from: "city", to: "p", priority: 10, head_m: 30.0),
        (from: "city", to: "ct", priority: 10, head_m: 30.0),
        (from: "reuse.out", to: "ct", priority: 0),
        (from: "p.waste", to: "ro"),
        (from: "ct.blowdown", to: "out"),
        (from: "ro.product", to: "reuse"),
        (from: "ro.reject", to: "out"),
        (from: "reuse.overflow", to: "out"),
    ],
)"#;

/// A temporary directory with the park and a scenario file.
fn setup(scenario: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("park.ron"), PARK).unwrap();
    let path = dir.path().join("scenario.ron");
    std::fs::write(&path, scenario).unwrap();
    (dir, path)
}

fn parktwin(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = parktwin(args);
    assert!(
        out.status.success(),
        "parktwin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

const GRID: &str = r#"Scenario(
    name: "g",
    park: "park.ron",
    seed: 11,
    stochastic: (demand_sd: 0.05),
    sweep: Grid({"units.ct.cycles": [3.0, 5.0, 7.0], "units.ro.recovery": [0.7, 0.8]}),
)"#;

/// A grid of 3 × 2 expands to 6 cases with stable ids; `--dry-run` lists them.
#[test]
fn dry_run_lists_stable_ids() {
    let (_d, sc) = setup(GRID);
    let a = ok(&["sweep", sc.to_str().unwrap(), "--dry-run"]);
    let b = ok(&["sweep", sc.to_str().unwrap(), "--dry-run"]);
    assert_eq!(a, b);
    assert!(a.starts_with("6 cases"), "{a}");
    assert!(
        a.contains("g-00000") && a.contains("g-00005") && !a.contains("g-00006"),
        "{a}"
    );
}

/// `--jobs 1` and `--jobs 2` write identical results, and three shards run as separate
/// processes and merged give exactly the single run's `results.csv` and `results.json`.
#[test]
fn jobs_and_shards_give_identical_results() {
    let (d, sc) = setup(GRID);
    let sc = sc.to_str().unwrap();
    let out = |name: &str| d.path().join(name);
    ok(&[
        "sweep",
        sc,
        "--jobs",
        "1",
        "--out",
        out("j1").to_str().unwrap(),
    ]);
    ok(&[
        "sweep",
        sc,
        "--jobs",
        "2",
        "--out",
        out("j2").to_str().unwrap(),
    ]);
    let single = read(&out("j1").join("results.csv"));
    assert_eq!(single, read(&out("j2").join("results.csv")));
    assert_eq!(
        read(&out("j1").join("results.json")),
        read(&out("j2").join("results.json"))
    );
    assert_eq!(single.lines().count(), 7, "{single}");
    assert!(
        single.lines().skip(1).all(|l| l.contains(",ok,")),
        "{single}"
    );
    let shards: Vec<PathBuf> = (0..3).map(|k| out(&format!("shard-{k}"))).collect();
    let children: Vec<_> = (0..3)
        .map(|k| {
            Command::new(bin())
                .args([
                    "sweep",
                    sc,
                    "--jobs",
                    "1",
                    "--shard",
                    &format!("{k}/3"),
                    "--out",
                    shards[k].to_str().unwrap(),
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let merged = out("merged");
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--out", merged.to_str().unwrap()]);
    ok(&args);
    assert_eq!(single, read(&out("merged").join("results.csv")));
    assert_eq!(
        read(&out("j1").join("results.json")),
        read(&out("merged").join("results.json"))
    );
    // A merge with a shard missing names what is missing.
    let e = parktwin(&[
        "merge",
        shards[0].to_str().unwrap(),
        "--out",
        out("bad").to_str().unwrap(),
    ]);
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("4 of 6 cases are missing"));
}

/// An interrupted run (journal cut after two cases, the last line torn) resumed with `--resume`
/// completes to the same results as an uninterrupted run; without `--resume` the directory is
/// refused rather than overwritten.
#[test]
fn resume_completes_to_identical_results() {
    let (d, sc) = setup(GRID);
    let sc = sc.to_str().unwrap();
    let full = d.path().join("full");
    let part = d.path().join("part");
    ok(&["sweep", sc, "--out", full.to_str().unwrap()]);
    ok(&["sweep", sc, "--out", part.to_str().unwrap()]);
    let journal = read(&part.join("journal.ndjson"));
    let lines: Vec<&str> = journal.lines().collect();
    let cut = format!(
        "{}\n{}\n{}",
        lines[0],
        lines[1],
        &lines[2][..lines[2].len() / 2]
    );
    std::fs::write(part.join("journal.ndjson"), cut).unwrap();
    std::fs::remove_file(part.join("results.csv")).unwrap();
    let refused = parktwin(&["sweep", sc, "--out", part.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--resume"));
    ok(&["sweep", sc, "--out", part.to_str().unwrap(), "--resume"]);
    assert_eq!(
        read(&full.join("results.csv")),
        read(&part.join("results.csv"))
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&part.join("manifest.json"))).unwrap();
    assert_eq!(manifest["computed_last_run"], 4);
}

/// A case with an impossible value is recorded as failed with its reason; the others succeed.
#[test]
fn a_failing_case_is_isolated() {
    let (d, sc) = setup(
        r#"Scenario(name: "f", park: "park.ron", sweep: List([{"units.ro.recovery": 0.8}, {"units.ro.recovery": 1.5}, {"units.ro.recovery": 0.6}]))"#,
    );
    let out = d.path().join("o");
    let stdout = ok(&[
        "sweep",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(stdout.contains("(1 failed)"), "{stdout}");
    let csv = read(&out.join("results.csv"));
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(
        rows[0].contains(",ok,") && rows[2].contains(",ok,"),
        "{csv}"
    );
    assert!(
        rows[1].contains(",failed,") && rows[1].contains("recovery: 1.5 is out of range"),
        "{csv}"
    );
}

/// Bad override paths and types are reported with the path.
#[test]
fn bad_override_paths_and_types() {
    for (ov, want) in [
        (r#""units.ctx.cycles": 5.0"#, "no item \\\"ctx\\\""),
        (r#""units.ct.cyclez": 5.0"#, "no field \\\"cyclez\\\""),
        (r#""units.ct.cycles": "many""#, "does not fit the schema"),
    ] {
        let (_d, sc) = setup(&format!(
            "Scenario(name: \"b\", park: \"park.ron\", overrides: {{{ov}}})"
        ));
        let out = parktwin(&["sweep", sc.to_str().unwrap(), "--dry-run"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{ov}");
        assert!(err.contains(&want.replace("\\\"", "\"")), "{ov}: {err}");
    }
}

fn with_event(event: &str) -> String {
    PARK.replacen(
        "    ],\n)",
        &format!("    ],\n    events: [{event}],\n)"),
        1,
    )
}

/// Every event type moves the results the expected way, against the same park without it.
#[test]
fn each_event_changes_the_result_in_the_expected_direction() {
    let (_, base) = run_text(PARK, false);
    let run = |e: &str| run_text(&with_event(e), false).1;
    let unit = |s: &parktwin::parks::summary::RunSummary, id: &str| {
        s.units.iter().find(|u| u.id == id).unwrap().throughput_m3
    };
    let s = run(r#"Outage(unit: "ro", from_h: 24.0, to_h: 48.0)"#);
    assert!(unit(&s, "ro") < unit(&base, "ro"));
    let s = run(r#"IntakeCap(source: "city", cap_m3_per_h: 50.0, from_h: 24.0, to_h: 48.0)"#);
    assert!(s.water_m3.unmet_demand > 0.0 && s.water_m3.intake < base.water_m3.intake);
    let s = run(r#"HeatWave(factor: 1.3, from_h: 0.0, to_h: 168.0)"#);
    assert!(s.water_m3.exits["evaporation"] > base.water_m3.exits["evaporation"]);
    assert!(unit(&s, "ct") > unit(&base, "ct"));
    let s = run(r#"Production(units: ["p"], factor: 0.5, from_h: 0.0, to_h: 168.0)"#);
    assert!(unit(&s, "p") < unit(&base, "p") && s.water_m3.intake < base.water_m3.intake);
    let s = run(r#"Tariff(factor: 2.0, from_h: 0.0, to_h: 168.0)"#);
    assert!(
        (s.cost_yuan.electricity - 2.0 * base.cost_yuan.electricity).abs()
            < 1e-6 * base.cost_yuan.electricity
    );
    assert_eq!(s.water_m3.intake, base.water_m3.intake);
    let s = run(r#"GridCarbon(factor: 0.5, from_h: 0.0, to_h: 168.0)"#);
    assert!(
        (s.co2e_kg.electricity - 0.5 * base.co2e_kg.electricity).abs()
            < 1e-6 * base.co2e_kg.electricity
    );
    let s = run(r#"Leak(link: "city->p", m3_per_h: 5.0, from_h: 0.0, to_h: 168.0)"#);
    assert!(
        (s.water_m3.exits["leak"] - 5.0 * 168.0).abs() < 1e-9,
        "{}",
        s.water_m3.exits["leak"]
    );
    assert!((s.water_m3.intake - base.water_m3.intake - 5.0 * 168.0).abs() < 1e-6);
    assert!(s.balance.max_relative_residual <= 1e-9);
}

/// `parktwin run` accepts a scenario file and runs its base case (overrides, events and
/// stochastic drivers, without the sweep).
#[test]
fn run_accepts_a_scenario() {
    let (_d, sc) = setup(r#"Scenario(name: "r", park: "park.ron", overrides: {"time.steps": 24})"#);
    let out = ok(&["run", sc.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["steps"], 24);
}

/// `results.parquet` reads back to the same numbers as `results.csv` (written from the same
/// rows), with the swept paths and metrics as typed columns; a failed case has null metrics.
#[test]
fn results_parquet_round_trips() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;
    let (d, sc) = setup(
        r#"Scenario(name: "pq", park: "park.ron", sweep: List([{"units.ro.recovery": 0.8}, {"units.ro.recovery": 1.5}, {"units.ro.recovery": 0.6}]))"#,
    );
    let out = d.path().join("o");
    ok(&[
        "sweep",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let json: Vec<serde_json::Value> =
        serde_json::from_str(&read(&out.join("results.json"))).unwrap();
    let reader =
        SerializedFileReader::new(std::fs::File::open(out.join("results.parquet")).unwrap())
            .unwrap();
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(&names[..4], ["index", "id", "status", "units.ro.recovery"]);
    let intake = names.iter().position(|n| n == "intake_m3").unwrap();
    let rows: Vec<_> = reader
        .get_row_iter(None)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 3);
    for (row, j) in rows.iter().zip(&json) {
        assert_eq!(row.get_long(0).unwrap(), j["index"].as_i64().unwrap());
        assert_eq!(row.get_string(1).unwrap(), j["id"].as_str().unwrap());
        assert_eq!(
            row.get_double(3).unwrap(),
            j["params"]["units.ro.recovery"].as_f64().unwrap()
        );
        match j["metrics"]["intake_m3"].as_f64() {
            Some(v) => assert_eq!(row.get_double(intake).unwrap().to_bits(), v.to_bits()),
            None => assert!(
                row.get_double(intake).is_err(),
                "a failed case has a null metric"
            ),
        }
    }
    assert_eq!(rows[1].get_string(2).unwrap(), "failed");
}
