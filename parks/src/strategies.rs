//! Choosing a coupling strategy by name, for a park file's `strategy` section, a scenario
//! override (`strategy.name`) or the command line (`--strategy NAME`).
//!
//! The strategies themselves live in the engine ([`parktwin_engine::priority`],
//! [`parktwin_engine::strategy`]); the engine knows no unit type, so the unit-level data the LP
//! needs (which sources are fresh water, their prices and embodied carbon, the grid factor and
//! electricity price series) is gathered here from the validated park and handed over as plain
//! arrays ([`OptimalConfig`]).
//!
//! ```ron
//! strategy: (name: "optimal", weights: (fresh_water: 1.0, co2e: 0.0, money: 0.0),
//!            fresh_sources: ["city"]),   // default: municipal, groundwater and surface sources
//! strategy: (name: "horizon", horizon: (steps: 24, every: 1)),   // rolling-horizon LP
//! ```
//!
//! For `horizon` the builder also hands over forecasts from the park's driver series
//! ([`horizon_config`]): each process's demand `production(t)·water per unit` and each
//! source's availability `cap·availability(t)`; the other units' inputs are held at their
//! current values by the strategy (see `parktwin_engine::strategy::horizon`).

use crate::validate::ValidPark;
use parktwin_engine::flow::CouplingStrategy;
use parktwin_engine::priority::Priority;
use parktwin_engine::strategy::fixed::Fixed;
use parktwin_engine::strategy::horizon::{Horizon, HorizonConfig};
use parktwin_engine::strategy::optimal::{Optimal, OptimalConfig, Weights};
use parktwin_units::AnyUnit;
use serde::{Deserialize, Serialize};

/// Names of the built-in strategies.
pub const NAMES: [&str; 4] = ["priority", "fixed", "optimal", "horizon"];

/// A park's or scenario's strategy.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    /// `"priority"` (default), `"fixed"`, `"optimal"` or `"horizon"`.
    #[serde(default = "default_name")]
    pub name: String,
    /// Objective weights of `optimal`.
    #[serde(default)]
    pub weights: WeightsSpec,
    /// Source ids counted as fresh water by `optimal` (default: every source of kind
    /// `Municipal`, `Groundwater` or `Surface`).
    #[serde(default)]
    pub fresh_sources: Option<Vec<String>>,
    /// Window of `horizon` (default 24 steps, re-solved every step).
    #[serde(default)]
    pub horizon: Option<HorizonSpec>,
}

/// The window of the `horizon` strategy.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HorizonSpec {
    /// Window length `H`, steps (default 24).
    #[serde(default = "default_window")]
    pub steps: usize,
    /// Steps between solves `k`, 1 ≤ k ≤ H (default 1: re-solve every step).
    #[serde(default = "default_every")]
    pub every: usize,
}

impl Default for HorizonSpec {
    fn default() -> Self {
        Self {
            steps: default_window(),
            every: default_every(),
        }
    }
}

fn default_window() -> usize {
    24
}

fn default_every() -> usize {
    1
}

/// Longest window accepted, steps (a week of hourly steps: the LP grows linearly with it).
pub const MAX_WINDOW: usize = 168;

impl Default for StrategySpec {
    fn default() -> Self {
        Self {
            name: default_name(),
            weights: WeightsSpec::default(),
            fresh_sources: None,
            horizon: None,
        }
    }
}

fn default_name() -> String {
    "priority".to_string()
}

/// Objective weights of the `optimal` strategy.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeightsSpec {
    /// Per m³ of fresh water (default 1).
    #[serde(default = "one")]
    pub fresh_water: f64,
    /// Per kg CO2e (default 0).
    #[serde(default)]
    pub co2e: f64,
    /// Per yuan (default 0).
    #[serde(default)]
    pub money: f64,
    /// Per m³ left in storage at the end of a step (default: half the objective cost of a m³
    /// of the cheapest fresh source).
    #[serde(default)]
    pub storage: Option<f64>,
}

impl Default for WeightsSpec {
    fn default() -> Self {
        Self {
            fresh_water: 1.0,
            co2e: 0.0,
            money: 0.0,
            storage: None,
        }
    }
}

fn one() -> f64 {
    1.0
}

/// Problems of a strategy section, as `(item path, message)`; `sources` are the park's
/// source ids.
pub fn check_spec(spec: &Option<StrategySpec>, sources: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(s) = spec else { return out };
    if !NAMES.contains(&s.name.as_str()) {
        out.push((
            "strategy.name".to_string(),
            format!(
                "unknown strategy {:?} (built in: {})",
                s.name,
                NAMES.join(", ")
            ),
        ));
    }
    for (k, v) in [
        ("fresh_water", s.weights.fresh_water),
        ("co2e", s.weights.co2e),
        ("money", s.weights.money),
        ("storage", s.weights.storage.unwrap_or(0.0)),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            out.push((
                format!("strategy.weights.{k}"),
                format!("{v} must be a finite number ≥ 0"),
            ));
        }
    }
    if let Some(h) = &s.horizon {
        if !(1..=MAX_WINDOW).contains(&h.steps) {
            out.push((
                "strategy.horizon.steps".to_string(),
                format!("{} is out of range: must be 1 to {MAX_WINDOW}", h.steps),
            ));
        }
        if h.every < 1 || h.every > h.steps {
            out.push((
                "strategy.horizon.every".to_string(),
                format!(
                    "{} is out of range: must be 1 to the window's steps ({})",
                    h.every, h.steps
                ),
            ));
        }
    }
    for (i, id) in s.fresh_sources.iter().flatten().enumerate() {
        if !sources.contains(id) {
            out.push((
                format!("strategy.fresh_sources[{i}]"),
                format!("{id:?} is not a source of this park"),
            ));
        }
    }
    out
}

