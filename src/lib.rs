//! # parktwin
//!
//! A digital-twin simulation framework for the water systems of industrial parks. This package
//! is the command line; the work happens in `parktwin-engine` (the simulation core),
//! `parktwin-units` (unit models) and `parktwin-parks` (the park language, builder and summary),
//! re-exported here for library users.

pub mod atomic;
pub mod cli;
pub mod columnar;
pub mod compare;
pub mod dosing;
pub mod geo;
pub mod ledger_cmd;
pub mod observe;
pub mod optimize;
pub mod output;
pub mod replay;
pub mod replay_report;
pub mod report;
pub mod run;
pub mod sankey;
pub mod slurm;
pub mod stream;
pub mod svg;
pub mod sweep;
pub mod target;
pub mod xy_chart;

pub use parktwin_engine as engine;
pub use parktwin_parks as parks;
pub use parktwin_units as units;
