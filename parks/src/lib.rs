//! # parktwin-parks
//!
//! The park description language: the RON schema ([`schema`]), reading with precise errors
//! ([`load`]), validation that reports every problem at once ([`validate`]), the builder into
//! an engine World ([`build`]), synthetic parks ([`generate`]), the run summary
//! ([`summary`]), and the KPIs and water-balance tables ([`kpi`], from run [`totals`]). The
//! one path into a World is [`load::from_path`] → [`validate::validate`] → [`build::build`];
//! [`load_and_build`] does all three.

pub mod build;
pub mod calendar;
pub mod dosing;
pub mod drivers;
pub mod factors;
pub mod generate;
pub mod harness;
pub mod kpi;
pub mod limits;
pub mod load;
pub mod optimize;
pub mod scenario;
pub mod schema;
pub mod stochastic;
pub mod strategies;
pub mod summary;
pub mod target;
pub mod totals;
pub mod twin;
pub mod unit_specs;
pub mod validate;

use std::path::Path;

/// Why a park could not be loaded and built.
#[derive(Debug, thiserror::Error)]
pub enum ParkError {
    /// The file could not be read or is invalid.
    #[error(transparent)]
    Load(#[from] load::LoadError),
    /// The schedule could not be built (a programming error in a unit model, never user input).
    #[error(transparent)]
    Schedule(#[from] parktwin_engine::sim::ScheduleError),
}

/// Reads, validates and builds a park file.
pub fn load_and_build(
    path: &Path,
    options: build::BuildOptions,
) -> Result<build::BuiltPark, ParkError> {
    let file = load::from_path(path)?;
    let valid = validate::validate(&file)?;
    Ok(build::build(valid, options)?)
}
