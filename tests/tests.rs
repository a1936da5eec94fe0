//! The integration tests of parktwin, in one test binary (see STYLE.md).

mod analytic;
mod bad_input;
mod common;
mod determinism;
mod kpi;
mod outputs;
mod property;
mod readme;
mod scenarios;
mod strategies;
mod units_cooling_tower;
mod units_library;
mod units_parks;
mod units_ro;
