//! One scenario: a bevy_ecs `World` and a `Schedule` of chained phases, stepped by integer time.
//!
//! Phases, in order (see DESIGN.md, "One step of the twin"):
//! [`Phase::Drivers`] → [`Phase::Demand`] → [`Phase::Allocate`] → [`Phase::Solve`] →
//! [`Phase::Account`] → [`Phase::Record`]. Unit types add their systems to `Demand` (what they
//! need and offer, their port shares and transfer coefficients) and `Account` (energy, chemicals,
//! products); the engine owns the rest. The schedule is single-threaded (scenarios run in
//! parallel, one World each) and built with ambiguity detection as an error, so that two systems
//! touching the same data always run in a declared order.

use crate::accounting::{AccountCache, StepBooks, StepView, account_and_book};
use crate::arith::{all_finite, any};
use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::events::{Events, ParkModifiers, apply_events};
use crate::flow::{AllocationContext, Strategy};
use crate::ledger::Ledger;
use crate::network::Topology;
use crate::quality::QualitySolver;
use crate::record::{Recorder, Summary, UnitOutputs, record_series};
use crate::series::Drivers;
use crate::state::{Clock, Energy, Factors, Flows, Quality, Species, Storage, UnitInputs};
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings, ScheduleLabel, SingleThreadedExecutor};

/// The phases of a step, chained in this order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Clock, drivers, events.
    Drivers,
    /// Units state what they need and offer.
    Demand,
    /// The coupling strategy solves the flows.
    Allocate,
    /// Species through the network.
    Solve,
    /// Energy, carbon, cost, ledger, summary accumulators and flow sums (one fused pass,
    /// `crate::accounting`).
    Account,
    /// Time series (when asked); commit storage.
    Record,
}

/// Label of the step schedule.
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
pub struct StepSchedule;

/// The species solver, as a resource.
#[derive(Resource, Default)]
pub struct Solver(pub QualitySolver);

/// The engine's systems, for the `Account` phase: they run after every unit system of that
/// phase (see [`Simulation::new`]).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EngineAccounting;

/// Start of a step: gathers the units' driver values of this step ([`Drivers::gather`]).
/// Nothing is cleared: the unit systems assign their entries of [`Energy`] and
/// [`UnitOutputs`] every step ([`crate::state::Booking`]).
fn begin_step(clock: Res<Clock>, mut drivers: ResMut<Drivers>) {
    drivers.gather(clock.step);
}

#[expect(
    clippy::too_many_arguments,
    reason = "a system reads the resources it needs"
)]
fn allocate(
    topo: Res<Topology>,
    inputs: Res<UnitInputs>,
    storage: Res<Storage>,
    quality: Res<Quality>,
    species: Res<Species>,
    clock: Res<Clock>,
    mut strategy: ResMut<Strategy>,
    mut flows: ResMut<Flows>,
    mut diag: ResMut<Diagnostics>,
) {
    let ctx = AllocationContext {
        topo: &topo,
        inputs: &inputs,
        storage: &storage,
        previous_quality: &quality,
        species: &species,
        clock: &clock,
    };
    strategy.0.allocate(&ctx, &mut flows, &mut diag);
    // Chokepoint: a non-finite flow is quarantined by skipping the step's movements.
    if !all_finite(&flows.link) || !all_finite(&flows.throughput) || !all_finite(&flows.port) {
        let u = (0..topo.n_units())
            .find(|&u| !flows.throughput[u].is_finite())
            .map(|u| topo.unit_id[u].clone());
        diag.push(DiagnosticKind::NonFinite, clock.step, u.as_deref(), || {
            "non-finite flow: nothing moves this step".to_string()
        });
        flows.link.fill(0.0);
        flows.throughput.fill(0.0);
        flows.port.fill(0.0);
        flows.spill.fill(0.0);
        flows.unmet.fill(0.0);
        flows.leak.fill(0.0);
    }
    let step = clock.step;
    // Most steps meet every demand and spill nothing: one branch-free scan each decides
    // whether the per-item loops that name the units are needed.
    if any(&flows.unmet, |x| x > 0.0) {
        unmet_diagnostics(&topo, &inputs, &flows, step, &mut diag);
    }
    if any(&flows.spill, |x| x > 0.0) {
        spill_diagnostics(&topo, &flows, step, &mut diag);
    }
}

