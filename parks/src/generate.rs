//! Synthetic parks: seeded, plausible industrial parks as schema values, for tests, docs and
//! benches (`parktwin generate --enterprises N --seed S`).
//!
//! The same [`GenerateOptions`] always give the same [`Park`] and byte-identical RON from
//! [`to_ron`]: every random number comes from `ChaCha8Rng::seed_from_u64(seed)`, the park-wide
//! draws from stream 0 and enterprise `i` (1-based) from stream `i`, so adding enterprises leaves
//! the earlier ones as they were (only the park-wide sizing follows the total demand, and a park
//! without any centrally supplied tower gets one in `e001`, see below). Values are
//! rounded to a few significant digits so the file reads like a hand-written one. The parameters
//! are plausible, not measured: ranges tagged \[M\] in `DOMAIN.md`, and the unit-product water
//! intake of the Action Plan table (`reference/action_plan_2025_targets.csv`) as the specific
//! water use of processes (× 0.85–1.25).
//!
//! # Composition
//!
//! Park-wide units:
//! - `municipal` (Source, always), `groundwater` (Source, half of the seeds) and `reclaimed`
//!   (ReclaimedMunicipal Source, 60 % of the seeds when there is a cooling tower); qualities for
//!   every species; the municipal cap covers every consumer's peak demand plus every raw-water
//!   tank's refill rate at once (× 1.2), so demand is never unmet;
//! - `wwtp`, the central treatment plant (Treatment, feed `Accept`, recovery 0.98, 90 % of COD
//!   destroyed, the reject at the feed's concentration of salts): its `product` goes first to
//!   `reuse_tank` (priority 0, a link capped at 80 % of the total capacity of the tank's links to
//!   its towers, so the tank never overflows) and then to `outfall` (priority 1); its `reject`
//!   goes to `outfall`;
//! - `reuse_tank` (Tank, 4–8 h of its inflow cap; overflow → `outfall`) supplying the *centrally
//!   supplied* cooling towers at priority 0, each by a link capped at 30–60 % of the tower's
//!   smallest make-up of the year (the rest is blended from fresher water, which keeps the
//!   recirculating salts at a few g/L); their blowdown goes straight back to `wwtp`;
//! - `outfall` (Discharge, no permit limits so that a run's diagnostics stay empty; add limits for
//!   a compliance study).
//!
//! Enterprise `eNNN` (industry steel, chemical, textile, food, paper or electronics, uniformly):
//! - `eNNN_p1..p3`: 1–3 Processes (15/35/50 %), product and specific use from the Action Plan
//!   table, a design flow of 20–250 m³/h, `Profile` drivers (24 h × 7 day shapes: continuous for
//!   steel, chemical, paper and electronics, two shifts with quiet weekends for textile and food,
//!   plus a summer peak for food), consumptive fraction 0.05–0.3 and tds, cod (and cl) loads by
//!   industry;
//! - `eNNN_ct1..ct2`: 0–2 CoolingTowers (20/40/40 %), heat load `Seasonal` (summer and afternoon
//!   peaks), range 6–10 °C, cycles 3–6 (3–4 when centrally supplied, as the effluent is
//!   saltier), holding volume 200–3000 m³, chemicals dosed on make-up; each is centrally supplied
//!   (from `reuse_tank`) with probability 0.6, or 0.25 in an enterprise with a reuse loop; at
//!   least one tower of the park is centrally supplied (the first tower found, or a tower added
//!   to `e001`);
//! - `eNNN_raw`: a raw-water Tank (4–12 h of the enterprise's peak demand) refilled from
//!   `groundwater` then `municipal` (below 70 % of capacity, up to 90 %, at 1.5 × the peak
//!   demand), supplying every process and tower of the enterprise; the consumers keep a direct
//!   `municipal` link as the last resort;
//! - `eNNN_sump`: a Mixer collecting the process wastewater and the blowdown of towers that are
//!   not centrally supplied (its throughput is the enterprise's wastewater);
//! - `eNNN_pre`: pretreatment (Treatment, `Accept`, recovery 0.97–0.99, coagulation and
//!   hydrolysis removing COD), reject to `wwtp`;
//! - in half of the enterprises a local reuse loop: `eNNN_uf` (ultrafiltration, recovery
//!   0.90–0.95) → `eNNN_ro` (reverse osmosis, recovery 0.7–0.9, 90–97 % of the salts and 50 % of
//!   the COD to the reject, 30 % of the COD destroyed) → `eNNN_tank` (Tank, 4–12 h of the local
//!   demand, overflow → `outfall`), which supplies the enterprise's processes and towers at
//!   priority 0; the UF and RO rejects go to `wwtp`. Without the loop, `eNNN_pre`'s product goes
//!   to `wwtp`.
//!
//! Species: `["tds", "cod"]`, plus `"cl"` (chloride) when there are 50 enterprises or more.
//!
//! Every driven outlet ends in a unit that takes any flow (a tank, a treatment unit with feed
//! `Accept`, the mixer or the outfall); every tank receives less than its consumers can pull
//! (reuse tanks) or refills only up to 90 % (raw-water tanks); and the municipal cap covers
//! everything at once: so a run has no spill, no overflow and no unmet demand.
//!
//! # Exact relations
//!
//! With `E` enterprises, `P` processes, `T` cooling towers, `R` enterprises with a reuse loop and
//! `S` sources (1–3):
//!
//! ```text
//! units = S + 3 + 3·E + P + T + 3·R            4 + 4·E ≤ units ≤ 6 + 11·E (E ≥ 1)
//! per enterprise: 3 + p + t + 3·r ∈ [4, 11]     expected 3 + 2.35 + 1.2 + 1.5 = 8.05
//! ```
//!
//! so `--enterprises 60` gives about 60 × 8.05 + 5 ≈ 490 units. Links:
//!
//! ```text
//! links = 4 + Σ_enterprises (5 + g + 5·r)      wwtp ×3 and reuse_tank overflow; raw refill(s),
//!                                               raw overflow, sump, pretreatment ×2, reuse train
//!       + Σ_processes (3 + r)                  waste, raw, municipal, local tank
//!       + Σ_towers (3 + r + c + k)             blowdown, raw, municipal, local tank, central, reclaimed
//! ```
//!
//! with `g` = 1 when there is a groundwater source, `k` = 1 with a reclaimed-water source,
//! `r` = 1 in an enterprise with a reuse loop and `c` = 1 for a centrally supplied tower.
//!
//! Recycle loops (strongly connected sets of units over links in their water's direction, pulls
//! from tanks included: the engine's quality graph): one per reuse enterprise, `eNNN_tank →
//! processes and local towers → sump → pre → uf → ro → eNNN_tank` (5 + p + t_local ≤ 10 units),
//! and the central one, `wwtp → reuse_tank → centrally supplied towers → wwtp` (2 + T_central
//! units, T_central ≈ 0.425·T, so about 2 + 0.5·E). The largest loop is therefore
//! `max(2 + T_central, 5 + p + t_local)`: the central one from about a dozen enterprises on. With
//! seed 1: 1 enterprise → 13 units, 24 links, 1 loop of 3 units; 10 → 85 units, 235 links,
//! 5 loops, the largest of 12; 60 → 499 units, 1402 links, 3 species, 32 loops, the largest of
//! 33 (see [`composition`]). Raw-water tanks, sources, the outfall and enterprises without reuse
//! are in no loop. Every loop has a purge: the rejects to `wwtp`, and `wwtp`'s product and reject
//! to `outfall`.

