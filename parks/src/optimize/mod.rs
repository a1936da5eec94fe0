//! Design optimisation: a problem file names a park, decision variables (any overridable
//! parameter, or whether a link or unit is built), objectives and constraints taken from the run
//! summary; [`nsga2`] searches the trade-off.
//!
//! ```ron
//! Optimize(
//!     name: "demo-retrofit",
//!     park: "demo_park.ron",                  // relative to this file
//!     seed: 1,
//!     overrides: {"time.steps": 2190},        // applied to every candidate
//!     variables: [
//!         Continuous(path: "units.steel_ct.cycles", lo: 3.0, hi: 8.0),
//!         Choice(path: "units.ro.recovery", values: [0.70, 0.75, 0.80]),
//!         LinkBuilt("steel_ct.blowdown->steel_process"),
//!     ],
//!     objectives: [Minimize("intake_m3"), Minimize("co2e_t")],
//!     constraints: [(metric: "repeated_use_rate", min: 0.94), (metric: "diagnostics.permit_exceeded", max: 0.0)],
//!     population: 24,
//!     generations: 10,
//! )
//! ```
//!
//! **Variables.** `Continuous(path, lo, hi)` sets the parameter at `path` (the override paths of
//! [`crate::scenario`]) to a real value in `[lo, hi]`; `Choice(path, values)` to one of a list
//! (numbers or any RON value that fits the field); `LinkBuilt(id)` and `UnitBuilt(id)` decide
//! whether a link (`"from->to"` or its `id`) or a unit (with every link touching it) exists —
//! a design that leaves it out is the park without it, so no schema flag is needed. NSGA-II
//! works on reals: a choice among `n` values is a real in `[0, n)` read as its integer part,
//! a built flag one in `[0, 2)`.
//!
//! **Metrics** (objectives and constraints): the columns of [`METRICS`] from the run summary,
//! and `diagnostics.KIND` (count of steps with a diagnostic of that kind, for example
//! `diagnostics.permit_exceeded` for permit limits or `diagnostics.unmet_demand`).
//! `levelised_cost_yuan_per_m3` is the run's total cost over the water used,
//! `V_t = V_i + V_u + V_r` (intake, unconventional water and repeated use, m³);
//! `salt_discharged_kg` is the TDS leaving by discharge exits.
//!
//! **Constraints** `(metric, min, max)` give a violation `(min − v)⁺/max(|min|, 1) + (v −
//! max)⁺/max(|max|, 1)` (relative, so constraints of different scales add up); the total
//! over constraints is NSGA-II's constraint violation. A candidate whose park is invalid or whose
//! run fails is infeasible with an infinite violation and its reason is kept.

pub mod nsga2;

use crate::build::{BuildOptions, build};
use crate::load::{LoadError, ParkFile, Problem, ron_options};
use crate::scenario::{apply_override, park_from_json, split_path};
use crate::summary::{RunSummary, summarize};
use crate::validate::validate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Metrics from the run summary that objectives and constraints may name (besides
/// `diagnostics.KIND`).
pub const METRICS: [&str; 16] = [
    "intake_m3",
    "total_inflow_m3",
    "unconventional_m3",
    "reuse_m3",
    "repeated_use_rate",
    "discharge_m3",
    "consumption_m3",
    "unmet_demand_m3",
    "electricity_kwh",
    "heat_kwh",
    "co2e_t",
    "cost_yuan",
    "levelised_cost_yuan_per_m3",
    "salt_discharged_kg",
    "max_relative_residual",
    "diagnostics",
];

/// Diagnostic kinds as named in the summary (`diagnostics.KIND`).
pub const DIAGNOSTIC_KINDS: [&str; 12] = [
    "unmet_demand",
    "unroutable",
    "overflow",
    "dry_tank",
    "non_finite",
    "closure_violation",
    "inlet_quality",
    "permit_exceeded",
    "non_convergence",
    "singular_loop",
    "physics",
    "cap_reached",
];

/// A decision variable.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub enum VariableSpec {
    /// A real parameter in `[lo, hi]`.
    Continuous {
        /// Override path.
        path: String,
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// One of a list of values.
    Choice {
        /// Override path.
        path: String,
        /// The values.
        values: Vec<Value>,
    },
    /// Whether a link (`"from->to"` or its `id`) is built.
    LinkBuilt(String),
    /// Whether a unit (and every link touching it) is built.
    UnitBuilt(String),
}

impl VariableSpec {
    /// Column name: the path, or `built:ID`.
    pub fn label(&self) -> String {
        match self {
            VariableSpec::Continuous { path, .. } | VariableSpec::Choice { path, .. } => {
                path.clone()
            }
            VariableSpec::LinkBuilt(id) | VariableSpec::UnitBuilt(id) => format!("built:{id}"),
        }
    }

    /// The variable's box for NSGA-II.
    pub fn bounds(&self) -> (f64, f64) {
        match self {
            VariableSpec::Continuous { lo, hi, .. } => (*lo, *hi),
            VariableSpec::Choice { values, .. } => (0.0, values.len() as f64),
            VariableSpec::LinkBuilt(_) | VariableSpec::UnitBuilt(_) => (0.0, 2.0),
        }
    }
}

/// An objective (every objective is minimised internally; a maximised one is negated).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub enum ObjectiveSpec {
    /// Minimise a metric.
    Minimize(String),
    /// Maximise a metric.
    Maximize(String),
}

