//! Water cascade analysis (`parks::target`) on published single-contaminant problems, exact to
//! a relative 1e-9, and the extraction of the sink/source data from a park file.

use parktwin::parks::load::from_str;
use parktwin::parks::target::{Problem, Stream, TargetError, from_park, target};
use parktwin::parks::validate::validate;
use std::path::Path;

fn close(got: f64, want: f64, what: &str) {
    let rel = (got - want).abs() / want.abs().max(1e-300);
    assert!(
        rel <= 1e-9,
        "{what}: got {got}, want {want} (relative {rel:e})"
    );
}

/// Wang & Smith (1994), Chem. Eng. Sci. 49(7):981–1006, Example 1: four fixed-load operations
/// (load kg/h, C_in,max, C_out,max ppm): (2, 0, 100), (5, 50, 100), (30, 50, 800),
/// (4, 400, 800); limiting flows 20, 100, 40 and 10 t/h. With outlets at their maximum
/// concentrations and fresh water at 0 ppm the published targets are 90 t/h of fresh water and
/// a pinch at 100 ppm (also reproduced by Manan, Tan & Foo 2004, AIChE J. 50:3169). With the
/// sinks' and sources' totals equal (170 t/h) the wastewater equals the fresh water, 90 t/h.
/// By hand: at 100 ppm the sinks need 20·100 + 140·50 = 9,000 g/h of capacity that no source
/// provides, so F = 9000/100 = 90 t/h.
#[test]
fn wang_smith_1994_example_1() {
    let mut p = Problem::default();
    for (id, m, cin, cout) in [
        ("op1", 2.0, 0.0, 100.0),
        ("op2", 5.0, 50.0, 100.0),
        ("op3", 30.0, 50.0, 800.0),
        ("op4", 4.0, 400.0, 800.0),
    ] {
        p.add_fixed_load(id, m, cin, cout);
    }
    let flows: Vec<f64> = p.sinks.iter().map(|s| s.flow_t_per_h).collect();
    assert_eq!(flows, [20.0, 100.0, 40.0, 10.0]);
    let t = target(&p).expect("feasible");
    close(t.fresh_t_per_h, 90.0, "fresh water");
    close(t.wastewater_t_per_h, 90.0, "wastewater");
    assert_eq!(t.pinch_ppm, Some(100.0));
    assert_eq!(t.pinches_ppm, [100.0]);
    assert!(!t.threshold);
    // The cascade carries no load at the pinch and a positive load everywhere above it.
    for l in &t.cascade {
        if l.conc_ppm == 100.0 {
            assert!(l.cum_load_kg_per_h.abs() <= 1e-12, "{l:?}");
        } else if l.conc_ppm > 100.0 {
            assert!(l.cum_load_kg_per_h > 0.0, "{l:?}");
        }
    }
}

/// Polley & Polley (2000), "Design better water networks", Chem. Eng. Prog. 96(2):47–52, as
/// tabulated in the water-cascade literature (Manan, Tan & Foo 2004; El-Halwagi 2006, Process
/// Integration): sinks (t/h, ppm) (50, 20), (100, 50), (80, 100), (70, 200); sources
/// (50, 50), (100, 100), (70, 150), (60, 250). Published targets: fresh water 70 t/h,
/// wastewater 50 t/h, pinch 150 ppm. By hand: at 150 ppm the sinks need
/// 50·130 + 100·100 + 80·50 = 20,500 g/h against 50·100 + 100·50 = 10,000 from sources, so
/// F = 10,500/150 = 70 t/h, and W = 70 + 280 − 300 = 50 t/h.
#[test]
fn polley_polley_2000() {
    let p = Problem {
        sinks: vec![
            Stream::new("SK1", 50.0, 20.0),
            Stream::new("SK2", 100.0, 50.0),
            Stream::new("SK3", 80.0, 100.0),
            Stream::new("SK4", 70.0, 200.0),
        ],
        sources: vec![
            Stream::new("SR1", 50.0, 50.0),
            Stream::new("SR2", 100.0, 100.0),
            Stream::new("SR3", 70.0, 150.0),
            Stream::new("SR4", 60.0, 250.0),
        ],
        fresh_ppm: 0.0,
    };
    let t = target(&p).expect("feasible");
    close(t.fresh_t_per_h, 70.0, "fresh water");
    close(t.wastewater_t_per_h, 50.0, "wastewater");
    assert_eq!(t.pinch_ppm, Some(150.0));
    // Composite curves: the sinks end at (300 t/h, Σ F·C = 1 + 5 + 8 + 14 = 28 kg/h); the
    // sources (fresh water first) at (70 + 280 t/h, 2.5 + 10 + 10.5 + 15 = 38 kg/h).
    let last = t.sink_composite.last().expect("points");
    close(last.flow_t_per_h, 300.0, "sink composite flow");
    close(last.load_kg_per_h, 28.0, "sink composite load");
    let last = t.source_composite.last().expect("points");
    close(last.flow_t_per_h, 350.0, "source composite flow");
    close(last.load_kg_per_h, 38.0, "source composite load");
}

