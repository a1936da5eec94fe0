//! Helpers shared by the integration tests.

use parktwin::engine::diagnostics::Diagnostics;
use parktwin::engine::flow::{AllocationContext, CouplingStrategy};
use parktwin::engine::network::Topology;
use parktwin::engine::priority::Priority;
use parktwin::engine::sim::Simulation;
use parktwin::engine::state::{Clock, Flows, Quality, Species, Storage, UnitInputs};
use parktwin::parks::build::{BuildOptions, BuiltPark, build};
use parktwin::parks::generate::{GenerateOptions, generate, to_ron};
use parktwin::parks::load::{LoadError, from_path, from_str};
use parktwin::parks::strategies::make;
use parktwin::parks::summary::{RunSummary, summarize};
use parktwin::parks::validate::{ValidPark, validate};
use std::path::{Path, PathBuf};

/// A path in the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A park file (or a scenario's base case), validated, with its horizon cut to `steps` when
/// given.
pub fn valid(path: &str, steps: Option<usize>) -> ValidPark {
    let p = repo(path);
    let text = std::fs::read_to_string(&p).expect("readable");
    let mut file = if parktwin::parks::scenario::is_scenario(&text) {
        let sc = parktwin::parks::scenario::load(&p).expect("scenario loads");
        sc.case_file(&sc.cases[0]).expect("case file")
    } else {
        from_path(&p).expect("park loads")
    };
    if let Some(n) = steps {
        file.park.time.steps = n;
    }
    validate(&file).expect("park is valid")
}

/// Runs a validated park to the end under `strategy` and summarises it.
pub fn run_with(valid: ValidPark, strategy: Box<dyn CouplingStrategy>) -> RunSummary {
    let mut built = build(
        valid,
        BuildOptions {
            strategy: Some(strategy),
            ..Default::default()
        },
    )
    .expect("schedule builds");
    built.sim.run();
    summarize(&built.sim, &built.meta)
}

/// Runs a validated park under the strategy named `strategy` (with the park's own settings).
pub fn run(valid: ValidPark, strategy: &str) -> RunSummary {
    let s = make(strategy, &valid).expect("known strategy");
    run_with(valid, s)
}

/// Runs a one-case scenario that selects `strategy` for the park at `park` (a repository path)
/// by overriding `strategy.name`; returns its summary and the horizon in hours.
pub fn run_strategy_override(park: &str, strategy: &str) -> (RunSummary, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("s.ron");
    std::fs::write(
        &path,
        format!(
            "Scenario(name: \"s\", park: {:?}, overrides: {{\"strategy.name\": \"{strategy}\"}})",
            repo(park).display().to_string()
        ),
    )
    .expect("written");
    let sc = parktwin::parks::scenario::load(&path).expect("scenario loads");
    let v = validate(&sc.case_file(&sc.cases[0]).expect("case")).expect("valid");
    let hours = v.meta.steps as f64 * v.meta.dt_h;
    let mut built = build(v, BuildOptions::default()).expect("builds");
    built.sim.run();
    (summarize(&built.sim, &built.meta), hours)
}

/// Volume a unit took in (a source: withdrew) over the run, m³.
pub fn withdrawn(summary: &RunSummary, id: &str) -> f64 {
    summary
        .units
        .iter()
        .find(|u| u.id == id)
        .map(|u| u.throughput_m3)
        .expect("unit exists")
}

/// Loads, validates and builds park text (named `test.ron` in messages).
pub fn build_text(text: &str, record: bool) -> Result<BuiltPark, LoadError> {
    let file = from_str(text, Path::new("test.ron"))?;
    let valid = validate(&file)?;
    Ok(build(
        valid,
        BuildOptions {
            record_series: record,
            ..Default::default()
        },
    )
    .expect("schedule builds"))
}

/// Builds and runs park text to the end; panics with the error if it is invalid.
pub fn run_text(text: &str, record: bool) -> (Simulation, RunSummary) {
    let mut built = match build_text(text, record) {
        Ok(b) => b,
        Err(e) => panic!("park should be valid: {e}"),
    };
    built.sim.run();
    let summary = summarize(&built.sim, &built.meta);
    (built.sim, summary)
}

/// The error message of invalid park text.
pub fn error_of(text: &str) -> String {
    match build_text(text, false) {
        Ok(_) => panic!("park should be invalid"),
        Err(e) => e.to_string(),
    }
}

