//! Zero-liquid-discharge evaporator/crystalliser: distillate recovered, salt leaving as solid
//! mass, water bound in the salt cake, a mother-liquor purge, and salts recovered separately
//! (sodium chloride and sodium sulphate, the Action Plan's 分盐).
//!
//! **Salt.** A fraction `σ_s` of each species' inlet mass crystallises and leaves as solids (the
//! ledger books it as the `solids` exit of the species balance, so the salt balance closes).
//! **Water.** Of the feed `x`, the cake's moisture leaves by the exit `cake` (kind `solids`),
//! the purge `p·x` by port `purge`, the rest as distillate:
//!
//! ```text
//! s_cake = σ_TDS·C_TDS·w/((1 − w)·10⁶)    cake water per m³ of feed (w = cake moisture,
//!                                          mass fraction; 1 t of water = 1 m³)
//! s_purge = p          s_dist = 1 − p − s_cake
//! C_dist = κ·c          (carry-over κ)
//! C_ml = (1 − σ − s_dist·κ)/(p + s_cake)·c   mother liquor: the purge and the cake's moisture
//! ```
//!
//! so that `s_dist·C_dist + (p + s_cake)·C_ml + σ·c = c` for every species. The cake's water
//! share follows the previous step's solved feed TDS (the design feed TDS before any feed was
//! solved); a step's salt always follows its own solved feed.
//!
//! **Salts.** Each separately recovered salt is its anion's crystallised mass times the salt's
//! mass per anion mass (NaCl/Cl = 58.44/35.45; Na2SO4/SO4 = 142.04/96.06); the rest of the
//! crystallised TDS is mixed salt, disposed of at a cost per tonne (hazardous waste in China
//! unless it meets a product standard). The recovered salts are the unit's product (t).
//!
//! **Energy** per m³ of distillate from [`crate::thermal::ThermalEnergy`] on the feed salinity
//! (MVR/MVC or multi-effect with steam), with a heat source.

use crate::economics::Capital;
use crate::thermal::{HeatSource, ThermalEnergy};
use crate::treatment::{Feed, feed_target};
use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::diagnostics::{DiagnosticKind, Diagnostics};
use parktwin_engine::network::{ExitKind, FlowKind, PortDecl, PortRole, Topology};
use parktwin_engine::record::UnitOutputs;
use parktwin_engine::state::{
    Booking, Clock, Energy, Flows, Quality, Species, Storage, UnitIndex, UnitInputs,
};

/// A separately recovered salt.
#[derive(Clone, Debug, PartialEq)]
pub struct Salt {
    /// Name.
    pub name: String,
    /// Species index of its anion.
    pub species: usize,
    /// Salt mass per anion mass.
    pub salt_per_anion: f64,
}

/// A crystalliser (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct Crystalliser {
    /// Per species: fraction of inlet mass crystallised.
    pub crystallised: Vec<f64>,
    /// Purge, fraction of feed.
    pub purge_fraction: f64,
    /// Water in the wet cake, mass fraction.
    pub cake_moisture: f64,
    /// Feed TDS assumed before a feed was solved, mg/L.
    pub design_feed_tds: f64,
    /// Per species: distillate concentration / feed concentration.
    pub carryover: Vec<f64>,
    /// Salts recovered separately.
    pub salts: Vec<Salt>,
    /// Mixed-salt disposal, yuan/t.
    pub mixed_salt_yuan_per_t: f64,
    /// Energy model.
    pub energy: ThermalEnergy,
    /// Heat source.
    pub heat_source: HeatSource,
    /// Feed mode.
    pub feed: Feed,
    /// Whether a `FillTank` feed is running (state).
    pub running: bool,
    /// Annualised capital cost.
    pub capital: Capital,
    /// Cake water share used this step (state).
    pub cake_share: f64,
}

impl Crystalliser {
    /// Cake water per m³ of feed at feed TDS `tds` mg/L.
    pub fn cake_share_at(&self, tds: f64) -> f64 {
        let w = self.cake_moisture;
        self.crystallised[0] * tds.max(0.0) * w / ((1.0 - w) * 1e6)
    }

    /// Distillate share and per-species `(τ_distillate, τ_mother_liquor)` for cake share `sc`.
    pub fn transfers(&self, sc: f64) -> (f64, Vec<(f64, f64)>) {
        let p = self.purge_fraction;
        let sd = 1.0 - p - sc;
        let t = self
            .crystallised
            .iter()
            .zip(&self.carryover)
            .map(|(&sig, &k)| (k, (1.0 - sig - sd * k) / (p + sc)))
            .collect();
        (sd, t)
    }

    fn write(&self, sc: f64, p0: usize, ns: usize, inputs: &mut UnitInputs) {
        let (sd, t) = self.transfers(sc);
        // Ports in declaration order: distillate, purge, cake.
        inputs.port_share[p0] = sd;
        inputs.port_share[p0 + 1] = self.purge_fraction;
        inputs.port_share[p0 + 2] = sc;
        for (s, &(td, tm)) in t.iter().enumerate() {
            inputs.tau[p0 * ns + s] = td;
            inputs.tau[(p0 + 1) * ns + s] = tm;
            inputs.tau[(p0 + 2) * ns + s] = tm;
            inputs.lambda[p0 * ns + s] = 0.0;
            inputs.lambda[(p0 + 1) * ns + s] = 0.0;
            inputs.lambda[(p0 + 2) * ns + s] = 0.0;
        }
    }
}