/// Unmet-demand diagnostics, one per unit short of its target.
fn unmet_diagnostics(
    topo: &Topology,
    inputs: &UnitInputs,
    flows: &Flows,
    step: usize,
    diag: &mut Diagnostics,
) {
    for u in 0..topo.n_units() {
        if flows.unmet[u] > 0.0 {
            let (unmet, target) = (flows.unmet[u], inputs.target[u]);
            diag.push(
                DiagnosticKind::UnmetDemand,
                step,
                Some(&topo.unit_id[u]),
                || {
                    format!(
                        "{} got {:.3} of {:.3} m³/h",
                        topo.unit_id[u],
                        target - unmet,
                        target
                    )
                },
            );
        }
    }
}

/// Unroutable-water diagnostics, one per port that spilled more than round-off.
fn spill_diagnostics(topo: &Topology, flows: &Flows, step: usize, diag: &mut Diagnostics) {
    for p in 0..topo.n_ports() {
        let spill = flows.spill[p];
        if spill > 1e-9 * flows.port[p].max(1e-9) {
            let u = topo.port_unit[p] as usize;
            diag.push(
                DiagnosticKind::Unroutable,
                step,
                Some(&topo.unit_id[u]),
                || {
                    format!(
                        "{spill:.3} m³/h from {} had nowhere to go",
                        topo.port_label(p)
                    )
                },
            );
        }
    }
}

/// The tank ports the Solve phase watches for diagnostics, in unit and port order (the order
/// the diagnostics are pushed in): each tank's overflow ports (an `overflow` diagnostic when one
/// carries water) and its linked supply ports (a `dry_tank` diagnostic when the tank ends the
/// step at its minimum). Compiled once per topology, so a step visits the tanks' ports only
/// instead of every unit's; rebuilt when the unit or port count changes.
#[derive(Default)]
struct TankWatch {
    /// Units and ports it was built for.
    key: Option<[usize; 2]>,
    /// `(tank, port, is_overflow)`: an overflow port, or else a supply port with links.
    ports: Vec<(u32, u32, bool)>,
}

impl TankWatch {
    /// The list for `topo`, rebuilt if `topo`'s sizes differ from the ones it was built for.
    fn of(&mut self, topo: &Topology) -> &[(u32, u32, bool)] {
        let key = [topo.n_units(), topo.n_ports()];
        if self.key != Some(key) {
            self.key = Some(key);
            self.ports.clear();
            for u in 0..topo.n_units() {
                if topo.unit_flow[u] != crate::network::FlowKind::Tank {
                    continue;
                }
                for p in topo.ports_of(u) {
                    match topo.port_role[p] {
                        crate::network::PortRole::Overflow => {
                            self.ports.push((u as u32, p as u32, true));
                        }
                        crate::network::PortRole::Supply if !topo.links_of_port(p).is_empty() => {
                            self.ports.push((u as u32, p as u32, false));
                        }
                        _ => {}
                    }
                }
            }
        }
        &self.ports
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "a system reads the resources it needs"
)]
fn solve(
    topo: Res<Topology>,
    species: Res<Species>,
    inputs: Res<UnitInputs>,
    flows: Res<Flows>,
    clock: Res<Clock>,
    mut storage: ResMut<Storage>,
    mut quality: ResMut<Quality>,
    mut solver: ResMut<Solver>,
    mut diag: ResMut<Diagnostics>,
    mut tanks: Local<TankWatch>,
) {
    solver.0.solve(
        &topo,
        &species,
        &inputs,
        &flows,
        &mut storage,
        &mut quality,
        &clock,
        &mut diag,
    );
    // Tanks that spilled or ran dry.
    for &(u, p, overflow) in tanks.of(&topo) {
        let (u, p) = (u as usize, p as usize);
        if overflow {
            if flows.port[p] > 0.0 {
                let q = flows.port[p];
                diag.push(
                    DiagnosticKind::Overflow,
                    clock.step,
                    Some(&topo.unit_id[u]),
                    || format!("{} overflows {q:.3} m³/h", topo.unit_id[u]),
                );
            }
        } else if storage.volume_end[u] <= storage.minimum[u] + 1e-9 {
            diag.push(
                DiagnosticKind::DryTank,
                clock.step,
                Some(&topo.unit_id[u]),
                || format!("{} is drawn down to its minimum", topo.unit_id[u]),
            );
        }
    }
    // Inlet quality against what each unit accepts. Most steps have no excess anywhere: one
    // branch-free scan over every unit and species (an integer OR of the comparisons, which
    // vectorises) decides whether the loop that names them (and skips units without
    // throughput) is needed.
    let n = topo.n_units() * species.len();
    let (limits, inlets) = (&inputs.accept_limit[..n], &quality.inlet[..n]);
    let mut excess = 0u64;
    for (&limit, &c) in limits.iter().zip(inlets) {
        excess |= u64::from(c > limit * (1.0 + 1e-6));
    }
    if excess != 0 {
        inlet_diagnostics(
            &topo, &species, &inputs, &flows, &quality, clock.step, &mut diag,
        );
    }
}