/// Six units, a recycle through a tank, a week of hourly steps: the park the sweep, kill-and-resume
/// and Slurm tests run their cases on.
pub const SWEEP_PARK: &str = r#"Park(
    name: "crash park",
    time: (steps: 168),
    species: ["tds"],
    units: [
        Source(id: "city", kind: Municipal, quality_mg_per_l: {"tds": 400.0}, cap_m3_per_h: 500.0, price_yuan_per_m3: 4.0),
        Process(id: "p", production_per_h: Const(20.0), water_m3_per_unit: 5.0, consumptive_fraction: 0.1, adds_kg_per_m3: {"tds": 0.5}),
        CoolingTower(id: "ct", heat_load_mw: Const(30.0), range_c: 8.0, cycles: 4.0, holding_volume_m3: 600.0, initial_mg_per_l: {"tds": 1600.0}),
        Treatment(id: "ro", recovery: 0.75, removal_to_reject: {"tds": 0.95}, kwh_per_m3: 1.2),
        Tank(id: "reuse", capacity_m3: 400.0, initial_m3: 200.0, initial_mg_per_l: {"tds": 100.0}),
        Discharge(id: "out"),
    ],
    links: [
        (from: "city", to: "p", priority: 10, head_m: 30.0),
        (from: "city", to: "ct", priority: 10, head_m: 30.0),
        (from: "reuse.out", to: "ct", priority: 0),
        (from: "p.waste", to: "ro"),
        (from: "ct.blowdown", to: "out"),
        (from: "ro.product", to: "reuse"),
        (from: "ro.reject", to: "out"),
        (from: "reuse.overflow", to: "out"),
    ],
)"#;

/// The parktwin binary built for these tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_parktwin")
}

/// A bundled park under `scenarios/`, validated.
pub fn bundled(name: &str) -> ValidPark {
    validate(&from_path(&repo("scenarios").join(name)).expect("bundled park loads"))
        .expect("bundled park is valid")
}

/// A generated park (`parktwin generate`: recycle loops, tanks, cooling towers, three species
/// and a tracer) of `enterprises` enterprises from `seed`, 48 steps long.
pub fn generated(enterprises: usize, seed: u64) -> ValidPark {
    let text = to_ron(&generate(&GenerateOptions {
        enterprises,
        seed,
        steps: 48,
    }));
    validate(&from_str(&text, Path::new("generated.ron")).expect("parses")).expect("valid")
}

/// One park's state at the start of a step, with the unit inputs of that step (the ECS run
/// advanced `steps` steps first, so tanks and basins hold water of their own).
pub struct Frame {
    /// The park's network.
    pub topo: Topology,
    /// Declared species and tracers.
    pub species: Species,
    /// The unit inputs of step `steps`.
    pub inputs: UnitInputs,
    /// Storage at the start of step `steps`.
    pub storage: Storage,
    /// Concentrations at the start of step `steps`.
    pub quality: Quality,
    /// The clock of step `steps`.
    pub clock: Clock,
}

/// A generated park of `enterprises` enterprises over `steps` hours (seed 5), with a 5 m³/h leak
/// on its fourth link from hour 10 to hour 40 (so the leak terms of every pass are exercised).
pub fn generated_with_leak(enterprises: usize, steps: usize) -> ValidPark {
    let mut park = generate(&GenerateOptions {
        enterprises,
        seed: 5,
        steps,
    });
    let l = &park.links[3];
    let link =
        l.id.clone()
            .unwrap_or_else(|| format!("{}->{}", l.from, l.to));
    park.events.push(parktwin::parks::schema::EventSpec::Leak {
        link,
        m3_per_h: 5.0,
        from_h: 10.0,
        to_h: 40.0,
    });
    validate(&from_str(&to_ron(&park), Path::new("generated.ron")).expect("parses")).expect("valid")
}

/// The [`Frame`] of `park` after `steps` steps of its ECS run.
pub fn frame(park: ValidPark, steps: usize) -> Frame {
    let mut built = build(park, BuildOptions::default()).expect("builds");
    for _ in 0..steps {
        built.sim.step();
    }
    let w = &built.sim.world;
    let (topo, species) = (
        w.resource::<Topology>().clone(),
        w.resource::<Species>().clone(),
    );
    let storage = w.resource::<Storage>().clone();
    let quality = w.resource::<Quality>().clone();
    let mut clock = w.resource::<Clock>().clone();
    built.sim.step();
    let inputs = built.sim.resource::<UnitInputs>().clone();
    clock.step = steps;
    Frame {
        topo,
        species,
        inputs,
        storage,
        quality,
        clock,
    }
}

impl Frame {
    /// The allocation context of the frame's step, with the unit inputs `inputs`.
    pub fn context<'a>(&'a self, inputs: &'a UnitInputs) -> AllocationContext<'a> {
        AllocationContext {
            topo: &self.topo,
            inputs,
            storage: &self.storage,
            previous_quality: &self.quality,
            species: &self.species,
            clock: &self.clock,
        }
    }
}

/// The values of `parts`, in order, as bits (for bit-for-bit comparisons).
pub fn bits<'a>(parts: impl IntoIterator<Item = &'a Vec<f64>>) -> Vec<u64> {
    parts
        .into_iter()
        .flat_map(|v| v.iter().map(|x| x.to_bits()))
        .collect()
}

/// All six arrays of `flows` as bits.
pub fn flow_bits(flows: &Flows) -> Vec<u64> {
    bits([
        &flows.link,
        &flows.throughput,
        &flows.unmet,
        &flows.port,
        &flows.spill,
        &flows.leak,
    ])
}