impl ObjectiveSpec {
    /// The metric.
    pub fn metric(&self) -> &str {
        match self {
            ObjectiveSpec::Minimize(m) | ObjectiveSpec::Maximize(m) => m,
        }
    }
    /// The value NSGA-II minimises.
    pub fn minimised(&self, v: f64) -> f64 {
        match self {
            ObjectiveSpec::Minimize(_) => v,
            ObjectiveSpec::Maximize(_) => -v,
        }
    }
}

/// A constraint on a metric.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConstraintSpec {
    /// The metric.
    pub metric: String,
    /// Lowest allowed value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Highest allowed value.
    #[serde(default)]
    pub max: Option<f64>,
}

impl ConstraintSpec {
    /// Relative violation of value `v` (0 when it holds).
    pub fn violation(&self, v: f64) -> f64 {
        if !v.is_finite() {
            return f64::INFINITY;
        }
        let lo = self
            .min
            .map_or(0.0, |m| (m - v).max(0.0) / m.abs().max(1.0));
        let hi = self
            .max
            .map_or(0.0, |m| (v - m).max(0.0) / m.abs().max(1.0));
        lo + hi
    }
}

fn default_population() -> usize {
    24
}
fn default_generations() -> usize {
    10
}

/// An optimisation problem file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename = "Optimize")]
pub struct ProblemSpec {
    /// Name.
    pub name: String,
    /// Park file, relative to the problem file.
    pub park: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Seed of the search.
    #[serde(default)]
    pub seed: u64,
    /// Overrides applied to every candidate: path → value.
    #[serde(default)]
    pub overrides: BTreeMap<String, Value>,
    /// Decision variables.
    pub variables: Vec<VariableSpec>,
    /// Objectives (at least one).
    pub objectives: Vec<ObjectiveSpec>,
    /// Constraints.
    #[serde(default)]
    pub constraints: Vec<ConstraintSpec>,
    /// Population size (even, ≥ 4; default 24).
    #[serde(default = "default_population")]
    pub population: usize,
    /// Generations after the initial population (default 10).
    #[serde(default = "default_generations")]
    pub generations: usize,
}

/// A loaded problem: the spec, and the base park (with overrides) as JSON.
#[derive(Clone, Debug)]
pub struct OptimizeProblem {
    /// As written.
    pub spec: ProblemSpec,
    /// Problem file.
    pub path: PathBuf,
    /// Park file.
    pub park_path: PathBuf,
    /// Park text (for locating items in messages).
    pub park_text: String,
    /// Base park with the overrides applied, as JSON.
    pub base: Value,
}

/// A decoded decision vector.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Decision {
    /// Parameter values by variable label, in variable order (`true`/`false` for built flags).
    pub values: Vec<(String, Value)>,
    /// Overrides to apply.
    pub overrides: Vec<(String, Value)>,
    /// Links left out.
    pub without_links: Vec<String>,
    /// Units left out.
    pub without_units: Vec<String>,
}

impl Decision {
    /// A key that identifies the design (two vectors that decode alike share it).
    pub fn key(&self) -> String {
        serde_json::to_string(&self.values).unwrap_or_default()
    }
}

