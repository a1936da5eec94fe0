//! Criterion benchmarks of the engine: one scenario-year (8,760 hourly steps) of synthetic parks
//! from `parktwin generate` at about 10, 100 and 500 units, with the default (priority) strategy.
//! World construction is in the setup, outside the timed part. Throughput is reported in
//! unit-steps (units × steps).
//!
//! `ecs_vs_kernel` times the same 720 steps (30 days) of the 499-unit park in the ECS engine and
//! in the flat-array reference kernel of [`kernel`] (no ECS); BENCHMARKS.md reports the ratio.

mod kernel;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use parktwin::parks::build::{BuildOptions, build};
use parktwin::parks::generate::{GenerateOptions, generate, to_ron};
use parktwin::parks::load::from_str;
use parktwin::parks::validate::{ValidPark, validate};
use std::path::Path;

fn park(enterprises: usize) -> ValidPark {
    let text = to_ron(&generate(&GenerateOptions {
        enterprises,
        seed: 1,
        steps: 8760,
    }));
    let file = from_str(&text, Path::new("generated.ron")).expect("generated park parses");
    validate(&file).expect("generated park is valid")
}

fn scenario_year(c: &mut Criterion) {
    let mut group = c.benchmark_group("scenario_year");
    group.sample_size(10);
    for enterprises in [1usize, 12, 60] {
        let valid = park(enterprises);
        let units = valid.topology.n_units();
        group.throughput(Throughput::Elements((units * 8760) as u64));
        group.bench_function(format!("{units}_units"), |b| {
            b.iter_batched(
                || build(valid.clone(), BuildOptions::default()).expect("builds"),
                |mut built| {
                    built.sim.run();
                    built
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// The ECS engine against the flat-array reference kernel on the same steps of the same park.
fn ecs_vs_kernel(c: &mut Criterion) {
    const STEPS: usize = 720;
    let valid = park(60);
    let kernel = kernel::Kernel::capture(&valid, STEPS);
    let units = kernel.units();
    let mut group = c.benchmark_group("ecs_vs_kernel");
    group.sample_size(10);
    group.throughput(Throughput::Elements((units * STEPS) as u64));
    group.bench_function(format!("ecs_{units}_units_{STEPS}_steps"), |b| {
        b.iter_batched(
            || build(valid.clone(), BuildOptions::default()).expect("builds"),
            |mut built| {
                for _ in 0..STEPS {
                    built.sim.advance();
                }
                built.sim.finish();
                built
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function(format!("kernel_{units}_units_{STEPS}_steps"), |b| {
        b.iter(|| kernel.run())
    });
    group.finish();
}

criterion_group!(benches, scenario_year, ecs_vs_kernel);
criterion_main!(benches);
