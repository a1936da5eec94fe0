//! Analytic cases: mixing tanks and recycle loops against their exact solutions.

use crate::common::run_text;
use parktwin::engine::network::Topology;
use parktwin::engine::record::Recorder;

/// TDS series (one value per step) of unit `id`: a tank's contents at the end of each step.
fn tds_of(sim: &parktwin::engine::sim::Simulation, id: &str) -> Vec<f64> {
    let topo = sim.resource::<Topology>();
    let u = topo.unit_index(id).expect("unit exists");
    let rec = sim.resource::<Recorder>();
    let n = topo.n_units();
    (0..rec.steps).map(|k| rec.unit_tds[k * n + u]).collect()
}

fn single_tank(dt: f64, hours: f64) -> String {
    let steps = (hours / dt).round() as usize;
    format!(
        r#"Park(
    name: "single tank",
    time: (step_h: {dt}, steps: {steps}),
    units: [
        Source(id: "s", kind: Municipal, quality_mg_per_l: {{"tds": 1000.0}}, cap_m3_per_h: 1000.0),
        Process(id: "feed", production_per_h: Const(20.0), water_m3_per_unit: 1.0),
        Tank(id: "t", capacity_m3: 400.0, initial_m3: 200.0),
        Treatment(id: "draw", recovery: 1.0, feed: Fixed(Const(20.0))),
        Discharge(id: "out"),
    ],
    links: [
        (from: "s", to: "feed"),
        (from: "feed.waste", to: "t"),
        (from: "t.out", to: "draw"),
        (from: "t.overflow", to: "out"),
        (from: "draw.product", to: "out"),
    ],
)"#
    )
}

/// A completely mixed tank of constant volume `V` = 200 m³ with through-flow `Q` = 20 m³/h
/// (`V/Q` = 10 h), filled with clean water and fed at `C_in` = 1,000 mg/L:
/// `C(t) = C_in + (C0 − C_in)·exp(−Q·t/V)`. Compared every hour for 48 h at steps of 1, 0.5 and
/// 0.25 h; the error, relative to `C_in`, stays ≤ 1e-3 (the closed form makes it ≈ 1e-15) and
/// does not grow as the step shrinks.
#[test]
fn single_mixing_tank_matches_exact_solution() {
    let mut errors = Vec::new();
    for dt in [1.0, 0.5, 0.25] {
        let (sim, summary) = run_text(&single_tank(dt, 48.0), true);
        assert!(summary.balance.max_relative_residual <= 1e-9);
        let c = tds_of(&sim, "t");
        let per_hour = (1.0 / dt).round() as usize;
        let mut worst: f64 = 0.0;
        for h in 1..=48 {
            let t = h as f64;
            let exact = 1000.0 * (1.0 - (-20.0 * t / 200.0).exp());
            worst = worst.max((c[h * per_hour - 1] - exact).abs() / 1000.0);
        }
        errors.push(worst);
    }
    eprintln!("single tank: largest error / C_in at steps of 1, 0.5, 0.25 h: {errors:?}");
    assert!(errors[0] <= 1e-3, "error at 1 h steps {}", errors[0]);
    assert!(
        errors[1] <= errors[0] + 1e-12 && errors[2] <= errors[1] + 1e-12,
        "{errors:?}"
    );
}

fn two_tank_loop(dt: f64, hours: f64) -> String {
    let steps = (hours / dt).round() as usize;
    format!(
        r#"Park(
    name: "two-tank loop",
    time: (step_h: {dt}, steps: {steps}),
    units: [
        Source(id: "s", kind: Municipal, quality_mg_per_l: {{"tds": 1000.0}}, cap_m3_per_h: 1000.0),
        Process(id: "feed", production_per_h: Const(10.0), water_m3_per_unit: 1.0),
        Tank(id: "a", capacity_m3: 400.0, initial_m3: 200.0),
        Tank(id: "b", capacity_m3: 800.0, initial_m3: 400.0),
        Treatment(id: "a_to_b", recovery: 1.0, feed: Fixed(Const(40.0))),
        Treatment(id: "b_to_a", recovery: 1.0, feed: Fixed(Const(30.0))),
        Treatment(id: "purge", recovery: 1.0, feed: Fixed(Const(10.0))),
        Discharge(id: "out"),
    ],
    links: [
        (from: "s", to: "feed"),
        (from: "feed.waste", to: "a"),
        (from: "a.out", to: "a_to_b"),
        (from: "a_to_b.product", to: "b"),
        (from: "b.out", to: "b_to_a"),
        (from: "b.out", to: "purge"),
        (from: "b_to_a.product", to: "a"),
        (from: "purge.product", to: "out"),
        (from: "a.overflow", to: "out"),
        (from: "b.overflow", to: "out"),
    ],
)"#
    )
}