/// Frames of five parks for the cascade's tests: tanks (demo, coastal, horizon_tank), a flow
/// loop (Polley & Polley 2000), and a small generated park.
pub fn cascade_frames() -> [(&'static str, Frame); 5] {
    [
        ("demo_park", frame(bundled("demo_park.ron"), 30)),
        ("coastal_park", frame(bundled("coastal_park.ron"), 30)),
        ("horizon_tank", frame(bundled("horizon_tank.ron"), 20)),
        (
            "polley_polley_2000",
            frame(bundled("literature/polley_polley_2000.ron"), 5),
        ),
        ("generated(8, 7)", frame(generated(8, 7), 20)),
    ]
}

/// One cascade step of `f` with `inputs` into `flows` (diagnostics dropped).
pub fn allocate(f: &Frame, inputs: &UnitInputs, cascade: &mut Priority, flows: &mut Flows) {
    cascade.allocate(&f.context(inputs), flows, &mut Diagnostics::default());
}

/// `Flows` with every entry NaN: any entry the cascade read before writing, or left unwritten,
/// would carry the NaN into the result.
pub fn poisoned(topo: &Topology) -> Flows {
    let mut flows = Flows::new(topo);
    for v in [
        &mut flows.link,
        &mut flows.throughput,
        &mut flows.unmet,
        &mut flows.port,
        &mut flows.spill,
        &mut flows.leak,
    ] {
        v.iter_mut().for_each(|x| *x = f64::NAN);
    }
    flows
}

/// Numbers of two JSON documents agree to `rel`: every string, boolean and shape is equal, and
/// every number `b` is within `rel · max(|a|, |b|, s)` of its counterpart `a`, where `s` is the
/// largest magnitude among the numbers of the object or array that holds it (on both sides).
/// The sibling scale lets a total that is a small difference of large terms (a tank's storage
/// change, a residual) move by the rounding of those terms, and no more. Closure statistics
/// (objects with a `relative` residual, such as the ledger's `worst_*`) are rounding noise by
/// construction: both sides must be at most `1e-9` (the ledger's tolerance), and where they sit
/// (`item`, `step`, `absolute`) is not compared. Returns the first disagreements, empty when
/// the documents agree.
pub fn json_differences(a: &serde_json::Value, b: &serde_json::Value, rel: f64) -> Vec<String> {
    let mut out = Vec::new();
    json_walk(a, b, rel, 0.0, "", &mut out);
    out
}

/// Panics with the first disagreements of [`json_differences`].
pub fn assert_json_close(a: &serde_json::Value, b: &serde_json::Value, rel: f64, what: &str) {
    let d = json_differences(a, b, rel);
    assert!(
        d.is_empty(),
        "{what}: {} disagreements:\n{}",
        d.len(),
        d.join("\n")
    );
}

/// The largest magnitude among a JSON value's direct numeric children.
fn sibling_scale(v: &serde_json::Value) -> f64 {
    let nums: Box<dyn Iterator<Item = &serde_json::Value>> = match v {
        serde_json::Value::Object(m) => Box::new(m.values()),
        serde_json::Value::Array(a) => Box::new(a.iter()),
        _ => Box::new(std::iter::empty()),
    };
    nums.filter_map(|x| x.as_f64())
        .map(f64::abs)
        .fold(0.0, f64::max)
}

fn json_walk(
    a: &serde_json::Value,
    b: &serde_json::Value,
    rel: f64,
    scale: f64,
    path: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    if out.len() >= 20 {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() || x.keys().any(|k| !y.contains_key(k)) {
                out.push(format!("{path}: keys differ"));
                return;
            }
            if let (Some(ra), Some(rb)) = (
                x.get("relative").and_then(Value::as_f64),
                y.get("relative").and_then(Value::as_f64),
            ) {
                if ra.abs() > 1e-9 || rb.abs() > 1e-9 {
                    out.push(format!("{path}: closure {ra} / {rb} above 1e-9"));
                }
                return;
            }
            let s = sibling_scale(a).max(sibling_scale(b));
            for (k, va) in x {
                json_walk(va, &y[k], rel, s, &format!("{path}/{k}"), out);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!("{path}: lengths {} and {}", x.len(), y.len()));
                return;
            }
            let s = sibling_scale(a).max(sibling_scale(b));
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                json_walk(va, vb, rel, s, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(_), Value::Number(_)) => {
            let (p, q) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            let bound = rel * p.abs().max(q.abs()).max(scale);
            if (p - q).abs() > bound || p.is_nan() != q.is_nan() {
                out.push(format!("{path}: {p} and {q} (allowed {bound:e})"));
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: {a} and {b}")),
    }
}

/// The frame's inputs made harder: supplies cut to `avail` of their availability, every
/// seventh unit offline, a leak of 0.5 m³/h on every fifth link.
pub fn stressed(f: &Frame, avail: f64) -> UnitInputs {
    let mut inputs = f.inputs.clone();
    inputs.supply_avail.iter_mut().for_each(|a| *a *= avail);
    for (u, on) in inputs.online.iter_mut().enumerate() {
        if u % 7 == 3 {
            *on = false;
        }
    }
    for (l, leak) in inputs.link_leak.iter_mut().enumerate() {
        if l % 5 == 2 {
            *leak = 0.5;
        }
    }
    inputs
}
