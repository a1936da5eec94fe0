//! What-if scenarios: a scenario file names a park file and adds overrides, events, stochastic
//! drivers and sweeps. A sweep expands into cases with stable ids.
//!
//! ```ron
//! Scenario(
//!     name: "drought-cycles",
//!     park: "demo_park.ron",                       // relative to this file
//!     seed: 7,
//!     overrides: {"time.steps": 2190, "units.ct_steel.cycles": 6.0},
//!     events: [IntakeCap(source: "city", cap_m3_per_h: 600.0, from_h: 4000.0, to_h: 4400.0)],
//!     stochastic: (demand_sd: 0.05, demand_hourly_correlation: 0.9),
//!     sweep: Grid({"units.ct_steel.cycles": [4.0, 5.0, 6.0], "events.[0].cap_m3_per_h": [600.0, 900.0]}),
//! )
//! ```
//!
//! **Override paths** address any field of the park file (the scenario's events come before the
//! park's own, so `events.[0]` is the scenario's first event): dot-separated segments, each a field
//! name, or inside `units`, `links` and `enterprises` an item's id (quotes optional:
//! `units."ct_north".cycles`, `links."wwtp.product->reuse".capacity_m3_per_h`), or `[i]` for the
//! i-th item of any list. A number given for a time-varying field (a driver) replaces it by
//! `Const(number)`. The overridden park is checked against the schema like a file (wrong type or
//! unknown field: an error naming the path) and then validated like any park.
//!
//! **Sweeps**: `List([{path: value, ...}, ...])`; `Grid({path: [values], ...})` — the full
//! factorial, paths in sorted order with the last varying fastest; `LatinHypercube(samples: n,
//! ranges: {path: (lo, hi)})` — one value per stratum `[lo + (k + u)/n·(hi − lo)]`, strata
//! permuted independently per path; `MonteCarlo(samples: n, ranges: {path: Uniform(lo, hi) |
//! Normal(mean, sd)})`. Random draws come from a ChaCha8 stream seeded by the scenario seed, so
//! the expansion is the same on every machine. Case `i` has id `NAME-iiiii` (zero-padded to five
//! digits or more) and, with stochastic drivers, the seed `seed + i`.

use crate::build::NoiseOptions;
use crate::load::{LoadError, ParkFile, Problem, ron_options};
use crate::schema::{EventSpec, Park};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A scenario file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub struct ScenarioSpec {
    /// Name, used in case ids.
    pub name: String,
    /// Park file, relative to the scenario file.
    pub park: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Seed of stochastic drivers and sampled sweeps.
    #[serde(default)]
    pub seed: u64,
    /// Overrides applied to every case: path → value.
    #[serde(default)]
    pub overrides: BTreeMap<String, Value>,
    /// Events added to the park's own.
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// Stochastic drivers.
    #[serde(default)]
    pub stochastic: Option<StochasticSpec>,
    /// The sweep, if any.
    #[serde(default)]
    pub sweep: Option<SweepSpec>,
}

/// Stochastic drivers of a scenario.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StochasticSpec {
    /// Relative standard deviation of the demand of water-using units.
    #[serde(default)]
    pub demand_sd: f64,
    /// Hour-to-hour autocorrelation of that noise (default 0.9).
    #[serde(default = "default_corr")]
    pub demand_hourly_correlation: f64,
}

fn default_corr() -> f64 {
    0.9
}

/// A distribution for Monte Carlo sweeps.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
pub enum Dist {
    /// Uniform on `[lo, hi]`.
    Uniform(f64, f64),
    /// Normal with mean and standard deviation.
    Normal(f64, f64),
}

/// A sweep over overridable parameters.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub enum SweepSpec {
    /// Explicit cases.
    List(Vec<BTreeMap<String, Value>>),
    /// Full factorial.
    Grid(BTreeMap<String, Vec<Value>>),
    /// Latin hypercube sample.
    LatinHypercube {
        /// Number of cases.
        samples: usize,
        /// Range per path.
        ranges: BTreeMap<String, (f64, f64)>,
    },
    /// Monte Carlo sample.
    MonteCarlo {
        /// Number of cases.
        samples: usize,
        /// Distribution per path.
        ranges: BTreeMap<String, Dist>,
    },
}

/// One expanded case: its id and the parameter values that make it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Case {
    /// Position in the expansion.
    pub index: usize,
    /// Stable id.
    pub id: String,
    /// Swept parameters: path → value.
    pub params: BTreeMap<String, Value>,
    /// Seed of this case's stochastic drivers.
    pub seed: u64,
}