use crate::schema::{
    CarbonSpec, CoolingTowerSpec, DischargeSpec, Driver, EnterpriseSpec, FeedSpec, JunctionSpec,
    LinkSpec, LossSpec, Park, ProcessSpec, RefillSpec, SourceKindSpec, SourceSpec, SpeciesMap,
    TankSpec, TimeSpec, TreatmentSpec, UnitSpec,
};
use parktwin_engine::record::RHO_WATER;
use parktwin_units::CP_WATER;
use parktwin_units::cooling_tower::METRIC_RULE;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::f64::consts::PI;

/// Options of the synthetic park generator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of enterprises.
    pub enterprises: usize,
    /// Seed of the random draws (same options → same park, byte for byte).
    pub seed: u64,
    /// Number of hourly steps of the time axis (default 8,760: one year).
    pub steps: usize,
}

impl Default for GenerateOptions {
    /// Ten enterprises, seed 1, one year of hourly steps.
    fn default() -> Self {
        Self {
            enterprises: 10,
            seed: 1,
            steps: 8760,
        }
    }
}

/// Composition facts for docs and benches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Composition {
    /// Number of units.
    pub units: usize,
    /// Number of links.
    pub links: usize,
    /// Number of declared species (`"tds"` counted even when the file leaves it out).
    pub species: usize,
    /// Number of enterprises.
    pub enterprises: usize,
    /// Number of recycle loops: strongly connected sets of units with a cycle, over links in
    /// their water's direction (the quality graph of the engine).
    pub loops: usize,
    /// Units in the largest recycle loop (0 when there is none).
    pub largest_loop: usize,
}

/// Composition of `park`: counts, and recycle loops over the link graph (a link `a.port → b`
/// is an edge `a → b`; supply links count in the direction the water flows).
pub fn composition(park: &Park) -> Composition {
    let index: HashMap<&str, usize> = park
        .units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id(), i))
        .collect();
    let resolve = |end: &str| -> Option<usize> {
        index.get(end).copied().or_else(|| {
            end.rsplit_once('.')
                .and_then(|(unit, _)| index.get(unit).copied())
        })
    };
    let mut edges = vec![Vec::new(); park.units.len()];
    for l in &park.links {
        if let (Some(a), Some(b)) = (resolve(&l.from), resolve(&l.to)) {
            edges[a].push(b);
        }
    }
    let (_, comps) = parktwin_engine::network::sccs(&edges);
    let cyclic: Vec<usize> = comps
        .iter()
        .filter(|c| c.cyclic)
        .map(|c| (c.end - c.start) as usize)
        .collect();
    let species = park.species.len() + usize::from(!park.species.iter().any(|s| s == "tds"));
    Composition {
        units: park.units.len(),
        links: park.links.len(),
        species,
        enterprises: park.enterprises.len(),
        loops: cyclic.len(),
        largest_loop: cyclic.iter().copied().max().unwrap_or(0),
    }
}

/// The park as pretty RON text readable back by the loader, with a header comment describing
/// its composition.
///
/// Written with the extensions `unwrap_newtypes`, `implicit_some` and
/// `unwrap_variant_newtypes` (declared by `#![enable(..)]` lines, so that a unit reads
/// `Source(id: "municipal", ...)` and an optional field takes a bare value). The text parses
/// back to an equal park with the loader's options.
///
/// # Panics
/// Never for a schema value: every schema type serializes to RON (a failure would be a bug in
/// the schema's serde derives).
pub fn to_ron(park: &Park) -> String {
    use ron::extensions::Extensions;
    let config = ron::ser::PrettyConfig::new()
        .indentor("    ")
        .depth_limit(3)
        .separate_tuple_members(false)
        .extensions(
            Extensions::UNWRAP_NEWTYPES
                | Extensions::IMPLICIT_SOME
                | Extensions::UNWRAP_VARIANT_NEWTYPES,
        );
    let body =
        ron::ser::to_string_pretty(park, config).expect("schema values always serialize to RON");
    let mut out = header(park);
    out.push_str(&body);
    out.push('\n');
    out
}

/// Comment lines (`// ...`) describing the park.
fn header(park: &Park) -> String {
    let c = composition(park);
    let mut types: BTreeMap<&str, usize> = BTreeMap::new();
    for u in &park.units {
        *types.entry(u.type_name()).or_insert(0) += 1;
    }
    let mut industries: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &park.enterprises {
        *industries.entry(e.industry.as_str()).or_insert(0) += 1;
    }
    let list = |m: &BTreeMap<&str, usize>| {
        m.iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lines = [
        park.name.clone(),
        park.description.clone(),
        format!(
            "{} ({}); {} ({}); {}",
            plural(c.enterprises, "enterprise"),
            list(&industries),
            plural(c.units, "unit"),
            list(&types),
            plural(c.links, "link"),
        ),
        format!(
            "species: {}; {} of {} h from {}; {}, the largest of {}",
            park.species.join(", "),
            plural(park.time.steps, "step"),
            park.time.step_h,
            park.time.start,
            plural(c.loops, "recycle loop"),
            plural(c.largest_loop, "unit"),
        ),
    ];
    lines
        .iter()
        .flat_map(|l| l.lines())
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("// {l}\n"))
        .collect()
}

/// `"1 unit"`, `"2 units"`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A synthetic but plausible park as a schema value (serialize it with [`to_ron`]). See the
/// module docs for its composition.
pub fn generate(opts: &GenerateOptions) -> Park {
    let mut rng = stream(opts.seed, 0);
    let with_cl = opts.enterprises >= 50;
    let species: Vec<String> = if with_cl {
        vec!["tds".into(), "cod".into(), "cl".into()]
    } else {
        vec!["tds".into(), "cod".into()]
    };
    let park = ParkPlan::draw(&mut rng, opts.enterprises);
    let mut enterprises: Vec<EnterprisePlan> = (1..=opts.enterprises)
        .map(|i| EnterprisePlan::draw(&mut stream(opts.seed, i as u64), i))
        .collect();
    ensure_central_tower(&mut enterprises);
    let mut b = Builder {
        species,
        units: Vec::new(),
        links: Vec::new(),
    };
    b.emit(&park, &enterprises);
    let industries: Vec<EnterpriseSpec> = enterprises
        .iter()
        .map(|e| EnterpriseSpec {
            id: e.id.clone(),
            name: format!("Enterprise {} ({})", e.index, e.industry.data().label),
            industry: e.industry.data().action_plan.to_string(),
            value_added_10k_yuan_per_year: e.value_added_10k_yuan_per_year(),
        })
        .collect();
    Park {
        name: format!(
            "synthetic park: {}, seed {}",
            plural(opts.enterprises, "enterprise"),
            opts.seed
        ),
        description: format!(
            "Generated by `parktwin generate --enterprises {} --seed {} --steps {}` \
             (parktwin_parks::generate): plausible, not measured.",
            opts.enterprises, opts.seed, opts.steps
        ),
        time: TimeSpec {
            start: "2025-01-01T00:00".to_string(),
            step_h: 1.0,
            steps: opts.steps,
        },
        species: b.species,
        carbon: CarbonSpec::default(),
        kpi: Default::default(),
        strategy: None,
        enterprises: industries,
        units: b.units,
        links: b.links,
        events: Vec::new(),
        weather: None,
        meters: Vec::new(),
    }
}

