//! The README's park tour is a real park: it is extracted from the README and run.

use crate::common::run_text;

/// The first ```ron block of README.md validates, runs a year, meets its demand and closes
/// its balances to 1e-9.
#[test]
fn readme_tour_park_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```ron\n").expect("README has a ron block") + 7;
    let end = start + readme[start..].find("```").unwrap();
    let (_, s) = run_text(&readme[start..end], false);
    assert!(s.balance.max_relative_residual <= 1e-9);
    assert_eq!(s.steps, 8760);
    assert_eq!(s.water_m3.unmet_demand, 0.0, "{:?}", s.diagnostics);
    assert!(
        s.water_m3.reuse > 0.0,
        "the reclaimed tank feeds the cooling tower"
    );
}
