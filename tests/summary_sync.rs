//! The fused accounting pass keeps the per-unit and per-link run sums column-wise while stepping
//! and writes them into the `Summary` only when `Simulation::sync_summary` runs (after every
//! `Simulation::step`, and in `Simulation::finish`; `Simulation::advance` and `Simulation::run`
//! do not sync per step). These tests check the property the readers rely on: a summary synced
//! after every step and one synced once at the end hold the same bits (every synced field is
//! written from the run sums, never added to), a summary read after `step` is that of the steps
//! so far, and the derived totals (a link's pumping from `Σ q` and `Σ leak`, a unit's repeated
//! use from its incoming links' `Σ q·u`) equal the per-step values summed, to a stated tolerance.

use crate::common::generated_with_leak;
use parktwin::engine::network::Topology;
use parktwin::engine::record::Summary;
use parktwin::engine::state::{Clock, Energy, Flows, Species};
use parktwin::parks::build::{BuildOptions, BuiltPark, build};
use parktwin::parks::load::from_path;
use parktwin::parks::validate::{ValidPark, validate};
use std::path::Path;

/// Relative tolerance of a reassociated sum of non-negative terms over at most a few hundred
/// steps: each of the ~1,000 roundings is within 1.1e-16 relative, so the orders agree within
/// ~1e-13; a missed or doubled step (an error of order 1/steps) cannot pass.
const REL: f64 = 1e-12;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= REL * a.abs().max(b.abs()) + 1e-12
}

fn demo() -> ValidPark {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo_park.ron");
    validate(&from_path(&path).expect("demo park loads")).expect("valid")
}

fn built(park: &ValidPark) -> BuiltPark {
    build(park.clone(), BuildOptions::default()).expect("builds")
}

fn json(s: &Summary) -> String {
    serde_json::to_string(s).expect("serialises")
}

/// `steps` steps with a sync after each (`step`) and `steps` steps synced once at the end
/// (`advance`, then `finish`): the summaries are identical to the bit (JSON of every field).
fn assert_sync_frequency_does_not_matter(park: &ValidPark, steps: usize) {
    let mut each = built(park);
    let mut once = built(park);
    for _ in 0..steps {
        each.sim.step();
        once.sim.advance();
    }
    each.sim.finish();
    once.sim.finish();
    let (a, b) = (
        each.sim.resource::<Summary>(),
        once.sim.resource::<Summary>(),
    );
    assert_eq!(a.steps, steps);
    assert!(a.pumping_kwh > 0.0, "the park pumps");
    assert_eq!(json(a), json(b), "synced every step vs once");
}

#[test]
fn a_summary_synced_every_step_equals_one_synced_at_the_end_on_the_demo_park() {
    assert_sync_frequency_does_not_matter(&demo(), 300);
}

#[test]
fn a_summary_synced_every_step_equals_one_synced_at_the_end_with_a_leak() {
    assert_sync_frequency_does_not_matter(&generated_with_leak(3, 60), 60);
}

/// After `advance` the summary's unit totals are those of the last sync (stale by design), and
/// `sync_summary` brings them to the steps computed: here the throughput of every unit after 5
/// steps equals `Σ q·Δt` of the five steps' flows.
#[test]
fn sync_brings_the_summary_to_the_steps_computed() {
    let mut b = built(&demo());
    let nu = b.sim.resource::<Topology>().n_units();
    let dt = b.sim.resource::<Clock>().dt_h;
    let mut expected = vec![0.0; nu];
    for _ in 0..5 {
        b.sim.advance();
        let q = &b.sim.resource::<Flows>().throughput;
        for u in 0..nu {
            expected[u] += q[u] * dt;
        }
    }
    let stale = b
        .sim
        .resource::<Summary>()
        .units
        .iter()
        .all(|t| t.throughput_m3 == 0.0);
    assert!(stale, "advance does not write the unit totals");
    b.sim.sync_summary();
    let s = b.sim.resource::<Summary>();
    assert!(expected.iter().any(|&x| x > 0.0));
    for u in 0..nu {
        assert!(
            close(s.units[u].throughput_m3, expected[u]),
            "unit {u}: {} vs {}",
            s.units[u].throughput_m3,
            expected[u]
        );
    }
}

/// A link's pumping total, derived at sync as `(Σ q + Σ leak)·Δt·k`, equals the sum of the
/// per-step pumping the pass writes into `Energy` (`(q + leak)·Δt·k` each step), and its volume
/// `Δt·Σ q` and largest flow those of the steps' flows; a unit's repeated use, derived from the
/// flow sums of its incoming links, is positive for some unit of the generated park (the
/// separate-pass comparison in `tests/accounting.rs` checks its value).
#[test]
fn derived_link_totals_equal_the_per_step_values_summed() {
    let steps = 60;
    let mut b = built(&generated_with_leak(3, steps));
    let nl = b.sim.resource::<Topology>().n_links();
    let dt = b.sim.resource::<Clock>().dt_h;
    let (mut pumping, mut volume, mut max) = (vec![0.0; nl], vec![0.0; nl], vec![0.0f64; nl]);
    let mut leaked = 0.0;
    for _ in 0..steps {
        b.sim.advance();
        let e = &b.sim.resource::<Energy>().pumping_kwh;
        let flows = b.sim.resource::<Flows>();
        for l in 0..nl {
            pumping[l] += e[l];
            volume[l] += flows.link[l] * dt;
            max[l] = max[l].max(flows.link[l]);
            leaked += flows.leak[l];
        }
    }
    assert!(leaked > 0.0, "the leak event leaks");
    b.sim.finish();
    let s = b.sim.resource::<Summary>();
    for l in 0..nl {
        let t = &s.links[l];
        assert!(close(t.pumping_kwh, pumping[l]), "link {l} pumping");
        assert!(close(t.volume_m3, volume[l]), "link {l} volume");
        assert_eq!(t.max_flow_m3_per_h, max[l], "link {l} largest flow");
    }
    assert!(b.sim.resource::<Species>().used_tracer().is_some());
    assert!(
        s.units.iter().any(|t| t.reused_m3 > 0.0),
        "some unit reuses water"
    );
}
