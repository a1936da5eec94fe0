//! The fused accounting pass books pumping as `e = (q + leak)·Δt·k` with a per-link coefficient
//! `k = ρ·g·H/(η·3.6e6)` derived once when the topology is compiled
//! (`Topology::link_pump_kwh_per_m3`, `engine/src/network.rs`). These tests check that the
//! coefficient follows the link's head and efficiency as a scenario override sets them (the
//! only way they change: no event edits a link's head or efficiency), and that the pumping the
//! run books equals `record::pumping_kwh` of every step's flows within a stated tolerance.

use parktwin::engine::network::Topology;
use parktwin::engine::record::{Summary, pumping_kwh};
use parktwin::engine::state::{Clock, Energy, Flows};
use parktwin::parks::build::{BuildOptions, build};
use parktwin::parks::load::from_path;
use parktwin::parks::scenario::{apply_override, park_from_json};
use parktwin::parks::validate::validate;
use std::path::Path;

/// Relative tolerance of a product of the same factors rounded in another order: each of the
/// five roundings of `ρ·g·H/η/3.6e6` is within half an ulp (1.1e-16), so the two orders agree
/// within ~1e-15; sums over steps of such terms keep that relative bound (all terms ≥ 0).
const REL: f64 = 1e-13;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= REL * a.abs().max(b.abs()) + 1e-12
}

/// The demo park with the head and efficiency of its link `city->dyeing` overridden (through the
/// scenario machinery, as a sweep would), built and run for `steps` hours: the topology, and
/// per link the reference `Σ pumping_kwh(q + leak, H, η, Δt)` over the steps.
fn run_overridden(head_m: f64, eta: f64, steps: usize) -> (Topology, Summary, Vec<f64>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo_park.ron");
    let mut file = from_path(&path).expect("demo park loads");
    let mut v = serde_json::to_value(&file.park).expect("serialises");
    apply_override(
        &mut v,
        "links.city->dyeing.head_m",
        &serde_json::json!(head_m),
    )
    .expect("head");
    apply_override(
        &mut v,
        "links.city->dyeing.pump_efficiency",
        &serde_json::json!(eta),
    )
    .expect("eta");
    file.park = park_from_json(&v).expect("fits the schema");
    let mut built =
        build(validate(&file).expect("valid"), BuildOptions::default()).expect("builds");
    let topo = built.sim.resource::<Topology>().clone();
    let mut reference = vec![0.0; topo.n_links()];
    for _ in 0..steps {
        built.sim.step();
        let flows = built.sim.resource::<Flows>();
        let dt = built.sim.resource::<Clock>().dt_h;
        let booked = &built.sim.resource::<Energy>().pumping_kwh;
        for l in 0..topo.n_links() {
            let e = pumping_kwh(
                flows.link[l] + flows.leak[l],
                topo.link_head_m[l],
                topo.link_eta[l],
                dt,
            );
            assert!(close(booked[l], e), "link {l}: booked {} vs {e}", booked[l]);
            reference[l] += e;
        }
    }
    let summary = built.sim.resource::<Summary>().clone();
    (topo, summary, reference)
}

/// `k` equals `pumping_kwh(1 m³/h, H, η, 1 h)` for every link, and the link whose head and
/// efficiency were overridden carries the overridden values in its coefficient.
#[test]
fn pump_coefficient_follows_an_overridden_head_and_efficiency() {
    let (topo, _, _) = run_overridden(37.5, 0.61, 1);
    let overridden = topo
        .link_id
        .iter()
        .position(|id| id == "city->dyeing")
        .expect("the overridden link");
    assert_eq!(topo.link_head_m[overridden], 37.5);
    assert_eq!(topo.link_eta[overridden], 0.61);
    for l in 0..topo.n_links() {
        let k = topo.link_pump_kwh_per_m3[l];
        let reference = pumping_kwh(1.0, topo.link_head_m[l], topo.link_eta[l], 1.0);
        assert!(close(k, reference), "link {l}: k {k} vs {reference}");
    }
    // ρ·g·H/(η·3.6e6) by hand for the overridden link: 1000·9.80665·37.5/(0.61·3.6e6).
    let by_hand = 1000.0 * 9.80665 * 37.5 / (0.61 * 3.6e6);
    assert!(close(topo.link_pump_kwh_per_m3[overridden], by_hand));
}

/// The run's per-link and park pumping equal the reference sums of `pumping_kwh` of each
/// step's flows, for two different overridden heads of that link (so a coefficient left
/// at the park file's head would fail the second), and that link pumps something.
#[test]
fn booked_pumping_matches_pumping_kwh_after_an_override() {
    for (head, eta) in [(25.0, 0.7), (60.0, 0.5)] {
        let (topo, summary, reference) = run_overridden(head, eta, 48);
        let overridden = topo
            .link_id
            .iter()
            .position(|id| id == "city->dyeing")
            .expect("the overridden link");
        assert!(reference[overridden] > 0.0, "the overridden link pumps");
        for l in 0..topo.n_links() {
            let booked = summary.links[l].pumping_kwh;
            assert!(
                close(booked, reference[l]),
                "head {head}: link {l} booked {booked} vs {}",
                reference[l]
            );
        }
        let park: f64 = reference.iter().sum();
        assert!(close(summary.pumping_kwh, park), "park pumping");
    }
}
