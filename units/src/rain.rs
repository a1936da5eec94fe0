//! Rainwater harvesting: catchment area × runoff coefficient × rainfall, a first flush diverted
//! at the start of each event, and a store with spill; consumers pull from its supply port.
//!
//! Per step of `Δt` hours with rainfall `P` mm/h (the park's weather or the unit's own series):
//!
//! ```text
//! depth  = P·Δt                                   mm this step
//! flush  = min(depth, max(F − D_event, 0))        first flush still to divert (F mm per event)
//! I      = A·φ·(depth − flush)/1000               m³ captured (A m², runoff coefficient φ)
//! offer  = min((S + I)/Δt, q_max)                 m³/h consumers may pull
//! S'     = min(S + I − W·Δt, S_max)               store at the end; the excess spills
//! ```
//!
//! `D_event` is the depth of the current event; an event ends after `inter_event_h` dry hours.
//! GB 50400 (建筑与小区雨水控制及利用工程技术规范) gives roof runoff coefficients 0.8–0.95 and a
//! first flush of 2–3 mm [S]. The store is the harvesting system's own: the park's water balance
//! sees rainwater when it is drawn (a source of kind rainwater, at the rain's quality), not the
//! rain that spills or is diverted; both are counted on the unit for reports.

use crate::economics::Capital;
use crate::weather::{Weather, weather_at};
use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::network::{FlowKind, PortDecl, PortRole};
use parktwin_engine::series::Series;
use parktwin_engine::state::{Booking, Clock, Energy, Flows, UnitIndex, UnitInputs};

/// A rainwater harvesting system (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct RainHarvest {
    /// Catchment area, m².
    pub catchment_m2: f64,
    /// Runoff coefficient, 0–1.
    pub runoff_coefficient: f64,
    /// First flush per event, mm.
    pub first_flush_mm: f64,
    /// Dry hours that end an event.
    pub inter_event_h: f64,
    /// Storage, m³.
    pub storage_m3: f64,
    /// Largest outflow, m³/h.
    pub max_outflow_m3_per_h: f64,
    /// Own rainfall series, mm/h (`None`: the park's weather).
    pub rainfall_mm_per_h: Option<Series>,
    /// Quality per species, mg/L.
    pub quality_mg_per_l: Vec<f64>,
    /// Annualised capital cost.
    pub capital: Capital,
    /// Stored volume at the start of the step, m³ (state).
    pub stored_m3: f64,
    /// Captured this step, m³ (state).
    pub inflow_m3: f64,
    /// Depth of the current event, mm (state).
    pub event_mm: f64,
    /// Dry hours since the last rain (state).
    pub dry_h: f64,
    /// Captured in total, m³.
    pub captured_total_m3: f64,
    /// Diverted as first flush in total, m³.
    pub diverted_total_m3: f64,
    /// Spilled from the full store in total, m³.
    pub spilled_total_m3: f64,
}

impl RainHarvest {
    /// Advances the event state by a step of `dt` h with rainfall `p` mm/h; returns `(captured,
    /// diverted)` m³.
    pub fn catch(&mut self, p: f64, dt: f64) -> (f64, f64) {
        let depth = p.max(0.0) * dt;
        if depth <= 0.0 {
            self.dry_h += dt;
            if self.dry_h >= self.inter_event_h {
                self.event_mm = 0.0;
            }
            return (0.0, 0.0);
        }
        self.dry_h = 0.0;
        let flush = depth.min((self.first_flush_mm - self.event_mm).max(0.0));
        self.event_mm += depth;
        let k = self.catchment_m2 * self.runoff_coefficient / 1000.0;
        (k * (depth - flush), k * flush)
    }
}

impl UnitModel for RainHarvest {
    const TYPE_NAME: &'static str = "RainHarvest";
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

/// Demand phase: capture this step's rain; offer the store plus the capture.
pub fn demand(
    mut q: Query<(&UnitIndex, &mut RainHarvest)>,
    clock: Res<Clock>,
    weather: Option<Res<Weather>>,
    mut inputs: ResMut<UnitInputs>,
) {
    let w = weather_at(weather.as_deref(), clock.step);
    let dt = clock.dt_h;
    for (i, mut h) in &mut q {
        let u = i.get();
        let p = match &h.rainfall_mm_per_h {
            Some(s) => s.at(clock.step),
            None => w.rainfall_mm_per_h,
        };
        let (captured, diverted) = h.catch(p, dt);
        h.inflow_m3 = captured;
        h.captured_total_m3 += captured;
        h.diverted_total_m3 += diverted;
        inputs.supply_avail[u] = if inputs.online[u] {
            ((h.stored_m3 + captured) / dt).min(h.max_outflow_m3_per_h)
        } else {
            0.0
        }
        .min(inputs.supply_cap[u]);
    }
}

/// Account phase: store update and spill; capital.
pub fn account(
    mut q: Query<(&UnitIndex, &mut RainHarvest)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    mut energy: ResMut<Energy>,
) {
    let dt = clock.dt_h;
    for (i, mut h) in &mut q {
        let u = i.get();
        let mut b = Booking::default();
        h.capital.book(&mut b, dt);
        energy.assign(u, &b);
        let s = (h.stored_m3 + h.inflow_m3 - flows.throughput[u] * dt).max(0.0);
        let spill = (s - h.storage_m3).max(0.0);
        h.spilled_total_m3 += spill;
        h.stored_m3 = s - spill;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// 10,000 m² at φ = 0.85 with a 2 mm first flush: an event of 1.5, 3.0 and 0.5 mm/h
    /// diverts 1.5 then 0.5 mm and captures 0, 2.5 and 0.5 mm: `8.5·(0, 2.5, 0.5)` =
    /// 0, 21.25, 4.25 m³ (diverted 12.75 and 4.25 m³). After 6 dry hours a new event diverts
    /// again.
    #[test]
    fn first_flush_by_hand() {
        let mut h = RainHarvest {
            catchment_m2: 10_000.0,
            runoff_coefficient: 0.85,
            first_flush_mm: 2.0,
            inter_event_h: 6.0,
            storage_m3: 100.0,
            max_outflow_m3_per_h: f64::INFINITY,
            rainfall_mm_per_h: None,
            quality_mg_per_l: vec![20.0],
            capital: Capital::default(),
            stored_m3: 0.0,
            inflow_m3: 0.0,
            event_mm: 0.0,
            dry_h: 0.0,
            captured_total_m3: 0.0,
            diverted_total_m3: 0.0,
            spilled_total_m3: 0.0,
        };
        let (c, d) = h.catch(1.5, 1.0);
        assert_relative_eq!(c, 0.0);
        assert_relative_eq!(d, 12.75, max_relative = 1e-12);
        let (c, d) = h.catch(3.0, 1.0);
        assert_relative_eq!(c, 21.25, max_relative = 1e-12);
        assert_relative_eq!(d, 4.25, max_relative = 1e-12);
        let (c, _) = h.catch(0.5, 1.0);
        assert_relative_eq!(c, 4.25, max_relative = 1e-12);
        for _ in 0..5 {
            h.catch(0.0, 1.0);
        }
        let (c, _) = h.catch(1.0, 1.0);
        assert_relative_eq!(c, 8.5, max_relative = 1e-12, epsilon = 0.0);
        h.catch(0.0, 1.0);
        for _ in 0..6 {
            h.catch(0.0, 1.0);
        }
        let (c, d) = h.catch(1.0, 1.0);
        assert_eq!(c, 0.0);
        assert_relative_eq!(d, 8.5, max_relative = 1e-12);
    }
}
