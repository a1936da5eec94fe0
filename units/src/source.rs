//! Intake: a source of water with a kind, a quality, a price, embodied carbon and permits.
//!
//! Each step consumers may pull up to
//! `avail = min(cap_m3_per_h · availability(t), (annual_cap_m3 − withdrawn this year)/Δt)`,
//! m³/h, where `availability` is a 0–1 series (drought, maintenance). Water leaves at the
//! source's quality `C_s` (mg/L); withdrawal `W` generates `W·C_s` g of each species. Cost
//! `W·price_yuan_per_m3` (tariff or water-resource tax), embodied carbon `W·carbon_kg_per_m3`
//! (supply-side pumping and treatment of purchased water; 0 by default).
//! The permit year restarts every 8,760 h of simulated time. A park-wide water-resource tax by
//! source kind ([`crate::taxes`]) is added to the price.

use crate::taxes::Taxes;
use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::diagnostics::{DiagnosticKind, Diagnostics};
use parktwin_engine::network::{FlowKind, PortDecl, PortRole, Topology};
use parktwin_engine::series::Series;
use parktwin_engine::state::{Booking, Clock, Energy, Flows, UnitIndex, UnitInputs};
use serde::Serialize;

/// Kind of water source (GB/T 7119 and the Action Plan's categories).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Municipal (tap) water supply.
    Municipal,
    /// Groundwater.
    Groundwater,
    /// Surface water (river, reservoir).
    Surface,
    /// Seawater.
    Seawater,
    /// Brackish water.
    Brackish,
    /// Mine water.
    MineWater,
    /// Harvested rainwater.
    Rainwater,
    /// Reclaimed municipal wastewater bought from a municipal plant.
    ReclaimedMunicipal,
}

impl SourceKind {
    /// Every kind, in reporting order.
    pub const ALL: [SourceKind; 8] = [
        SourceKind::Municipal,
        SourceKind::Groundwater,
        SourceKind::Surface,
        SourceKind::Seawater,
        SourceKind::Brackish,
        SourceKind::MineWater,
        SourceKind::Rainwater,
        SourceKind::ReclaimedMunicipal,
    ];

    /// Snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Municipal => "municipal",
            SourceKind::Groundwater => "groundwater",
            SourceKind::Surface => "surface",
            SourceKind::Seawater => "seawater",
            SourceKind::Brackish => "brackish",
            SourceKind::MineWater => "mine_water",
            SourceKind::Rainwater => "rainwater",
            SourceKind::ReclaimedMunicipal => "reclaimed_municipal",
        }
    }

    /// Unconventional water in the Action Plan's sense (seawater, brackish water, mine water,
    /// rainwater, reclaimed water).
    pub fn is_unconventional(self) -> bool {
        !matches!(
            self,
            SourceKind::Municipal | SourceKind::Groundwater | SourceKind::Surface
        )
    }
}

/// An intake (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct Source {
    /// Kind of water.
    pub kind: SourceKind,
    /// Quality per species, mg/L.
    pub quality_mg_per_l: Vec<f64>,
    /// Largest withdrawal rate (pipe, pump or hourly permit), m³/h.
    pub cap_m3_per_h: f64,
    /// Fraction of the cap available each step, 0–1.
    pub availability: Series,
    /// Annual permit, m³ per 8,760 h (infinite when none).
    pub annual_cap_m3: f64,
    /// Price (tariff plus water-resource tax), yuan/m³.
    pub price_yuan_per_m3: f64,
    /// Embodied carbon of the supplied water, kg CO2e/m³.
    pub carbon_kg_per_m3: f64,
    /// Withdrawn so far in the current permit year, m³.
    pub withdrawn_this_year_m3: f64,
}

impl UnitModel for Source {
    const TYPE_NAME: &'static str = "Source";
    fn flow_kind(&self) -> FlowKind {
        FlowKind::Source
    }
    fn inlet(&self) -> Option<&'static str> {
        None
    }
    fn ports(&self) -> Vec<PortDecl> {
        vec![PortDecl::new("out", PortRole::Supply)]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        let p = ctx.port(u, "out");
        let n = self.quality_mg_per_l.len();
        ctx.set_transfer(p, &vec![0.0; n], &self.quality_mg_per_l);
        ctx.set_generated(u, &self.quality_mg_per_l);
    }
}

/// Hours in a permit year.
pub const PERMIT_YEAR_H: f64 = 8760.0;

/// Demand phase: availability this step.
pub fn demand(q: Query<(&UnitIndex, &Source)>, clock: Res<Clock>, mut inputs: ResMut<UnitInputs>) {
    for (i, s) in &q {
        let u = i.get();
        let mut avail = if inputs.online[u] {
            (s.cap_m3_per_h * s.availability.at(clock.step)).max(0.0)
        } else {
            0.0
        };
        avail = avail.min(inputs.supply_cap[u]);
        if s.annual_cap_m3.is_finite() {
            avail = avail.min(((s.annual_cap_m3 - s.withdrawn_this_year_m3) / clock.dt_h).max(0.0));
        }
        inputs.supply_avail[u] = avail;
    }
}

/// Account phase: cost, embodied carbon, permit use.
pub fn account(
    mut q: Query<(&UnitIndex, &mut Source)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    topo: Res<Topology>,
    taxes: Option<Res<Taxes>>,
    mut energy: ResMut<Energy>,
    mut diag: ResMut<Diagnostics>,
) {
    // The permit year restarts at every multiple of 8,760 h.
    let hours = clock.hours();
    let new_year = clock.step > 0
        && (hours / PERMIT_YEAR_H).floor() > ((hours - clock.dt_h) / PERMIT_YEAR_H).floor();
    for (i, mut s) in &mut q {
        let u = i.get();
        if new_year {
            s.withdrawn_this_year_m3 = 0.0;
        }
        let w = flows.throughput[u] * clock.dt_h;
        let mut b = Booking::default();
        b.water_cost += w * s.price_yuan_per_m3;
        if let Some(t) = &taxes {
            let tax = t.resource_tax_yuan_per_m3[s.kind as usize];
            if tax != 0.0 {
                b.water_cost += w * tax;
            }
        }
        b.other_co2_kg += w * s.carbon_kg_per_m3;
        energy.assign(u, &b);
        let before = s.withdrawn_this_year_m3;
        s.withdrawn_this_year_m3 += w;
        if s.annual_cap_m3.is_finite()
            && before < s.annual_cap_m3
            && s.withdrawn_this_year_m3 >= s.annual_cap_m3 * (1.0 - 1e-12)
        {
            diag.push(
                DiagnosticKind::CapReached,
                clock.step,
                Some(&topo.unit_id[u]),
                || {
                    format!(
                        "annual permit of {} ({:.0} m³) reached",
                        topo.unit_id[u], s.annual_cap_m3
                    )
                },
            );
        }
    }
}
