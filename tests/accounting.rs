//! The engine's fused accounting pass (`engine/src/accounting.rs`: pumping, carbon and cost,
//! repeated use, the ledger and the flow sums in one pass over links and one over ports) gives
//! bit for bit what the separate passes give (`account_step`, `book_reuse`, `book_step` and
//! `record_step`'s flow sums), replayed here on every step's state captured from the ECS run.

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
use parktwin::parks::generate::{GenerateOptions, generate, to_ron};
use parktwin::parks::load::{from_path, from_str};
use parktwin::parks::schema::EventSpec;
use parktwin::parks::validate::{ValidPark, validate};
use std::path::Path;

fn bundled(name: &str) -> ValidPark {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    validate(&from_path(&path).expect("bundled park loads")).expect("bundled park is valid")
}

/// A generated park of `enterprises` enterprises over `steps` hours, with a 5 m³/h leak on its
/// fourth link from hour 10 to hour 40 (so the leak terms of every pass are exercised).
fn generated_with_leak(enterprises: usize, steps: usize) -> ValidPark {
    let mut park = generate(&GenerateOptions {
        enterprises,
        seed: 5,
        steps,
    });
    let l = &park.links[3];
    let link =
        l.id.clone()
            .unwrap_or_else(|| format!("{}->{}", l.from, l.to));
    park.events.push(EventSpec::Leak {
        link,
        m3_per_h: 5.0,
        from_h: 10.0,
        to_h: 40.0,
    });
    validate(&from_str(&to_ron(&park), Path::new("generated.ron")).expect("parses")).expect("valid")
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
        assert_eq!(
            energy.pumping_kwh,
            built.sim.resource::<Energy>().pumping_kwh,
            "pumping of step {}",
            clock.step
        );
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

/// Every total of the ledger, the summary and the flow sums is bit-identical (JSON with
/// round-trip floats prints two floats alike only if their bits are alike, NaN aside; the flow
/// sums are compared with `==`), and so is the closure diagnostics' count.
fn assert_same(park: &ValidPark, steps: usize) -> Books {
    let (replay, ecs) = run_both(park, steps);
    assert_eq!(json(&replay.ledger), json(&ecs.ledger), "ledger");
    assert_eq!(json(&replay.summary), json(&ecs.summary), "summary");
    assert_eq!(replay.recorder.sums, ecs.recorder.sums, "flow sums");
    assert_eq!(replay.recorder.sums.steps, steps);
    assert_eq!(replay.violations, ecs.violations, "closure diagnostics");
    replay
}

/// A value as JSON text with round-trip floats.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serialises")
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