/// One evaluated design: metrics, or why it failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// Metric values by name ([`METRICS`] and `diagnostics.KIND` for every kind).
    pub metrics: BTreeMap<String, f64>,
    /// Why the design could not be evaluated.
    pub error: Option<String>,
}

fn is_metric(m: &str) -> bool {
    METRICS.contains(&m)
        || m.strip_prefix("diagnostics.")
            .is_some_and(|k| DIAGNOSTIC_KINDS.contains(&k))
}

fn link_id(item: &Value) -> Option<String> {
    let o = item.as_object()?;
    if let Some(Value::String(id)) = o.get("id") {
        return Some(id.clone());
    }
    match (o.get("from"), o.get("to")) {
        (Some(Value::String(f)), Some(Value::String(t))) => Some(format!("{f}->{t}")),
        _ => None,
    }
}

fn link_touches(item: &Value, unit: &str) -> bool {
    let end = |k: &str| {
        item.get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| s.split('.').next() == Some(unit))
    };
    end("from") || end("to")
}

fn unit_id(item: &Value) -> Option<&str> {
    item.as_object()?.values().next()?.get("id")?.as_str()
}

/// Removes a link by id; an error names the links there are.
fn remove_link(root: &mut Value, id: &str) -> Result<(), String> {
    let links = root
        .get_mut("links")
        .and_then(Value::as_array_mut)
        .ok_or("the park has no links")?;
    let before = links.len();
    links.retain(|l| link_id(l).as_deref() != Some(id));
    if links.len() == before {
        return Err(format!("no link {id:?} in the park"));
    }
    Ok(())
}

/// Removes a unit and every link touching it.
fn remove_unit(root: &mut Value, id: &str) -> Result<(), String> {
    let units = root
        .get_mut("units")
        .and_then(Value::as_array_mut)
        .ok_or("the park has no units")?;
    let before = units.len();
    units.retain(|u| unit_id(u) != Some(id));
    if units.len() == before {
        return Err(format!("no unit {id:?} in the park"));
    }
    if let Some(links) = root.get_mut("links").and_then(Value::as_array_mut) {
        links.retain(|l| !link_touches(l, id));
    }
    Ok(())
}

fn problem(item: String, message: String) -> Problem {
    Problem {
        item,
        line: None,
        message,
    }
}

