//! `apply_events` resets the per-unit and per-link modifiers (`online`, `load_factor`,
//! `supply_cap`, `link_leak`) only after a step that changed them. These tests check that the
//! modifiers still follow each event's window exactly and are neutral again once it ends.

use crate::common::{build_text, repo};
use parktwin::engine::network::Topology;
use parktwin::engine::state::UnitInputs;

/// The demo park over 8 steps, with its RO outage moved to steps 2–3 and a park-wide heat wave
/// (load factor 1.3) at step 5.
fn demo_with_short_events() -> String {
    let text = std::fs::read_to_string(repo("scenarios/demo_park.ron")).expect("readable");
    let edited = text
        .replace("steps: 8760", "steps: 8")
        .replace(
            r#"Outage(unit: "ro", from_h: 6912.0, to_h: 6984.0)"#,
            r#"Outage(unit: "ro", from_h: 2.0, to_h: 4.0)"#,
        )
        .replace(
            "events: [",
            "events: [\n        HeatWave(factor: 1.3, from_h: 5.0, to_h: 6.0),",
        );
    assert!(edited.contains(r#"Outage(unit: "ro", from_h: 2.0"#));
    assert!(edited.contains("HeatWave(factor: 1.3"));
    assert!(edited.contains("steps: 8,"));
    edited
}

#[test]
fn modifiers_follow_event_windows_and_return_to_neutral() {
    let mut built = build_text(&demo_with_short_events(), false).expect("valid park");
    let ro = built
        .sim
        .world
        .resource::<Topology>()
        .unit_id
        .iter()
        .position(|id| id == "ro")
        .expect("the demo park has an RO unit");
    let mut ro_online = Vec::new();
    let mut max_load = Vec::new();
    for _ in 0..8 {
        built.sim.step();
        let inputs = built.sim.resource::<UnitInputs>();
        ro_online.push(inputs.online[ro]);
        max_load.push(inputs.load_factor.iter().cloned().fold(f64::MIN, f64::max));
    }
    // Steps are hours: the outage covers steps 2 and 3, the heat wave step 5.
    assert_eq!(
        ro_online,
        [true, true, false, false, true, true, true, true]
    );
    assert_eq!(max_load, [1.0, 1.0, 1.0, 1.0, 1.0, 1.3, 1.0, 1.0]);
    // After the last window every modifier is neutral again.
    let inputs = built.sim.resource::<UnitInputs>();
    assert!(inputs.online.iter().all(|&o| o));
    assert!(inputs.load_factor.iter().all(|&f| f == 1.0));
    assert!(inputs.supply_cap.iter().all(|&c| c == f64::INFINITY));
    assert!(inputs.link_leak.iter().all(|&l| l == 0.0));
}