/// A loaded scenario: the base park (as JSON, with the scenario's overrides and events) and its
/// cases.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The scenario as written.
    pub spec: ScenarioSpec,
    /// Scenario file.
    pub path: PathBuf,
    /// Park file.
    pub park_path: PathBuf,
    /// Park text (for locating items in messages).
    pub park_text: String,
    /// Base park with overrides and events applied, as JSON.
    pub base: Value,
    /// Cases (one when there is no sweep).
    pub cases: Vec<Case>,
    /// Swept parameter paths, sorted.
    pub swept: Vec<String>,
}

/// Whether `text` is a scenario file (its first item is `Scenario(`) rather than a park.
pub fn is_scenario(text: &str) -> bool {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or("").trim())
        .find(|l| !l.is_empty() && !l.starts_with("#!"))
        .is_some_and(|l| l.starts_with("Scenario"))
}

fn invalid(path: &Path, item: String, message: String) -> LoadError {
    LoadError::Invalid {
        path: path.to_path_buf(),
        problems: vec![Problem {
            item,
            line: None,
            message,
        }],
    }
}

/// Reads a scenario file, its park, and expands its sweep.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_str_with(&text, path, crate::load::from_path)
}

/// Parses scenario text (`path` is used in messages and to resolve the park file) and expands
/// it, reading its park with `read_park` (given the park's path, resolved relative to `path`).
/// [`load`] reads the park from disk; the fuzz targets hand in a parsed park.
pub fn from_str_with(
    text: &str,
    path: &Path,
    read_park: impl FnOnce(&Path) -> Result<ParkFile, LoadError>,
) -> Result<Scenario, LoadError> {
    let spec: ScenarioSpec = ron_options()
        .from_str(text)
        .map_err(|e| LoadError::Syntax {
            path: path.to_path_buf(),
            line: e.span.start.line,
            column: e.span.start.col,
            message: e.code.to_string(),
        })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let park_path = dir.join(&spec.park);
    let park_file = read_park(&park_path)?;
    let mut park = park_file.park;
    // The scenario's events come first, so that a sweep addresses them as `events.[i]`
    // whatever the park holds.
    let park_events = std::mem::take(&mut park.events);
    park.events = spec.events.iter().cloned().chain(park_events).collect();
    let mut base =
        serde_json::to_value(&park).map_err(|e| invalid(path, "park".into(), e.to_string()))?;
    let mut problems = Vec::new();
    // The name starts every case id, and a case id names a directory under `--out`.
    if let Err(m) = crate::limits::check_file_name(&spec.name) {
        problems.push(Problem {
            item: "name".into(),
            line: None,
            message: m,
        });
    }
    for (p, v) in &spec.overrides {
        if let Err(m) = apply_override(&mut base, p, v) {
            problems.push(Problem {
                item: format!("overrides[{p:?}]"),
                line: None,
                message: m,
            });
        }
    }
    if let Err(m) = park_from_json(&base) {
        problems.push(Problem {
            item: "overrides".into(),
            line: None,
            message: m,
        });
    }
    let (cases, swept) = match expand(&spec) {
        Ok(c) => c,
        Err(m) => {
            problems.push(Problem {
                item: "sweep".into(),
                line: None,
                message: m,
            });
            (Vec::new(), Vec::new())
        }
    };
    // Every swept path must address a field of the park, with a value of the right type.
    if let Some(first) = cases.first() {
        let mut probe = base.clone();
        for (p, v) in &first.params {
            if let Err(m) = apply_override(&mut probe, p, v) {
                problems.push(Problem {
                    item: format!("sweep[{p:?}]"),
                    line: None,
                    message: m,
                });
            }
        }
        if problems.is_empty()
            && let Err(m) = park_from_json(&probe)
        {
            problems.push(Problem {
                item: "sweep".into(),
                line: None,
                message: m,
            });
        }
    }
    if !problems.is_empty() {
        return Err(LoadError::Invalid {
            path: path.to_path_buf(),
            problems,
        });
    }
    Ok(Scenario {
        spec,
        path: path.to_path_buf(),
        park_path,
        park_text: park_file.text,
        base,
        cases,
        swept,
    })
}

/// Turns JSON back into a park, checking types and unknown fields.
pub fn park_from_json(v: &Value) -> Result<Park, String> {
    serde_json::from_value(v.clone())
        .map_err(|e| format!("the overridden park does not fit the schema: {e}"))
}

