//! Validation: every check of a park file, all problems reported at once, each named by its
//! item path (`units[3] "ct_north".cycles`) and, where it can be found, its line.
//!
//! Validation also resolves the file into the engine's terms (species indices, series, unit
//! models, the compiled topology), so that [`crate::build`] only assembles the World: the one
//! path into a World is `from_path → validate → build`.

use crate::calendar::{Start, parse_start};
use crate::drivers::{Axis, DriverCache, to_series};
use crate::factors::grid_factor;
use crate::load::{LoadError, ParkFile, Problem};
use crate::schema::*;
use parktwin_engine::events::{Event, EventKind, Target};
use parktwin_engine::network::{LinkDecl, NetworkBuilder, Topology};
use parktwin_engine::series::Series;
use parktwin_engine::state::Factors;
use parktwin_units::process::Loss;
use parktwin_units::{
    AnyUnit, Discharge, Feed, Junction, Process, Source, SourceKind, Tank, Treatment,
};
use std::collections::{HashMap, HashSet};

mod physics;

/// Default longest horizon accepted, steps (ten years of hourly steps); the limit in force is
/// [`crate::limits::current`]`().max_steps`.
pub const MAX_STEPS: usize = crate::limits::DEFAULT_MAX_STEPS;
/// Largest magnitude accepted for any flow, volume or concentration (anything above is a typo).
pub const MAX_MAGNITUDE: f64 = 1e12;
/// Smallest nonzero magnitude accepted for any number: anything below is a typo, and products
/// of such values underflow to subnormal numbers, where the arithmetic loses its precision (a
/// fuzz case, `water_m3_per_unit: 1e-320`, drove a tower's concentrations to NaN that way).
pub const MIN_MAGNITUDE: f64 = 1e-30;

/// The shortest time step accepted, hours: one second.
pub const MIN_STEP_H: f64 = 1.0 / 3600.0;

/// What a report needs to know about a unit beyond the engine's view.
#[derive(Clone, Debug)]
pub struct UnitMeta {
    /// Id.
    pub id: String,
    /// Type as written in the file.
    pub type_name: &'static str,
    /// Kind of water, for sources.
    pub source_kind: Option<SourceKind>,
    /// Enterprise index.
    pub enterprise: Option<usize>,
    /// Product name and unit, for processes.
    pub product: Option<(String, String)>,
    /// Coordinates.
    pub location: Option<[f64; 2]>,
    /// Whether it uses water (process, fixed-load operation, cooling tower): water leaving it
    /// has been used.
    pub is_use: bool,
}

/// Descriptive facts of a validated park.
#[derive(Clone, Debug)]
pub struct ParkMeta {
    /// Park name.
    pub name: String,
    /// Species names (`tds` first).
    pub species: Vec<String>,
    /// Steps.
    pub steps: usize,
    /// Step length, h.
    pub dt_h: f64,
    /// Start as written.
    pub start: String,
    /// Units in declaration order (= engine index).
    pub units: Vec<UnitMeta>,
    /// Enterprises.
    pub enterprises: Vec<EnterpriseSpec>,
    /// Grid factor label.
    pub grid_label: String,
    /// KPI targets and intake policy, checked.
    pub kpi: KpiSpec,
}

/// A park resolved into engine terms, ready to build.
#[derive(Clone, Debug)]
pub struct ValidPark {
    /// Descriptive facts.
    pub meta: ParkMeta,
    /// Parsed start.
    pub start: Start,
    /// Unit models by engine index.
    pub units: Vec<AnyUnit>,
    /// Compiled topology.
    pub topology: Topology,
    /// Park factors.
    pub factors: Factors,
    /// Scenario events, in step windows. Link targets are indices in declaration order,
    /// remapped to the compiled topology's link order.
    pub events: Vec<Event>,
    /// Park-wide resources of the unit models (weather, taxes).
    pub resources: parktwin_units::ParkResources,
    /// The park's coupling-strategy section, if any (see [`crate::strategies`]).
    pub strategy: Option<crate::strategies::StrategySpec>,
}

struct Checker<'a> {
    file: &'a ParkFile,
    problems: Vec<Problem>,
    species: Vec<String>,
    axis: Option<Axis>,
    csv: DriverCache,
}

