//! The integration tests of parktwin, in one test binary (see STYLE.md).

mod analytic;
mod bad_input;
mod common;
mod crash;
mod determinism;
mod dosing;
mod fuzz_equivalent;
mod horizon;
mod invariants;
mod kernel;
mod kpi;
mod limits;
mod optimize;
mod outputs;
mod property;
mod readme;
mod scenarios;
mod slurm;
mod strategies;
mod target;
mod twin;
mod twin_salt;
mod units_cooling_tower;
mod units_library;
mod units_parks;
mod units_ro;
