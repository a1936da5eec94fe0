//! Built-in coupling strategies besides the default priority cascade ([`crate::priority`]),
//! and the plan realiser they share.
//!
//! A strategy is any [`crate::flow::CouplingStrategy`]; the ones here decide a step's *free
//! choices* (which fraction of a port's flow each link carries, how much each consumer pulls
//! over each supply link) and hand them to the [`realise::Realiser`], which computes every flow
//! from the units' port equations so that each unit's balance is exact by construction:
//!
//! - [`fixed::Fixed`] (`fixed`): the design splits of the first step, held;
//! - [`optimal::Optimal`] (`optimal`): a linear program per step over the engine's flow problem
//!   (fresh water, CO2e and money weighted), with the pooling part fixed as in water-network
//!   synthesis and a fallback to the priority cascade on an infeasible step;
//! - [`horizon::Horizon`] (`horizon`): the same LP over a rolling window of `H` steps with tank
//!   volumes and annual permits linking them, forecasts from the park's driver series, and a
//!   fallback to `optimal` on an infeasible window.
//!
//! A researcher's strategy needs none of this: `examples/custom_strategy.rs` implements the
//! trait in one file and runs it on a park without touching the engine.

pub mod fixed;
pub mod horizon;
pub mod optimal;
pub mod realise;
