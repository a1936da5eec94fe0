//! The flat-array reference kernel of `benches/` reproduces the ECS engine bit for bit, and the
//! ledger it shares with the engine catches a broken water or species balance.

#[path = "../benches/kernel.rs"]
#[expect(
    dead_code,
    reason = "the benchmark fixture's accessors are used by the bench"
)]
mod reference;

use parktwin::engine::diagnostics::{DiagnosticKind, Diagnostics};
use parktwin::engine::flow::{AllocationContext, CouplingStrategy};
use parktwin::engine::ledger::{Ledger, book_step};
use parktwin::engine::network::Topology;
use parktwin::engine::priority::Priority;
use parktwin::engine::quality::QualitySolver;
use parktwin::engine::state::{Clock, Flows, Quality, Species, Storage, UnitInputs};
use parktwin::parks::build::{BuildOptions, build};
use parktwin::parks::generate::{GenerateOptions, generate, to_ron};
use parktwin::parks::load::{from_path, from_str};
use parktwin::parks::validate::{ValidPark, validate};
use std::path::Path;

fn bundled(name: &str) -> ValidPark {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    validate(&from_path(&path).expect("bundled park loads")).expect("bundled park is valid")
}

fn generated(enterprises: usize, steps: usize) -> ValidPark {
    let text = to_ron(&generate(&GenerateOptions {
        enterprises,
        seed: 3,
        steps,
    }));
    validate(&from_str(&text, Path::new("generated.ron")).expect("parses")).expect("valid")
}

/// `Kernel::capture` asserts bit-identical flows, concentrations, storage and violation counts
/// between the ECS run and the kernel's replay; this runs it on three different parks.
#[test]
fn kernel_reproduces_the_ecs_engine() {
    for (park, steps) in [
        (bundled("demo_park.ron"), 400),
        (bundled("coastal_park.ron"), 400),
        (generated(12, 200), 200),
    ] {
        let kernel = reference::Kernel::capture(&park, steps);
        let end = kernel.run();
        assert_eq!(end.ledger.violations, 0, "the replay closes every balance");
        assert!(end.ledger.max_relative_residual() <= 1e-12);
    }
}

/// One step of the demo park done by hand, with `tamper` applied between the species solve and
/// the ledger; returns the ledger and diagnostics.
fn step_with(tamper: impl Fn(&Topology, &mut Flows, &mut Quality)) -> (Ledger, Diagnostics) {
    let park = bundled("demo_park.ron");
    let mut built = build(park, BuildOptions::default()).expect("builds");
    let w = &built.sim.world;
    let (topo, species) = (
        w.resource::<Topology>().clone(),
        w.resource::<Species>().clone(),
    );
    let mut storage = w.resource::<Storage>().clone();
    let mut quality = w.resource::<Quality>().clone();
    let mut clock = w.resource::<Clock>().clone();
    built.sim.step();
    let inputs = built.sim.resource::<UnitInputs>().clone();
    clock.step = 0;
    let mut flows = Flows::new(&topo);
    let mut diag = Diagnostics::default();
    let ctx = AllocationContext {
        topo: &topo,
        inputs: &inputs,
        storage: &storage,
        previous_quality: &quality,
        species: &species,
        clock: &clock,
    };
    Priority::new().allocate(&ctx, &mut flows, &mut diag);
    QualitySolver::new().solve(
        &topo,
        &species,
        &inputs,
        &flows,
        &mut storage,
        &mut quality,
        &clock,
        &mut diag,
    );
    tamper(&topo, &mut flows, &mut quality);
    let mut ledger = Ledger::new(&topo, species.conserved);
    book_step(
        &mut ledger,
        &topo,
        &species,
        &inputs,
        &flows,
        &quality,
        &storage,
        &clock,
        &mut diag,
    );
    (ledger, diag)
}

/// A link that carries water.
fn busy_link(topo: &Topology, flows: &Flows) -> usize {
    (0..topo.n_links())
        .find(|&l| flows.link[l] > 1.0)
        .expect("the demo park moves water")
}

#[test]
fn ledger_passes_an_untouched_step() {
    let (ledger, diag) = step_with(|_, _, _| {});
    assert_eq!(ledger.violations, 0);
    assert_eq!(diag.count(DiagnosticKind::ClosureViolation), 0);
}

/// 1 m³/h created on one link (0.1 % or more of the demo park's link flows, far above the
/// 1e-9 relative tolerance) breaks the water balance of both ends of the link but not the park's
/// (internal links cancel there).
#[test]
fn ledger_flags_water_created_on_a_link() {
    let (ledger, diag) = step_with(|topo, flows, _| {
        let l = busy_link(topo, flows);
        flows.link[l] += 1.0;
    });
    assert!(ledger.violations >= 2, "{}", ledger.violations);
    assert!(diag.count(DiagnosticKind::ClosureViolation) >= 2);
    assert!(ledger.worst_water.relative > 1e-6);
    assert!(ledger.worst_water.absolute.abs() > 0.5);
}

/// Raising one port's TDS by 1 % breaks the TDS balance of the unit it leaves, and only TDS.
#[test]
fn ledger_flags_salt_created_at_a_port() {
    let (ledger, _) = step_with(|topo, flows, quality| {
        let ns = quality.port.len() / topo.n_ports(); // species 0 is TDS
        let l = (0..topo.n_links())
            .find(|&l| {
                let p = topo.link_from_port[l] as usize;
                flows.link[l] > 1.0 && quality.port[p * ns] > 10.0
            })
            .expect("a salty stream");
        let p = topo.link_from_port[l] as usize;
        quality.port[p * ns] *= 1.01;
    });
    assert!(ledger.violations >= 1);
    assert!(ledger.worst_species[0].relative > 1e-4, "TDS flagged");
    assert!(ledger.worst_water.relative <= 1e-12, "water untouched");
}
