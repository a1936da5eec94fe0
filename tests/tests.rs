//! The integration tests of parktwin, in one test binary (see STYLE.md).

mod analytic;
mod bad_input;
mod common;
mod determinism;
mod property;
mod readme;
