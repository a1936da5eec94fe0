//! The species solve takes an affine unit's declared-species transfer `(τ, λ)` from
//! `UnitInputs` every step (since session 9 it copies them into its transfer table at the start
//! of each solve; session 8 read them in place), and takes the tracers' transfer from its own
//! rules, never from `UnitInputs`. These tests change the unit inputs between two solves by a
//! solver that already ran and check that the solve follows the new declared `(τ, λ)` exactly,
//! ignores the tracer columns, and matches a fresh solver.

use crate::common::{Frame, allocate, bits, frame, generated};
use parktwin::engine::diagnostics::Diagnostics;
use parktwin::engine::network::{FlowKind, QualityKind};
use parktwin::engine::priority::Priority;
use parktwin::engine::quality::QualitySolver;
use parktwin::engine::state::{Flows, Quality, Storage, UnitInputs};

/// One species solve of `f` with `inputs` and `flows`.
fn solve(
    f: &Frame,
    solver: &mut QualitySolver,
    inputs: &UnitInputs,
    flows: &Flows,
) -> (Quality, Storage) {
    let mut storage = f.storage.clone();
    let mut quality = f.quality.clone();
    solver.solve(
        &f.topo,
        &f.species,
        inputs,
        flows,
        &mut storage,
        &mut quality,
        &f.clock,
        &mut Diagnostics::default(),
    );
    (quality, storage)
}

/// Whether unit `u` is affine: neither a source nor a mixed volume.
fn affine(f: &Frame, u: usize) -> bool {
    f.topo.unit_flow[u] != FlowKind::Source && f.topo.unit_quality[u] != QualityKind::Mixed
}

/// On a generated park with recycle loops: after a solve with the step's inputs, the same
/// solver given inputs whose affine ports have other declared `(τ, λ)` (τ halved, λ raised by
/// 1 mg/L) and nonsense tracer columns (τ = 7, λ = 3 on every port) writes every affine port
/// as `C_p = τ'·c_u + λ'` for the declared species (the same expression, so bit for bit),
/// leaves every tracer value as it was (the tracers' transfer is the engine's, not the
/// units'), and gives the bits of a fresh solver on those inputs.
#[test]
fn affine_transfer_is_read_in_place_and_tracers_ignore_inputs() {
    let f = frame(generated(6, 5), 20);
    assert!(f.topo.largest_loop > 1, "the park has a recycle loop");
    let (ns, nc) = (f.species.len(), f.species.conserved);
    assert_eq!(ns, nc + 1, "three species and a tracer");
    let mut flows = Flows::new(&f.topo);
    allocate(&f, &f.inputs, &mut Priority::new(), &mut flows);
    let mut solver = QualitySolver::new();
    let (before, _) = solve(&f, &mut solver, &f.inputs, &flows);

    let mut changed = f.inputs.clone();
    let mut affine_ports = Vec::new();
    for p in 0..f.topo.n_ports() {
        let u = f.topo.port_unit[p] as usize;
        if affine(&f, u) {
            affine_ports.push((u, p));
            for s in 0..nc {
                changed.tau[p * ns + s] *= 0.5;
                changed.lambda[p * ns + s] += 1.0;
            }
        }
        changed.tau[p * ns + nc] = 7.0;
        changed.lambda[p * ns + nc] = 3.0;
    }
    assert!(affine_ports.len() > 10, "the park has affine units");
    let (after, storage) = solve(&f, &mut solver, &changed, &flows);

    let mut moved = 0;
    for &(u, p) in &affine_ports {
        for s in 0..nc {
            let (tau, lambda) = (changed.tau[p * ns + s], changed.lambda[p * ns + s]);
            let expected = tau * after.inlet[u * ns + s] + lambda;
            assert_eq!(
                after.port[p * ns + s].to_bits(),
                expected.to_bits(),
                "port {p} of unit {} species {s}: C = τ·c + λ with the new inputs",
                f.topo.unit_id[u]
            );
            moved += usize::from(after.port[p * ns + s] != before.port[p * ns + s]);
        }
    }
    assert!(moved > 0, "the new transfers changed the affine ports");
    for (what, a, b) in [
        ("inlet", &before.inlet, &after.inlet),
        ("port", &before.port, &after.port),
    ] {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            if i % ns == nc {
                assert_eq!(x.to_bits(), y.to_bits(), "tracer {what} {}", i / ns);
            }
        }
    }
    let (fresh, fresh_storage) = solve(&f, &mut QualitySolver::new(), &changed, &flows);
    assert!(
        bits([
            &after.inlet,
            &after.port,
            &storage.volume_end,
            &storage.conc_end
        ]) == bits([
            &fresh.inlet,
            &fresh.port,
            &fresh_storage.volume_end,
            &fresh_storage.conc_end
        ]),
        "a solver that ran before matches a fresh one"
    );
}