/// A number for a message: huge and tiny magnitudes in exponent form (`1e300`, not 301 digits).
fn fmt_num(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-6..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn item(i: usize, id: &str) -> String {
    format!("units[{i}] {id:?}")
}

impl Checker<'_> {
    fn err(&mut self, item: String, line: Option<usize>, message: String) {
        self.problems.push(Problem {
            item,
            line,
            message,
        });
    }

    /// Checks that `v` is finite and within `[lo, hi]` (`lo_open`: strictly above `lo`).
    #[expect(
        clippy::too_many_arguments,
        reason = "item, line, field, value and its bounds"
    )]
    fn num(
        &mut self,
        it: &str,
        line: Option<usize>,
        field: &str,
        v: f64,
        lo: f64,
        lo_open: bool,
        hi: f64,
    ) -> f64 {
        let ok = v.is_finite() && (if lo_open { v > lo } else { v >= lo }) && v <= hi;
        if ok && v != 0.0 && v.abs() < MIN_MAGNITUDE {
            self.err(format!("{it}.{field}"), line, too_small(v));
        }
        if !ok {
            let lo_s = if lo_open {
                format!("above {lo}")
            } else {
                format!("at least {lo}")
            };
            let hi_s = if hi >= MAX_MAGNITUDE {
                String::new()
            } else {
                format!(" and at most {hi}")
            };
            let v_s = fmt_num(v);
            self.err(
                format!("{it}.{field}"),
                line,
                format!("{v_s} is out of range: must be finite, {lo_s}{hi_s}"),
            );
        }
        v
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "item, line, field, map, default and bounds"
    )]
    fn species_vec(
        &mut self,
        it: &str,
        line: Option<usize>,
        field: &str,
        map: &SpeciesMap,
        default: f64,
        lo: f64,
        hi: f64,
    ) -> Vec<f64> {
        let mut v = vec![default; self.species.len()];
        for (name, &x) in map {
            match self.species.iter().position(|s| s == name) {
                Some(i) => {
                    v[i] = self.num(it, line, &format!("{field}[{name:?}]"), x, lo, false, hi);
                }
                None => {
                    let known = self.species.join(", ");
                    self.err(
                        format!("{it}.{field}"),
                        line,
                        format!("unknown species {name:?} (declared: {known})"),
                    );
                }
            }
        }
        v
    }

    fn driver(
        &mut self,
        it: &str,
        line: Option<usize>,
        field: &str,
        d: &Driver,
        lo: f64,
        hi: f64,
    ) -> Series {
        let Some(axis) = self.axis else {
            return Series::Const(0.0);
        };
        let dir = self.file.dir().to_path_buf();
        match to_series(d, axis, &dir, &mut self.csv) {
            Ok(s) => {
                let (min, max) = s.range();
                if let Some(v) = smallest_nonzero(&s).filter(|v| v.abs() < MIN_MAGNITUDE) {
                    self.err(format!("{it}.{field}"), line, too_small(v));
                }
                if min < lo || max > hi {
                    let bound = if min < lo { min } else { max };
                    self.err(
                        format!("{it}.{field}"),
                        line,
                        format!(
                            "value {} is out of range [{}, {}]",
                            fmt_num(bound),
                            fmt_num(lo),
                            fmt_num(hi)
                        ),
                    );
                }
                s
            }
            Err(e) => {
                self.err(format!("{it}.{field}"), line, e);
                Series::Const(0.0)
            }
        }
    }
}

/// The message for a nonzero value below [`MIN_MAGNITUDE`].
fn too_small(v: f64) -> String {
    format!(
        "{} is too small: a nonzero value must be at least {MIN_MAGNITUDE:e} in magnitude (write 0 for nothing)",
        fmt_num(v)
    )
}

/// The nonzero value of smallest magnitude in a series, if it has one.
fn smallest_nonzero(s: &Series) -> Option<f64> {
    let values = match s {
        Series::Const(v) => std::slice::from_ref(v),
        Series::Values(v) => &v[..],
    };
    values
        .iter()
        .copied()
        .filter(|&x| x != 0.0)
        .min_by(|a, b| a.abs().total_cmp(&b.abs()))
}