/// Inlet-quality diagnostics, one per unit and species above what the unit accepts.
fn inlet_diagnostics(
    topo: &Topology,
    species: &Species,
    inputs: &UnitInputs,
    flows: &Flows,
    quality: &Quality,
    step: usize,
    diag: &mut Diagnostics,
) {
    let ns = species.len();
    for u in 0..topo.n_units() {
        if flows.throughput[u] <= 0.0 {
            continue;
        }
        for s in 0..ns {
            let limit = inputs.accept_limit[u * ns + s];
            let c = quality.inlet[u * ns + s];
            if c > limit * (1.0 + 1e-6) {
                diag.push(
                    DiagnosticKind::InletQuality,
                    step,
                    Some(&topo.unit_id[u]),
                    || {
                        format!(
                            "{} inlet {} {c:.1} mg/L above its limit {limit:.1}",
                            topo.unit_id[u], species.names[s]
                        )
                    },
                );
            }
        }
    }
}

/// The engine's accounting: pumping, carbon and cost, repeated use, the ledger and the flow
/// sums, in one fused pass ([`crate::accounting`]). The flow sums are booked here rather than
/// in the Record phase: the Account phase's unit systems do not change flows or quality.
#[expect(
    clippy::too_many_arguments,
    reason = "a system reads the resources it needs"
)]
fn account(
    park: Res<ParkModifiers>,
    topo: Res<Topology>,
    flows: Res<Flows>,
    factors: Res<Factors>,
    outputs: Res<UnitOutputs>,
    clock: Res<Clock>,
    mut energy: ResMut<Energy>,
    mut summary: ResMut<Summary>,
    mut ledger: ResMut<Ledger>,
    species: Res<Species>,
    inputs: Res<UnitInputs>,
    quality: Res<Quality>,
    storage: Res<Storage>,
    mut diag: ResMut<Diagnostics>,
    mut recorder: ResMut<Recorder>,
    mut cache: Local<AccountCache>,
) {
    let view = StepView {
        topo: &topo,
        species: &species,
        inputs: &inputs,
        flows: &flows,
        quality: &quality,
        storage: &storage,
        clock: &clock,
        factors: &factors,
        park: &park,
        outputs: &outputs,
    };
    let mut books = StepBooks {
        energy: &mut energy,
        summary: &mut summary,
        ledger: &mut ledger,
        sums: &mut recorder.sums,
        diag: &mut diag,
        cache: &mut cache,
    };
    account_and_book(&view, &mut books);
}

