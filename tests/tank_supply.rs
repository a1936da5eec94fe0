//! A tank outside recycle loops takes its supply links' outflow from the cascade's running
//! total of what its consumers pulled (`Out::Used` in `engine/src/priority.rs`), not from a sum
//! over its links. This test checks that against the general rule `flow::tank_exits` (which
//! sums the links' flows and leaks): with every tank full at the start of the step, so that
//! it overflows, each tank's overflow flow must be the one `tank_exits` computes from the
//! cascade's own link flows, to 1e-12 relative (the two sums add the same terms in different
//! orders; rounding is ~1e-16 of the largest term), on parks with tanks as they are and with
//! leaks, offline units and short supplies, and on parks with inlet limits.

use crate::common::{allocate, bundled, cascade_frames, frame, generated, stressed};
use parktwin::engine::flow::tank_exits;
use parktwin::engine::network::FlowKind;
use parktwin::engine::priority::Priority;
use parktwin::engine::state::Flows;

#[test]
fn tank_overflow_matches_tank_exits() {
    // The cascade's parks, the dosing park and the 499-unit park.
    let mut parks = Vec::from(cascade_frames());
    parks.push(("smart_dosing", frame(bundled("smart_dosing.ron"), 20)));
    parks.push(("generated(60, 1)", frame(generated(60, 1), 10)));
    let (mut checked, mut overflowing) = (0, 0);
    for (name, mut f) in parks {
        let tanks: Vec<usize> = (0..f.topo.n_units())
            .filter(|&u| f.topo.unit_flow[u] == FlowKind::Tank)
            .collect();
        for &u in &tanks {
            if f.storage.capacity[u].is_finite() {
                f.storage.volume[u] = f.storage.capacity[u];
            }
        }
        for (case, inputs) in [("as is", f.inputs.clone()), ("stressed", stressed(&f, 0.3))] {
            let mut flows = Flows::new(&f.topo);
            allocate(&f, &inputs, &mut Priority::new(), &mut flows);
            let ctx = f.context(&inputs);
            for &u in &tanks {
                let mut scratch = flows.clone();
                let Some((p, over)) = tank_exits(u, flows.throughput[u], &ctx, &mut scratch) else {
                    continue;
                };
                let got = flows.port[p];
                let scale = over.abs().max(flows.throughput[u].abs()).max(1.0);
                assert!(
                    (got - over).abs() <= 1e-12 * scale,
                    "{name} ({case}), tank {}: overflow {got} m³/h, tank_exits gives {over}",
                    f.topo.unit_id[u]
                );
                checked += 1;
                overflowing += usize::from(over > 0.0);
            }
        }
    }
    assert!(checked > 0, "some tank has an overflow port");
    assert!(overflowing > 0, "some full tank overflows");
}