/// The generator for `stream` of `seed`.
fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A uniform draw in `[lo, hi]`.
fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    rng.random_range(lo..=hi)
}

/// `x` rounded to `digits` significant digits.
fn sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let e = digits - 1 - x.abs().log10().floor() as i32;
    let m = 10f64.powi(e.abs());
    if e >= 0 {
        (x * m).round() / m
    } else {
        (x / m).round() * m
    }
}

/// `x` rounded to `decimals` decimals.
fn dec(x: f64, decimals: i32) -> f64 {
    let m = 10f64.powi(decimals);
    (x * m).round() / m
}

/// `x` rounded up to two significant digits.
fn ceil2(x: f64) -> f64 {
    two_digits(x, f64::ceil)
}

/// `x` rounded down to two significant digits.
fn floor2(x: f64) -> f64 {
    two_digits(x, f64::floor)
}

/// `x` rounded to two significant digits by `f` (0 for `x ≤ 0`). Scales by an exact power of
/// ten in the direction that keeps the result the nearest double to its decimal.
fn two_digits(x: f64, f: fn(f64) -> f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let e = x.log10().floor() as i32 - 1;
    let m = 10f64.powi(e.abs());
    if e >= 0 { f(x / m) * m } else { f(x * m) / m }
}

/// Picks an index with the given weights (summing to 1).
fn weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    weights.len() - 1
}

/// `v` scaled to mean 1 and rounded to three decimals.
fn normalised(v: Vec<f64>) -> Vec<f64> {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    v.into_iter().map(|x| dec(x / mean, 3)).collect()
}

/// Largest factor of a profile list (1 for an empty list, which means "no factor").
fn max_of(v: &[f64]) -> f64 {
    if v.is_empty() {
        1.0
    } else {
        v.iter().copied().fold(f64::MIN, f64::max)
    }
}

/// Industries of the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Industry {
    Steel,
    Chemical,
    Textile,
    Food,
    Paper,
    Electronics,
}

/// A product: name, unit, unit-product water intake (m³ per unit), value added (yuan per unit).
struct Product {
    name: &'static str,
    unit: &'static str,
    water_m3_per_unit: f64,
    value_added_yuan_per_unit: f64,
}

/// What an industry's processes and towers look like (\[M\] ranges).
struct IndustryData {
    label: &'static str,
    /// Industry as named in the Action Plan table.
    action_plan: &'static str,
    products: &'static [Product],
    consumptive: (f64, f64),
    loss: LossSpec,
    /// Loads added per m³ of inflow, kg/m³: tds, cod, cl.
    tds: (f64, f64),
    cod: (f64, f64),
    cl: (f64, f64),
    /// Round-the-clock production (else two shifts and quiet weekends).
    continuous: bool,
    /// Mean heat load of a cooling tower, MW.
    heat_mw: (f64, f64),
}

const fn product(name: &'static str, unit: &'static str, water: f64, va: f64) -> Product {
    Product {
        name,
        unit,
        water_m3_per_unit: water,
        value_added_yuan_per_unit: va,
    }
}

impl Industry {
    const ALL: [Industry; 6] = [
        Industry::Steel,
        Industry::Chemical,
        Industry::Textile,
        Industry::Food,
        Industry::Paper,
        Industry::Electronics,
    ];

    fn data(self) -> &'static IndustryData {
        // Products and water intake per unit: Action Plan table (baseline 2020); electronics
        // [M]. Value added per unit [M].
        static STEEL: IndustryData = IndustryData {
            label: "steel",
            action_plan: "steel",
            products: &[product("crude steel", "t", 2.5, 600.0)],
            consumptive: (0.15, 0.3),
            loss: LossSpec::Evaporated,
            tds: (0.3, 0.8),
            cod: (0.05, 0.2),
            cl: (0.05, 0.2),
            continuous: true,
            heat_mw: (20.0, 60.0),
        };
        static CHEMICAL: IndustryData = IndustryData {
            label: "chemical",
            action_plan: "petrochemical_chemical",
            products: &[
                product("ethylene", "t", 9.0, 2000.0),
                product("synthetic ammonia", "t", 10.0, 800.0),
                product("coal-to-methanol", "t", 13.0, 600.0),
                product("industrial sulfuric acid", "t", 2.6, 150.0),
                product("caustic soda", "t", 7.1, 700.0),
                product("PVC", "t", 9.5, 1200.0),
                product("soda ash", "t", 5.0, 500.0),
            ],
            consumptive: (0.1, 0.25),
            loss: LossSpec::Evaporated,
            tds: (1.0, 3.0),
            cod: (1.0, 3.0),
            cl: (0.3, 1.2),
            continuous: true,
            heat_mw: (10.0, 50.0),
        };
        static TEXTILE: IndustryData = IndustryData {
            label: "textile",
            action_plan: "textile",
            products: &[
                product("woven dyed fabric", "100 m", 1.6, 300.0),
                product("polyester filament fabric", "100 m", 1.3, 250.0),
                product("nylon filament fabric", "100 m", 1.1, 250.0),
                product("knitted dyed fabric", "t", 95.0, 8000.0),
            ],
            consumptive: (0.05, 0.15),
            loss: LossSpec::Evaporated,
            tds: (1.0, 3.0),
            cod: (0.8, 2.0),
            cl: (0.4, 1.5),
            continuous: false,
            heat_mw: (2.0, 8.0),
        };
        static FOOD: IndustryData = IndustryData {
            label: "food",
            action_plan: "food",
            products: &[
                product("beer", "kL", 4.5, 1500.0),
                product("starch sugar", "t", 6.0, 800.0),
                product("baijiu", "kL", 7.0, 20000.0),
            ],
            consumptive: (0.1, 0.3),
            loss: LossSpec::IntoProduct,
            tds: (0.5, 1.5),
            cod: (1.5, 4.0),
            cl: (0.2, 0.8),
            continuous: false,
            heat_mw: (2.0, 10.0),
        };
        static PAPER: IndustryData = IndustryData {
            label: "paper",
            action_plan: "paper",
            products: &[
                product("containerboard", "t", 24.0, 900.0),
                product("corrugating medium", "t", 22.0, 800.0),
                product("bleached chemical wood pulp", "t", 75.0, 1500.0),
            ],
            consumptive: (0.1, 0.2),
            loss: LossSpec::Evaporated,
            tds: (0.8, 2.0),
            cod: (1.5, 3.5),
            cl: (0.1, 0.4),
            continuous: true,
            heat_mw: (5.0, 20.0),
        };
        static ELECTRONICS: IndustryData = IndustryData {
            label: "electronics",
            action_plan: "other",
            products: &[
                product("printed circuit boards", "m2", 0.7, 300.0),
                product("semiconductor wafers", "wafer", 6.0, 5000.0),
            ],
            consumptive: (0.05, 0.1),
            loss: LossSpec::Evaporated,
            tds: (0.2, 0.8),
            cod: (0.2, 0.6),
            cl: (0.05, 0.3),
            continuous: true,
            heat_mw: (5.0, 25.0),
        };
        match self {
            Industry::Steel => &STEEL,
            Industry::Chemical => &CHEMICAL,
            Industry::Textile => &TEXTILE,
            Industry::Food => &FOOD,
            Industry::Paper => &PAPER,
            Industry::Electronics => &ELECTRONICS,
        }
    }
}

