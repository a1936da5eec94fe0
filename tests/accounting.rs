//! The engine's fused accounting pass (`engine/src/accounting.rs`: pumping, carbon and cost,
//! repeated use, the ledger and the flow sums in one pass over links and one over ports) gives
//! what the separate passes give (`account_step`, `book_reuse`, `book_step` and `record_step`'s
//! flow sums), replayed here on every step's state captured from the ECS run.
//!
//! **Tolerance.** The separate passes are the plain reference formulation; the fused pass may
//! reassociate (sum a unit's pumping per step before booking its carbon and cost, precompute a
//! link's pumping coefficient `ρ·g·H/(η·3.6e6)`), which moves last bits. Every total must agree
//! to [`REL`] = 1e-12 relative to itself or to the largest value beside it (see
//! [`json_differences`]): about 4,500 roundings of 1.1e-16 each for a run total of 200 steps,
//! so a wrong term, sign or missed step (an error of order 1/steps or larger) cannot pass.

use crate::common::{assert_json_close, generated_with_leak, json_differences};
use parktwin::engine::diagnostics::{DiagnosticKind, Diagnostics};
use parktwin::engine::events::ParkModifiers;
use parktwin::engine::ledger::{Ledger, book_step};
use parktwin::engine::network::Topology;
use parktwin::engine::record::{
    Recorder, Summary, UnitOutputs, account_step, book_reuse, record_step,
};
use parktwin::engine::state::{
    Clock, Energy, Factors, Flows, Quality, Species, Storage, UnitInputs,
};
use parktwin::parks::build::{BuildOptions, build};
use parktwin::parks::load::from_path;
use parktwin::parks::validate::{ValidPark, validate};
use std::path::Path;

fn bundled(name: &str) -> ValidPark {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    validate(&from_path(&path).expect("bundled park loads")).expect("bundled park is valid")
}

/// What the separate passes book, replayed step by step on the ECS run's state, and the ECS
/// run's own books, after `steps` steps: (ledger, summary, flow sums, closure diagnostics).
struct Books {
    ledger: Ledger,
    summary: Summary,
    recorder: Recorder,
    violations: u64,
}

fn run_both(park: &ValidPark, steps: usize) -> (Books, Books) {
    let mut built = build(park.clone(), BuildOptions::default()).expect("builds");
    let w = &built.sim.world;
    let topo = w.resource::<Topology>().clone();
    let species = w.resource::<Species>().clone();
    let mut replay = Books {
        ledger: Ledger::new(&topo, species.conserved),
        summary: w.resource::<Summary>().clone(),
        recorder: Recorder::default(),
        violations: 0,
    };
    let mut diag = Diagnostics::default();
    for _ in 0..steps {
        let start = built.sim.resource::<Storage>().clone();
        built.sim.step();
        let r = |sim: &parktwin::engine::sim::Simulation| {
            (
                sim.resource::<Flows>().clone(),
                sim.resource::<Quality>().clone(),
                sim.resource::<Energy>().clone(),
                sim.resource::<UnitInputs>().clone(),
                sim.resource::<UnitOutputs>().clone(),
                sim.resource::<Factors>().clone(),
                *sim.resource::<ParkModifiers>(),
            )
        };
        let (flows, quality, mut energy, inputs, outputs, factors, modifiers) = r(&built.sim);
        // The step's storage: start as captured before it, end as the ECS run left it.
        let end = built.sim.resource::<Storage>();
        let mut storage = start;
        storage.volume_end.clone_from(&end.volume_end);
        storage.conc_end.clone_from(&end.conc_end);
        let mut clock = built.sim.resource::<Clock>().clone();
        clock.step -= 1;
        account_step(
            &topo,
            &flows,
            &mut energy,
            &factors,
            &modifiers,
            &outputs,
            &clock,
            &mut replay.summary,
        );
        book_reuse(
            &topo,
            &species,
            &flows,
            &quality,
            clock.dt_h,
            &mut replay.summary,
        );
        book_step(
            &mut replay.ledger,
            &topo,
            &species,
            &inputs,
            &flows,
            &quality,
            &storage,
            &clock,
            &mut diag,
        );
        record_step(
            &mut replay.recorder,
            &topo,
            &species,
            &flows,
            &quality,
            &storage,
        );
        let d = json_differences(
            &serde_json::json!(energy.pumping_kwh),
            &serde_json::json!(built.sim.resource::<Energy>().pumping_kwh),
            REL,
        );
        assert!(d.is_empty(), "pumping of step {}: {d:?}", clock.step);
    }
    replay.violations = diag.count(DiagnosticKind::ClosureViolation);
    let ecs = Books {
        ledger: built.sim.resource::<Ledger>().clone(),
        summary: built.sim.resource::<Summary>().clone(),
        recorder: built.sim.resource::<Recorder>().clone(),
        violations: built
            .sim
            .resource::<Diagnostics>()
            .count(DiagnosticKind::ClosureViolation),
    };
    (replay, ecs)
}