impl UnitModel for Crystalliser {
    const TYPE_NAME: &'static str = "Crystalliser";
    fn flow_kind(&self) -> FlowKind {
        self.feed.flow_kind()
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("feed")
    }
    fn ports(&self) -> Vec<PortDecl> {
        vec![
            PortDecl::new("distillate", PortRole::Driven),
            PortDecl::new("purge", PortRole::Driven),
            PortDecl::new("cake", PortRole::Exit(ExitKind::Solids)),
        ]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        let p0 = ctx.port(u, "distillate");
        let ns = ctx.ns;
        self.write(self.cake_share, p0, ns, ctx.inputs);
        ctx.set_solids(u, &self.crystallised);
    }
}

/// Demand phase: feed set-point; water shares from the previous step's feed TDS.
#[expect(
    clippy::too_many_arguments,
    reason = "a system reads the resources it needs"
)]
pub fn demand(
    mut q: Query<(&UnitIndex, &mut Crystalliser)>,
    clock: Res<Clock>,
    storage: Res<Storage>,
    topo: Res<Topology>,
    species: Res<Species>,
    quality: Res<Quality>,
    flows: Res<Flows>,
    mut inputs: ResMut<UnitInputs>,
) {
    let ns = species.len();
    for (i, mut c) in &mut q {
        let u = i.get();
        let c = &mut *c;
        let target = feed_target(&c.feed, &mut c.running, clock.step, &storage);
        inputs.target[u] = if inputs.online[u] { target } else { 0.0 };
        if clock.step == 0 || flows.throughput[u] <= 0.0 {
            continue;
        }
        // Never more cake water than leaves room for 1 % distillate.
        let sc = c
            .cake_share_at(quality.inlet[u * ns])
            .min(0.99 - c.purge_fraction);
        if sc != c.cake_share {
            c.cake_share = sc;
            c.write(sc, topo.ports_of(u).start, ns, &mut inputs);
        }
    }
}

/// Account phase: energy on the distillate, salts, mixed-salt disposal, capital.
#[expect(
    clippy::too_many_arguments,
    reason = "a system reads the resources it needs"
)]
pub fn account(
    q: Query<(&UnitIndex, &Crystalliser)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    topo: Res<Topology>,
    species: Res<Species>,
    quality: Res<Quality>,
    mut energy: ResMut<Energy>,
    mut outputs: ResMut<UnitOutputs>,
    mut diag: ResMut<Diagnostics>,
) {
    let ns = species.len();
    for (i, c) in &q {
        let u = i.get();
        let dt = clock.dt_h;
        let mut b = Booking::default();
        c.capital.book(&mut b, dt);
        c.heat_source.apply(&mut energy, u);
        let v = flows.throughput[u] * dt;
        if v <= 0.0 {
            energy.assign(u, &b);
            outputs.product[u] = 0.0;
            continue;
        }
        let feed = &quality.inlet[u * ns..(u + 1) * ns];
        let (sd, _) = c.transfers(c.cake_share);
        let (e, h) = c.energy.per_m3(feed[0]);
        b.electricity_kwh += e * sd * v;
        b.heat_kwh += h * sd * v;
        let salt_t = |s: usize| c.crystallised[s] * feed[s] * v / 1e6;
        let total = salt_t(0);
        let recovered: f64 = c
            .salts
            .iter()
            .map(|s| salt_t(s.species) * s.salt_per_anion)
            .sum();
        if recovered > total * (1.0 + 1e-9) {
            let id = &topo.unit_id[u];
            diag.push(DiagnosticKind::Physics, clock.step, Some(id), || {
                format!("{id}: separated salts ({recovered:.3} t) exceed the crystallised TDS ({total:.3} t); check the salts' species")
            });
        }
        let recovered = recovered.min(total);
        // `0.0 + x` as when the entry was zeroed and added to (it turns −0 into +0).
        outputs.product[u] = 0.0 + recovered;
        b.water_cost += (total - recovered) * c.mixed_salt_yuan_per_t;
        energy.assign(u, &b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn unit() -> Crystalliser {
        Crystalliser {
            crystallised: vec![0.95, 0.95],
            purge_fraction: 0.03,
            cake_moisture: 0.1,
            design_feed_tds: 100_000.0,
            carryover: vec![1e-4, 1e-4],
            salts: vec![],
            mixed_salt_yuan_per_t: 2500.0,
            energy: ThermalEnergy::Mvc {
                base_kwh_per_m3: 15.0,
                kwh_per_m3_per_g_per_l: 0.1,
            },
            heat_source: HeatSource::Park,
            feed: Feed::Accept,
            running: false,
            capital: Capital::default(),
            cake_share: 0.0,
        }
    }

    /// Feed 100 g/L TDS, 95 % crystallised, cake moisture 10 %: salt 95 kg per m³, cake water
    /// `95·0.1/0.9` = 10.556 kg → `s_cake = 0.0105556`; purge 0.03; distillate 0.959444. Every
    /// species: `s_dist·κ + (p + s_cake)·τ_ml + σ = 1`.
    #[test]
    fn shares_and_salt_balance_by_hand() {
        let c = unit();
        let sc = c.cake_share_at(100_000.0);
        assert_relative_eq!(sc, 95.0 * 0.1 / 0.9 / 1000.0, max_relative = 1e-12);
        let (sd, t) = c.transfers(sc);
        assert_relative_eq!(sd, 1.0 - 0.03 - sc, max_relative = 1e-12);
        for (s, &(td, tm)) in t.iter().enumerate() {
            assert_relative_eq!(
                sd * td + (0.03 + sc) * tm + c.crystallised[s],
                1.0,
                max_relative = 1e-14
            );
        }
    }
}
