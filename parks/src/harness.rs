//! Entry points for fuzzing and its property-test equivalent: each takes raw input, goes
//! through the same code as the CLI (read, validate, expand, build, run) and panics only on a
//! bug, never on bad input. The cargo-fuzz targets in `fuzz/` call these, and so does the CI
//! test `tests/fuzz_equivalent.rs` on mutated seed files, so both exercise the same paths.
//!
//! What counts as a bug (a finding): a panic or abort anywhere (an `unwrap` on user data, an
//! arithmetic overflow with debug assertions, an index out of bounds), a run of a valid park
//! that produces a non-finite value without a `non_finite` diagnostic, or a validated park whose
//! water or species balance does not close to the ledger's tolerance.

use crate::build::{BuildOptions, build};
use crate::load::{LoadError, ParkFile, from_str};
use crate::summary::summarize;
use crate::validate::validate;
use std::path::Path;

/// Longest horizon [`short_run`] steps (the horizon of longer parks is cut to this).
pub const RUN_STEPS: usize = 72;
/// Largest park [`short_run`] builds, units (larger ones are only validated).
pub const RUN_UNITS: usize = 64;
/// Cases of a scenario [`scenario_text`] validates (the first ones).
pub const SCENARIO_CASES: usize = 3;

/// Reads and validates park text. `Ok(true)` when valid, `Ok(false)` when refused with an
/// error (whose message must be non-empty).
pub fn park_text(text: &str) -> bool {
    match from_str(text, Path::new("fuzz.ron")).and_then(|f| validate(&f).map(|_| ())) {
        Ok(()) => true,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error without a message");
            false
        }
    }
}

/// Reads scenario text against `park` (the file its `park:` names is replaced by this one),
/// expands the sweep and validates the first [`SCENARIO_CASES`] cases. Returns how many of
/// them were valid.
pub fn scenario_text(text: &str, park: &ParkFile) -> usize {
    let sc = match crate::scenario::from_str_with(text, Path::new("fuzz_scenario.ron"), |_| {
        Ok::<ParkFile, LoadError>(park.clone())
    }) {
        Ok(sc) => sc,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return 0;
        }
    };
    assert!(
        !sc.cases.is_empty(),
        "a loaded scenario has at least one case"
    );
    for (i, c) in sc.cases.iter().enumerate() {
        assert_eq!(c.index, i, "case indices are positions");
    }
    sc.cases
        .iter()
        .take(SCENARIO_CASES)
        .filter(|c| sc.case_file(c).ok().is_some_and(|f| validate(&f).is_ok()))
        .count()
}

/// Validates park text and, when it is valid and small, runs it for at most [`RUN_STEPS`]
/// steps and checks the outcome: closure within tolerance and non-finite values reported.
/// Returns whether it ran.
pub fn short_run(text: &str) -> bool {
    let Ok(mut file) = from_str(text, Path::new("fuzz.ron")) else {
        return false;
    };
    file.park.time.steps = file.park.time.steps.min(RUN_STEPS);
    if file.park.units.len() > RUN_UNITS {
        return false;
    }
    let Ok(valid) = validate(&file) else {
        return false;
    };
    let Ok(mut built) = build(valid, BuildOptions::default()) else {
        panic!("a validated park must build");
    };
    built.sim.run();
    let s = summarize(&built.sim, &built.meta);
    let non_finite = s.diagnostics.contains_key("non_finite");
    if !non_finite {
        assert!(
            s.water_m3.total_inflow.is_finite()
                && s.co2e_total_t.is_finite()
                && s.cost_total_yuan.is_finite(),
            "non-finite totals without a non_finite diagnostic"
        );
        assert_eq!(
            s.balance.violations, 0,
            "closure violated: worst relative residual {}",
            s.balance.max_relative_residual
        );
    }
    true
}