/// Quality of a source, mg/L.
#[derive(Clone, Copy, Debug)]
struct Quality {
    tds: f64,
    cod: f64,
    cl: f64,
}

/// Park-wide draws.
struct ParkPlan {
    /// Park origin, `[longitude, latitude]`.
    origin: [f64; 2],
    municipal: Quality,
    municipal_price: f64,
    municipal_co2: f64,
    /// Groundwater: quality, price, carbon, share of the mean demand as its cap.
    groundwater: Option<(Quality, f64, f64, f64)>,
    /// Reclaimed municipal water: quality, price, carbon, share of the towers' mean make-up.
    reclaimed: Option<(Quality, f64, f64, f64)>,
    wwtp_kwh: f64,
    wwtp_chem: f64,
    reuse_tank_hours: f64,
    outfall_fee: f64,
    /// Plot grid: columns.
    columns: usize,
}

impl ParkPlan {
    fn draw(rng: &mut ChaCha8Rng, enterprises: usize) -> Self {
        let origin = [
            dec(uniform(rng, 113.0, 121.0), 4),
            dec(uniform(rng, 22.5, 40.0), 4),
        ];
        let municipal = Quality {
            tds: sig(uniform(rng, 200.0, 450.0), 3),
            cod: sig(uniform(rng, 5.0, 15.0), 2),
            cl: sig(uniform(rng, 20.0, 80.0), 2),
        };
        let municipal_price = dec(uniform(rng, 4.0, 6.0), 2);
        let municipal_co2 = dec(uniform(rng, 0.3, 0.45), 3);
        let gw = rng.random_bool(0.5);
        let groundwater = {
            let q = Quality {
                tds: sig(uniform(rng, 400.0, 900.0), 3),
                cod: sig(uniform(rng, 2.0, 8.0), 2),
                cl: sig(uniform(rng, 40.0, 150.0), 2),
            };
            let v = (
                q,
                dec(uniform(rng, 2.0, 3.5), 2),
                dec(uniform(rng, 0.15, 0.3), 3),
                dec(uniform(rng, 0.15, 0.35), 2),
            );
            gw.then_some(v)
        };
        let rc = rng.random_bool(0.6);
        let reclaimed = {
            let q = Quality {
                tds: sig(uniform(rng, 600.0, 1200.0), 3),
                cod: sig(uniform(rng, 20.0, 40.0), 2),
                cl: sig(uniform(rng, 150.0, 300.0), 2),
            };
            let v = (
                q,
                dec(uniform(rng, 1.5, 3.0), 2),
                dec(uniform(rng, 0.4, 0.8), 3),
                dec(uniform(rng, 0.3, 0.6), 2),
            );
            rc.then_some(v)
        };
        Self {
            origin,
            municipal,
            municipal_price,
            municipal_co2,
            groundwater,
            reclaimed,
            wwtp_kwh: dec(uniform(rng, 0.3, 0.6), 2),
            wwtp_chem: dec(uniform(rng, 0.03, 0.08), 3),
            reuse_tank_hours: dec(uniform(rng, 4.0, 8.0), 1),
            outfall_fee: dec(uniform(rng, 1.0, 2.0), 2),
            columns: (enterprises as f64).sqrt().ceil().max(1.0) as usize,
        }
    }

    /// Coordinates of enterprise `index` (1-based) offset by `(dx, dy)` within its plot.
    fn location(&self, index: usize, dx: f64, dy: f64) -> [f64; 2] {
        let (row, col) = ((index - 1) / self.columns, (index - 1) % self.columns);
        [
            dec(self.origin[0] + 0.005 * col as f64 + dx, 5),
            dec(self.origin[1] + 0.004 * row as f64 + dy, 5),
        ]
    }
}

/// One process of an enterprise.
struct ProcessPlan {
    product: &'static Product,
    specific_m3_per_unit: f64,
    base_per_h: f64,
    daily: Vec<f64>,
    weekly: Vec<f64>,
    monthly: Vec<f64>,
    consumptive: f64,
    tds: f64,
    cod: f64,
    cl: f64,
}

impl ProcessPlan {
    fn draw(rng: &mut ChaCha8Rng, industry: Industry) -> Self {
        let d = industry.data();
        let product = &d.products[rng.random_range(0..d.products.len())];
        let specific = sig(product.water_m3_per_unit * uniform(rng, 0.85, 1.25), 3);
        let design_m3_per_h = uniform(rng, 20.0, 250.0);
        let base = sig(design_m3_per_h / specific, 3);
        let (daily, weekly): (Vec<f64>, Vec<f64>) = if d.continuous {
            (
                (0..24).map(|_| 1.0 + uniform(rng, -0.04, 0.04)).collect(),
                (0..7).map(|_| 1.0 + uniform(rng, -0.03, 0.03)).collect(),
            )
        } else {
            let (start, end) = (rng.random_range(5..8), rng.random_range(21..24));
            (
                (0..24)
                    .map(|h| {
                        let level = if (start..end).contains(&h) { 1.2 } else { 0.5 };
                        level + uniform(rng, -0.05, 0.05)
                    })
                    .collect(),
                [1.08, 1.08, 1.08, 1.08, 1.08, 0.9, 0.7]
                    .iter()
                    .map(|w| w + uniform(rng, -0.03, 0.03))
                    .collect(),
            )
        };
        let monthly = if industry == Industry::Food {
            let a = uniform(rng, 0.1, 0.25);
            normalised(
                (0..12)
                    .map(|m| 1.0 + a * (2.0 * PI * (m as f64 - 6.0) / 12.0).cos())
                    .collect(),
            )
        } else {
            Vec::new()
        };
        Self {
            product,
            specific_m3_per_unit: specific,
            base_per_h: base,
            daily: normalised(daily),
            weekly: normalised(weekly),
            monthly,
            consumptive: dec(uniform(rng, d.consumptive.0, d.consumptive.1), 3),
            tds: sig(uniform(rng, d.tds.0, d.tds.1), 2),
            cod: sig(uniform(rng, d.cod.0, d.cod.1), 2),
            cl: sig(uniform(rng, d.cl.0, d.cl.1), 2),
        }
    }

    fn mean_m3_per_h(&self) -> f64 {
        self.base_per_h * self.specific_m3_per_unit
    }

    /// Largest hourly demand, m³/h (the product of the largest factors bounds it).
    fn peak_m3_per_h(&self) -> f64 {
        self.mean_m3_per_h() * max_of(&self.daily) * max_of(&self.weekly) * max_of(&self.monthly)
    }
}

/// One cooling tower.
#[derive(Clone)]
struct TowerPlan {
    mean_mw: f64,
    annual_mw: f64,
    peak_day: f64,
    daily_mw: f64,
    peak_hour: f64,
    range_c: f64,
    /// Position of the cycles of concentration within their range, 0–1.
    cycles_at: f64,
    /// Largest share of the smallest make-up drawn from the central reuse tank.
    reuse_share: f64,
    holding_m3: f64,
    head_m: f64,
    fan_kw_per_mw: f64,
    chemical_kg_per_m3: f64,
    /// Supplied from the central reuse tank.
    central: bool,
}