/// Reads a problem file and its park, checking every variable, objective and constraint;
/// all problems are reported at once with their item (`variables[1] "units.ro.recovery"`).
pub fn load(path: &Path) -> Result<OptimizeProblem, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let spec: ProblemSpec = ron_options()
        .from_str(&text)
        .map_err(|e| LoadError::Syntax {
            path: path.to_path_buf(),
            line: e.span.start.line,
            column: e.span.start.col,
            message: e.code.to_string(),
        })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let park_path = dir.join(&spec.park);
    let park_file = crate::load::from_path(&park_path)?;
    let mut base = serde_json::to_value(&park_file.park).map_err(|e| LoadError::Invalid {
        path: path.to_path_buf(),
        problems: vec![problem("park".into(), e.to_string())],
    })?;
    let mut problems = Vec::new();
    for (p, v) in &spec.overrides {
        if let Err(m) = apply_override(&mut base, p, v) {
            problems.push(problem(format!("overrides[{p:?}]"), m));
        }
    }
    if spec.population < 4 || spec.population % 2 == 1 {
        problems.push(problem(
            "population".into(),
            format!("{} must be even and at least 4", spec.population),
        ));
    }
    if spec.variables.is_empty() {
        problems.push(problem("variables".into(), "no decision variables".into()));
    }
    for (i, v) in spec.variables.iter().enumerate() {
        let item = format!("variables[{i}] {:?}", v.label());
        let mut probes: Vec<(Option<String>, Value)> = Vec::new();
        match v {
            VariableSpec::Continuous { path, lo, hi } => {
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    problems.push(problem(
                        item.clone(),
                        format!("bounds [{lo}, {hi}] must be finite with lo ≤ hi"),
                    ));
                }
                for b in [lo, hi] {
                    if let Some(n) = serde_json::Number::from_f64(*b) {
                        probes.push((Some(path.clone()), Value::Number(n)));
                    }
                }
            }
            VariableSpec::Choice { path, values } => {
                if values.is_empty() {
                    problems.push(problem(item.clone(), "no values to choose from".into()));
                }
                probes.extend(values.iter().map(|x| (Some(path.clone()), x.clone())));
            }
            VariableSpec::LinkBuilt(id) => {
                let mut probe = base.clone();
                if let Err(m) = remove_link(&mut probe, id) {
                    problems.push(problem(item.clone(), m));
                }
            }
            VariableSpec::UnitBuilt(id) => {
                let mut probe = base.clone();
                if let Err(m) = remove_unit(&mut probe, id) {
                    problems.push(problem(item.clone(), m));
                }
            }
        }
        for (p, value) in probes {
            let Some(p) = p else { continue };
            if let Err(m) = split_path(&p) {
                problems.push(problem(item.clone(), m));
                break;
            }
            let mut probe = base.clone();
            let r = apply_override(&mut probe, &p, &value).and_then(|()| park_from_json(&probe));
            if let Err(m) = r {
                problems.push(problem(item.clone(), format!("value {value}: {m}")));
                break;
            }
        }
    }
    if spec.objectives.is_empty() {
        problems.push(problem("objectives".into(), "no objectives".into()));
    }
    let known = || {
        format!(
            "metrics: {}, or diagnostics.KIND with KIND one of {}",
            METRICS.join(", "),
            DIAGNOSTIC_KINDS.join(", ")
        )
    };
    for (i, o) in spec.objectives.iter().enumerate() {
        if !is_metric(o.metric()) {
            problems.push(problem(
                format!("objectives[{i}]"),
                format!("unknown metric {:?} ({})", o.metric(), known()),
            ));
        }
    }
    for (i, c) in spec.constraints.iter().enumerate() {
        let item = format!("constraints[{i}] {:?}", c.metric);
        if !is_metric(&c.metric) {
            problems.push(problem(
                item.clone(),
                format!("unknown metric {:?} ({})", c.metric, known()),
            ));
        }
        if c.min.is_none() && c.max.is_none() {
            problems.push(problem(item.clone(), "give min, max or both".into()));
        }
        if let (Some(lo), Some(hi)) = (c.min, c.max)
            && lo > hi
        {
            problems.push(problem(item, format!("min {lo} is above max {hi}")));
        }
    }
    // The base park must be valid as overridden.
    if problems.is_empty() {
        match park_from_json(&base) {
            Err(m) => problems.push(problem("overrides".into(), m)),
            Ok(park) => {
                let file = ParkFile {
                    park,
                    path: park_path.clone(),
                    text: park_file.text.clone(),
                };
                if let Err(e) = validate(&file) {
                    problems.push(problem(
                        "park".into(),
                        format!("the park with the overrides is invalid: {e}"),
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(LoadError::Invalid {
            path: path.to_path_buf(),
            problems,
        });
    }
    Ok(OptimizeProblem {
        spec,
        path: path.to_path_buf(),
        park_path,
        park_text: park_file.text,
        base,
    })
}

/// The metrics of a run summary (see the module docs).
pub fn metrics(s: &RunSummary) -> BTreeMap<String, f64> {
    let w = &s.water_m3;
    let used = w.total_inflow + w.repeated_use;
    let salt = s
        .species
        .iter()
        .find(|x| x.name == "tds")
        .map_or(0.0, |t| t.exits_kg.get("discharge").copied().unwrap_or(0.0));
    let values = [
        w.intake,
        w.total_inflow,
        w.unconventional,
        w.reuse,
        w.repeated_use_rate,
        w.discharge,
        w.consumption,
        w.unmet_demand,
        s.energy.electricity_kwh,
        s.energy.heat_kwh,
        s.co2e_total_t,
        s.cost_total_yuan,
        if used > 0.0 {
            s.cost_total_yuan / used
        } else {
            f64::NAN
        },
        salt,
        s.balance.max_relative_residual,
        s.diagnostics.values().sum::<u64>() as f64,
    ];
    let mut m: BTreeMap<String, f64> = METRICS.iter().map(|k| k.to_string()).zip(values).collect();
    for k in DIAGNOSTIC_KINDS {
        m.insert(
            format!("diagnostics.{k}"),
            s.diagnostics.get(k).copied().unwrap_or(0) as f64,
        );
    }
    m
}

impl OptimizeProblem {
    /// The box of every variable, in order.
    pub fn bounds(&self) -> Vec<(f64, f64)> {
        self.spec
            .variables
            .iter()
            .map(VariableSpec::bounds)
            .collect()
    }

    /// Reads a decision vector as parameter values and links or units left out.
    pub fn decode(&self, x: &[f64]) -> Decision {
        let mut d = Decision::default();
        for (v, &xi) in self.spec.variables.iter().zip(x) {
            let index = |n: usize| (xi.max(0.0).floor() as usize).min(n.saturating_sub(1));
            match v {
                VariableSpec::Continuous { path, .. } => {
                    let value = serde_json::Number::from_f64(xi).map_or(Value::Null, Value::Number);
                    d.values.push((v.label(), value.clone()));
                    d.overrides.push((path.clone(), value));
                }
                VariableSpec::Choice { path, values } => {
                    let value = values[index(values.len())].clone();
                    d.values.push((v.label(), value.clone()));
                    d.overrides.push((path.clone(), value));
                }
                VariableSpec::LinkBuilt(id) => {
                    let built = index(2) == 1;
                    d.values.push((v.label(), Value::Bool(built)));
                    if !built {
                        d.without_links.push(id.clone());
                    }
                }
                VariableSpec::UnitBuilt(id) => {
                    let built = index(2) == 1;
                    d.values.push((v.label(), Value::Bool(built)));
                    if !built {
                        d.without_units.push(id.clone());
                    }
                }
            }
        }
        d
    }

    /// The park of a design, ready to validate.
    pub fn park_file(&self, d: &Decision) -> Result<ParkFile, String> {
        let mut v = self.base.clone();
        for (p, val) in &d.overrides {
            apply_override(&mut v, p, val)?;
        }
        for id in &d.without_units {
            remove_unit(&mut v, id)?;
        }
        for id in &d.without_links {
            // Already gone with a unit left out: nothing to do.
            if remove_link(&mut v, id).is_err() {
                continue;
            }
        }
        Ok(ParkFile {
            park: park_from_json(&v)?,
            path: self.park_path.clone(),
            text: self.park_text.clone(),
        })
    }

    /// Runs one design and returns its metrics (a failure becomes [`Outcome::error`]; a panic
    /// in the engine is caught).
    pub fn evaluate(&self, d: &Decision) -> Outcome {
        let run = || -> Result<BTreeMap<String, f64>, String> {
            let file = self.park_file(d)?;
            let valid = validate(&file).map_err(|e| e.to_string())?;
            let mut built = build(valid, BuildOptions::default()).map_err(|e| e.to_string())?;
            built.sim.run();
            Ok(metrics(&summarize(&built.sim, &built.meta)))
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
            Ok(Ok(metrics)) => Outcome {
                metrics,
                error: None,
            },
            Ok(Err(e)) => Outcome {
                metrics: BTreeMap::new(),
                error: Some(
                    e.lines()
                        .map(|l| l.trim().trim_start_matches("- "))
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            },
            Err(p) => Outcome {
                metrics: BTreeMap::new(),
                error: Some(format!(
                    "panicked: {}",
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                )),
            },
        }
    }

    /// NSGA-II's view of an outcome: objectives (minimised) and total constraint violation.
    pub fn score(&self, o: &Outcome) -> nsga2::Evaluation {
        if o.error.is_some() {
            return nsga2::Evaluation {
                objectives: vec![0.0; self.spec.objectives.len()],
                violation: f64::INFINITY,
            };
        }
        let get = |m: &str| o.metrics.get(m).copied().unwrap_or(f64::NAN);
        let objectives: Vec<f64> = self
            .spec
            .objectives
            .iter()
            .map(|ob| ob.minimised(get(ob.metric())))
            .collect();
        let mut violation: f64 = self
            .spec
            .constraints
            .iter()
            .map(|c| c.violation(get(&c.metric)))
            .sum();
        // A non-finite objective cannot be ranked: treat the design as failed.
        if objectives.iter().any(|v| !v.is_finite()) {
            violation = f64::INFINITY;
        }
        nsga2::Evaluation {
            objectives: if violation.is_infinite() {
                vec![0.0; self.spec.objectives.len()]
            } else {
                objectives
            },
            violation,
        }
    }
}