/// Record phase: the step's time series (when recording) and the storage commit.
fn record(
    topo: Res<Topology>,
    species: Res<Species>,
    flows: Res<Flows>,
    quality: Res<Quality>,
    mut storage: ResMut<Storage>,
    mut recorder: ResMut<Recorder>,
    mut mixed: Local<MixedUnits>,
) {
    record_series(&mut recorder, &topo, &species, &flows, &quality, &storage);
    commit_storage(&topo, species.len(), &mut storage, &mut mixed);
}

/// The mixed volumes (tanks, cooling-tower basins) of a topology, compiled once: rebuilt when
/// the unit count differs from the one they were built for (one topology per World).
#[derive(Default)]
struct MixedUnits {
    /// Unit count the list was built for.
    n_units: usize,
    /// Units whose quality kind is `Mixed`, in unit order.
    list: Vec<u32>,
}

/// Commit: the end of this step is the start of the next (`V0 ← V1`, `C0 ← C1`), for the mixed
/// volumes only. They are the only units whose `volume_end` and `conc_end` change after the
/// build (the species solve writes them for every mixed unit every step); other units' entries
/// are set once at build, start and end equal, so after this the whole start arrays equal the
/// end arrays, as when they were copied whole (callgrind counted that copy once per byte:
/// 11.8 M instructions over 720 steps of the 499-unit park).
fn commit_storage(topo: &Topology, ns: usize, storage: &mut Storage, mixed: &mut MixedUnits) {
    let nu = topo.n_units();
    if mixed.n_units != nu {
        mixed.list = (0..nu)
            .filter(|&u| topo.unit_quality[u] == crate::network::QualityKind::Mixed)
            .map(|u| u as u32)
            .collect();
        mixed.n_units = nu;
    }
    let s = storage;
    for &u in &mixed.list {
        let u = u as usize;
        s.volume[u] = s.volume_end[u];
        let (start, end) = (u * ns, (u + 1) * ns);
        s.conc[start..end].copy_from_slice(&s.conc_end[start..end]);
    }
}

/// A built scenario, ready to step.
pub struct Simulation {
    /// The scenario's World: resources of [`crate::state`] and one entity per unit.
    pub world: World,
    schedule: Schedule,
}

/// Error building a simulation's schedule.
#[derive(Debug, thiserror::Error)]
#[error("schedule could not be built: {0}")]
pub struct ScheduleError(pub String);

impl Simulation {
    /// Wraps a `world` that already holds a [`Topology`], [`Species`], [`Clock`], [`Factors`],
    /// a [`Strategy`] and the unit entities, adds the engine's state resources if absent, and
    /// builds the schedule. `add_unit_systems` adds the unit types' systems to
    /// [`Phase::Demand`] and [`Phase::Account`] (chained within each phase).
    pub fn new(
        mut world: World,
        add_unit_systems: impl FnOnce(&mut Schedule),
    ) -> Result<Self, ScheduleError> {
        let topo = world
            .get_resource::<Topology>()
            .ok_or_else(|| ScheduleError("world has no Topology".into()))?
            .clone();
        let species = world
            .get_resource::<Species>()
            .ok_or_else(|| ScheduleError("world has no Species".into()))?;
        let (ns, conserved) = (species.len(), species.conserved);
        if !world.contains_resource::<UnitInputs>() {
            world.insert_resource(UnitInputs::new(&topo, ns));
        }
        if !world.contains_resource::<Storage>() {
            world.insert_resource(Storage::new(&topo, ns));
        }
        world.insert_resource(Flows::new(&topo));
        if !world.contains_resource::<Quality>() {
            world.insert_resource(Quality::new(&topo, ns));
        }
        world.insert_resource(Energy::new(&topo));
        world.insert_resource(UnitOutputs::new(&topo));
        world.insert_resource(Diagnostics::default());
        world.insert_resource(Ledger::new(&topo, conserved));
        world.insert_resource(Summary::new(&topo));
        world.init_resource::<Recorder>();
        world.init_resource::<Events>();
        world.init_resource::<ParkModifiers>();
        world.init_resource::<Solver>();
        if !world.contains_resource::<Drivers>() {
            world.insert_resource(Drivers::new(topo.n_units()));
        }

        let mut schedule = Schedule::new(StepSchedule);
        schedule.set_executor(SingleThreadedExecutor::new());
        schedule.set_build_settings(ScheduleBuildSettings {
            ambiguity_detection: LogLevel::Error,
            ..Default::default()
        });
        schedule.configure_sets(
            (
                Phase::Drivers,
                Phase::Demand,
                Phase::Allocate,
                Phase::Solve,
                Phase::Account,
                Phase::Record,
            )
                .chain(),
        );
        schedule.configure_sets(EngineAccounting.in_set(Phase::Account));
        schedule.add_systems((begin_step, apply_events).chain().in_set(Phase::Drivers));
        schedule.add_systems(allocate.in_set(Phase::Allocate));
        schedule.add_systems(solve.in_set(Phase::Solve));
        schedule.add_systems(account.in_set(EngineAccounting));
        schedule.add_systems(record.in_set(Phase::Record));
        add_unit_systems(&mut schedule);
        schedule
            .initialize(&mut world)
            .map_err(|e| ScheduleError(e.to_string(schedule.graph(), &world)))?;
        let start: f64 = (0..topo.n_units())
            .filter(|&u| topo.unit_quality[u] == crate::network::QualityKind::Mixed)
            .map(|u| world.resource::<Storage>().volume[u])
            .sum();
        world.resource_mut::<Summary>().storage_start_m3 = start;
        Ok(Self { world, schedule })
    }