impl Scenario {
    /// The park file of case `case`, ready to validate.
    pub fn case_file(&self, case: &Case) -> Result<ParkFile, String> {
        let mut v = self.base.clone();
        for (p, val) in &case.params {
            apply_override(&mut v, p, val)?;
        }
        Ok(ParkFile {
            park: park_from_json(&v)?,
            path: self.park_path.clone(),
            text: self.park_text.clone(),
        })
    }

    /// Demand noise of case `case`, if the scenario has stochastic drivers.
    pub fn noise(&self, case: &Case) -> Option<NoiseOptions> {
        self.spec.stochastic.as_ref().and_then(|s| {
            (s.demand_sd > 0.0).then_some(NoiseOptions {
                sd: s.demand_sd,
                hourly_correlation: s.demand_hourly_correlation,
                seed: case.seed,
            })
        })
    }
}

/// Splits a path into segments; double quotes group a segment that contains dots.
pub fn split_path(path: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    for ch in path.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => {
                if cur.is_empty() && !was_quoted {
                    return Err(format!("empty segment in path {path:?}"));
                }
                out.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            _ => cur.push(ch),
        }
    }
    if quoted {
        return Err(format!("unclosed quote in path {path:?}"));
    }
    if cur.is_empty() && !was_quoted {
        return Err(format!("empty segment in path {path:?}"));
    }
    out.push(cur);
    Ok(out)
}

/// The id of a list item as written in a park (units are externally tagged: `{Type: {...}}`).
fn item_id(item: &Value) -> Option<String> {
    let obj = item.as_object()?;
    if let Some(Value::String(id)) = obj.get("id") {
        return Some(id.clone());
    }
    if let (Some(Value::String(f)), Some(Value::String(t))) = (obj.get("from"), obj.get("to")) {
        return Some(format!("{f}->{t}"));
    }
    if obj.len() == 1 {
        return obj.values().next().and_then(item_id);
    }
    None
}

/// Sets `path` in `root` to `value`. A number for a driver field becomes `Const(number)`.
pub fn apply_override(root: &mut Value, path: &str, value: &Value) -> Result<(), String> {
    // RON's NaN and infinities become JSON null (JSON has no such numbers): name them here
    // rather than as a type error later.
    // (A null inside a struct may be a legitimate `()`, as in `inhibitor: ()`.)
    fn holds_null(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Array(a) => a.iter().any(holds_null),
            Value::Object(o) => o.len() == 1 && o.values().any(holds_null),
            _ => false,
        }
    }
    if holds_null(value) {
        return Err(format!(
            "{path:?}: the value holds NaN, an infinity or an empty value: use finite numbers"
        ));
    }
    let segs = split_path(path)?;
    let mut cur = root;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        // Step into the single variant of an externally tagged unit.
        let tagged = matches!(&*cur, Value::Object(o) if o.len() == 1
            && !o.contains_key(seg.as_str())
            && o.keys().next().is_some_and(|k| k.chars().next().is_some_and(char::is_uppercase)));
        if tagged && let Value::Object(o) = cur {
            cur = o.values_mut().next().expect("one entry");
        }
        match cur {
            Value::Array(items) => {
                let idx = if let Some(n) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                    n.parse::<usize>().ok().filter(|&n| n < items.len())
                } else {
                    items
                        .iter()
                        .position(|it| item_id(it).as_deref() == Some(seg.as_str()))
                };
                let Some(idx) = idx else {
                    let known: Vec<String> = items.iter().filter_map(item_id).collect();
                    return Err(format!(
                        "no item {seg:?} at {:?} (items: {})",
                        segs[..i].join("."),
                        known.join(", ")
                    ));
                };
                if last {
                    items[idx] = value.clone();
                    return Ok(());
                }
                cur = &mut items[idx];
            }
            Value::Object(o) => {
                if !o.contains_key(seg.as_str()) {
                    let known: Vec<&String> = o.keys().collect();
                    return Err(format!(
                        "no field {seg:?} at {:?} (fields: {})",
                        segs[..i].join("."),
                        known
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if last {
                    let slot = o.get_mut(seg.as_str()).expect("checked");
                    *slot = coerce(slot, value);
                    return Ok(());
                }
                cur = o.get_mut(seg.as_str()).expect("checked");
            }
            Value::Null if !last => {
                return Err(format!(
                    "{:?} is not set in the park, so {path:?} cannot be overridden",
                    segs[..i].join(".")
                ));
            }
            _ => return Err(format!("{:?} has no field {seg:?}", segs[..i].join("."))),
        }
    }
    Ok(())
}