/// Exact solution of `x' = M·x + b` for 2×2 `M` with distinct real eigenvalues:
/// `x(t) = x* + e^{Mt}(x0 − x*)`, `e^{Mt} = (e^{λ1 t}(M − λ2 I) − e^{λ2 t}(M − λ1 I))/(λ1 − λ2)`
/// (Sylvester's formula).
fn exact_loop(t: f64) -> (f64, f64) {
    // V_a·a' = F·C_f + R·b − (F + R)·a;  V_b·b' = (F + R)·(a − b).
    let (f, r, va, vb, cf): (f64, f64, f64, f64, f64) = (10.0, 30.0, 200.0, 400.0, 1000.0);
    let m = [[-(f + r) / va, r / va], [(f + r) / vb, -(f + r) / vb]];
    let tr = m[0][0] + m[1][1];
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let disc = (tr * tr / 4.0 - det).sqrt();
    let (l1, l2) = (tr / 2.0 + disc, tr / 2.0 - disc);
    let (e1, e2) = ((l1 * t).exp(), (l2 * t).exp());
    let expm = |i: usize, j: usize| {
        let id = if i == j { 1.0 } else { 0.0 };
        (e1 * (m[i][j] - l2 * id) - e2 * (m[i][j] - l1 * id)) / (l1 - l2)
    };
    // Steady state: a* = b* = C_f. Start: a = b = 0.
    let d = [-cf, -cf];
    (
        cf + expm(0, 0) * d[0] + expm(0, 1) * d[1],
        cf + expm(1, 0) * d[0] + expm(1, 1) * d[1],
    )
}

/// Two completely mixed tanks in a loop: feed `F` = 10 m³/h at 1,000 mg/L into tank A
/// (`V_A` = 200 m³), A → B at 40 m³/h (`V_B` = 400 m³), B → A at 30 m³/h, purge 10 m³/h
/// (volume-to-flow ratios: A 5 h, B 10 h). Against the exact solution of the linear ODEs
/// (Sylvester's formula): the largest error over 72 h relative to the feed concentration is
/// ≤ 1e-3 at 1 h steps and shrinks as the step shrinks (the scheme is exact per tank; its
/// only approximation is the step-mean concentration passed around the loop).
#[test]
fn two_tank_loop_matches_exact_solution() {
    let mut errors = Vec::new();
    for dt in [1.0, 0.5, 0.25] {
        let (sim, summary) = run_text(&two_tank_loop(dt, 72.0), true);
        assert!(
            summary.balance.max_relative_residual <= 1e-9,
            "{}",
            summary.balance.max_relative_residual
        );
        assert!(summary.diagnostics.is_empty(), "{:?}", summary.diagnostics);
        let a = tds_of(&sim, "a");
        let b = tds_of(&sim, "b");
        let per_hour = (1.0 / dt).round() as usize;
        let mut worst: f64 = 0.0;
        for h in 1..=72 {
            let (ea, eb) = exact_loop(h as f64);
            let k = h * per_hour - 1;
            worst = worst
                .max((a[k] - ea).abs() / 1000.0)
                .max((b[k] - eb).abs() / 1000.0);
        }
        errors.push(worst);
    }
    eprintln!("two-tank loop: largest error / C_f at steps of 1, 0.5, 0.25 h: {errors:?}");
    assert!(errors[0] <= 1e-3, "error at 1 h steps {}", errors[0]);
    assert!(
        errors[1] < errors[0] && errors[2] < errors[1],
        "errors by step {errors:?}"
    );
}

