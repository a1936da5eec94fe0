//! The priority cascade picks cheaper visits from two per-step scans (`engine/src/priority.rs`,
//! "How the walk is laid out"): in a step where every `link_leak` is `+0.0` its visits use a
//! constant zero leak, and it looks at units' inlet limits one by one only when some limit is
//! finite. These tests check that neither choice changes a flow:
//!
//! - leak-free visits against the general ones: the same step with every leak set to `−0.0`
//!   (which is no leak, but is not `+0.0`, so the cascade takes its general visits) must give
//!   the same values, compared with `==` (a `−0.0` leak may only turn a zero's sign); the
//!   leak-free run starts from `Flows` full of NaN, so an entry it failed to write would show;
//! - a cascade reused over steps whose inputs gain and lose their inlet limits must give each
//!   step the bits of a fresh cascade (the per-unit limit flags are never stale).

use crate::common::{allocate, bundled, cascade_frames, flow_bits, frame, poisoned};
use parktwin::engine::priority::Priority;
use parktwin::engine::state::Flows;

/// The flow arrays' values, in the order of [`flow_bits`].
fn values(flows: &Flows) -> Vec<f64> {
    flow_bits(flows).into_iter().map(f64::from_bits).collect()
}

/// Leak-free visits (every leak `+0.0`) give the values of the general visits (every leak
/// `−0.0`), on parks with tanks, a loop and short supplies.
#[test]
fn leak_free_visits_match_the_general_ones() {
    let frames = cascade_frames();
    for (name, f) in &frames {
        for avail in [1.0, 0.3] {
            let mut plain = f.inputs.clone();
            plain.supply_avail.iter_mut().for_each(|a| *a *= avail);
            assert!(
                plain.link_leak.iter().all(|l| l.to_bits() == 0),
                "{name}: the frame has no leak"
            );
            let mut general = plain.clone();
            general.link_leak.iter_mut().for_each(|l| *l = -0.0);
            let mut fast = poisoned(&f.topo);
            allocate(f, &plain, &mut Priority::new(), &mut fast);
            let mut slow = Flows::new(&f.topo);
            allocate(f, &general, &mut Priority::new(), &mut slow);
            let (fast, slow) = (values(&fast), values(&slow));
            assert!(fast.iter().any(|&q| q > 0.0), "{name} moves water");
            let differing = fast.iter().zip(&slow).filter(|(a, b)| a != b).count();
            assert_eq!(
                differing, 0,
                "{name} (supplies × {avail}): leak-free visits changed {differing} flows"
            );
        }
    }
}

/// One cascade over steps whose inputs alternately have and lack inlet limits gives each step
/// the bits of a fresh cascade (and the limits change the flows of some park, so a stale flag
/// would show).
#[test]
fn limits_that_come_and_go_are_followed() {
    let mut changed = 0;
    for name in [
        "literature/wang_smith_1994_ex1.ron",
        "literature/polley_polley_2000.ron",
    ] {
        let f = frame(bundled(name), 5);
        let limited = f.inputs.clone();
        assert!(
            limited.accept_limit.iter().any(|l| l.is_finite()),
            "{name} has inlet limits"
        );
        let mut free = limited.clone();
        free.accept_limit
            .iter_mut()
            .for_each(|l| *l = f64::INFINITY);
        let mut cascade = Priority::new();
        let mut with_limits = Flows::new(&f.topo);
        allocate(&f, &limited, &mut Priority::new(), &mut with_limits);
        let mut without = Flows::new(&f.topo);
        allocate(&f, &free, &mut Priority::new(), &mut without);
        changed += usize::from(flow_bits(&with_limits) != flow_bits(&without));
        for k in 0..4 {
            let inputs = if k % 2 == 0 { &limited } else { &free };
            let mut reused = Flows::new(&f.topo);
            allocate(&f, inputs, &mut cascade, &mut reused);
            let mut fresh = Flows::new(&f.topo);
            allocate(&f, inputs, &mut Priority::new(), &mut fresh);
            assert!(
                flow_bits(&reused) == flow_bits(&fresh),
                "{name}, step {k}: a reused cascade's limit flags changed the result"
            );
        }
    }
    assert!(
        changed > 0,
        "the inlet limits change the flows of some park"
    );
}
