//! Building a World from a validated park: resources, unit entities, static coefficients, and
//! the step schedule.

use crate::validate::{ParkMeta, ValidPark};
use parktwin_engine::bevy_ecs::world::World;
use parktwin_engine::events::{DemandNoise, Events, Target};
use parktwin_engine::flow::{CouplingStrategy, Strategy};
use parktwin_engine::priority::Priority;
use parktwin_engine::record::Recorder;
use parktwin_engine::series::Drivers;
use parktwin_engine::sim::{ScheduleError, Simulation};
use parktwin_engine::state::{Clock, Quality, Species, Storage, UnitInputs};
use parktwin_units::InitContext;

/// Options of a build.
#[derive(Default)]
pub struct BuildOptions {
    /// Record hourly time series.
    pub record_series: bool,
    /// The coupling strategy (default: the park's `strategy` section, else the priority
    /// cascade).
    pub strategy: Option<Box<dyn CouplingStrategy>>,
    /// Seeded demand noise on water-using units.
    pub demand_noise: Option<NoiseOptions>,
}

/// Demand noise (see [`parktwin_engine::events`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseOptions {
    /// Relative standard deviation.
    pub sd: f64,
    /// Hour-to-hour autocorrelation.
    pub hourly_correlation: f64,
    /// Seed.
    pub seed: u64,
}

/// A built park: the simulation and its descriptive facts.
pub struct BuiltPark {
    /// The scenario's simulation.
    pub sim: Simulation,
    /// Descriptive facts for reports.
    pub meta: ParkMeta,
}

/// Builds the World and schedule of a validated park.
pub fn build(park: ValidPark, options: BuildOptions) -> Result<BuiltPark, ScheduleError> {
    // The strategy: the caller's, else the park's own section (names are checked by
    // validation, so the priority cascade is only a guard).
    let strategy = options.strategy.unwrap_or_else(|| {
        crate::strategies::from_park(&park).unwrap_or_else(|_| Box::new(Priority::new()))
    });
    let species = Species::with_tracers(park.meta.species.clone());
    let ns = species.len();
    let topo = park.topology;
    let mut inputs = UnitInputs::new(&topo, ns);
    let mut storage = Storage::new(&topo, ns);
    {
        let mut ctx = InitContext {
            topo: &topo,
            ns,
            inputs: &mut inputs,
            storage: &mut storage,
        };
        for (u, unit) in park.units.iter().enumerate() {
            unit.init(u, &mut ctx);
        }
    }
    // Start-of-step qualities for the first step: what sources and stores hold.
    let mut quality = Quality::new(&topo, ns);
    for p in 0..topo.n_ports() {
        let u = topo.port_unit[p] as usize;
        for s in 0..ns {
            quality.port[p * ns + s] = match topo.unit_quality[u] {
                parktwin_engine::network::QualityKind::Mixed => storage.conc[u * ns + s],
                parktwin_engine::network::QualityKind::Affine => {
                    if topo.unit_flow[u] == parktwin_engine::network::FlowKind::Source {
                        inputs.lambda[p * ns + s]
                    } else {
                        0.0
                    }
                }
            };
        }
    }
    let start = crate::calendar::instant(park.start, 0.0);
    let mut world = World::new();
    world.insert_resource(species);
    world.insert_resource(Clock {
        step: 0,
        steps: park.meta.steps,
        dt_h: park.meta.dt_h,
        start_day_of_year: start.day_of_year,
        start_hour: start.hour,
    });
    world.insert_resource(park.factors);
    world.insert_resource(Strategy(strategy));
    // Link events name links in declaration order; the topology keeps that order (links are
    // only dropped when invalid, and then the park is not valid), so indices carry over.
    let events: Vec<_> = park
        .events
        .into_iter()
        .filter(|e| match e.target {
            Target::Link(l) => (l as usize) < topo.n_links(),
            _ => true,
        })
        .collect();
    world.insert_resource(Events { list: events });
    if let Some(n) = options.demand_noise {
        let units: Vec<u32> = (0..topo.n_units())
            .filter(|&u| topo.unit_uses_water[u])
            .map(|u| u as u32)
            .collect();
        world.insert_resource(DemandNoise::new(n.sd, n.hourly_correlation, n.seed, &units));
    }
    park.resources.insert_into(&mut world);
    world.insert_resource(Recorder {
        enabled: options.record_series,
        ..Default::default()
    });
    // The units' main drivers, read every step from one step-major window (docs/drivers.md).
    let mut drivers = Drivers::new(topo.n_units());
    for (u, unit) in park.units.iter().enumerate() {
        if let Some(s) = unit.driver() {
            drivers.set(u, s);
        }
    }
    world.insert_resource(drivers);
    world.insert_resource(inputs);
    world.insert_resource(storage);
    world.insert_resource(quality);
    world.insert_resource(topo);
    for (u, unit) in park.units.into_iter().enumerate() {
        unit.spawn(&mut world, u);
    }
    let sim = Simulation::new(world, parktwin_units::add_systems)?;
    Ok(BuiltPark {
        sim,
        meta: park.meta,
    })
}
