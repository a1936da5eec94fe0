//! The species solve and the priority cascade keep index lists compiled from the topology (and
//! transfers that never change, written once). These tests check that the caches change
//! nothing: a solver and a cascade that already ran, on the same park or on a park of other
//! sizes, give bit-identical flows, concentrations and end-of-step storage to fresh ones.

use crate::common::{Frame, bits, bundled, flow_bits, frame, generated};
use parktwin::engine::diagnostics::Diagnostics;
use parktwin::engine::flow::CouplingStrategy;
use parktwin::engine::priority::Priority;
use parktwin::engine::quality::QualitySolver;
use parktwin::engine::state::Flows;

/// Everything one allocation and species solve produce, as bits.
#[derive(Debug, PartialEq)]
struct Outcome {
    flows: Vec<u64>,
    quality: Vec<u64>,
    storage: Vec<u64>,
}

fn step(f: &Frame, cascade: &mut Priority, solver: &mut QualitySolver) -> Outcome {
    let mut flows = Flows::new(&f.topo);
    let mut storage = f.storage.clone();
    let mut quality = f.quality.clone();
    let mut diag = Diagnostics::default();
    let ctx = f.context(&f.inputs);
    cascade.allocate(&ctx, &mut flows, &mut diag);
    solver.solve(
        &f.topo,
        &f.species,
        &f.inputs,
        &flows,
        &mut storage,
        &mut quality,
        &f.clock,
        &mut diag,
    );
    Outcome {
        flows: flow_bits(&flows),
        quality: bits([&quality.inlet, &quality.port]),
        storage: bits([&storage.volume_end, &storage.conc_end]),
    }
}

/// A cascade and a solver that ran another park first (other unit, port and link counts), then
/// this park twice, match fresh ones bit for bit each time: the caches are rebuilt when the
/// sizes change, and the transfers written once are not disturbed by later steps.
#[test]
fn reused_cascade_and_solver_match_fresh_ones() {
    let frames = [
        frame(bundled("demo_park.ron"), 30),
        frame(bundled("coastal_park.ron"), 30),
        frame(generated(6, 5), 20),
    ];
    assert!(
        frames[2].topo.largest_loop > 1,
        "the generated park has a recycle loop to tear"
    );
    let (mut cascade, mut solver) = (Priority::new(), QualitySolver::new());
    for (i, f) in frames.iter().enumerate() {
        let fresh = step(f, &mut Priority::new(), &mut QualitySolver::new());
        assert!(
            fresh.flows.iter().any(|&b| f64::from_bits(b) > 0.0),
            "park {i} moves water"
        );
        for pass in 0..2 {
            let reused = step(f, &mut cascade, &mut solver);
            assert!(
                reused == fresh,
                "park {i}, pass {pass}: reused caches changed the step"
            );
        }
    }
    // Back to the first park: its caches were replaced by the others' and are rebuilt.
    let fresh = step(&frames[0], &mut Priority::new(), &mut QualitySolver::new());
    assert!(step(&frames[0], &mut cascade, &mut solver) == fresh);
}
