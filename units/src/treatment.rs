//! Generic treatment unit: recovery, per-species removal to a reject stream, destruction,
//! precipitation as solids, salt added to the reject, electricity and chemicals. The treatment
//! presets (membrane filtration, softening; `parks::unit_specs`) resolve to this unit with
//! sourced defaults.
//!
//! With recovery `r` (product/feed), a fraction `ρ_s` of each species' inlet mass sent to the
//! reject, a fraction `δ_s` destroyed (oxidised, converted to gas), a fraction `σ_s` leaving as
//! solids (precipitated sludge, counted in the species balance as the `solids` exit) and `g_s`
//! g per m³ of feed added to the reject (an ion-exchange regenerant's salt):
//!
//! ```text
//! Q_product = r·x           C_product = (1 − ρ_s − δ_s − σ_s)/r · c
//! Q_reject  = (1 − r)·x     C_reject  = (ρ_s·c + g_s)/(1 − r)
//! removed   = δ_s·x·c       solids = σ_s·x·c       generated = g_s·x
//! ```
//!
//! so the species balance closes for any inlet. With `r = 1` there is no reject and `ρ_s` and
//! `g_s` must be 0. Electricity `e·x` kWh (e in kWh/m³ of feed; WaterTAP data in DOMAIN.md: UF 0.231,
//! MF 0.18, NF 0.231, activated-sludge aeration 0.14), chemicals `k·x` kg.
//!
//! Feed: `Accept` takes what is pushed to it; `Fixed` draws a set feed rate from its supply
//! links (a source, an equalisation tank); `FillTank` draws up to its capacity while a named
//! tank is below `start_below` of its capacity, until it reaches `stop_above` (hysteresis).

use crate::economics::{Capital, Chemical, book_chemical_kg, book_chemicals};
use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::network::{FlowKind, PortDecl, PortRole};
use parktwin_engine::series::Series;
use parktwin_engine::state::{
    Booking, Clock, Energy, Flows, Quality, Species, Storage, UnitIndex, UnitInputs,
};

/// How a treatment unit's feed is decided.
#[derive(Clone, Debug)]
pub enum Feed {
    /// Takes whatever is pushed to it.
    Accept,
    /// Draws this feed rate, m³/h.
    Fixed(Series),
    /// Draws up to `capacity` m³/h while tank `tank` (unit index) is below `start_below` of its
    /// capacity, until it is above `stop_above`.
    FillTank {
        /// Unit index of the tank.
        tank: usize,
        /// Feed capacity, m³/h.
        capacity_m3_per_h: f64,
        /// Start when the level is below this fraction.
        start_below: f64,
        /// Stop when the level is above this fraction.
        stop_above: f64,
    },
}

impl Feed {
    /// The flow role a unit with this feed plays: it accepts what is pushed to it, or it draws
    /// (a demand).
    pub fn flow_kind(&self) -> FlowKind {
        match self {
            Feed::Accept => FlowKind::Accept,
            _ => FlowKind::Demand,
        }
    }
}

/// A treatment unit (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct Treatment {
    /// Recovery, product/feed, (0, 1].
    pub recovery: f64,
    /// Fraction of each species' inlet mass sent to the reject.
    pub to_reject: Vec<f64>,
    /// Fraction of each species' inlet mass destroyed.
    pub destroyed: Vec<f64>,
    /// Electricity per m³ of feed, kWh/m³.
    pub kwh_per_m3: f64,
    /// Heat per m³ of feed, kWh_th/m³.
    pub heat_kwh_per_m3: f64,
    /// Chemicals per m³ of feed, kg/m³.
    pub chemical_kg_per_m3: f64,
    /// Carbon of the chemicals, kg CO2e/kg.
    pub chemical_co2_per_kg: f64,
    /// Price of the chemicals, yuan/kg.
    pub chemical_yuan_per_kg: f64,
    /// Feed mode.
    pub feed: Feed,
    /// Whether a `FillTank` feed is running.
    pub running: bool,
    /// Fraction of each species' inlet mass leaving as solids.
    pub solids: Vec<f64>,
    /// Mass added to the reject per m³ of feed, g/m³, per species.
    pub added_g_per_m3: Vec<f64>,
    /// Further chemicals, per m³ of feed.
    pub chemicals: Vec<Chemical>,
    /// Chemicals dosed in proportion to the mass of a species treated (a softener's lime or
    /// regenerant salt).
    pub removal_chemicals: Vec<DoseOnRemoval>,
    /// Annualised capital cost.
    pub capital: Capital,
}

/// A chemical dosed per kg of a species treated: `kg = x·c_s·f·k`, with `f` the fraction of the
/// inlet mass of species `s` precipitated or exchanged and `k` kg of chemical per kg.
#[derive(Clone, Debug, PartialEq)]
pub struct DoseOnRemoval {
    /// Species index.
    pub species: usize,
    /// Fraction of the species' inlet mass treated.
    pub fraction: f64,
    /// kg of chemical per kg of the species treated.
    pub kg_per_kg: f64,
    /// The chemical.
    pub chemical: Chemical,
}