/// A number written where a driver stands becomes `Const(number)`.
fn coerce(existing: &Value, value: &Value) -> Value {
    let is_driver = existing.as_object().is_some_and(|o| {
        o.len() == 1
            && o.keys().next().is_some_and(|k| {
                matches!(
                    k.as_str(),
                    "Const" | "Hourly" | "Csv" | "Profile" | "Seasonal"
                )
            })
    });
    if is_driver && value.is_number() {
        serde_json::json!({ "Const": value })
    } else {
        value.clone()
    }
}

fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn uniform01(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Expands the scenario's sweep into cases; returns them and the swept paths.
pub fn expand(spec: &ScenarioSpec) -> Result<(Vec<Case>, Vec<String>), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    // Count before expanding, so that a huge grid or sample count is refused, not allocated.
    let max_cases = crate::limits::current().max_cases;
    let count = match &spec.sweep {
        None => Some(1),
        Some(SweepSpec::List(list)) => Some(list.len()),
        Some(SweepSpec::Grid(axes)) => axes
            .values()
            .try_fold(1usize, |n, v| n.checked_mul(v.len())),
        Some(SweepSpec::LatinHypercube { samples, .. })
        | Some(SweepSpec::MonteCarlo { samples, .. }) => Some(*samples),
    };
    match count {
        Some(n) if n <= max_cases => {}
        _ => {
            let n = count.map_or("more than 2^64".to_string(), |n| n.to_string());
            return Err(format!(
                "the sweep has {n} cases, above the maximum of {max_cases}: split it into several scenario files, or raise the maximum with --max-cases or PARKTWIN_MAX_CASES"
            ));
        }
    }
    let points: Vec<BTreeMap<String, Value>> = match &spec.sweep {
        None => vec![BTreeMap::new()],
        Some(SweepSpec::List(list)) => {
            if list.is_empty() {
                return Err("a List sweep needs at least one case".into());
            }
            list.clone()
        }
        Some(SweepSpec::Grid(axes)) => {
            if axes.values().any(Vec::is_empty) {
                return Err("every Grid axis needs at least one value".into());
            }
            let mut points = vec![BTreeMap::new()];
            for (path, values) in axes {
                let mut next = Vec::with_capacity(points.len() * values.len());
                for p in &points {
                    for v in values {
                        let mut q: BTreeMap<String, Value> = p.clone();
                        q.insert(path.clone(), v.clone());
                        next.push(q);
                    }
                }
                points = next;
            }
            points
        }
        Some(SweepSpec::LatinHypercube { samples, ranges }) => {
            if *samples == 0 {
                return Err("LatinHypercube needs samples ≥ 1".into());
            }
            let n = *samples;
            let mut points = vec![BTreeMap::new(); n];
            for (path, &(lo, hi)) in ranges {
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    return Err(format!("range of {path:?} must be finite with lo ≤ hi"));
                }
                // Fisher–Yates permutation of the strata.
                let mut perm: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                    perm.swap(i, j);
                }
                for (k, p) in points.iter_mut().enumerate() {
                    let x = lo + (perm[k] as f64 + uniform01(&mut rng)) / n as f64 * (hi - lo);
                    p.insert(path.clone(), num(x));
                }
            }
            points
        }
        Some(SweepSpec::MonteCarlo { samples, ranges }) => {
            if *samples == 0 {
                return Err("MonteCarlo needs samples ≥ 1".into());
            }
            let mut points = Vec::with_capacity(*samples);
            for _ in 0..*samples {
                let mut p = BTreeMap::new();
                for (path, d) in ranges {
                    let x = match *d {
                        Dist::Uniform(lo, hi) => lo + uniform01(&mut rng) * (hi - lo),
                        Dist::Normal(m, sd) => {
                            m + sd * parktwin_engine::events::standard_normal(&mut rng)
                        }
                    };
                    if !x.is_finite() {
                        return Err(format!("distribution of {path:?} gives a non-finite value"));
                    }
                    p.insert(path.clone(), num(x));
                }
                points.push(p);
            }
            points
        }
    };
    let width = points.len().saturating_sub(1).to_string().len().max(5);
    let mut swept: Vec<String> = points.iter().flat_map(|p| p.keys().cloned()).collect();
    swept.sort();
    swept.dedup();
    let cases = points
        .into_iter()
        .enumerate()
        .map(|(i, params)| Case {
            index: i,
            id: format!("{}-{i:0width$}", spec.name),
            params,
            seed: spec.seed.wrapping_add(i as u64),
        })
        .collect();
    Ok((cases, swept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sweep: &str) -> ScenarioSpec {
        ron_options()
            .from_str(&format!(
                "Scenario(name: \"t\", park: \"p.ron\", seed: 3, sweep: {sweep})"
            ))
            .unwrap()
    }

    #[test]
    fn grid_is_full_factorial_with_last_path_fastest() {
        let s = spec(r#"Grid({"b": [1.0, 2.0, 3.0], "a": [10.0, 20.0]})"#);
        let (cases, swept) = expand(&s).unwrap();
        assert_eq!(cases.len(), 6);
        assert_eq!(swept, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(cases[0].id, "t-00000");
        assert_eq!(cases[1].params["b"], serde_json::json!(2.0));
        assert_eq!(cases[3].params["a"], serde_json::json!(20.0));
    }

    #[test]
    fn latin_hypercube_has_one_sample_per_stratum() {
        let s = spec(r#"LatinHypercube(samples: 10, ranges: {"x": (0.0, 1.0), "y": (5.0, 6.0)})"#);
        let (cases, _) = expand(&s).unwrap();
        assert_eq!(cases.len(), 10);
        for path in ["x", "y"] {
            let lo = if path == "x" { 0.0 } else { 5.0 };
            let mut strata: Vec<usize> = cases
                .iter()
                .map(|c| ((c.params[path].as_f64().unwrap() - lo) * 10.0).floor() as usize)
                .collect();
            strata.sort_unstable();
            assert_eq!(strata, (0..10).collect::<Vec<_>>());
        }
        // Same seed, same expansion.
        assert_eq!(expand(&s).unwrap().0, cases);
    }

    #[test]
    fn monte_carlo_and_list_counts() {
        let s = spec(
            r#"MonteCarlo(samples: 7, ranges: {"x": Uniform(1.0, 2.0), "z": Normal(0.0, 1.0)})"#,
        );
        let (cases, _) = expand(&s).unwrap();
        assert_eq!(cases.len(), 7);
        assert!(
            cases
                .iter()
                .all(|c| (1.0..=2.0).contains(&c.params["x"].as_f64().unwrap()))
        );
        let s = spec(r#"List([{"x": 1.0}, {"x": 2.0, "y": 3.0}])"#);
        let (cases, swept) = expand(&s).unwrap();
        assert_eq!((cases.len(), swept.len()), (2, 2));
    }

    #[test]
    fn override_paths() {
        let mut v = serde_json::json!({
            "units": [{"CoolingTower": {"id": "ct.1", "cycles": 4.0, "heat_load_mw": {"Const": 10.0}}}],
            "links": [{"from": "a", "to": "b", "id": null, "capacity_m3_per_h": null}],
            "time": {"steps": 10}
        });
        apply_override(&mut v, "units.\"ct.1\".cycles", &serde_json::json!(6.0)).unwrap();
        apply_override(
            &mut v,
            "units.\"ct.1\".heat_load_mw",
            &serde_json::json!(12.0),
        )
        .unwrap();
        apply_override(
            &mut v,
            "links.a->b.capacity_m3_per_h",
            &serde_json::json!(5.0),
        )
        .unwrap();
        apply_override(&mut v, "time.steps", &serde_json::json!(20)).unwrap();
        assert_eq!(
            v["units"][0]["CoolingTower"]["cycles"],
            serde_json::json!(6.0)
        );
        assert_eq!(
            v["units"][0]["CoolingTower"]["heat_load_mw"],
            serde_json::json!({"Const": 12.0})
        );
        assert_eq!(v["links"][0]["capacity_m3_per_h"], serde_json::json!(5.0));
        let e = apply_override(&mut v, "units.ct9.cycles", &serde_json::json!(1.0)).unwrap_err();
        assert!(e.contains("no item \"ct9\"") && e.contains("ct.1"), "{e}");
        let e =
            apply_override(&mut v, "units.\"ct.1\".cyclez", &serde_json::json!(1.0)).unwrap_err();
        assert!(
            e.contains("no field \"cyclez\"") && e.contains("cycles"),
            "{e}"
        );
    }
}