impl TowerPlan {
    fn draw(rng: &mut ChaCha8Rng, industry: Industry, reuse: bool) -> Self {
        let d = industry.data();
        let mean = sig(uniform(rng, d.heat_mw.0, d.heat_mw.1), 3);
        let range_c = dec(uniform(rng, 6.0, 10.0) * 2.0, 0) / 2.0;
        let circulation = mean * 1e6 / (RHO_WATER * CP_WATER * range_c) * 3600.0;
        Self {
            mean_mw: mean,
            annual_mw: sig(mean * uniform(rng, 0.15, 0.35), 2),
            peak_day: dec(uniform(rng, 190.0, 215.0), 0),
            daily_mw: sig(mean * uniform(rng, 0.05, 0.12), 2),
            peak_hour: dec(uniform(rng, 14.0, 16.0), 0),
            range_c,
            cycles_at: uniform(rng, 0.0, 1.0),
            reuse_share: dec(uniform(rng, 0.3, 0.6), 2),
            holding_m3: (circulation * uniform(rng, 0.25, 0.5))
                .clamp(200.0, 3000.0)
                .round(),
            head_m: dec(uniform(rng, 18.0, 25.0), 0),
            fan_kw_per_mw: dec(uniform(rng, 5.0, 9.0), 1),
            chemical_kg_per_m3: dec(uniform(rng, 0.02, 0.05), 3),
            central: rng.random_bool(if reuse { 0.25 } else { 0.6 }),
        }
    }

    /// Cycles of concentration: 3–6, or 3–4 for a tower fed with the central plant's effluent
    /// (its make-up is saltier, `N_max = C_limit/C_makeup`).
    fn cycles(&self) -> f64 {
        let hi = if self.central { 4.0 } else { 6.0 };
        dec(3.0 + (hi - 3.0) * self.cycles_at, 1)
    }

    /// Capacity of the link from the central reuse tank, m³/h: a share of the smallest make-up,
    /// the rest blended from fresh water.
    fn reuse_cap_m3_per_h(&self) -> f64 {
        floor2(self.reuse_share * self.min_m3_per_h())
    }

    /// Make-up per MW of heat load, m³/h (units' cooling-tower model with the default drift:
    /// `M = E·N/(N − 1)` while the blowdown is positive, which holds for N ≤ 6).
    fn makeup_per_mw(&self) -> f64 {
        let r = 1e6 / (RHO_WATER * CP_WATER * self.range_c) * 3600.0;
        let e = METRIC_RULE * r * self.range_c;
        let d = DRIFT * r;
        let b = (e / (self.cycles() - 1.0) - d).max(0.0);
        e + b + d
    }

    fn peak_m3_per_h(&self) -> f64 {
        self.makeup_per_mw() * (self.mean_mw + self.annual_mw + self.daily_mw)
    }

    fn min_m3_per_h(&self) -> f64 {
        self.makeup_per_mw() * (self.mean_mw - self.annual_mw - self.daily_mw).max(0.0)
    }

    fn mean_m3_per_h(&self) -> f64 {
        self.makeup_per_mw() * self.mean_mw
    }
}

/// Drift fraction of the towers (the schema's default, modern eliminators).
const DRIFT: f64 = 0.0001;

/// A local reuse loop.
struct ReusePlan {
    uf_recovery: f64,
    uf_cod_to_reject: f64,
    uf_kwh: f64,
    ro_recovery: f64,
    ro_salt_to_reject: f64,
    ro_kwh: f64,
    tank_hours: f64,
}

/// One enterprise.
struct EnterprisePlan {
    index: usize,
    id: String,
    industry: Industry,
    processes: Vec<ProcessPlan>,
    towers: Vec<TowerPlan>,
    /// Drawn always; used when the park needs a tower here.
    spare_tower: TowerPlan,
    raw_hours: f64,
    pre_recovery: f64,
    pre_cod_to_reject: f64,
    pre_cod_destroyed: f64,
    pre_kwh: f64,
    pre_chem: f64,
    reuse: Option<ReusePlan>,
    /// Offsets of units within the plot.
    jitter: Vec<(f64, f64)>,
}

impl EnterprisePlan {
    fn draw(rng: &mut ChaCha8Rng, index: usize) -> Self {
        let industry = Industry::ALL[rng.random_range(0..Industry::ALL.len())];
        let n_p = 1 + weighted(rng, &[0.15, 0.35, 0.5]);
        let n_t = weighted(rng, &[0.2, 0.4, 0.4]);
        let reuse = rng.random_bool(0.5);
        let processes = (0..n_p).map(|_| ProcessPlan::draw(rng, industry)).collect();
        let towers = (0..n_t)
            .map(|_| TowerPlan::draw(rng, industry, reuse))
            .collect();
        let spare_tower = TowerPlan::draw(rng, industry, reuse);
        let reuse_plan = ReusePlan {
            uf_recovery: dec(uniform(rng, 0.9, 0.95), 3),
            uf_cod_to_reject: dec(uniform(rng, 0.1, 0.2), 3),
            uf_kwh: dec(uniform(rng, 0.2, 0.25), 3),
            ro_recovery: dec(uniform(rng, 0.7, 0.9), 3),
            ro_salt_to_reject: dec(uniform(rng, 0.9, 0.97), 3),
            ro_kwh: dec(uniform(rng, 0.8, 1.5), 2),
            tank_hours: dec(uniform(rng, 4.0, 12.0), 1),
        };
        Self {
            index,
            id: format!("e{index:03}"),
            industry,
            processes,
            towers,
            spare_tower,
            raw_hours: dec(uniform(rng, 4.0, 12.0), 1),
            pre_recovery: dec(uniform(rng, 0.97, 0.99), 3),
            pre_cod_to_reject: dec(uniform(rng, 0.05, 0.15), 3),
            pre_cod_destroyed: dec(uniform(rng, 0.1, 0.3), 3),
            pre_kwh: dec(uniform(rng, 0.1, 0.3), 2),
            pre_chem: dec(uniform(rng, 0.05, 0.2), 3),
            reuse: reuse.then_some(reuse_plan),
            jitter: (0..12)
                .map(|_| (uniform(rng, -0.0018, 0.0018), uniform(rng, -0.0014, 0.0014)))
                .collect(),
        }
    }

    /// Peak demand of every consumer of the enterprise, m³/h.
    fn peak_m3_per_h(&self) -> f64 {
        self.processes
            .iter()
            .map(ProcessPlan::peak_m3_per_h)
            .sum::<f64>()
            + self
                .towers
                .iter()
                .map(TowerPlan::peak_m3_per_h)
                .sum::<f64>()
    }

    fn mean_m3_per_h(&self) -> f64 {
        self.processes
            .iter()
            .map(ProcessPlan::mean_m3_per_h)
            .sum::<f64>()
            + self
                .towers
                .iter()
                .map(TowerPlan::mean_m3_per_h)
                .sum::<f64>()
    }

    /// Mean demand of the consumers of the local reuse tank, m³/h.
    fn local_mean_m3_per_h(&self) -> f64 {
        self.processes
            .iter()
            .map(ProcessPlan::mean_m3_per_h)
            .sum::<f64>()
            + self
                .towers
                .iter()
                .filter(|t| !t.central)
                .map(TowerPlan::mean_m3_per_h)
                .sum::<f64>()
    }