/// Fresh water that is not pure: the Polley & Polley data with fresh water at 10 ppm. The
/// binding level stays at 150 ppm with the same deficit of 10,500 g/h, now carried by
/// 140 ppm of headroom: F = 10,500/140 = 75 t/h, W = 75 + 280 − 300 = 55 t/h. (The level at
/// 100 ppm needs 6,500/90 = 72.2 t/h, at 250 ppm 15,000/240 = 62.5 t/h; 20 ppm, above the
/// fresh water, needs nothing.)
#[test]
fn impure_fresh_water() {
    let mut p = Problem {
        sinks: vec![
            Stream::new("SK1", 50.0, 20.0),
            Stream::new("SK2", 100.0, 50.0),
            Stream::new("SK3", 80.0, 100.0),
            Stream::new("SK4", 70.0, 200.0),
        ],
        sources: vec![
            Stream::new("SR1", 50.0, 50.0),
            Stream::new("SR2", 100.0, 100.0),
            Stream::new("SR3", 70.0, 150.0),
            Stream::new("SR4", 60.0, 250.0),
        ],
        fresh_ppm: 10.0,
    };
    let t = target(&p).expect("feasible");
    close(t.fresh_t_per_h, 75.0, "fresh water");
    close(t.wastewater_t_per_h, 55.0, "wastewater");
    assert_eq!(t.pinch_ppm, Some(150.0));
    // Fresh water dirtier than a sink's limit with nothing cleaner: no network exists.
    p.fresh_ppm = 30.0;
    match target(&p) {
        Err(TargetError::TooPure { conc_ppm, .. }) => assert_eq!(conc_ppm, 30.0),
        other => panic!("expected TooPure, got {other:?}"),
    }
}

/// A threshold problem (Foo 2009): one sink of 100 t/h accepting 100 ppm and one clean source
/// of 20 t/h at 50 ppm. The source fits entirely (load 1 kg/h against a capacity of 10 kg/h), so
/// the water balance alone sets the fresh water, F = 100 − 20 = 80 t/h, with zero wastewater
/// and no pinch (load is left at every level: 80·100 + 20·50 = 9,000 g/h at 100 ppm).
#[test]
fn threshold_problem_has_no_pinch() {
    let p = Problem {
        sinks: vec![Stream::new("SK", 100.0, 100.0)],
        sources: vec![Stream::new("SR", 20.0, 50.0)],
        fresh_ppm: 0.0,
    };
    let t = target(&p).expect("feasible");
    close(t.fresh_t_per_h, 80.0, "fresh water");
    assert_eq!(t.wastewater_t_per_h, 0.0);
    assert_eq!(t.pinch_ppm, None);
    assert!(t.threshold);
    let top = t.cascade.last().expect("levels");
    close(top.cum_load_kg_per_h, 9.0, "load at 100 ppm");
}

/// Bad data is an error naming the stream, never a panic.
#[test]
fn bad_data_is_an_error() {
    let p = Problem {
        sinks: vec![Stream::new("SK", f64::NAN, 100.0)],
        sources: vec![],
        fresh_ppm: 0.0,
    };
    let e = target(&p).expect_err("NaN flow");
    assert!(e.to_string().contains("SK"), "{e}");
    assert_eq!(target(&Problem::default()), Err(TargetError::NoSinks));
}

