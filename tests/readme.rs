//! The README's park tour is a real park: it is extracted from the README and run.

use crate::common::run_text;

/// The park tour (the ```ron block starting with `Park(`) of README.md validates, runs a year, meets its demand and closes
/// its balances to 1e-9.
#[test]
fn readme_tour_park_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```ron\nPark(")
        .expect("README has a park tour")
        + 7;
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

/// The README's scenario example is the bundled `scenarios/demo_sweep.ron` (same sweep and
/// events), and that file expands to the 24 cases the README promises.
#[test]
fn readme_sweep_matches_the_bundled_scenario() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    assert!(readme.contains(r#""units.steel_ct.cycles": [3.0, 4.0, 5.0, 6.0]"#));
    let sc = parktwin::parks::scenario::load(std::path::Path::new(&format!(
        "{root}/scenarios/demo_sweep.ron"
    )))
    .unwrap();
    assert_eq!(sc.cases.len(), 24);
    assert_eq!(sc.cases[23].id, "demo_sweep-00023");
    let text = std::fs::read_to_string(format!("{root}/scenarios/demo_sweep.ron")).unwrap();
    assert!(text.contains(r#""units.steel_ct.cycles": [3.0, 4.0, 5.0, 6.0]"#));
}
