//! Scenario events and stochastic drivers, applied at the start of every step (Drivers phase).
//!
//! An [`Event`] acts on a unit, a link or the park during a half-open step window
//! `[from, to)`:
//!
//! - `Outage`: the unit is out of service (no target, no supply, takes no water);
//! - `SupplyCap(m³/h)`: a source's availability is capped (drought, curtailed permit);
//! - `LoadFactor(k)`: a unit's driving load (production, heat load) is multiplied by `k`
//!   (heat wave, production change); factors of overlapping events multiply;
//! - `Leak(m³/h)`: a link loses this much while it carries water; the loss leaves the park as the
//!   `leak` exit of the upstream unit;
//! - `PriceFactor(k)` / `GridFactor(k)`: the park's electricity price or grid emission factor is
//!   multiplied by `k`.
//!
//! Demand noise: with a standard deviation `σ` and hourly autocorrelation `φ`, each water-using
//! unit's load factor is multiplied by `max(0, 1 + n_t)` with `n_t = φ·n_{t−1} + σ·√(1 − φ²)·ε_t`,
//! `ε_t` standard normal (Box–Muller) from a ChaCha8 stream seeded by the scenario seed and the
//! unit index, so a scenario's noise does not depend on thread count or scenario order.

use crate::state::{Clock, UnitInputs};
use bevy_ecs::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What an event does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EventKind {
    /// Unit out of service.
    Outage,
    /// Cap on a source's availability, m³/h.
    SupplyCap(f64),
    /// Multiplier on a unit's driving load.
    LoadFactor(f64),
    /// Loss from a link while it carries water, m³/h.
    Leak(f64),
    /// Multiplier on the electricity price.
    PriceFactor(f64),
    /// Multiplier on the grid emission factor.
    GridFactor(f64),
}

/// What an event acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A unit, by index.
    Unit(u32),
    /// A link, by index.
    Link(u32),
    /// The whole park.
    Park,
}

/// One event in a step window `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    /// What it does.
    pub kind: EventKind,
    /// What it acts on.
    pub target: Target,
    /// First step.
    pub from: usize,
    /// First step after the event.
    pub to: usize,
}

/// The scenario's events.
#[derive(Resource, Clone, Debug, Default)]
pub struct Events {
    /// All events.
    pub list: Vec<Event>,
}

/// Park-wide multipliers in force this step.
#[derive(Resource, Clone, Copy, Debug)]
pub struct ParkModifiers {
    /// Electricity price multiplier.
    pub price_factor: f64,
    /// Grid emission factor multiplier.
    pub grid_factor: f64,
}

impl Default for ParkModifiers {
    fn default() -> Self {
        Self {
            price_factor: 1.0,
            grid_factor: 1.0,
        }
    }
}

/// Seeded demand noise (see the module docs).
#[derive(Resource, Clone, Debug)]
pub struct DemandNoise {
    /// Standard deviation of the relative noise.
    pub sd: f64,
    /// Hour-to-hour autocorrelation, 0–1.
    pub phi: f64,
    /// Units it applies to, with their stream and state.
    pub streams: Vec<(u32, ChaCha8Rng, f64)>,
}

impl DemandNoise {
    /// Noise for `units`, seeded by `seed`.
    pub fn new(sd: f64, phi: f64, seed: u64, units: &[u32]) -> Self {
        let streams = units
            .iter()
            .map(|&u| {
                let mut rng = ChaCha8Rng::seed_from_u64(
                    seed ^ (u as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                // Start from the stationary distribution.
                let n = sd * standard_normal(&mut rng);
                (u, rng, n)
            })
            .collect();
        Self { sd, phi, streams }
    }
}

/// A standard normal deviate by the Box–Muller transform.
pub fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let u2: f64 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Drivers phase: in-service flags, load factors, caps, leaks and park multipliers.
pub fn apply_events(
    events: Res<Events>,
    clock: Res<Clock>,
    noise: Option<ResMut<DemandNoise>>,
    mut inputs: ResMut<UnitInputs>,
    mut park: ResMut<ParkModifiers>,
    mut neutral: Local<bool>,
) {
    // The per-unit and per-link arrays start each step neutral (online, load factor 1, no
    // cap, no leak). Only this system writes them, so after a step in which no event was in
    // its window and there is no demand noise they still are, and resetting them again is
    // skipped. `neutral` starts false: the first step resets.
    if !*neutral {
        inputs.online.fill(true);
        inputs.load_factor.fill(1.0);
        inputs.supply_cap.fill(f64::INFINITY);
        inputs.link_leak.fill(0.0);
    }
    *park = ParkModifiers::default();
    let step = clock.step;
    let mut touched = noise.is_some();
    for e in &events.list {
        if step < e.from || step >= e.to {
            continue;
        }
        touched = true;
        match (e.kind, e.target) {
            (EventKind::Outage, Target::Unit(u)) => inputs.online[u as usize] = false,
            (EventKind::SupplyCap(c), Target::Unit(u)) => {
                let cap = &mut inputs.supply_cap[u as usize];
                *cap = cap.min(c);
            }
            (EventKind::LoadFactor(k), Target::Unit(u)) => inputs.load_factor[u as usize] *= k,
            (EventKind::LoadFactor(k), Target::Park) => {
                inputs.load_factor.iter_mut().for_each(|f| *f *= k)
            }
            (EventKind::Leak(q), Target::Link(l)) => inputs.link_leak[l as usize] += q,
            (EventKind::PriceFactor(k), _) => park.price_factor *= k,
            (EventKind::GridFactor(k), _) => park.grid_factor *= k,
            _ => {}
        }
    }
    if let Some(mut noise) = noise {
        let (sd, phi) = (noise.sd, noise.phi);
        let innovation = sd * (1.0 - phi * phi).max(0.0).sqrt();
        for (u, rng, n) in &mut noise.streams {
            *n = phi * *n + innovation * standard_normal(rng);
            inputs.load_factor[*u as usize] *= (1.0 + *n).max(0.0);
        }
    }
    *neutral = !touched;
}