/// The data of a park: the four Wang & Smith operations as `FixedLoad` units of species
/// `"c"` with a pure and a dirtier source (the cleaner one is the fresh water), and a process
/// with a constant production of 10 t/h × 2 m³/t, a limit of 100 mg/L, an evaporated fifth and a
/// load of 0.02 kg/m³ (γ = 20 mg/L): sink (20 t/h, 100 ppm), source (16 t/h, (100 + 20)/0.8 =
/// 150 ppm). A tower is listed as left out. Targets by hand: the sinks add (20 t/h, 100 ppm) and
/// the sources (16 t/h, 150 ppm); at 100 ppm the deficit grows by nothing (the new sink sits at
/// 100), so the binding level stays 100 ppm, F = 90 t/h; W = 90 + 186 − 190 = 86 t/h.
#[test]
fn extraction_from_a_park() {
    let text = r#"Park(
        name: "wca",
        time: (steps: 2),
        species: ["tds", "c"],
        units: [
            Source(id: "well", kind: Groundwater, quality_mg_per_l: {"c": 5.0}, cap_m3_per_h: 1000.0),
            Source(id: "city", kind: Municipal, cap_m3_per_h: 1000.0),
            FixedLoad(id: "op1", species: "c", load_kg_per_h: 2.0, c_in_max_mg_per_l: 0.0, c_out_max_mg_per_l: 100.0),
            FixedLoad(id: "op2", species: "c", load_kg_per_h: 5.0, c_in_max_mg_per_l: 50.0, c_out_max_mg_per_l: 100.0),
            FixedLoad(id: "op3", species: "c", load_kg_per_h: 30.0, c_in_max_mg_per_l: 50.0, c_out_max_mg_per_l: 800.0),
            FixedLoad(id: "op4", species: "c", load_kg_per_h: 4.0, c_in_max_mg_per_l: 400.0, c_out_max_mg_per_l: 800.0),
            Process(id: "wash", production_per_h: Const(10.0), water_m3_per_unit: 2.0,
                    consumptive_fraction: 0.2, adds_kg_per_m3: {"c": 0.02}, accepts_mg_per_l: {"c": 100.0}),
            CoolingTower(id: "ct", heat_load_mw: Const(1.0), range_c: 8.0, cycles: 4.0, holding_volume_m3: 10.0),
            Discharge(id: "out"),
        ],
        links: [
            (from: "city", to: "op1"), (from: "city", to: "op2"), (from: "city", to: "op3"),
            (from: "city", to: "op4"), (from: "city", to: "wash"), (from: "well", to: "ct"),
            (from: "op1.waste", to: "out"), (from: "op2.waste", to: "out"), (from: "op3.waste", to: "out"),
            (from: "op4.waste", to: "out"), (from: "wash.waste", to: "out"), (from: "ct.blowdown", to: "out"),
        ],
    )"#;
    let file = from_str(text, Path::new("wca.ron")).expect("parses");
    validate(&file).expect("valid park");
    let x = from_park(&file, "c").expect("data");
    assert_eq!(x.fresh_source, "city");
    assert_eq!(x.problem.fresh_ppm, 0.0);
    assert_eq!(x.problem.sinks.len(), 5);
    let wash = x
        .problem
        .sources
        .iter()
        .find(|s| s.id == "wash.out")
        .expect("wash source");
    close(wash.flow_t_per_h, 16.0, "wash wastewater");
    close(wash.conc_ppm, 150.0, "wash wastewater concentration");
    assert!(
        x.notes.iter().any(|n| n.starts_with("ct:")),
        "{:?}",
        x.notes
    );
    let t = target(&x.problem).expect("feasible");
    close(t.fresh_t_per_h, 90.0, "fresh water");
    close(t.wastewater_t_per_h, 86.0, "wastewater");
    assert_eq!(t.pinch_ppm, Some(100.0));
    // An undeclared species is an error naming it.
    let e = from_park(&file, "cod").expect_err("undeclared");
    assert!(e.contains("\"cod\""), "{e}");
}

/// The literature park file of the strategies (`scenarios/literature/polley_polley_2000.ron`):
/// its sources outside `strategy.fresh_sources` are process sources, so `target` on the park
/// file gives the published 70 t/h fresh water, 50 t/h wastewater and 150 ppm pinch, the same
/// numbers `optimal` reaches in the engine (tests/strategies.rs).
#[test]
fn polley_park_file_reaches_the_published_targets() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/literature/polley_polley_2000.ron");
    let file = parktwin::parks::load::from_path(&path).expect("loads");
    validate(&file).expect("valid park");
    let x = from_park(&file, "c").expect("data");
    assert_eq!(x.fresh_source, "fresh");
    assert_eq!(x.problem.sources.len(), 4);
    let t = target(&x.problem).expect("targets");
    close(t.fresh_t_per_h, 70.0, "fresh water");
    close(t.wastewater_t_per_h, 50.0, "wastewater");
    assert_eq!(t.pinch_ppm, Some(150.0));
}
