//! The priority cascade books each supply port from what its walk already summed
//! (`engine/src/priority.rs`, `Priority::book_supply_ports`): a supplier with one supply port
//! gives its port its `supply_used`, the sum of `link + leak` over the port's links in pull
//! order, instead of summing the links again in routing order after the walk. This checks the
//! identity it relies on, `port = Σ (link + leak)` over the port's links, and a source's
//! throughput as the sum of its supply ports, against sums recomputed here from the flows the
//! cascade wrote, on parks with tanks, a recycle loop, short supplies, offline units and leaks,
//! and on the generated 499-unit park.
//! The two sums add the same terms in different orders, so they agree to rounding: relative
//! 1e-12 (each is a sum of a few non-negative terms, whose rounding error is below
//! `n·2⁻⁵³ ≈ 1e-15` relative).

use crate::common::{allocate, cascade_frames, frame, generated, poisoned, stressed};
use parktwin::engine::network::{FlowKind, PortRole};
use parktwin::engine::priority::Priority;

/// `|a − b| ≤ 1e-12·max(|a|, |b|) + 1e-12` (m³/h).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()) + 1e-12
}

/// Every supply port carries the sum of its links' flows and leaks, and every source's
/// throughput is the sum of its supply ports, in plain and stressed steps (leaks on every fifth
/// link, every seventh unit offline, supplies cut to 30 %).
#[test]
fn supply_ports_carry_their_links() {
    let mut frames = Vec::from(cascade_frames());
    // The 499-unit park the speed work measures (95 supply ports, three sources).
    frames.push(("generated(60, 1)", frame(generated(60, 1), 10)));
    for (name, f) in &frames {
        let topo = &f.topo;
        for (case, inputs) in [
            ("plain", f.inputs.clone()),
            ("stressed 1.0", stressed(f, 1.0)),
            ("stressed 0.3", stressed(f, 0.3)),
        ] {
            let mut flows = poisoned(topo);
            // Twice with one cascade: the second step reuses its tables and scratch.
            let mut cascade = Priority::new();
            allocate(f, &inputs, &mut cascade, &mut flows);
            allocate(f, &inputs, &mut cascade, &mut flows);
            let mut supply_ports = 0;
            let mut moving = 0;
            for p in (0..topo.n_ports()).filter(|&p| topo.port_role[p] == PortRole::Supply) {
                supply_ports += 1;
                let sum: f64 = topo
                    .links_of_port(p)
                    .iter()
                    .map(|&l| flows.link[l as usize] + flows.leak[l as usize])
                    .sum();
                moving += usize::from(sum > 0.0);
                assert!(
                    close(flows.port[p], sum),
                    "{name} ({case}): supply port {p} carries {} but its links {sum}",
                    flows.port[p]
                );
            }
            for u in (0..topo.n_units()).filter(|&u| topo.unit_flow[u] == FlowKind::Source) {
                let sum: f64 = topo
                    .ports_of(u)
                    .filter(|&p| topo.port_role[p] == PortRole::Supply)
                    .map(|p| flows.port[p])
                    .sum();
                assert!(
                    close(flows.throughput[u], sum),
                    "{name} ({case}): source {} withdraws {} but its supply ports carry {sum}",
                    topo.unit_id[u],
                    flows.throughput[u]
                );
            }
            assert!(
                supply_ports > 0 && moving > 0,
                "{name} ({case}): the park has moving supply ports"
            );
        }
    }
}
