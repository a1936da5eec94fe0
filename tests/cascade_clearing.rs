//! The priority cascade zeroes only the entries of `Flows` its walk may read before writing them
//! or never writes (`Tables::plan_clearing` in `engine/src/priority.rs`), and writes tanks'
//! exits and the supply ports from compiled port lists. These tests check that this changes
//! nothing: on parks with tanks, leaks, short supplies and offline units, a cascade handed
//! `Flows` full of NaN (as if every entry were stale) gives bit for bit the flows of one handed
//! zeroed `Flows`, and so does a cascade that reuses one `Flows` over several steps.

use crate::common::{Frame, allocate, bundled, flow_bits, frame, generated, poisoned, stressed};
use parktwin::engine::priority::Priority;
use parktwin::engine::state::Flows;

fn frames() -> Vec<(&'static str, Frame)> {
    vec![
        ("demo_park", frame(bundled("demo_park.ron"), 30)),
        ("coastal_park", frame(bundled("coastal_park.ron"), 30)),
        ("horizon_tank", frame(bundled("horizon_tank.ron"), 20)),
        ("smart_dosing", frame(bundled("smart_dosing.ron"), 20)),
        ("metered_park", frame(bundled("metered_park.ron"), 20)),
        (
            "wang_smith_1994_ex1",
            frame(bundled("literature/wang_smith_1994_ex1.ron"), 5),
        ),
        (
            "polley_polley_2000",
            frame(bundled("literature/polley_polley_2000.ron"), 5),
        ),
        ("two_plants", frame(bundled("literature/two_plants.ron"), 5)),
        ("generated(8, 7)", frame(generated(8, 7), 20)),
    ]
}

/// Stale entries never reach the result: NaN-filled and zeroed `Flows` give identical bits, for
/// each park as it is and stressed (short supplies, offline units, leaks).
#[test]
fn stale_flows_do_not_change_the_cascade() {
    let mut tanks = 0;
    let mut unmet = 0;
    for (name, f) in frames() {
        tanks += f
            .topo
            .unit_flow
            .iter()
            .filter(|k| **k == parktwin::engine::network::FlowKind::Tank)
            .count();
        for (case, inputs) in [("as is", f.inputs.clone()), ("stressed", stressed(&f, 0.3))] {
            let mut zero = Flows::new(&f.topo);
            allocate(&f, &inputs, &mut Priority::new(), &mut zero);
            assert!(
                zero.link.iter().any(|&q| q > 0.0),
                "{name} ({case}) moves water"
            );
            unmet += zero.unmet.iter().filter(|&&u| u > 0.0).count();
            let mut stale = poisoned(&f.topo);
            allocate(&f, &inputs, &mut Priority::new(), &mut stale);
            assert!(
                flow_bits(&stale) == flow_bits(&zero),
                "{name} ({case}): NaN-filled flows changed the cascade's result"
            );
        }
    }
    assert!(tanks > 0, "the parks include tanks");
    assert!(unmet > 0, "the stressed cases leave demand unmet");
}

/// One `Flows` reused over alternating plain and stressed steps (each step's entries stale for
/// the next) gives each step the flows of a fresh zeroed `Flows` and a fresh cascade.
#[test]
fn reused_flows_match_fresh_ones_step_after_step() {
    for (name, f) in frames() {
        let mut cascade = Priority::new();
        let mut flows = Flows::new(&f.topo);
        for k in 0..4 {
            let inputs = if k % 2 == 0 {
                stressed(&f, 0.2 + 0.2 * k as f64)
            } else {
                f.inputs.clone()
            };
            let mut fresh = Flows::new(&f.topo);
            allocate(&f, &inputs, &mut Priority::new(), &mut fresh);
            allocate(&f, &inputs, &mut cascade, &mut flows);
            assert!(
                flow_bits(&flows) == flow_bits(&fresh),
                "{name}, step {k}: reused flows changed the cascade's result"
            );
        }
    }
}

/// Which parks have a recycle loop in the flow graph (a cyclic flow component, walked
/// Gauss–Seidel): reported so that the coverage of the tests above is known.
#[test]
fn flow_loops_in_the_test_parks() {
    let loops: Vec<(&str, usize)> = frames()
        .iter()
        .map(|(name, f)| {
            let n = f.topo.flow_components.iter().filter(|c| c.cyclic).count();
            (*name, n)
        })
        .collect();
    assert!(
        loops.iter().any(|&(_, n)| n > 0),
        "cyclic flow components per park: {loops:?}"
    );
}