fn process_loop(outage: &str) -> String {
    format!(
        r#"Park(
    name: "process loop",
    time: (step_h: 1.0, steps: 48),
    species: ["tds", "cod"],
    units: [
        Source(id: "s", kind: Municipal, quality_mg_per_l: {{"tds": 500.0, "cod": 10.0}}, cap_m3_per_h: 1000.0),
        Process(id: "p", production_per_h: Const(100.0), water_m3_per_unit: 1.0, consumptive_fraction: 0.2, adds_kg_per_m3: {{"tds": 0.3, "cod": 0.4}}),
        Treatment(id: "w", recovery: 0.8, removal_to_reject: {{"tds": 0.5}}, destroyed: {{"cod": 0.9}}),
        Discharge(id: "out"),
    ],
    links: [
        (from: "s", to: "p"),
        (from: "p.waste", to: "w"),
        (from: "p.waste", to: "out", priority: 1),
        (from: "w.product", to: "p"),
        (from: "w.product", to: "out", priority: 1),
        (from: "w.reject", to: "out"),
    ],
    events: [{outage}],
)"#
    )
}

/// A process loop without storage: demand `D` = 100 m³/h, consumption `f` = 0.2 (evaporated),
/// loads γ = 300 g/m³ TDS; wastewater to a treatment with recovery `r` = 0.8 sending ρ = 0.5 of
/// the TDS to its reject; all product returns to the process, fresh water at `C_s` = 500 mg/L
/// makes up the rest. Recycle `R = r(1 − f)D` = 64 m³/h, fresh `F = D − R` = 36 m³/h, and the
/// loop's TDS balance `c·D = C_s·F + (1 − ρ)·D·(c + γ)` gives the inlet mix
/// `c = (C_s·F/D + (1 − ρ)·γ)/ρ` = (180 + 150)/0.5 = 660 mg/L. The loop is solved exactly in
/// the step (no lag): the inlet mix matches from the first step to 1e-12, and every unit closes to
/// 1e-12.
#[test]
fn loop_of_non_storage_units_is_solved_exactly() {
    let (sim, summary) = run_text(&process_loop(""), true);
    assert!(
        summary.balance.max_relative_residual <= 1e-12,
        "{}",
        summary.balance.max_relative_residual
    );
    let c = tds_of(&sim, "p");
    let expected = (500.0 * 36.0 / 100.0 + 0.5 * 300.0) / 0.5;
    for (k, v) in c.iter().enumerate() {
        assert!(
            (v - expected).abs() <= 1e-12 * expected,
            "step {k}: {v} vs {expected}"
        );
    }
    let fresh = summary
        .units
        .iter()
        .find(|u| u.id == "s")
        .unwrap()
        .throughput_m3;
    assert!(
        (fresh - 36.0 * 48.0).abs() <= 1e-9 * fresh,
        "fresh water {fresh}"
    );
}

/// The treatment unit is out of service for hours 10–20: its part of the loop empties (no flow,
/// dropped from the species system, no singular-system diagnostic), the process takes fresh
/// water only (inlet TDS = 500 mg/L exactly, the wastewater bypasses to the outfall), the balance
/// still closes, and the loop returns to its steady state after the outage.
#[test]
fn outage_empties_part_of_a_loop() {
    let (sim, summary) = run_text(
        &process_loop("Outage(unit: \"w\", from_h: 10.0, to_h: 20.0)"),
        true,
    );
    assert!(summary.balance.max_relative_residual <= 1e-12);
    assert!(!summary.diagnostics.contains_key("singular_loop"));
    assert!(
        !summary.diagnostics.contains_key("unroutable"),
        "{:?}",
        summary.diagnostics
    );
    let topo = sim.resource::<Topology>();
    let rec = sim.resource::<Recorder>();
    let n = topo.n_units();
    let w = topo.unit_index("w").unwrap();
    let c = tds_of(&sim, "p");
    for k in 10..20 {
        assert_eq!(rec.unit_throughput[k * n + w], 0.0);
        assert!((c[k] - 500.0).abs() < 1e-9, "step {k}: {}", c[k]);
    }
    assert!(
        (c[30] - 660.0).abs() < 1e-9 && rec.unit_throughput[30 * n + w] > 0.0,
        "{}",
        c[30]
    );
    let fresh = summary
        .units
        .iter()
        .find(|u| u.id == "s")
        .unwrap()
        .throughput_m3;
    assert!(
        (fresh - (36.0 * 38.0 + 100.0 * 10.0)).abs() <= 1e-9 * fresh,
        "fresh water {fresh}"
    );
}

