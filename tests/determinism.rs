//! Determinism: the same inputs give bit-identical results.

use crate::common::run_text;
use parktwin::engine::record::Recorder;

/// Two runs of the same park compare equal in every result value: the whole JSON summary
/// (totals, per-unit and per-link rows ordered by id as declared, ledger, diagnostics; no
/// timings are in it) and every recorded time-series value, bit for bit.
#[test]
fn two_runs_are_bit_identical() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/demo_park.ron"
    ))
    .expect("demo park exists");
    let (sim_a, a) = run_text(&text, true);
    let (sim_b, b) = run_text(&text, true);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let (ra, rb) = (sim_a.resource::<Recorder>(), sim_b.resource::<Recorder>());
    for (x, y) in [
        (&ra.unit_throughput, &rb.unit_throughput),
        (&ra.unit_tds, &rb.unit_tds),
        (&ra.unit_volume, &rb.unit_volume),
        (&ra.link_flow, &rb.link_flow),
    ] {
        assert_eq!(x.len(), y.len());
        assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}