/// Validates a parsed park and resolves it into engine terms.
pub fn validate(file: &ParkFile) -> Result<ValidPark, LoadError> {
    let park = &file.park;
    let lines = LineIndex::new(&file.text);
    let mut c = Checker {
        file,
        problems: Vec::new(),
        species: Vec::new(),
        axis: None,
        csv: DriverCache::default(),
    };

    // Time.
    let start = parse_start(&park.time.start);
    if start.is_none() {
        c.err(
            "time.start".into(),
            None,
            format!(
                "{:?} is not a date-time of the form YYYY-MM-DDTHH:MM",
                park.time.start
            ),
        );
    }
    let dt = c.num("time", None, "step_h", park.time.step_h, 0.0, true, 744.0);
    // A step shorter than a second describes no park water system, and one near the smallest
    // normal double (1e-308) breaks the arithmetic itself: `1/Δt` overflows to infinity and the
    // balances turn NaN (a fuzz case, `step_h: 1e-320`, did exactly that).
    if dt.is_finite() && dt > 0.0 && dt < MIN_STEP_H {
        c.err(
            "time.step_h".into(),
            None,
            format!(
                "{} h is shorter than one second (1/3600 h), the shortest step accepted",
                fmt_num(dt)
            ),
        );
    }
    let max_steps = crate::limits::current().max_steps;
    if park.time.steps == 0 || park.time.steps > max_steps {
        c.err(
            "time.steps".into(),
            None,
            format!(
                "{} is out of range: must be 1 to {max_steps} (the maximum is set by --max-steps or PARKTWIN_MAX_STEPS)",
                park.time.steps
            ),
        );
    }
    let start = start.unwrap_or(Start {
        days: 0,
        minutes: 0,
    });
    if dt.is_finite() && dt > 0.0 && park.time.steps > 0 && park.time.steps <= max_steps {
        c.axis = Some(Axis {
            start,
            dt_h: dt,
            steps: park.time.steps,
        });
    }

    // Species: tds first.
    let mut species = vec!["tds".to_string()];
    let mut seen = HashSet::new();
    for (i, s) in park.species.iter().enumerate() {
        if s.is_empty() || !s.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
            c.err(
                format!("species[{i}]"),
                None,
                format!("{s:?} is not a valid species name (letters, digits, _)"),
            );
        }
        if !seen.insert(s.as_str()) {
            c.err(
                format!("species[{i}]"),
                None,
                format!("{s:?} is declared twice"),
            );
        }
        if s != "tds" {
            species.push(s.clone());
        }
    }
    c.species = species.clone();

    // The least a run of this size needs (no time series), checked before any driver is
    // sampled; species count the tracer.
    if park.time.steps > 0
        && park.time.steps <= max_steps
        && let Err(m) = crate::limits::estimate_memory(
            park.time.steps,
            park.units.len(),
            park.links.len(),
            species.len() + 1,
            false,
        )
        .check(crate::limits::current().max_memory_mb)
    {
        c.err("time.steps".into(), None, m);
        c.axis = None;
    }

    // Enterprises.
    let mut ent_index: HashMap<&str, usize> = HashMap::new();
    for (i, e) in park.enterprises.iter().enumerate() {
        if ent_index.insert(e.id.as_str(), i).is_some() {
            c.err(
                format!("enterprises[{i}] {:?}", e.id),
                lines.of(&e.id),
                "id is used more than once".into(),
            );
        }
        c.num(
            &format!("enterprises[{i}] {:?}", e.id),
            lines.of(&e.id),
            "value_added_10k_yuan_per_year",
            e.value_added_10k_yuan_per_year,
            0.0,
            false,
            MAX_MAGNITUDE,
        );
    }

    // Factors.
    let (grid, grid_label) = match &park.carbon.grid {
        GridFactor::Named(n) => match grid_factor(n) {
            Some(v) => (Series::Const(v), format!("{n} ({v} kg CO2/kWh)")),
            None => {
                let known: Vec<&str> = crate::factors::GRID_FACTORS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect();
                c.err(
                    "carbon.grid".into(),
                    None,
                    format!("unknown grid factor {n:?} (known: {})", known.join(", ")),
                );
                (Series::Const(0.0), n.clone())
            }
        },
        GridFactor::KgPerKwh(d) => {
            let s = c.driver("carbon", None, "grid", d, 0.0, 5.0);
            (s, "user-given grid factor".to_string())
        }
    };
    let price = c.driver(
        "carbon",
        None,
        "electricity_yuan_per_kwh",
        &park.carbon.electricity_yuan_per_kwh,
        0.0,
        100.0,
    );
    let heat_kg = c.num(
        "carbon",
        None,
        "heat_kg_per_kwh",
        park.carbon.heat_kg_per_kwh,
        0.0,
        false,
        5.0,
    );
    let heat_price = c.num(
        "carbon",
        None,
        "heat_yuan_per_kwh",
        park.carbon.heat_yuan_per_kwh,
        0.0,
        false,
        100.0,
    );
    let factors = Factors {
        grid_kg_per_kwh: grid,
        electricity_price: price,
        heat_kg_per_kwh: heat_kg,
        heat_price,
        grid_label: grid_label.clone(),
    };

    // Units.
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, u) in park.units.iter().enumerate() {
        let id = u.id();
        if id.is_empty() || id.contains('.') {
            c.err(
                item(i, id),
                lines.of(id),
                "an id must be non-empty and contain no '.'".into(),
            );
        }
        if let Some(prev) = ids.insert(id, i) {
            c.err(
                item(i, id),
                lines.of(id),
                format!("id is also used by units[{prev}]"),
            );
        }
    }
    let resources = parktwin_units::ParkResources {
        weather: physics::weather(&mut c, &park.weather),
        taxes: physics::taxes(&mut c, park, &ids),
    };
    let mut units = Vec::with_capacity(park.units.len());
    let mut metas = Vec::with_capacity(park.units.len());
    let big = MAX_MAGNITUDE;
    for (i, spec) in park.units.iter().enumerate() {
        let id = spec.id();
        let it = item(i, id);
        let line = lines.of(id);
        let enterprise = match spec.enterprise() {
            Some(e) => match ent_index.get(e) {
                Some(&k) => Some(k),
                None => {
                    c.err(
                        format!("{it}.enterprise"),
                        line,
                        format!("unknown enterprise {e:?}"),
                    );
                    None
                }
            },
            None => None,
        };
        let mut meta = UnitMeta {
            id: id.to_string(),
            type_name: spec.type_name(),
            source_kind: None,
            enterprise,
            product: None,
            location: match spec.location() {
                Some(&[lon, lat]) => Some([lon, lat]),
                _ => None,
            },
            is_use: false,
        };
        match spec.location() {
            Some(&[lon, lat])
                if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) => {}
            Some(loc) => c.err(
                format!("{it}.location"),
                line,
                format!("{loc:?} is not a WGS 84 [longitude, latitude]"),
            ),
            None => {}
        }
        let unit = match spec {
            UnitSpec::Source(s) => {
                let kind = match s.kind {
                    SourceKindSpec::Municipal => SourceKind::Municipal,
                    SourceKindSpec::Groundwater => SourceKind::Groundwater,
                    SourceKindSpec::Surface => SourceKind::Surface,
                    SourceKindSpec::Seawater => SourceKind::Seawater,
                    SourceKindSpec::Brackish => SourceKind::Brackish,
                    SourceKindSpec::MineWater => SourceKind::MineWater,
                    SourceKindSpec::Rainwater => SourceKind::Rainwater,
                    SourceKindSpec::ReclaimedMunicipal => SourceKind::ReclaimedMunicipal,
                };
                meta.source_kind = Some(kind);
                let availability = match &s.availability {
                    Some(d) => c.driver(&it, line, "availability", d, 0.0, 1.0),
                    None => Series::Const(1.0),
                };
                AnyUnit::Source(Source {
                    kind,
                    quality_mg_per_l: c.species_vec(
                        &it,
                        line,
                        "quality_mg_per_l",
                        &s.quality_mg_per_l,
                        0.0,
                        0.0,
                        1e6,
                    ),
                    cap_m3_per_h: c.num(&it, line, "cap_m3_per_h", s.cap_m3_per_h, 0.0, false, big),
                    availability,
                    annual_cap_m3: match s.annual_cap_m3 {
                        Some(v) => c.num(&it, line, "annual_cap_m3", v, 0.0, false, big),
                        None => f64::INFINITY,
                    },
                    price_yuan_per_m3: c.num(
                        &it,
                        line,
                        "price_yuan_per_m3",
                        s.price_yuan_per_m3,
                        0.0,
                        false,
                        1e4,
                    ),
                    carbon_kg_per_m3: c.num(
                        &it,
                        line,
                        "carbon_kg_per_m3",
                        s.carbon_kg_per_m3,
                        0.0,
                        false,
                        1e3,
                    ),
                    withdrawn_this_year_m3: 0.0,
                })
            }
            UnitSpec::Tank(s) => {
                let cap = c.num(&it, line, "capacity_m3", s.capacity_m3, 0.0, true, big);
                let min = c.num(&it, line, "minimum_m3", s.minimum_m3, 0.0, false, big);
                if min >= cap {
                    c.err(
                        format!("{it}.minimum_m3"),
                        line,
                        format!("{min} must be below capacity_m3 {cap}"),
                    );
                }
                let initial = match s.initial_m3 {
                    Some(v) => {
                        let v = c.num(&it, line, "initial_m3", v, 0.0, false, big);
                        if v > cap {
                            c.err(
                                format!("{it}.initial_m3"),
                                line,
                                format!("{v} exceeds capacity_m3 {cap}"),
                            );
                        }
                        v
                    }
                    None => 0.5 * cap,
                };
                let refill = s.refill.as_ref().map(|r| {
                    let below = c.num(
                        &it,
                        line,
                        "refill.below_fraction",
                        r.below_fraction,
                        0.0,
                        false,
                        1.0,
                    );
                    let to = c.num(
                        &it,
                        line,
                        "refill.to_fraction",
                        r.to_fraction,
                        0.0,
                        false,
                        1.0,
                    );
                    if below > to {
                        c.err(
                            format!("{it}.refill"),
                            line,
                            format!("below_fraction {below} is above to_fraction {to}"),
                        );
                    }
                    let rate = c.num(
                        &it,
                        line,
                        "refill.max_m3_per_h",
                        r.max_m3_per_h,
                        0.0,
                        true,
                        big,
                    );
                    (below, to, rate)
                });
                AnyUnit::Tank(Tank {
                    capacity_m3: cap,
                    minimum_m3: min,
                    initial_m3: initial,
                    initial_mg_per_l: c.species_vec(
                        &it,
                        line,
                        "initial_mg_per_l",
                        &s.initial_mg_per_l,
                        0.0,
                        0.0,
                        1e6,
                    ),
                    max_outflow_m3_per_h: match s.max_outflow_m3_per_h {
                        Some(v) => c.num(&it, line, "max_outflow_m3_per_h", v, 0.0, true, big),
                        None => f64::INFINITY,
                    },
                    refill,
                    refilling: false,
                })
            }
            UnitSpec::Process(s) => {
                meta.is_use = true;
                meta.product = Some((
                    s.product.clone().unwrap_or_else(|| id.to_string()),
                    s.product_unit.clone(),
                ));
                let specific = c.num(
                    &it,
                    line,
                    "water_m3_per_unit",
                    s.water_m3_per_unit,
                    0.0,
                    true,
                    big,
                );
                let loss = match s.loss {
                    LossSpec::Evaporated => Loss::Evaporated,
                    LossSpec::IntoProduct => Loss::IntoProduct,
                };
                let f_hi = if loss == Loss::Evaporated {
                    1.0 - 1e-9
                } else {
                    1.0
                };
                let f = c.num(
                    &it,
                    line,
                    "consumptive_fraction",
                    s.consumptive_fraction,
                    0.0,
                    false,
                    f_hi,
                );
                if loss == Loss::Evaporated && f >= 1.0 {
                    c.err(format!("{it}.consumptive_fraction"), line, "an evaporating process must leave some wastewater to carry its species (use loss: IntoProduct)".into());
                }
                let per_m3 = c.species_vec(
                    &it,
                    line,
                    "adds_kg_per_m3",
                    &s.adds_kg_per_m3,
                    0.0,
                    0.0,
                    1e3,
                );
                let per_unit = c.species_vec(
                    &it,
                    line,
                    "adds_kg_per_unit",
                    &s.adds_kg_per_unit,
                    0.0,
                    0.0,
                    1e6,
                );
                let load: Vec<f64> = per_m3
                    .iter()
                    .zip(&per_unit)
                    .map(|(a, b)| {
                        1000.0 * a
                            + if specific > 0.0 {
                                1000.0 * b / specific
                            } else {
                                0.0
                            }
                    })
                    .collect();
                AnyUnit::Process(Process {
                    production_per_h: c.driver(
                        &it,
                        line,
                        "production_per_h",
                        &s.production_per_h,
                        0.0,
                        big,
                    ),
                    specific_use_m3: specific,
                    consumptive_fraction: f,
                    loss,
                    load_g_per_m3: load,
                    accept_mg_per_l: c.species_vec(
                        &it,
                        line,
                        "accepts_mg_per_l",
                        &s.accepts_mg_per_l,
                        f64::INFINITY,
                        0.0,
                        1e6,
                    ),
                })
            }
            UnitSpec::FixedLoad(s) => {
                meta.is_use = true;
                let sp = c.species.iter().position(|x| x == &s.species);
                if sp.is_none() {
                    c.err(
                        format!("{it}.species"),
                        line,
                        format!("unknown species {:?}", s.species),
                    );
                }
                let m = c.num(&it, line, "load_kg_per_h", s.load_kg_per_h, 0.0, true, big);
                let cin = c.num(
                    &it,
                    line,
                    "c_in_max_mg_per_l",
                    s.c_in_max_mg_per_l,
                    0.0,
                    false,
                    1e6,
                );
                let cout = c.num(
                    &it,
                    line,
                    "c_out_max_mg_per_l",
                    s.c_out_max_mg_per_l,
                    0.0,
                    true,
                    1e6,
                );
                if cout <= cin {
                    c.err(
                        format!("{it}.c_out_max_mg_per_l"),
                        line,
                        format!("{cout} must be above c_in_max_mg_per_l {cin}"),
                    );
                }
                let ns = c.species.len();
                let mut load = vec![0.0; ns];
                let mut accept = vec![f64::INFINITY; ns];
                let flow = if cout > cin {
                    1000.0 * m / (cout - cin)
                } else {
                    0.0
                };
                if let Some(sp) = sp {
                    load[sp] = cout - cin;
                    accept[sp] = cin;
                }
                meta.product = Some((format!("{} removed", s.species), "kg".to_string()));
                AnyUnit::Process(Process {
                    production_per_h: Series::Const(flow),
                    specific_use_m3: 1.0,
                    consumptive_fraction: 0.0,
                    loss: Loss::Evaporated,
                    load_g_per_m3: load,
                    accept_mg_per_l: accept,
                })
            }
            UnitSpec::CoolingTower(s) => {
                meta.is_use = true;
                AnyUnit::CoolingTower(physics::cooling_tower(&mut c, &it, line, s))
            }
            UnitSpec::Treatment(s) => {
                let r = c.num(&it, line, "recovery", s.recovery, 0.0, true, 1.0);
                let to_reject = c.species_vec(
                    &it,
                    line,
                    "removal_to_reject",
                    &s.removal_to_reject,
                    0.0,
                    0.0,
                    1.0,
                );
                let destroyed = c.species_vec(&it, line, "destroyed", &s.destroyed, 0.0, 0.0, 1.0);
                for (k, name) in c.species.clone().iter().enumerate() {
                    if to_reject[k] + destroyed[k] > 1.0 + 1e-12 {
                        c.err(
                            format!("{it}.removal_to_reject[{name:?}]"),
                            line,
                            "removal_to_reject + destroyed exceeds 1".into(),
                        );
                    }
                    if r >= 1.0 && to_reject[k] > 0.0 {
                        c.err(
                            format!("{it}.removal_to_reject[{name:?}]"),
                            line,
                            "recovery 1 leaves no reject stream to carry removed species".into(),
                        );
                    }
                }
                let feed = physics::feed(&mut c, &it, line, &s.feed, &ids, park);
                AnyUnit::Treatment(Treatment {
                    recovery: r,
                    to_reject,
                    destroyed,
                    kwh_per_m3: c.num(&it, line, "kwh_per_m3", s.kwh_per_m3, 0.0, false, 1e3),
                    heat_kwh_per_m3: c.num(
                        &it,
                        line,
                        "heat_kwh_per_m3",
                        s.heat_kwh_per_m3,
                        0.0,
                        false,
                        1e4,
                    ),
                    chemical_kg_per_m3: c.num(
                        &it,
                        line,
                        "chemical_kg_per_m3",
                        s.chemical_kg_per_m3,
                        0.0,
                        false,
                        100.0,
                    ),
                    chemical_co2_per_kg: c.num(
                        &it,
                        line,
                        "chemical_co2_per_kg",
                        s.chemical_co2_per_kg,
                        0.0,
                        false,
                        100.0,
                    ),
                    chemical_yuan_per_kg: c.num(
                        &it,
                        line,
                        "chemical_yuan_per_kg",
                        s.chemical_yuan_per_kg,
                        0.0,
                        false,
                        1e4,
                    ),
                    feed,
                    running: false,
                    solids: vec![0.0; c.species.len()],
                    added_g_per_m3: vec![0.0; c.species.len()],
                    chemicals: Vec::new(),
                    removal_chemicals: Vec::new(),
                    capital: Default::default(),
                })
            }
            UnitSpec::Splitter(_) | UnitSpec::Mixer(_) => AnyUnit::Junction(Junction),
            UnitSpec::Discharge(s) => AnyUnit::Discharge(Discharge {
                limit_mg_per_l: c.species_vec(
                    &it,
                    line,
                    "limits_mg_per_l",
                    &s.limits_mg_per_l,
                    f64::INFINITY,
                    0.0,
                    1e6,
                ),
                fee_yuan_per_m3: c.num(
                    &it,
                    line,
                    "fee_yuan_per_m3",
                    s.fee_yuan_per_m3,
                    0.0,
                    false,
                    1e4,
                ),
            }),
            other => physics::unit(&mut c, &it, line, other, &mut meta, &ids, park),
        };
        units.push(unit);
        metas.push(meta);
    }

    // Links.
    let mut net = NetworkBuilder::new();
    for (i, u) in units.iter().enumerate() {
        net.add_unit(u.decl(park.units[i].id(), metas[i].enterprise.map(|e| e as u32)));
    }
    let mut link_item: HashMap<String, (usize, Option<usize>)> = HashMap::new();
    let pulls = |u: &AnyUnit| match u {
        AnyUnit::Process(_) | AnyUnit::CoolingTower(_) | AnyUnit::SteamSystem(_) => true,
        AnyUnit::Treatment(t) => !matches!(t.feed, Feed::Accept),
        AnyUnit::ReverseOsmosis(t) => !matches!(t.feed, Feed::Accept),
        AnyUnit::ThermalDesal(t) => !matches!(t.feed, Feed::Accept),
        AnyUnit::Crystalliser(t) => !matches!(t.feed, Feed::Accept),
        AnyUnit::Tank(t) => t.refill.is_some(),
        _ => false,
    };
    let mut fed: HashSet<usize> = HashSet::new();
    for (k, l) in park.links.iter().enumerate() {
        let (from_unit, from_port) = split_endpoint(&l.from);
        let (to_unit, to_port) = split_endpoint(&l.to);
        let id =
            l.id.clone()
                .unwrap_or_else(|| format!("{}->{}", l.from, l.to));
        let line = lines
            .from
            .get(l.from.as_str())
            .copied()
            .or_else(|| lines.of(&id));
        let it = format!("links[{k}] {id:?}");
        link_item.insert(id.clone(), (k, line));
        for (end, unit) in [("from", from_unit), ("to", to_unit)] {
            if !ids.contains_key(unit) {
                c.err(
                    format!("{it}.{end}"),
                    line,
                    format!("unknown unit {unit:?}"),
                );
            }
        }
        if let (Some(&f), Some(&t)) = (ids.get(from_unit), ids.get(to_unit)) {
            fed.insert(t);
            let supply = match &units[f] {
                AnyUnit::Source(_) | AnyUnit::RainHarvest(_) => true,
                AnyUnit::Tank(_) => from_port.is_none_or(|p| p == "out"),
                _ => false,
            };
            if supply && !pulls(&units[t]) {
                c.err(it.clone(), line, format!(
                    "{to_unit:?} ({}) does not draw water, so nothing would flow from {:?}: consumers (Process, FixedLoad, CoolingTower), a Treatment with a Fixed or FillTank feed, or a Tank with refill draw from sources and tanks",
                    park.units[t].type_name(), l.from
                ));
            }
        }
        let cap = match l.capacity_m3_per_h {
            Some(v) => c.num(&it, line, "capacity_m3_per_h", v, 0.0, false, big),
            None => f64::INFINITY,
        };
        c.num(&it, line, "head_m", l.head_m, 0.0, false, 1e4);
        c.num(
            &it,
            line,
            "pump_efficiency",
            l.pump_efficiency,
            0.0,
            true,
            1.0,
        );
        if let Some(f) = l.split_fraction {
            c.num(&it, line, "split_fraction", f, 0.0, false, 1.0);
        }
        net.add_link(LinkDecl {
            id,
            from_unit: from_unit.to_string(),
            from_port: from_port.map(str::to_string),
            to_unit: to_unit.to_string(),
            to_port: to_port.map(str::to_string),
            capacity_m3_per_h: cap,
            head_m: l.head_m,
            pump_efficiency: l.pump_efficiency,
            priority: l.priority,
            split_fraction: l.split_fraction,
        });
    }
    let dangling_link = park.links.iter().any(|l| {
        !ids.contains_key(split_endpoint(&l.from).0) || !ids.contains_key(split_endpoint(&l.to).0)
    });
    for (i, u) in units.iter().enumerate() {
        if matches!(
            u,
            AnyUnit::Process(_) | AnyUnit::CoolingTower(_) | AnyUnit::SteamSystem(_)
        ) && !fed.contains(&i)
            && !dangling_link
        {
            let id = park.units[i].id();
            c.err(
                item(i, id),
                lines.of(id),
                "no link brings water to this unit".into(),
            );
        }
    }

    // Events.
    let link_ids: Vec<String> = park
        .links
        .iter()
        .map(|l| {
            l.id.clone()
                .unwrap_or_else(|| format!("{}->{}", l.from, l.to))
        })
        .collect();
    let mut events = Vec::new();
    for (k, e) in park.events.iter().enumerate() {
        let (name, from_h, to_h) = match e {
            EventSpec::Outage { from_h, to_h, .. } => ("Outage", from_h, to_h),
            EventSpec::IntakeCap { from_h, to_h, .. } => ("IntakeCap", from_h, to_h),
            EventSpec::HeatWave { from_h, to_h, .. } => ("HeatWave", from_h, to_h),
            EventSpec::Production { from_h, to_h, .. } => ("Production", from_h, to_h),
            EventSpec::Tariff { from_h, to_h, .. } => ("Tariff", from_h, to_h),
            EventSpec::GridCarbon { from_h, to_h, .. } => ("GridCarbon", from_h, to_h),
            EventSpec::Leak { from_h, to_h, .. } => ("Leak", from_h, to_h),
            EventSpec::MeterFault { from_h, to_h, .. } => ("MeterFault", from_h, to_h),
        };
        let it = format!("events[{k}] {name}");
        let a = c.num(&it, None, "from_h", *from_h, 0.0, false, big);
        let b = c.num(&it, None, "to_h", *to_h, 0.0, false, big);
        if b <= a {
            c.err(
                it.clone(),
                None,
                format!("to_h {b} must be after from_h {a}"),
            );
        }
        let (from, to) = if dt > 0.0 && dt.is_finite() {
            ((a / dt).round() as usize, (b / dt).round() as usize)
        } else {
            (0, 0)
        };
        let unit = |c: &mut Checker<'_>, field: &str, id: &str, want: &[&str]| -> Option<u32> {
            match ids.get(id) {
                Some(&u) if want.is_empty() || want.contains(&park.units[u].type_name()) => {
                    Some(u as u32)
                }
                Some(&u) => {
                    c.err(
                        format!("{it}.{field}"),
                        None,
                        format!(
                            "{id:?} is a {}, not a {}",
                            park.units[u].type_name(),
                            want.join(" or ")
                        ),
                    );
                    None
                }
                None => {
                    c.err(
                        format!("{it}.{field}"),
                        None,
                        format!("unknown unit {id:?}"),
                    );
                    None
                }
            }
        };
        let mut push = |kind: EventKind, target: Target| {
            events.push(Event {
                kind,
                target,
                from,
                to,
            })
        };
        match e {
            EventSpec::Outage { unit: id, .. } => {
                if let Some(u) = unit(&mut c, "unit", id, &[]) {
                    push(EventKind::Outage, Target::Unit(u));
                }
            }
            EventSpec::IntakeCap {
                source,
                cap_m3_per_h,
                ..
            } => {
                let cap = c.num(&it, None, "cap_m3_per_h", *cap_m3_per_h, 0.0, false, big);
                if let Some(u) = unit(&mut c, "source", source, &["Source"]) {
                    push(EventKind::SupplyCap(cap), Target::Unit(u));
                }
            }
            EventSpec::HeatWave {
                units: list,
                factor,
                ..
            }
            | EventSpec::Production {
                units: list,
                factor,
                ..
            } => {
                let f = c.num(&it, None, "factor", *factor, 0.0, false, 1e3);
                let want: &[&str] = if matches!(e, EventSpec::HeatWave { .. }) {
                    &["CoolingTower"]
                } else {
                    &["Process", "FixedLoad"]
                };
                if list.is_empty() {
                    for (u, spec) in park.units.iter().enumerate() {
                        if want.contains(&spec.type_name()) {
                            push(EventKind::LoadFactor(f), Target::Unit(u as u32));
                        }
                    }
                } else {
                    for id in list {
                        if let Some(u) = unit(&mut c, "units", id, want) {
                            push(EventKind::LoadFactor(f), Target::Unit(u));
                        }
                    }
                }
            }
            EventSpec::Tariff { factor, .. } => {
                let f = c.num(&it, None, "factor", *factor, 0.0, false, 1e3);
                push(EventKind::PriceFactor(f), Target::Park);
            }
            EventSpec::GridCarbon { factor, .. } => {
                let f = c.num(&it, None, "factor", *factor, 0.0, false, 1e3);
                push(EventKind::GridFactor(f), Target::Park);
            }
            EventSpec::Leak { link, m3_per_h, .. } => {
                let q = c.num(&it, None, "m3_per_h", *m3_per_h, 0.0, false, big);
                match link_ids.iter().position(|x| x == link) {
                    Some(l) => push(EventKind::Leak(q), Target::Link(l as u32)),
                    None => c.err(format!("{it}.link"), None, format!("unknown link {link:?}")),
                }
            }
            // Meter faults act on readings, not on the water (resolved by `twin::meters`).
            EventSpec::MeterFault { .. } => {}
        }
    }
    // Meters and their faults (issue #7).
    for (item, message) in crate::twin::meters::check(park, &link_ids) {
        c.err(item, None, message);
    }

    // KPI targets and intake policy.
    for (item, message) in crate::kpi::check_spec(&park.kpi, &park.enterprises) {
        c.err(item, None, message);
    }

    // Coupling strategy.
    let source_ids: Vec<String> = park
        .units
        .iter()
        .filter(|u| matches!(u, UnitSpec::Source(_)))
        .map(|u| u.id().to_string())
        .collect();
    for (item, message) in crate::strategies::check_spec(&park.strategy, &source_ids) {
        c.err(item, None, message);
    }

    // Topology (only once the units themselves are sound: their errors would cascade).
    let topology = if c.problems.is_empty() {
        match net.compile() {
            Ok(t) => Some(t),
            Err(errors) => {
                for e in errors {
                    let (it, line) = network_item(&e, &link_item, &ids, file);
                    c.err(it, line, e.to_string());
                }
                None
            }
        }
    } else {
        None
    };

    match topology {
        Some(topology) if c.problems.is_empty() => Ok(ValidPark {
            meta: ParkMeta {
                name: park.name.clone(),
                species,
                steps: park.time.steps,
                dt_h: dt,
                start: park.time.start.clone(),
                units: metas,
                enterprises: park.enterprises.clone(),
                grid_label,
                kpi: park.kpi.clone(),
            },
            start,
            units,
            topology,
            factors,
            events,
            resources,
            strategy: park.strategy.clone(),
        }),
        _ => Err(LoadError::Invalid {
            path: file.path.clone(),
            problems: c.problems,
        }),
    }
}