/// A cooling tower at constant load, started at its steady state `N·C_m`, stays there: the
/// recirculating concentration equals the cycles of concentration times the make-up
/// concentration (DOMAIN.md: `C_r/C_m = M/(B + D) = N`), and its blowdown carries that
/// concentration.
#[test]
fn cooling_tower_holds_cycles_times_makeup() {
    let text = r#"Park(
    name: "ct",
    time: (steps: 240),
    units: [
        Source(id: "s", kind: Municipal, quality_mg_per_l: {"tds": 400.0}, cap_m3_per_h: 1000.0),
        CoolingTower(id: "ct", heat_load_mw: Const(20.0), range_c: 8.0, cycles: 5.0, holding_volume_m3: 800.0, initial_mg_per_l: {"tds": 2000.0}),
        Discharge(id: "out"),
    ],
    links: [(from: "s", to: "ct"), (from: "ct.blowdown", to: "out")],
)"#;
    let (sim, s) = run_text(text, true);
    assert!(s.balance.max_relative_residual <= 1e-9);
    for c in tds_of(&sim, "ct") {
        assert!((c - 2000.0).abs() <= 1e-9 * 2000.0, "{c}");
    }
    // Salt in = salt out by blowdown and drift.
    let tds = &s.species[0];
    let out = tds.exits_kg["discharge"] + tds.exits_kg["drift"];
    assert!((tds.from_sources_kg - out).abs() <= 1e-9 * out);
}

/// A driver read from a CSV file next to the park file, and a tank overflowing: the overflow
/// is reported as a diagnostic and leaves by the overflow link.
#[test]
fn csv_driver_and_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("hour,prod\n");
    for h in 0..48 {
        csv.push_str(&format!("{h},{}\n", if h < 24 { 10.0 } else { 20.0 }));
    }
    std::fs::write(dir.path().join("drivers.csv"), csv).unwrap();
    let park = r#"Park(
    name: "csv",
    time: (steps: 48),
    units: [
        Source(id: "s", kind: Municipal, cap_m3_per_h: 1000.0),
        Process(id: "p", production_per_h: Csv(file: "drivers.csv", column: "prod"), water_m3_per_unit: 2.0),
        Tank(id: "t", capacity_m3: 100.0, initial_m3: 90.0),
        Discharge(id: "out"),
    ],
    links: [(from: "s", to: "p"), (from: "p.waste", to: "t"), (from: "t.overflow", to: "out")],
)"#;
    let path = dir.path().join("park.ron");
    std::fs::write(&path, park).unwrap();
    let mut built = parktwin::parks::load_and_build(&path, Default::default()).unwrap();
    built.sim.run();
    let s = parktwin::parks::summary::summarize(&built.sim, &built.meta);
    let p = s.units.iter().find(|u| u.id == "p").unwrap();
    assert!((p.throughput_m3 - (24.0 * 20.0 + 24.0 * 40.0)).abs() < 1e-9);
    assert!(s.diagnostics["overflow"] > 0);
    // 10 m³ of room, then everything spills: outfall = inflow − 10.
    assert!((s.water_m3.discharge - (p.throughput_m3 - 10.0)).abs() < 1e-9);
}

/// Levelised cost of water of a treatment unit: recovery 0.8, 1.0 kWh per m³ of feed at
/// 0.5 yuan/kWh and no other cost, so `LCOW = 0.5·1.0·x / (0.8·x)` = 0.625 yuan per m³ of
/// product, whatever the feed `x`; units that produce no water have none.
#[test]
fn levelised_cost_of_water() {
    let text = r#"Park(
    name: "lcow",
    time: (steps: 24),
    carbon: (electricity_yuan_per_kwh: Const(0.5)),
    units: [
        Source(id: "s", kind: Municipal, cap_m3_per_h: 100.0),
        Process(id: "p", production_per_h: Const(10.0), water_m3_per_unit: 5.0),
        Treatment(id: "t", recovery: 0.8, kwh_per_m3: 1.0),
        Discharge(id: "out"),
    ],
    links: [
        (from: "s", to: "p"),
        (from: "p.waste", to: "t"),
        (from: "t.product", to: "out"),
        (from: "t.reject", to: "out"),
    ],
)"#;
    let (_, s) = run_text(text, false);
    let t = s.units.iter().find(|u| u.id == "t").unwrap();
    assert!((t.product_water_m3 - 0.8 * 50.0 * 24.0).abs() < 1e-9);
    let lcow = t.lcow_yuan_per_m3.unwrap();
    assert!((lcow - 0.625).abs() < 1e-12, "{lcow}");
    assert!(
        s.units
            .iter()
            .find(|u| u.id == "p")
            .unwrap()
            .lcow_yuan_per_m3
            .is_none()
    );
}