/// Product transfer coefficient `τ_p = (1 − ρ − δ − σ)/r` of species `s`.
pub fn transfer_product(t: &Treatment, s: usize) -> f64 {
    let solids = t.solids.get(s).copied().unwrap_or(0.0);
    (1.0 - t.to_reject[s] - t.destroyed[s] - solids) / t.recovery
}

impl UnitModel for Treatment {
    const TYPE_NAME: &'static str = "Treatment";
    fn flow_kind(&self) -> FlowKind {
        self.feed.flow_kind()
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("in")
    }
    fn ports(&self) -> Vec<PortDecl> {
        let reject = PortDecl::new("reject", PortRole::Driven);
        vec![
            PortDecl::new("product", PortRole::Driven),
            if self.recovery >= 1.0 {
                reject.optional()
            } else {
                reject
            },
        ]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        let ns = self.to_reject.len();
        let r = self.recovery;
        let product = ctx.port(u, "product");
        let reject = ctx.port(u, "reject");
        ctx.inputs.port_share[product] = r;
        ctx.inputs.port_share[reject] = 1.0 - r;
        let added = |s: usize| self.added_g_per_m3.get(s).copied().unwrap_or(0.0);
        let tau_p: Vec<f64> = (0..ns).map(|s| transfer_product(self, s)).collect();
        let tau_r: Vec<f64> = (0..ns)
            .map(|s| {
                if r < 1.0 {
                    self.to_reject[s] / (1.0 - r)
                } else {
                    0.0
                }
            })
            .collect();
        let lambda_r: Vec<f64> = (0..ns)
            .map(|s| if r < 1.0 { added(s) / (1.0 - r) } else { 0.0 })
            .collect();
        ctx.set_transfer(product, &tau_p, &vec![0.0; ns]);
        ctx.set_transfer(reject, &tau_r, &lambda_r);
        ctx.set_removed(u, &self.destroyed);
        if self.solids.iter().any(|&f| f != 0.0) {
            ctx.set_solids(u, &self.solids);
        }
        if self.added_g_per_m3.iter().any(|&g| g != 0.0) {
            ctx.set_generated(u, &self.added_g_per_m3);
        }
    }
}

/// The feed set-point of this step, m³/h, updating the `running` state of a `FillTank` feed.
pub fn feed_target(feed: &Feed, running: &mut bool, step: usize, storage: &Storage) -> f64 {
    match *feed {
        Feed::Accept => 0.0,
        Feed::Fixed(ref s) => s.at(step).max(0.0),
        Feed::FillTank {
            tank,
            capacity_m3_per_h,
            start_below,
            stop_above,
        } => {
            let level = storage.volume[tank] / storage.capacity[tank];
            if level < start_below {
                *running = true;
            } else if level >= stop_above {
                *running = false;
            }
            if *running { capacity_m3_per_h } else { 0.0 }
        }
    }
}

/// Demand phase: feed set-point.
pub fn demand(
    mut q: Query<(&UnitIndex, &mut Treatment)>,
    clock: Res<Clock>,
    storage: Res<Storage>,
    mut inputs: ResMut<UnitInputs>,
) {
    for (i, mut t) in &mut q {
        let u = i.get();
        let online = inputs.online[u];
        let t = &mut *t;
        let target = feed_target(&t.feed, &mut t.running, clock.step, &storage);
        inputs.target[u] = if online { target } else { 0.0 };
    }
}

/// Account phase: electricity, heat, chemicals.
pub fn account(
    q: Query<(&UnitIndex, &Treatment)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    species: Res<Species>,
    quality: Res<Quality>,
    mut energy: ResMut<Energy>,
) {
    let ns = species.len();
    for (i, t) in &q {
        let u = i.get();
        let mut b = Booking::default();
        for d in &t.removal_chemicals {
            let kg = flows.throughput[u] * clock.dt_h * quality.inlet[u * ns + d.species] / 1000.0
                * d.fraction;
            book_chemical_kg(&mut b, kg * d.kg_per_kg, &d.chemical);
        }
        let v = flows.throughput[u] * clock.dt_h;
        b.electricity_kwh += t.kwh_per_m3 * v;
        b.heat_kwh += t.heat_kwh_per_m3 * v;
        let chem = t.chemical_kg_per_m3 * v;
        b.chemicals_kg += chem;
        b.chemicals_co2_kg += chem * t.chemical_co2_per_kg;
        b.chemicals_cost += chem * t.chemical_yuan_per_kg;
        book_chemicals(&mut b, v, &t.chemicals);
        t.capital.book(&mut b, clock.dt_h);
        energy.assign(u, &b);
    }
}
