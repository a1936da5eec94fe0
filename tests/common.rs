//! Helpers shared by the integration tests.

use parktwin::engine::sim::Simulation;
use parktwin::parks::build::{BuildOptions, BuiltPark, build};
use parktwin::parks::load::{LoadError, from_str};
use parktwin::parks::summary::{RunSummary, summarize};
use parktwin::parks::validate::validate;
use std::path::Path;

/// Loads, validates and builds park text (named `test.ron` in messages).
pub fn build_text(text: &str, record: bool) -> Result<BuiltPark, LoadError> {
    let file = from_str(text, Path::new("test.ron"))?;
    let valid = validate(&file)?;
    Ok(build(
        valid,
        BuildOptions {
            record_series: record,
            ..Default::default()
        },
    )
    .expect("schedule builds"))
}

/// Builds and runs park text to the end; panics with the error if it is invalid.
pub fn run_text(text: &str, record: bool) -> (Simulation, RunSummary) {
    let mut built = match build_text(text, record) {
        Ok(b) => b,
        Err(e) => panic!("park should be valid: {e}"),
    };
    built.sim.run();
    let summary = summarize(&built.sim, &built.meta);
    (built.sim, summary)
}

/// The error message of invalid park text.
pub fn error_of(text: &str) -> String {
    match build_text(text, false) {
        Ok(_) => panic!("park should be invalid"),
        Err(e) => e.to_string(),
    }
}