    /// Largest refill rate of the raw-water tank, m³/h.
    fn refill_m3_per_h(&self) -> f64 {
        ceil2(1.5 * self.peak_m3_per_h())
    }

    fn value_added_10k_yuan_per_year(&self) -> f64 {
        let yuan: f64 = self
            .processes
            .iter()
            .map(|p| p.base_per_h * 8760.0 * p.product.value_added_yuan_per_unit)
            .sum();
        sig(yuan / 1e4, 3)
    }
}

/// At least one tower of the park must draw from the central reuse tank, or the tank would
/// only fill: mark the first tower, or add the spare tower to the first enterprise.
fn ensure_central_tower(enterprises: &mut [EnterprisePlan]) {
    if enterprises
        .iter()
        .any(|e| e.towers.iter().any(|t| t.central))
    {
        return;
    }
    if let Some(t) = enterprises.iter_mut().find_map(|e| e.towers.first_mut()) {
        t.central = true;
    } else if let Some(e) = enterprises.first_mut() {
        let mut t = e.spare_tower.clone();
        t.central = true;
        e.towers.push(t);
    }
}

/// Collects units and links.
struct Builder {
    species: Vec<String>,
    units: Vec<UnitSpec>,
    links: Vec<LinkSpec>,
}

impl Builder {
    /// A species map from `(tds, cod, cl)`; `cl` only when declared.
    fn map(&self, tds: f64, cod: f64, cl: f64) -> SpeciesMap {
        let mut m = SpeciesMap::new();
        m.insert("tds".to_string(), tds);
        m.insert("cod".to_string(), cod);
        if self.species.iter().any(|s| s == "cl") {
            m.insert("cl".to_string(), cl);
        }
        m
    }

    fn quality(&self, q: Quality) -> SpeciesMap {
        self.map(q.tds, q.cod, q.cl)
    }

