//! The flat-array reference kernel: the step's water and species balance computed with plain
//! structs in a plain loop, no ECS (no `World`, no `Schedule`, no systems, no unit models).
//!
//! It answers one question: what does the ECS layer cost? Both sides do the same arithmetic for
//! the balance — the priority allocation ([`Priority`]), the exact species solve
//! ([`QualitySolver`]), the ledger's closure check of every unit and species ([`book_step`]) and
//! the always-on flow sums ([`record_step`] without series) — on the same flat arrays. The kernel
//! replays the units' step inputs ([`UnitInputs`]: targets, shares, transfer coefficients,
//! availabilities, events) captured from an ECS run, so it skips what only the ECS engine does:
//! scheduling, the unit models' Demand and Account systems (drivers, weather, energy, carbon,
//! cost), the diagnostics scans and the commit. The ratio ECS / kernel is therefore an upper
//! bound on the ECS layer's overhead: everything beyond the bare balance counts against the ECS.
//!
//! [`Kernel::capture`] checks that the replay reproduces the ECS run's flows, concentrations and
//! storage bit for bit, so the two sides provably compute the same balance.

use parktwin::engine::diagnostics::Diagnostics;
use parktwin::engine::flow::{AllocationContext, CouplingStrategy};
use parktwin::engine::ledger::{Ledger, book_step};
use parktwin::engine::network::Topology;
use parktwin::engine::priority::Priority;
use parktwin::engine::quality::QualitySolver;
use parktwin::engine::record::{Recorder, record_step};
use parktwin::engine::state::{Clock, Flows, Quality, Species, Storage, UnitInputs};
use parktwin::parks::build::{BuildOptions, build};
use parktwin::parks::validate::ValidPark;

/// A park's balance as plain data, with the captured inputs of `steps` steps.
pub struct Kernel {
    topo: Topology,
    species: Species,
    clock: Clock,
    inputs: Vec<UnitInputs>,
    storage0: Storage,
    quality0: Quality,
}

/// The state a kernel run ends in.
pub struct KernelState {
    /// Flows of the last step.
    pub flows: Flows,
    /// Concentrations of the last step.
    pub quality: Quality,
    /// Storage after the last step.
    pub storage: Storage,
    /// Ledger over the run.
    pub ledger: Ledger,
    /// Flow sums over the run.
    pub recorder: Recorder,
}

impl Kernel {
    /// Builds `park`, runs its first `steps` steps in the ECS engine while capturing each step's
    /// unit inputs, and checks that replaying them in the kernel gives bit-identical flows,
    /// concentrations and storage. Panics (this is a benchmark fixture) if they differ.
    pub fn capture(park: &ValidPark, steps: usize) -> Self {
        let mut built = build(park.clone(), BuildOptions::default()).expect("park builds");
        let world = &built.sim.world;
        let topo = world.resource::<Topology>().clone();
        let species = world.resource::<Species>().clone();
        let mut clock = world.resource::<Clock>().clone();
        let storage0 = world.resource::<Storage>().clone();
        let quality0 = world.resource::<Quality>().clone();
        let mut inputs = Vec::with_capacity(steps);
        for _ in 0..steps {
            built.sim.step();
            inputs.push(built.sim.resource::<UnitInputs>().clone());
        }
        clock.step = 0;
        let kernel = Self {
            topo,
            species,
            clock,
            inputs,
            storage0,
            quality0,
        };
        let end = kernel.run();
        let ecs_flows = built.sim.resource::<Flows>();
        let ecs_quality = built.sim.resource::<Quality>();
        let ecs_storage = built.sim.resource::<Storage>();
        assert_eq!(end.flows.link, ecs_flows.link, "kernel link flows");
        assert_eq!(
            end.flows.throughput, ecs_flows.throughput,
            "kernel throughputs"
        );
        assert_eq!(end.quality.port, ecs_quality.port, "kernel concentrations");
        assert_eq!(end.storage.volume, ecs_storage.volume, "kernel storage");
        assert_eq!(
            end.storage.conc, ecs_storage.conc,
            "kernel stored concentrations"
        );
        assert_eq!(
            end.recorder.sums,
            built.sim.resource::<Recorder>().sums,
            "kernel flow sums"
        );
        assert_eq!(
            end.ledger.violations,
            built.sim.resource::<Ledger>().violations,
            "kernel ledger violations"
        );
        kernel
    }

    /// Number of units.
    pub fn units(&self) -> usize {
        self.topo.n_units()
    }

    /// Runs the captured steps: allocate, solve, ledger, flow sums, commit.
    pub fn run(&self) -> KernelState {
        let topo = &self.topo;
        let species = &self.species;
        let mut clock = self.clock.clone();
        let mut storage = self.storage0.clone();
        let mut quality = self.quality0.clone();
        let mut flows = Flows::new(topo);
        let mut priority = Priority::new();
        let mut solver = QualitySolver::new();
        let mut ledger = Ledger::new(topo, species.conserved);
        let mut recorder = Recorder::default();
        let mut diag = Diagnostics::default();
        for inputs in &self.inputs {
            let ctx = AllocationContext {
                topo,
                inputs,
                storage: &storage,
                previous_quality: &quality,
                species,
                clock: &clock,
            };
            priority.allocate(&ctx, &mut flows, &mut diag);
            solver.solve(
                topo,
                species,
                inputs,
                &flows,
                &mut storage,
                &mut quality,
                &clock,
                &mut diag,
            );
            book_step(
                &mut ledger,
                topo,
                species,
                inputs,
                &flows,
                &quality,
                &storage,
                &clock,
                &mut diag,
            );
            record_step(&mut recorder, topo, species, &flows, &quality, &storage);
            storage.volume.copy_from_slice(&storage.volume_end);
            storage.conc.copy_from_slice(&storage.conc_end);
            clock.step += 1;
        }
        KernelState {
            flows,
            quality,
            storage,
            ledger,
            recorder,
        }
    }
}