/// `"unit.port"` → `("unit", Some("port"))`; `"unit"` → `("unit", None)`.
pub fn split_endpoint(s: &str) -> (&str, Option<&str>) {
    match s.split_once('.') {
        Some((u, p)) => (u, Some(p)),
        None => (s, None),
    }
}

/// Lines of items in the park text, found in one pass: the first line of every quoted string,
/// and of every `from: "..."` of a link.
struct LineIndex<'a> {
    quoted: HashMap<&'a str, usize>,
    from: HashMap<&'a str, usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let mut quoted = HashMap::new();
        let mut from = HashMap::new();
        let mut line = 1;
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => line += 1,
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'"' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < bytes.len() && bytes[j] != b'"' && bytes[j] != b'\n' {
                        j += if bytes[j] == b'\\' { 2 } else { 1 };
                    }
                    let j = j.min(bytes.len());
                    if let Some(s) = text.get(start..j) {
                        quoted.entry(s).or_insert(line);
                        if text[..i].trim_end().ends_with("from:") {
                            from.entry(s).or_insert(line);
                        }
                    }
                    i = j + 1;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        Self { quoted, from }
    }

    fn of(&self, id: &str) -> Option<usize> {
        self.quoted.get(id).copied()
    }
}

fn network_item(
    e: &parktwin_engine::error::NetworkError,
    links: &HashMap<String, (usize, Option<usize>)>,
    ids: &HashMap<&str, usize>,
    file: &ParkFile,
) -> (String, Option<usize>) {
    use parktwin_engine::error::NetworkError as N;
    let link = match e {
        N::DuplicateLink { link }
        | N::UnknownUnit { link, .. }
        | N::UnknownPort { link, .. }
        | N::AmbiguousPort { link, .. }
        | N::ExitPortLinked { link, .. }
        | N::NoInlet { link, .. }
        | N::UnknownInlet { link, .. }
        | N::DoubleLink { link, .. }
        | N::BadLinkValue { link, .. } => Some(link),
        _ => None,
    };
    if let Some(l) = link
        && let Some(&(k, line)) = links.get(l)
    {
        return (format!("links[{k}] {l:?}"), line);
    }
    let unit = match e {
        N::DuplicateUnit { id } => Some(id.clone()),
        N::UnlinkedPort { port }
        | N::PartialSplit { port }
        | N::SplitOnSupply { port }
        | N::SplitSum { port, .. } => Some(split_endpoint(port).0.to_string()),
        N::NoPurge { units } => units.first().cloned(),
        _ => None,
    };
    match unit {
        Some(u) => match ids.get(u.as_str()) {
            Some(&i) => (item(i, &u), file.line_of(&u)),
            None => ("units".into(), None),
        },
        None => ("links".into(), None),
    }
}