    /// Computes one step (the clock's current step), advances the clock and brings the
    /// [`Summary`] up to date ([`Simulation::sync_summary`]), so every resource holds the
    /// totals of the steps so far.
    pub fn step(&mut self) {
        self.advance();
        self.sync_summary();
    }

    /// Computes one step and advances the clock, leaving the [`Summary`]'s unit and link totals
    /// and its park carbon and cost of chemicals, other, water and capital as they were at the
    /// last [`Simulation::sync_summary`] (the accounting keeps them column-wise while
    /// stepping, `Summary::sync`). For loops that read the summary only at the end
    /// ([`Simulation::run`], a run without observers): [`Simulation::finish`] syncs it.
    pub fn advance(&mut self) {
        self.schedule.run(&mut self.world);
        self.world.resource_mut::<Clock>().step += 1;
    }

    /// Writes the accounting's run sums into the [`Summary`] (`Summary::sync`) and the units'
    /// horizon inflow and outflow into the [`Ledger`] (`Ledger::sync`): their
    /// totals are then those of the steps computed so far. The result does not depend on how
    /// often this runs.
    pub fn sync_summary(&mut self) {
        self.world
            .resource_scope(|world, mut summary: Mut<Summary>| {
                let topo = world.resource::<Topology>();
                let sums = &world.resource::<Recorder>().sums;
                summary.sync(topo, sums, world.resource::<Clock>().dt_h);
            });
        self.world.resource_scope(|world, mut ledger: Mut<Ledger>| {
            let topo = world.resource::<Topology>();
            let sums = &world.resource::<Recorder>().sums;
            let dt = world.resource::<Clock>().dt_h;
            ledger.sync(topo, world.resource::<Summary>(), sums, dt);
        });
    }

    /// Runs to the end of the horizon.
    pub fn run(&mut self) {
        let steps = self.world.resource::<Clock>().steps;
        while self.world.resource::<Clock>().step < steps {
            self.advance();
        }
        self.finish();
    }

    /// Books end-of-run figures (the summary's totals, [`Simulation::sync_summary`], and
    /// storage at the end).
    pub fn finish(&mut self) {
        self.sync_summary();
        let topo = self.world.resource::<Topology>().clone();
        let end: f64 = (0..topo.n_units())
            .filter(|&u| topo.unit_quality[u] == crate::network::QualityKind::Mixed)
            .map(|u| self.world.resource::<Storage>().volume[u])
            .sum();
        self.world.resource_mut::<Summary>().storage_end_m3 = end;
    }

    /// A resource of the World.
    pub fn resource<R: Resource>(&self) -> &R {
        self.world.resource::<R>()
    }
}