/// Relative agreement of the fused pass with the separate passes (see the module docs).
const REL: f64 = 1e-12;

/// Every total of the ledger, the summary and the flow sums agrees to [`REL`], and the closure
/// diagnostics' count is the same.
fn assert_same(park: &ValidPark, steps: usize) -> Books {
    let (replay, ecs) = run_both(park, steps);
    assert_json_close(&json(&replay.ledger), &json(&ecs.ledger), REL, "ledger");
    assert_json_close(&json(&replay.summary), &json(&ecs.summary), REL, "summary");
    let sums = |r: &Recorder| {
        let s = &r.sums;
        serde_json::json!({
            "steps": s.steps, "species": s.species, "link_used": s.link_used,
            "link_leak": s.link_leak, "link_species": s.link_species,
            "exit_species": s.exit_species,
        })
    };
    assert_json_close(
        &sums(&replay.recorder),
        &sums(&ecs.recorder),
        REL,
        "flow sums",
    );
    assert_eq!(replay.recorder.sums.steps, steps);
    assert_eq!(replay.violations, ecs.violations, "closure diagnostics");
    replay
}

/// A value as a JSON document.
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("serialises")
}

#[test]
fn fused_accounting_matches_the_separate_passes_on_the_demo_park() {
    let replay = assert_same(&bundled("demo_park.ron"), 200);
    assert!(replay.summary.pumping_kwh > 0.0);
}

#[test]
fn fused_accounting_matches_the_separate_passes_on_the_coastal_park() {
    let replay = assert_same(&bundled("coastal_park.ron"), 200);
    assert!(replay.summary.pumping_kwh > 0.0);
}

/// A generated park with a leak: the leak's pumping, exits, flow sums and ledger terms too.
#[test]
fn fused_accounting_matches_the_separate_passes_with_a_leak() {
    let replay = assert_same(&generated_with_leak(8, 60), 60);
    let leaked: f64 = replay.recorder.sums.link_leak.iter().sum();
    assert!(leaked > 0.0, "the leak event moves water: {leaked}");
}

/// The comparison can fail: one ledger total moved by 1e-10 of itself (far below any physical
/// error, far above rounding) is caught, and a move of 1e-14 (rounding) is not.
#[test]
fn the_tolerance_catches_a_moved_total() {
    let (replay, _) = run_both(&bundled("demo_park.ron"), 24);
    let base = json(&replay.summary);
    let moved = |f: f64| {
        let mut v = base.clone();
        let x = &mut v["units"][0]["electricity_kwh"];
        let e = x.as_f64().expect("a number");
        assert!(e > 0.0, "the first unit uses electricity: {e}");
        *x = serde_json::json!(e * (1.0 + f));
        v
    };
    assert!(!json_differences(&base, &moved(1e-10), REL).is_empty());
    assert!(json_differences(&base, &moved(1e-14), REL).is_empty());
}
