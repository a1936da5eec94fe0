//! # parktwin-engine
//!
//! The simulation core of parktwin: one bevy_ecs `World` and `Schedule` per scenario, time from
//! an integer step, the flow problem and its coupling strategies, the exact species solve
//! through recycle loops, the water and species ledger, energy/carbon/cost accounting and the
//! recorders.
//!
//! This crate knows nothing of particular unit types: units (crate `parktwin-units`) declare
//! ports ([`network::UnitDecl`]) and, every step, write their targets, port shares and transfer
//! coefficients into [`state::UnitInputs`]. The hot loop runs over the flat arrays of
//! [`network::Topology`], compiled once at build.
//!
//! Module map:
//! - [`network`]: units, ports, links, compiled topology and its strongly connected components;
//! - [`state`]: per-step state as flat arrays (inputs, flows, quality, storage, energy);
//! - [`flow`]: the allocation context and the [`flow::CouplingStrategy`] trait;
//! - [`priority`]: the default greedy priority cascade;
//! - [`strategy`]: the other built-in strategies (`fixed`, `optimal`) and the plan realiser
//!   they share;
//! - [`mixing`]: the closed form of a completely mixed volume;
//! - [`quality`]: the species solve;
//! - [`ledger`]: the closure check;
//! - [`record`]: accounting, summaries, time series;
//! - [`diagnostics`]: domain problems as data;
//! - [`events`]: scenario events and demand noise;
//! - [`series`]: step-indexed drivers;
//! - [`sim`]: the World, the phases and the step loop;
//! - [`width`]: the hot loops instantiated per species count.

pub mod accounting;
mod arith;
pub mod diagnostics;
pub mod error;
pub mod events;
pub mod flow;
pub mod ledger;
pub mod mixing;
pub mod network;
pub mod priority;
pub mod quality;
pub mod record;
pub mod series;
pub mod sim;
pub mod state;
pub mod strategy;
pub mod width;

pub use bevy_ecs;