/// The strategy `name` for `park`, with the park's own section's weights and fresh sources
/// (defaults when it has none).
pub fn make(name: &str, park: &ValidPark) -> Result<Box<dyn CouplingStrategy>, String> {
    let spec = park.strategy.clone().unwrap_or_default();
    match name {
        "priority" => Ok(Box::new(Priority::new())),
        "fixed" => Ok(Box::new(Fixed::new())),
        "optimal" => Ok(Box::new(Optimal::new(optimal_config(&spec, park)))),
        "horizon" => Ok(Box::new(Horizon::new(horizon_config(&spec, park)))),
        other => Err(format!(
            "unknown strategy {other:?} (built in: {})",
            NAMES.join(", ")
        )),
    }
}

/// The park's own strategy (its `strategy` section; the priority cascade when none).
pub fn from_park(park: &ValidPark) -> Result<Box<dyn CouplingStrategy>, String> {
    let name = park
        .strategy
        .as_ref()
        .map_or("priority".to_string(), |s| s.name.clone());
    make(&name, park)
}

/// The LP's unit-level data for `park`.
pub fn optimal_config(spec: &StrategySpec, park: &ValidPark) -> OptimalConfig {
    let topo = &park.topology;
    let nu = topo.n_units();
    let mut fresh = vec![false; nu];
    let mut price = vec![0.0; nu];
    let mut co2 = vec![0.0; nu];
    for (u, unit) in park.units.iter().enumerate() {
        if let AnyUnit::Source(s) = unit {
            fresh[u] = match &spec.fresh_sources {
                Some(ids) => ids.iter().any(|id| *id == topo.unit_id[u]),
                None => !s.kind.is_unconventional(),
            };
            price[u] = s.price_yuan_per_m3;
            co2[u] = s.carbon_kg_per_m3;
        }
    }
    let w = &spec.weights;
    let cheapest = (0..nu)
        .filter(|&u| fresh[u])
        .map(|u| w.fresh_water + w.money * price[u] + w.co2e * co2[u])
        .fold(f64::INFINITY, f64::min);
    let storage = w.storage.unwrap_or(if cheapest.is_finite() {
        0.5 * cheapest
    } else {
        0.0
    });
    OptimalConfig {
        weights: Weights {
            fresh_water: w.fresh_water,
            co2e: w.co2e,
            money: w.money,
            storage,
        },
        fresh,
        price_yuan_per_m3: price,
        co2_kg_per_m3: co2,
        grid_kg_per_kwh: park.factors.grid_kg_per_kwh.clone(),
        electricity_yuan_per_kwh: park.factors.electricity_price.clone(),
    }
}

/// The rolling-horizon LP's data for `park`: the one-step LP's data, the window, and forecasts
/// from the park's driver series (perfect foresight of deterministic drivers; noise, events and
/// outages are not foreseen): a process's demand is `production(t)·water per unit`, a
/// source's availability `cap·availability(t)`; a tank's outlet rate and refill rate bound its
/// window steps; sources carry their annual permits. Units without a forecast here are held at
/// their current inputs by the strategy.
pub fn horizon_config(spec: &StrategySpec, park: &ValidPark) -> HorizonConfig {
    let nu = park.topology.n_units();
    let window = spec.horizon.unwrap_or_default();
    let mut target = vec![None; nu];
    let mut supply = vec![None; nu];
    let mut annual = vec![f64::INFINITY; nu];
    let mut max_out = vec![f64::INFINITY; nu];
    let mut refill = vec![0.0; nu];
    for (u, unit) in park.units.iter().enumerate() {
        match unit {
            AnyUnit::Process(p) => target[u] = Some(p.production_per_h.scaled(p.specific_use_m3)),
            AnyUnit::Source(s) => {
                supply[u] = Some(s.availability.scaled(s.cap_m3_per_h));
                annual[u] = s.annual_cap_m3;
            }
            AnyUnit::Tank(t) => {
                max_out[u] = t.max_outflow_m3_per_h;
                refill[u] = t.refill.map_or(0.0, |(_, _, rate)| rate.max(0.0));
            }
            _ => {}
        }
    }
    HorizonConfig {
        optimal: optimal_config(spec, park),
        steps: window.steps,
        every: window.every,
        target,
        supply,
        annual_cap_m3: annual,
        max_outflow_m3_per_h: max_out,
        refill_m3_per_h: refill,
    }
}