    /// A link with the schema's defaults.
    fn link(&mut self, from: &str, to: &str, priority: i32, head_m: f64, cap: Option<f64>) {
        self.links.push(LinkSpec {
            id: None,
            from: from.to_string(),
            to: to.to_string(),
            capacity_m3_per_h: cap,
            head_m,
            pump_efficiency: 0.7,
            priority,
            split_fraction: None,
        });
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a treatment unit has this many parameters"
    )]
    fn treatment(
        &mut self,
        id: String,
        enterprise: Option<String>,
        recovery: f64,
        to_reject: SpeciesMap,
        destroyed: SpeciesMap,
        kwh_per_m3: f64,
        chemical: (f64, f64, f64),
        location: [f64; 2],
    ) {
        self.units.push(UnitSpec::Treatment(TreatmentSpec {
            id,
            enterprise,
            recovery,
            removal_to_reject: to_reject,
            destroyed,
            kwh_per_m3,
            heat_kwh_per_m3: 0.0,
            chemical_kg_per_m3: chemical.0,
            chemical_co2_per_kg: chemical.1,
            chemical_yuan_per_kg: chemical.2,
            feed: FeedSpec::Accept,
            location: Some(location.into()),
        }));
    }

    #[expect(clippy::too_many_arguments, reason = "a tank has this many parameters")]
    fn tank(
        &mut self,
        id: String,
        enterprise: Option<String>,
        capacity: f64,
        initial: f64,
        initial_mg_per_l: SpeciesMap,
        refill: Option<RefillSpec>,
        location: [f64; 2],
    ) {
        self.units.push(UnitSpec::Tank(TankSpec {
            id,
            enterprise,
            capacity_m3: capacity,
            minimum_m3: 0.0,
            initial_m3: Some(initial),
            initial_mg_per_l,
            max_outflow_m3_per_h: None,
            refill,
            location: Some(location.into()),
        }));
    }

    fn emit(&mut self, park: &ParkPlan, enterprises: &[EnterprisePlan]) {
        let site = |dx: f64, dy: f64| [dec(park.origin[0] + dx, 5), dec(park.origin[1] + dy, 5)];
        let all_towers = || enterprises.iter().flat_map(|e| e.towers.iter());
        let peak_all: f64 = enterprises.iter().map(EnterprisePlan::peak_m3_per_h).sum();
        let mean_all: f64 = enterprises.iter().map(EnterprisePlan::mean_m3_per_h).sum();
        let refill_all: f64 = enterprises
            .iter()
            .map(EnterprisePlan::refill_m3_per_h)
            .sum();
        let tower_mean: f64 = all_towers().map(TowerPlan::mean_m3_per_h).sum();
        let central_caps: f64 = all_towers()
            .filter(|t| t.central)
            .map(TowerPlan::reuse_cap_m3_per_h)
            .sum();
        let reuse_cap = floor2(0.8 * central_caps);

        // Sources.
        self.units.push(UnitSpec::Source(SourceSpec {
            id: "municipal".into(),
            kind: SourceKindSpec::Municipal,
            enterprise: None,
            quality_mg_per_l: self.quality(park.municipal),
            cap_m3_per_h: ceil2(1.2 * (peak_all + refill_all)).max(10.0),
            availability: None,
            annual_cap_m3: None,
            price_yuan_per_m3: park.municipal_price,
            carbon_kg_per_m3: park.municipal_co2,
            location: Some(site(-0.004, -0.003).into()),
        }));
        if let Some((q, price, co2, share)) = park.groundwater {
            self.units.push(UnitSpec::Source(SourceSpec {
                id: "groundwater".into(),
                kind: SourceKindSpec::Groundwater,
                enterprise: None,
                quality_mg_per_l: self.quality(q),
                cap_m3_per_h: ceil2(share * mean_all).max(10.0),
                availability: None,
                annual_cap_m3: None,
                price_yuan_per_m3: price,
                carbon_kg_per_m3: co2,
                location: Some(site(-0.004, 0.0).into()),
            }));
        }
        let reclaimed = park.reclaimed.filter(|_| tower_mean > 0.0);
        if let Some((q, price, co2, share)) = reclaimed {
            self.units.push(UnitSpec::Source(SourceSpec {
                id: "reclaimed".into(),
                kind: SourceKindSpec::ReclaimedMunicipal,
                enterprise: None,
                quality_mg_per_l: self.quality(q),
                cap_m3_per_h: ceil2(share * tower_mean).max(10.0),
                availability: None,
                annual_cap_m3: None,
                price_yuan_per_m3: price,
                carbon_kg_per_m3: co2,
                location: Some(site(-0.004, 0.003).into()),
            }));
        }
        let m = park.municipal;

        for e in enterprises {
            let eid = Some(e.id.clone());
            let loc = |k: usize| {
                let (dx, dy) = e.jitter[k % e.jitter.len()];
                park.location(e.index, dx, dy)
            };
            let raw = format!("{}_raw", e.id);
            let sump = format!("{}_sump", e.id);
            let pre = format!("{}_pre", e.id);
            let uf = format!("{}_uf", e.id);
            let ro = format!("{}_ro", e.id);
            let tank = format!("{}_tank", e.id);
            let d = e.industry.data();

            // Raw-water tank.
            let peak = e.peak_m3_per_h();
            let raw_cap = ceil2(e.raw_hours * peak);
            self.tank(
                raw.clone(),
                eid.clone(),
                raw_cap,
                dec(0.9 * raw_cap, 0),
                self.quality(m),
                Some(RefillSpec {
                    below_fraction: 0.7,
                    to_fraction: 0.9,
                    max_m3_per_h: e.refill_m3_per_h(),
                }),
                loc(0),
            );
            if park.groundwater.is_some() {
                self.link("groundwater.out", &raw, 0, 60.0, None);
            }
            self.link("municipal.out", &raw, 1, 0.0, None);
            self.link(&format!("{raw}.overflow"), "outfall", 0, 0.0, None);

            // Processes.
            for (k, p) in e.processes.iter().enumerate() {
                let id = format!("{}_p{}", e.id, k + 1);
                self.units.push(UnitSpec::Process(ProcessSpec {
                    id: id.clone(),
                    enterprise: eid.clone(),
                    product: Some(p.product.name.to_string()),
                    product_unit: p.product.unit.to_string(),
                    production_per_h: Driver::Profile {
                        base: p.base_per_h,
                        daily: p.daily.clone(),
                        weekly: p.weekly.clone(),
                        monthly: p.monthly.clone(),
                    },
                    water_m3_per_unit: p.specific_m3_per_unit,
                    consumptive_fraction: p.consumptive,
                    loss: d.loss,
                    adds_kg_per_m3: self.map(p.tds, p.cod, p.cl),
                    adds_kg_per_unit: SpeciesMap::new(),
                    accepts_mg_per_l: SpeciesMap::new(),
                    location: Some(loc(1 + k).into()),
                }));
                if e.reuse.is_some() {
                    self.link(&format!("{tank}.out"), &id, 0, 30.0, None);
                }
                self.link(&format!("{raw}.out"), &id, 1, 30.0, None);
                self.link("municipal.out", &id, 2, 0.0, None);
                self.link(&format!("{id}.waste"), &sump, 0, 0.0, None);
            }

            // Cooling towers.
            for (k, t) in e.towers.iter().enumerate() {
                let id = format!("{}_ct{}", e.id, k + 1);
                self.units.push(UnitSpec::CoolingTower(CoolingTowerSpec {
                    id: id.clone(),
                    enterprise: eid.clone(),
                    heat_load_mw: Some(Driver::Seasonal {
                        mean: t.mean_mw,
                        annual_amplitude: t.annual_mw,
                        peak_day: t.peak_day,
                        daily_amplitude: t.daily_mw,
                        peak_hour: t.peak_hour,
                    }),
                    circulation_m3_per_h: None,
                    range_c: t.range_c,
                    cycles: t.cycles(),
                    drift_fraction: DRIFT,
                    holding_volume_m3: t.holding_m3,
                    initial_mg_per_l: self.map(
                        sig(t.cycles() * m.tds, 3),
                        sig(t.cycles() * m.cod, 3),
                        sig(t.cycles() * m.cl, 3),
                    ),
                    circulation_head_m: t.head_m,
                    pump_efficiency: 0.75,
                    fan_kw_per_mw: t.fan_kw_per_mw,
                    chemical_kg_per_m3: t.chemical_kg_per_m3,
                    chemical_co2_per_kg: 1.5,
                    chemical_yuan_per_kg: 12.0,
                    evaporation: Default::default(),
                    blowdown: Default::default(),
                    scaling: None,
                    inhibitor: None,
                    approach_c: None,
                    capital: None,
                    location: Some(loc(4 + k).into()),
                    smart_control: None,
                }));
                let mut priority = 0;
                if t.central {
                    let cap = Some(t.reuse_cap_m3_per_h());
                    self.link("reuse_tank.out", &id, priority, 35.0, cap);
                    priority += 1;
                }
                if e.reuse.is_some() {
                    self.link(&format!("{tank}.out"), &id, priority, 30.0, None);
                    priority += 1;
                }
                if reclaimed.is_some() {
                    self.link("reclaimed.out", &id, priority, 0.0, None);
                    priority += 1;
                }
                self.link(&format!("{raw}.out"), &id, priority, 30.0, None);
                self.link("municipal.out", &id, priority + 1, 0.0, None);
                let to = if t.central { "wwtp" } else { sump.as_str() };
                self.link(&format!("{id}.blowdown"), to, 0, 10.0, None);
            }

            // Collection and pretreatment.
            self.units.push(UnitSpec::Mixer(JunctionSpec {
                id: sump.clone(),
                enterprise: eid.clone(),
                location: Some(loc(7).into()),
            }));
            self.link(&format!("{sump}.out"), &pre, 0, 10.0, None);
            let r = e.pre_recovery;
            self.treatment(
                pre.clone(),
                eid.clone(),
                r,
                self.map(dec(1.0 - r, 3), e.pre_cod_to_reject, dec(1.0 - r, 3)),
                self.map(0.0, e.pre_cod_destroyed, 0.0),
                e.pre_kwh,
                (e.pre_chem, 1.0, 2.5),
                loc(8),
            );
            self.link(&format!("{pre}.reject"), "wwtp", 0, 15.0, None);

            match &e.reuse {
                None => self.link(&format!("{pre}.product"), "wwtp", 0, 15.0, None),
                Some(rp) => {
                    self.link(&format!("{pre}.product"), &uf, 0, 0.0, None);
                    let r = rp.uf_recovery;
                    self.treatment(
                        uf.clone(),
                        eid.clone(),
                        r,
                        self.map(dec(1.0 - r, 3), rp.uf_cod_to_reject, dec(1.0 - r, 3)),
                        SpeciesMap::new(),
                        rp.uf_kwh,
                        (0.0, 0.0, 0.0),
                        loc(9),
                    );
                    self.link(&format!("{uf}.product"), &ro, 0, 0.0, None);
                    self.link(&format!("{uf}.reject"), "wwtp", 0, 15.0, None);
                    let s = rp.ro_salt_to_reject;
                    self.treatment(
                        ro.clone(),
                        eid.clone(),
                        rp.ro_recovery,
                        self.map(s, 0.5, s),
                        self.map(0.0, 0.3, 0.0),
                        rp.ro_kwh,
                        (0.005, 1.5, 20.0),
                        loc(10),
                    );
                    self.link(&format!("{ro}.product"), &tank, 0, 0.0, None);
                    self.link(&format!("{ro}.reject"), "wwtp", 0, 15.0, None);
                    let cap = ceil2(rp.tank_hours * e.local_mean_m3_per_h());
                    self.tank(
                        tank.clone(),
                        eid.clone(),
                        cap,
                        dec(0.5 * cap, 0),
                        SpeciesMap::new(),
                        None,
                        loc(11),
                    );
                    self.link(&format!("{tank}.overflow"), "outfall", 0, 0.0, None);
                }
            }
        }

        // Central treatment, reuse and outfall.
        self.treatment(
            "wwtp".into(),
            None,
            0.98,
            self.map(0.02, 0.05, 0.02),
            self.map(0.0, 0.9, 0.0),
            park.wwtp_kwh,
            (park.wwtp_chem, 1.0, 2.5),
            site(-0.002, -0.006),
        );
        self.link("wwtp.product", "reuse_tank", 0, 20.0, Some(reuse_cap));
        self.link("wwtp.product", "outfall", 1, 0.0, None);
        self.link("wwtp.reject", "outfall", 0, 0.0, None);
        let cap = ceil2(park.reuse_tank_hours * reuse_cap).max(10.0);
        self.tank(
            "reuse_tank".into(),
            None,
            cap,
            dec(0.5 * cap, 0),
            SpeciesMap::new(),
            None,
            site(0.0, -0.006),
        );
        self.link("reuse_tank.overflow", "outfall", 0, 0.0, None);
        self.units.push(UnitSpec::Discharge(DischargeSpec {
            id: "outfall".into(),
            enterprise: None,
            limits_mg_per_l: SpeciesMap::new(),
            fee_yuan_per_m3: park.outfall_fee,
            location: Some(site(0.002, -0.008).into()),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Park {
        ron::Options::default()
            .with_default_extension(
                ron::extensions::Extensions::UNWRAP_NEWTYPES
                    | ron::extensions::Extensions::IMPLICIT_SOME,
            )
            .from_str::<Park>(text)
            .unwrap_or_else(|e| panic!("generated RON does not parse: {e}"))
    }

    fn opts(enterprises: usize, seed: u64) -> GenerateOptions {
        GenerateOptions {
            enterprises,
            seed,
            steps: 8760,
        }
    }

    /// The same options give byte-identical RON.
    #[test]
    fn same_seed_same_text() {
        for n in [1, 7, 60] {
            let a = to_ron(&generate(&opts(n, 42)));
            let b = to_ron(&generate(&opts(n, 42)));
            assert_eq!(a, b, "{n} enterprises");
        }
    }

    /// Different seeds give different parks.
    #[test]
    fn different_seeds_differ() {
        let a = to_ron(&generate(&opts(10, 1)));
        let b = to_ron(&generate(&opts(10, 2)));
        assert_ne!(a, b);
    }

    /// The text parses back with the loader's options, to a park that writes the same text.
    #[test]
    fn text_round_trips() {
        for n in [0, 1, 10, 60] {
            let park = generate(&opts(n, 3));
            let text = to_ron(&park);
            let back = parse(&text);
            assert_eq!(to_ron(&back), text, "{n} enterprises");
            assert_eq!(composition(&back), composition(&park));
            assert!(
                text.starts_with("// synthetic park"),
                "header comment first"
            );
            assert!(
                text.contains("Source(\n") && !text.contains("Source(("),
                "variants unwrapped"
            );
        }
    }

    /// Variants the generator does not use (hourly series, fixed feeds, numeric grid factors,
    /// events) survive the round trip as well.
    #[test]
    fn other_variants_round_trip() {
        let mut park = generate(&opts(2, 5));
        park.carbon.grid = crate::schema::GridFactor::KgPerKwh(Driver::Hourly(vec![0.5, 0.6]));
        park.carbon.electricity_yuan_per_kwh = Driver::Csv {
            file: "tariff.csv".into(),
            column: "yuan".into(),
            scale: 1.0,
        };
        if let Some(UnitSpec::Treatment(t)) =
            park.units.iter_mut().find(|u| u.type_name() == "Treatment")
        {
            t.feed = FeedSpec::Fixed(Driver::Const(12.5));
        }
        park.events.push(crate::schema::EventSpec::Outage {
            unit: "wwtp".into(),
            from_h: 10.0,
            to_h: 20.0,
        });
        let text = to_ron(&park);
        assert_eq!(to_ron(&parse(&text)), text);
    }

    /// Unit counts follow `S + 3 + 3·E + P + T + 3·R`, within `4 + 4·E ..= 6 + 11·E`, and grow
    /// by about 8 units per enterprise.
    #[test]
    fn units_grow_linearly() {
        for seed in [1, 2, 3] {
            let mut last = 0;
            for n in [1, 5, 10, 30, 60, 120] {
                let park = generate(&opts(n, seed));
                let c = composition(&park);
                assert!(
                    c.units >= 4 + 4 * n && c.units <= 6 + 11 * n,
                    "{n}: {}",
                    c.units
                );
                assert!(c.units > last);
                last = c.units;
                assert_eq!(c.enterprises, n);
                assert_eq!(c.species, if n >= 50 { 3 } else { 2 });
            }
            let per = (composition(&generate(&opts(120, seed))).units - 6) as f64 / 120.0;
            assert!((7.0..=9.0).contains(&per), "{per} units per enterprise");
        }
    }

    /// Ids are unique, every link names existing units, and every loop is as documented.
    #[test]
    fn structure_is_consistent() {
        let park = generate(&opts(60, 1));
        let mut ids: Vec<&str> = park.units.iter().map(UnitSpec::id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "unique ids");
        for l in &park.links {
            for end in [&l.from, &l.to] {
                let unit = end.split('.').next().unwrap_or_default();
                assert!(ids.binary_search(&unit).is_ok(), "link end {end}");
            }
        }
        let reuse = park
            .units
            .iter()
            .filter(|u| u.id().ends_with("_ro"))
            .count();
        let c = composition(&park);
        assert_eq!(
            c.loops,
            reuse + 1,
            "one loop per reuse enterprise plus the central one"
        );
    }

    /// The unit and link counts follow the relations of the module docs.
    #[test]
    fn documented_relations_hold() {
        for (n, seed) in [(1, 1), (10, 1), (60, 1), (25, 7), (40, 11)] {
            let park = generate(&opts(n, seed));
            let has = |id: &str| park.units.iter().any(|u| u.id() == id);
            let (g, k) = (
                usize::from(has("groundwater")),
                usize::from(has("reclaimed")),
            );
            let sources = park
                .units
                .iter()
                .filter(|u| u.type_name() == "Source")
                .count();
            let (mut units, mut links) = (sources + 3, 4);
            for e in &park.enterprises {
                let of = |kind: &str| {
                    park.units
                        .iter()
                        .filter(|u| u.enterprise() == Some(e.id.as_str()) && u.type_name() == kind)
                        .map(|u| u.id().to_string())
                        .collect::<Vec<_>>()
                };
                let r = usize::from(has(&format!("{}_ro", e.id)));
                let (p, t) = (of("Process"), of("CoolingTower"));
                units += 3 + p.len() + t.len() + 3 * r;
                links += 5 + g + 5 * r + p.len() * (3 + r);
                for ct in &t {
                    let c = park
                        .links
                        .iter()
                        .any(|l| l.from == "reuse_tank.out" && &l.to == ct);
                    links += 3 + r + usize::from(c) + k;
                }
            }
            let c = composition(&park);
            assert_eq!(
                (c.units, c.links),
                (units, links),
                "{n} enterprises, seed {seed}"
            );
        }
    }

    /// Adding enterprises keeps the earlier ones' units.
    #[test]
    fn enterprises_are_prefix_stable() {
        let small = generate(&opts(3, 9));
        let large = generate(&opts(8, 9));
        let ids = |p: &Park| -> Vec<String> {
            p.units
                .iter()
                .filter(|u| u.enterprise().is_some_and(|e| e <= "e003"))
                .map(|u| u.id().to_string())
                .collect()
        };
        assert_eq!(ids(&small), ids(&large));
    }

    #[test]
    fn rounding_helpers() {
        assert_eq!(sig(1234.5, 3), 1230.0);
        assert_eq!(sig(0.012345, 2), 0.012);
        assert_eq!(ceil2(1234.0), 1300.0);
        assert_eq!(floor2(1234.0), 1200.0);
        assert_eq!(floor2(2.85), 2.8);
        assert_eq!(ceil2(0.0123), 0.013);
        assert_eq!(dec(0.8312, 2), 0.83);
    }
}
