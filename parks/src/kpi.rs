//! Water-efficiency KPIs per enterprise and for the park, GB/T 12452-style water-balance tables,
//! and the comparison of unit-product intake with the Action Plan's 2020 baselines and 2025
//! targets.
//!
//! # Definitions (DOMAIN.md, "KPIs"; GB/T 7119 《节水型企业评价导则》, GB/T 12452 《水平衡测试通则》)
//!
//! Over the run, for a scope (the park, or one enterprise as a separate accounting unit):
//!
//! - `V_i` **intake** (取水量): water of the source kinds the policy counts as intake (default
//!   municipal, surface, groundwater, purchased reclaimed municipal water), plus — for an
//!   enterprise, when `transfers_are_intake` — water received from units outside it. Water passed
//!   between enterprises is never the park's intake. Seawater, brackish water, mine water and
//!   rainwater are unconventional water, reported beside intake (GB/T 18916 practice).
//! - `V_r` **repeated use** (重复利用水量) = `V_cr` recirculation (cooling-tower circulation) +
//!   serial reuse: water entering a water-using unit (process, fixed-load operation, cooling
//!   tower) that had already been used, measured exactly by the engine's 'already used' tracer
//!   (0 at sources, 1 at the outlets of water-using units, carried through treatment,
//!   desalination and storage, which therefore never make water 'used'). For an enterprise only
//!   reuse over its own links counts: used water received from another enterprise is its intake.
//! - repeated-use rate `V_r/(V_i + V_r)`;
//! - indirect cooling-water recirculation rate `V_cr/(V_cr + V_cf)`, `V_cf` the towers' make-up;
//! - process-water reuse rate `V_gr/(V_gr + V_gf)`: `V_gr` used water entering processes (every
//!   water-using unit but cooling towers and steam systems; and their own recirculation), `V_gf`
//!   the rest of their inflow;
//! - condensate return rate: condensate returned ÷ steam generated (t), as steam systems book
//!   them (not applicable without steam);
//! - wastewater reuse rate `V_w/(V_d + V_w)`: `V_w` used water that reaches a water-using unit
//!   through a treatment unit (possibly via tanks and junctions), `V_d` discharge to the
//!   environment (for an enterprise, plus water it drains to units outside it);
//! - overall leakage rate `V_l/V_i`;
//! - unconventional-water substitution rate `V_u/V_s`, with the denominator stated: `V_s` all
//!   water entering the scope (every source kind, plus transfers for an enterprise), so the rate
//!   is the share of the scope's water supply met by unconventional water (`V_u`: unconventional
//!   source kinds, plus used water received from other enterprises, i.e. reclaimed water);
//! - unit-product intake `V_i/Q` (single-product enterprises; several products share the
//!   enterprise's intake in proportion to their processes' inflow);
//! - intake per 10,000 yuan of industrial value added `V_i/V_z`, `V_z` the value added prorated
//!   to the run's length (`value_added_10k_yuan_per_year × hours/8760`); repeated use excluded;
//! - discharge per species (kg to the environment; for an enterprise also kg drained to others).
//!
//! # Water balance (GB/T 12452)
//!
//! `ΣV_in = V_i + unconventional water not counted as intake (+ transfers not counted)`, and
//! `ΣV_out = consumption (evaporation, drift, product, solids) + discharge + drained to others +
//! leakage + spill`; the closure error is `δ = |ΣV_in − ΣV_out − ΔS|/ΣV_in`, `ΔS` the change in
//! stored water. Leaks on a link from a source count for the receiving enterprise; leaks on
//! any other link for the sending one (as the engine books them).

use crate::schema::{EnterpriseSpec, KpiSpec, SourceKindSpec};
use crate::totals::Totals;
use crate::validate::ParkMeta;
use parktwin_engine::network::{ExitKind, Topology};
use parktwin_units::SourceKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Keys of the KPIs that take targets (park file `kpi.targets`).
pub const KPI_KEYS: [&str; 8] = [
    "repeated_use_rate",
    "cooling_recirculation_rate",
    "process_water_reuse_rate",
    "condensate_return_rate",
    "wastewater_reuse_rate",
    "leakage_rate",
    "unconventional_substitution_rate",
    "intake_per_10k_yuan",
];

/// Scope id of the park as a whole in KPI and balance tables (enterprise ids are their own).
pub const PARK_SCOPE: &str = "(park)";
/// Scope id of the units that belong to no enterprise.
pub const NO_ENTERPRISE_SCOPE: &str = "(none)";

/// Hours in a year, for prorating annual value added.
pub const HOURS_PER_YEAR: f64 = 8760.0;

/// The Action Plan's product table, compiled in (see `parks/data/README.md`).
pub const ACTION_PLAN_CSV: &str = include_str!("../data/action_plan_2025_targets.csv");

/// Attribution of the product table.
pub const ACTION_PLAN_SOURCE: &str = "Industrial Water Efficiency Improvement Action Plan (MIIT and five ministries, 2022), table of expected water-efficiency targets for key products; 2025 target = baseline_2020 × (1 − reduction)";

/// Checks a park's KPI block: known keys, finite values, rates within [0, 1], known
/// enterprises, a closure tolerance in (0, 1]. Returns `(item path, message)` pairs.
pub fn check_spec(spec: &KpiSpec, enterprises: &[EnterpriseSpec]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut check_map = |item: &str, map: &BTreeMap<String, f64>| {
        for (k, &v) in map {
            if !KPI_KEYS.contains(&k.as_str()) {
                out.push((
                    format!("{item}[{k:?}]"),
                    format!("unknown KPI (known: {})", KPI_KEYS.join(", ")),
                ));
            } else if !v.is_finite() || v < 0.0 || (k.ends_with("_rate") && v > 1.0) {
                out.push((
                    format!("{item}[{k:?}]"),
                    format!("{v} is out of range: rates are fractions in [0, 1], other targets finite and non-negative"),
                ));
            }
        }
    };
    check_map("kpi.targets", &spec.targets);
    for (e, map) in &spec.enterprise_targets {
        check_map(&format!("kpi.enterprise_targets[{e:?}]"), map);
    }
    for e in spec.enterprise_targets.keys() {
        if !enterprises.iter().any(|x| &x.id == e) {
            out.push((
                format!("kpi.enterprise_targets[{e:?}]"),
                format!("unknown enterprise {e:?}"),
            ));
        }
    }
    let t = spec.closure_tolerance;
    if !(t.is_finite() && t > 0.0 && t <= 1.0) {
        out.push((
            "kpi.closure_tolerance".to_string(),
            format!("{t} is out of range: must be above 0 and at most 1"),
        ));
    }
    out
}

/// The engine's source kind of a schema kind.
pub fn source_kind(k: SourceKindSpec) -> SourceKind {
    match k {
        SourceKindSpec::Municipal => SourceKind::Municipal,
        SourceKindSpec::Groundwater => SourceKind::Groundwater,
        SourceKindSpec::Surface => SourceKind::Surface,
        SourceKindSpec::Seawater => SourceKind::Seawater,
        SourceKindSpec::Brackish => SourceKind::Brackish,
        SourceKindSpec::MineWater => SourceKind::MineWater,
        SourceKindSpec::Rainwater => SourceKind::Rainwater,
        SourceKindSpec::ReclaimedMunicipal => SourceKind::ReclaimedMunicipal,
    }
}

/// The intake-accounting policy in force.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Policy {
    /// Source kinds counted as intake.
    pub intake_kinds: Vec<String>,
    /// Source kinds reported as unconventional water.
    pub unconventional_kinds: Vec<String>,
    /// Whether water received from another enterprise is the receiver's intake.
    pub transfers_are_intake: bool,
    /// Accepted closure error of the balance tables.
    pub closure_tolerance: f64,
    /// The policy in words, printed with every KPI table.
    pub text: String,
}

impl Policy {
    /// The policy of a park's KPI block.
    pub fn of(spec: &KpiSpec) -> Self {
        let kinds: Vec<SourceKind> = spec.intake_kinds.iter().map(|k| source_kind(*k)).collect();
        let intake: Vec<String> = SourceKind::ALL
            .iter()
            .filter(|k| kinds.contains(k))
            .map(|k| k.name().to_string())
            .collect();
        let not_intake: Vec<String> = SourceKind::ALL
            .iter()
            .filter(|k| !kinds.contains(k))
            .map(|k| k.name().to_string())
            .collect();
        let unconventional: Vec<String> = SourceKind::ALL
            .iter()
            .filter(|k| k.is_unconventional())
            .map(|k| k.name().to_string())
            .collect();
        let text = format!(
            "intake (取水量) = {}; not intake: {} (unconventional water is reported beside intake: {}); \
             water received from another enterprise {} the receiver's intake and never the park's; \
             repeated use = recirculation + serial reuse of water already used (the engine's 'already used' tracer: \
             water that has only passed pre-treatment, desalination or storage is not reuse); \
             for an enterprise, used water received from outside is intake (reclaimed water), not its repeated use",
            if intake.is_empty() {
                "nothing".to_string()
            } else {
                intake.join(" + ")
            },
            if not_intake.is_empty() {
                "none".to_string()
            } else {
                not_intake.join(", ")
            },
            unconventional.join(", "),
            if spec.transfers_are_intake {
                "is"
            } else {
                "is not"
            },
        );
        Self {
            intake_kinds: intake,
            unconventional_kinds: unconventional,
            transfers_are_intake: spec.transfers_are_intake,
            closure_tolerance: spec.closure_tolerance,
            text,
        }
    }

    fn counts(&self, k: SourceKind) -> bool {
        self.intake_kinds.iter().any(|n| n == k.name())
    }
}

/// One KPI of one scope.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Kpi {
    /// Key (see [`KPI_KEYS`]).
    pub key: String,
    /// English name.
    pub name: String,
    /// Chinese name as in the standard.
    pub name_zh: String,
    /// Standard or source of the definition.
    pub standard: String,
    /// Formula.
    pub formula: String,
    /// What the symbols are, with the denominator stated.
    pub definition: String,
    /// Unit of `value` (`"fraction"` for rates).
    pub unit: String,
    /// Numerator, m³.
    pub numerator: f64,
    /// Denominator (m³, or 10⁴ yuan).
    pub denominator: f64,
    /// Value; `None` when not applicable (zero denominator, nothing modelled).
    pub value: Option<f64>,
    /// Target, from the park file.
    pub target: Option<f64>,
    /// Whether higher values are better.
    pub higher_is_better: bool,
    /// Whether the value meets the target.
    pub pass: Option<bool>,
    /// Why a value is missing, or a caveat.
    pub note: String,
}

/// KPIs of one scope.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScopeKpis {
    /// [`PARK_SCOPE`] or an enterprise id.
    pub scope: String,
    /// Display name.
    pub name: String,
    /// The KPIs, in [`KPI_KEYS`] order.
    pub kpis: Vec<Kpi>,
    /// Mass discharged to the environment per species, kg.
    pub discharge_kg: BTreeMap<String, f64>,
    /// Mass drained to units outside the scope per species, kg (enterprises).
    pub drained_kg: BTreeMap<String, f64>,
}

impl ScopeKpis {
    /// The KPI with `key`.
    pub fn get(&self, key: &str) -> Option<&Kpi> {
        self.kpis.iter().find(|k| k.key == key)
    }
    /// Its value.
    pub fn value(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(|k| k.value)
    }
}

/// A row of the Action Plan's product table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PlanRow {
    /// Industry.
    pub industry: String,
    /// Product.
    pub product: String,
    /// Process route (may be empty).
    pub route: String,
    /// 2020 national average unit-product intake.
    pub baseline_2020: f64,
    /// Unit (`m3/t`, `m3/kL`, `m3/100m`).
    pub unit: String,
    /// Expected reduction by 2025, %.
    pub reduction_2025_pct: f64,
    /// `baseline_2020 × (1 − reduction/100)`.
    pub target_2025: f64,
    /// Transcription note.
    pub note: String,
}

/// The Action Plan's product table.
pub fn action_plan() -> Vec<PlanRow> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(ACTION_PLAN_CSV.as_bytes());
    rdr.records()
        .filter_map(Result::ok)
        .filter_map(|r| {
            let base: f64 = r.get(3)?.parse().ok()?;
            let pct: f64 = r.get(5)?.parse().ok()?;
            Some(PlanRow {
                industry: r.get(0)?.to_string(),
                product: r.get(1)?.to_string(),
                route: r.get(2)?.to_string(),
                baseline_2020: base,
                unit: r.get(4)?.to_string(),
                reduction_2025_pct: pct,
                target_2025: base * (1.0 - pct / 100.0),
                note: r.get(6).unwrap_or("").to_string(),
            })
        })
        .collect()
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The Action Plan row for a product name, written `"product"` or `"product (route)"`
/// (case and spacing ignored). A product with several routes needs its route.
pub fn find_plan_row<'a>(plan: &'a [PlanRow], product: &str) -> Option<&'a PlanRow> {
    let (name, route) = match product.split_once('(') {
        Some((n, r)) => (n.trim(), Some(r.trim_end_matches(')').trim())),
        None => (product.trim(), None),
    };
    let rows: Vec<&PlanRow> = plan
        .iter()
        .filter(|r| norm(&r.product) == norm(name))
        .collect();
    match (rows.len(), route) {
        (0, _) => None,
        (1, None) => Some(rows[0]),
        (_, Some(route)) => rows.into_iter().find(|r| norm(&r.route) == norm(route)),
        (_, None) => None,
    }
}

/// Unit-product intake of one product, against the Action Plan.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ProductIntake {
    /// Enterprise id (or [`NO_ENTERPRISE_SCOPE`]).
    pub enterprise: String,
    /// Process units making it.
    pub units: Vec<String>,
    /// Product name as written.
    pub product: String,
    /// Product unit (`t`, `kL`, `100 m`).
    pub product_unit: String,
    /// Output over the run.
    pub output: f64,
    /// Intake attributed to it, m³.
    pub intake_m3: f64,
    /// `intake/output`, m³ per product unit.
    pub m3_per_unit: Option<f64>,
    /// How the enterprise's intake was attributed.
    pub allocation: String,
    /// The matching Action Plan row.
    pub reference: Option<PlanRow>,
    /// Whether `m3_per_unit` is at or below the 2025 target.
    pub meets_target_2025: Option<bool>,
    /// Whether it is at or below the 2020 baseline.
    pub meets_baseline_2020: Option<bool>,
    /// `m3_per_unit − target_2025` (negative: better than the target).
    pub distance_to_target: Option<f64>,
    /// The same as a percentage of the target.
    pub distance_to_target_pct: Option<f64>,
    /// Why there is no comparison, when there is none.
    pub note: String,
}

/// A GB/T 12452-style water-balance table of one scope, m³ over the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WaterBalance {
    /// [`PARK_SCOPE`] or an enterprise id.
    pub scope: String,
    /// Display name.
    pub name: String,
    /// Water in by source kind, and (enterprises) `transfer_used` (reclaimed or used water from
    /// other enterprises) and `transfer_unused`.
    pub inflow_by_kind: BTreeMap<String, f64>,
    /// Whether each inflow kind counts as intake under the policy.
    pub counted_as_intake: BTreeMap<String, bool>,
    /// `V_i`.
    pub intake: f64,
    /// `V_u`.
    pub unconventional: f64,
    /// `ΣV_in`.
    pub total_inflow: f64,
    /// `V_cr`.
    pub recirculated: f64,
    /// Serial reuse.
    pub serial_reuse: f64,
    /// `V_r`.
    pub repeated_use: f64,
    /// `V_t = V_i + V_r`.
    pub total_use: f64,
    /// Evaporation.
    pub evaporation: f64,
    /// Drift.
    pub drift: f64,
    /// Into products.
    pub product: f64,
    /// In sludge or salt cake.
    pub solids: f64,
    /// `V_co`: evaporation + drift + product + solids.
    pub consumption: f64,
    /// `V_d`: to the environment.
    pub discharge: f64,
    /// Drained to units outside the scope (enterprises).
    pub drained_to_others: f64,
    /// `V_l`.
    pub leakage: f64,
    /// Unroutable water.
    pub spill: f64,
    /// `ΣV_out`.
    pub total_outflow: f64,
    /// `ΔS`.
    pub storage_change: f64,
    /// `ΣV_in − ΣV_out − ΔS`.
    pub closure_m3: f64,
    /// `δ = |closure|/ΣV_in`.
    pub closure_error: f64,
    /// `δ` within the policy's tolerance.
    pub closure_ok: bool,
    /// The same closure from the ledger's per-unit terms (independent), m³.
    pub ledger_residual_m3: f64,
    /// How transfers count in this table.
    pub note: String,
}

/// Everything KPI-related of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KpiReport {
    /// Park name.
    pub park: String,
    /// Start.
    pub start: String,
    /// Hours covered.
    pub hours: f64,
    /// Policy.
    pub policy: Policy,
    /// Park KPIs.
    pub park_kpis: ScopeKpis,
    /// Per enterprise (and [`NO_ENTERPRISE_SCOPE`] for units without one, when there are any).
    pub enterprises: Vec<ScopeKpis>,
    /// Unit-product intake.
    pub products: Vec<ProductIntake>,
    /// Water-balance tables: the park first, then each enterprise.
    pub balances: Vec<WaterBalance>,
    /// Attribution of the product table.
    pub action_plan_source: String,
    /// Caveats found in this park.
    pub caveats: Vec<String>,
}

impl KpiReport {
    /// KPIs of a scope ([`PARK_SCOPE`] or an enterprise id).
    pub fn scope(&self, id: &str) -> Option<&ScopeKpis> {
        if id == PARK_SCOPE {
            Some(&self.park_kpis)
        } else {
            self.enterprises.iter().find(|e| e.scope == id)
        }
    }
    /// Balance table of a scope.
    pub fn balance(&self, id: &str) -> Option<&WaterBalance> {
        self.balances.iter().find(|b| b.scope == id)
    }
}

/// Who is inside a scope.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scope {
    Park,
    Enterprise(Option<usize>),
}

struct Ctx<'a> {
    topo: &'a Topology,
    meta: &'a ParkMeta,
    t: &'a Totals,
    policy: Policy,
    /// Per unit: reaches water users only through treatment (see `treated_side`).
    treated: Vec<bool>,
}

fn is_source(meta: &ParkMeta, u: usize) -> bool {
    meta.units[u].source_kind.is_some()
}

fn is_tower(meta: &ParkMeta, u: usize) -> bool {
    meta.units[u].type_name == "CoolingTower"
}

/// Units downstream of a treatment-like unit through non-using units: a non-using, non-source
/// unit that is not a tank, junction or outfall is treatment-like (treatment, membranes,
/// desalination); a tank or junction is on the treated side when one of its suppliers is.
fn treated_side(topo: &Topology, meta: &ParkMeta) -> Vec<bool> {
    let n = topo.n_units();
    let plain = |u: usize| {
        matches!(
            meta.units[u].type_name,
            "Tank" | "Splitter" | "Mixer" | "Discharge"
        )
    };
    let mut treated: Vec<bool> = (0..n)
        .map(|u| !meta.units[u].is_use && !is_source(meta, u) && !plain(u))
        .collect();
    // Propagate through tanks and junctions (fixed point; at most n passes).
    for _ in 0..n {
        let mut changed = false;
        for l in 0..topo.n_links() {
            let (a, b) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
            if treated[a] && !treated[b] && plain(b) && !meta.units[b].is_use {
                treated[b] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    treated
}

impl Ctx<'_> {
    fn inside(&self, scope: Scope, u: usize) -> bool {
        !is_source(self.meta, u)
            && match scope {
                Scope::Park => true,
                Scope::Enterprise(e) => self.meta.units[u].enterprise == e,
            }
    }

    fn balance(&self, scope: Scope, id: &str, name: &str) -> WaterBalance {
        let (topo, meta, t) = (self.topo, self.meta, self.t);
        let mut inflow: BTreeMap<String, f64> = BTreeMap::new();
        let mut counted: BTreeMap<String, bool> = BTreeMap::new();
        let (mut intake, mut uncon, mut leakage, mut drained) = (0.0, 0.0, 0.0, 0.0);
        let mut serial = 0.0;
        for l in 0..topo.n_links() {
            let (a, b) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
            let q = t.links[l].volume_m3;
            let leak = t.link_leak_m3.get(l).copied().unwrap_or(0.0);
            let used = t.link_used_m3.get(l).copied().unwrap_or(0.0);
            let (ina, inb) = (self.inside(scope, a), self.inside(scope, b));
            if inb && meta.units[b].is_use && ina {
                serial += used;
            }
            if let Some(k) = meta.units[a].source_kind {
                if scope == Scope::Park || !inb {
                    continue;
                }
                // Water drawn for this enterprise: what arrives plus what its supply pipe lost.
                let v = q + leak;
                *inflow.entry(k.name().to_string()).or_insert(0.0) += v;
                counted.insert(k.name().to_string(), self.policy.counts(k));
                if self.policy.counts(k) {
                    intake += v;
                }
                if k.is_unconventional() {
                    uncon += v;
                }
                leakage += leak;
            } else if inb && !ina {
                let fresh = (q - used).max(0.0);
                *inflow.entry("transfer_used".into()).or_insert(0.0) += used;
                *inflow.entry("transfer_unused".into()).or_insert(0.0) += fresh;
                counted.insert("transfer_used".into(), self.policy.transfers_are_intake);
                counted.insert("transfer_unused".into(), self.policy.transfers_are_intake);
                if self.policy.transfers_are_intake {
                    intake += q;
                }
                uncon += used;
            } else if ina && !inb {
                drained += q;
            }
        }
        if scope == Scope::Park {
            for (u, m) in meta.units.iter().enumerate() {
                if let Some(k) = m.source_kind {
                    let w = t.units[u].throughput_m3;
                    *inflow.entry(k.name().to_string()).or_insert(0.0) += w;
                    counted.insert(k.name().to_string(), self.policy.counts(k));
                    if self.policy.counts(k) {
                        intake += w;
                    }
                    if k.is_unconventional() {
                        uncon += w;
                    }
                }
            }
        }
        let mut exits = [0.0; 7];
        let (mut recirc, mut storage, mut ledger) = (0.0, 0.0, 0.0);
        for u in 0..topo.n_units() {
            // The park's exits include those of its sources (leaks on supply pipes).
            let counted_here = match scope {
                Scope::Park => true,
                Scope::Enterprise(_) => self.inside(scope, u),
            };
            if !counted_here {
                continue;
            }
            for k in 0..7 {
                exits[k] += t.units[u].exits_m3[k];
            }
            recirc += t.units[u].recirculated_m3;
            storage += t.unit_water[u].storage_change;
            ledger += t.unit_water[u].residual();
        }
        leakage += exits[ExitKind::Leak.index()];
        let total_inflow: f64 = inflow.values().sum();
        let ev = exits[ExitKind::Evaporation.index()];
        let dr = exits[ExitKind::Drift.index()];
        let pr = exits[ExitKind::Product.index()];
        let so = exits[ExitKind::Solids.index()];
        let consumption = ev + dr + pr + so;
        let discharge = exits[ExitKind::Discharge.index()];
        let spill = exits[ExitKind::Spill.index()];
        let total_outflow = consumption + discharge + drained + leakage + spill;
        let closure = total_inflow - total_outflow - storage;
        let closure_error = if total_inflow > 0.0 {
            closure.abs() / total_inflow
        } else {
            0.0
        };
        let repeated = recirc + serial;
        WaterBalance {
            scope: id.to_string(),
            name: name.to_string(),
            inflow_by_kind: inflow,
            counted_as_intake: counted,
            intake,
            unconventional: uncon,
            total_inflow,
            recirculated: recirc,
            serial_reuse: serial,
            repeated_use: repeated,
            total_use: intake + repeated,
            evaporation: ev,
            drift: dr,
            product: pr,
            solids: so,
            consumption,
            discharge,
            drained_to_others: drained,
            leakage,
            spill,
            total_outflow,
            storage_change: storage,
            closure_m3: closure,
            closure_error,
            closure_ok: closure_error <= self.policy.closure_tolerance,
            ledger_residual_m3: ledger,
            note: match scope {
                Scope::Park => "park: water passed between enterprises is internal (never intake); serial reuse counts every used stream entering a water-using unit".to_string(),
                Scope::Enterprise(_) => format!(
                    "separate accounting unit: water received from outside {} intake; water sent to units outside is drained to others; serial reuse counts only its own used water",
                    if self.policy.transfers_are_intake { "is" } else { "is not" }
                ),
            },
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a KPI row is its definition plus its numbers"
    )]
    fn kpi(
        &self,
        key: &str,
        num: f64,
        den: f64,
        unit: &str,
        targets: Option<&BTreeMap<String, f64>>,
        note: &str,
        applicable: bool,
    ) -> Kpi {
        let (name, zh, std, formula, definition, higher) = describe(key);
        let value = if applicable && den > 0.0 && num.is_finite() {
            Some(num / den)
        } else {
            None
        };
        let target = targets.and_then(|m| m.get(key).copied());
        let pass = match (value, target) {
            (Some(v), Some(t)) => Some(if higher { v >= t } else { v <= t }),
            _ => None,
        };
        let note = if value.is_none() && note.is_empty() {
            "not applicable: zero denominator".to_string()
        } else {
            note.to_string()
        };
        Kpi {
            key: key.to_string(),
            name: name.to_string(),
            name_zh: zh.to_string(),
            standard: std.to_string(),
            formula: formula.to_string(),
            definition: definition.to_string(),
            unit: unit.to_string(),
            numerator: num,
            denominator: den,
            value,
            target,
            higher_is_better: higher,
            pass,
            note,
        }
    }

    fn scope_kpis(
        &self,
        scope: Scope,
        id: &str,
        name: &str,
        b: &WaterBalance,
        value_added_10k: f64,
        targets: Option<&BTreeMap<String, f64>>,
    ) -> ScopeKpis {
        let (topo, meta, t) = (self.topo, self.meta, self.t);
        // Cooling towers and processes of the scope.
        let (mut v_cr, mut v_cf, mut v_gr, mut v_gf, mut n_ct, mut n_proc) =
            (0.0, 0.0, 0.0, 0.0, 0, 0);
        let mut reuse_into = vec![0.0; topo.n_units()];
        let mut v_w = 0.0;
        for l in 0..topo.n_links() {
            let (a, bb) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
            if self.inside(scope, a) && self.inside(scope, bb) && meta.units[bb].is_use {
                let used = t.link_used_m3.get(l).copied().unwrap_or(0.0);
                reuse_into[bb] += used;
                if self.treated[a] {
                    v_w += used;
                }
            }
        }
        let (mut steam, mut condensate) = (0.0, 0.0);
        for u in 0..topo.n_units() {
            if !self.inside(scope, u) || !meta.units[u].is_use {
                continue;
            }
            let ut = &t.units[u];
            steam += ut.steam_t;
            condensate += ut.condensate_returned_t;
            if is_tower(meta, u) {
                n_ct += 1;
                v_cr += ut.recirculated_m3;
                v_cf += ut.throughput_m3;
            } else if meta.units[u].type_name != "SteamSystem" {
                n_proc += 1;
                v_gr += reuse_into[u] + ut.recirculated_m3;
                v_gf += (ut.throughput_m3 - reuse_into[u]).max(0.0);
            }
        }
        let v_d = b.discharge + b.drained_to_others;
        let years = t.hours() / HOURS_PER_YEAR;
        let v_z = value_added_10k * years;
        let kpis = vec![
            self.kpi(
                "repeated_use_rate",
                b.repeated_use,
                b.intake + b.repeated_use,
                "fraction",
                targets,
                "",
                true,
            ),
            self.kpi(
                "cooling_recirculation_rate",
                v_cr,
                v_cr + v_cf,
                "fraction",
                targets,
                if n_ct == 0 {
                    "not applicable: no cooling tower"
                } else {
                    ""
                },
                n_ct > 0,
            ),
            self.kpi(
                "process_water_reuse_rate",
                v_gr,
                v_gr + v_gf,
                "fraction",
                targets,
                if n_proc == 0 {
                    "not applicable: no process"
                } else {
                    ""
                },
                n_proc > 0,
            ),
            self.kpi(
                "condensate_return_rate",
                condensate,
                steam,
                "fraction",
                targets,
                if steam > 0.0 {
                    ""
                } else {
                    "not applicable: no steam raised"
                },
                steam > 0.0,
            ),
            self.kpi(
                "wastewater_reuse_rate",
                v_w,
                v_d + v_w,
                "fraction",
                targets,
                "",
                true,
            ),
            self.kpi(
                "leakage_rate",
                b.leakage,
                b.intake,
                "fraction",
                targets,
                "",
                true,
            ),
            self.kpi(
                "unconventional_substitution_rate",
                b.unconventional,
                b.total_inflow,
                "fraction",
                targets,
                "",
                true,
            ),
            self.kpi(
                "intake_per_10k_yuan",
                b.intake,
                v_z,
                "m³/10⁴ yuan",
                targets,
                if value_added_10k > 0.0 {
                    ""
                } else {
                    "not applicable: no industrial value added given"
                },
                value_added_10k > 0.0,
            ),
        ];
        let nc = t.n_species();
        let mut discharge_kg = BTreeMap::new();
        let mut drained_kg = BTreeMap::new();
        for s in 0..nc {
            let mut d = 0.0;
            for u in 0..topo.n_units() {
                let here = match scope {
                    Scope::Park => true,
                    Scope::Enterprise(_) => self.inside(scope, u),
                };
                if here {
                    d += t.exit_species(u, ExitKind::Discharge.index(), s);
                }
            }
            discharge_kg.insert(t.species[s].clone(), d / 1000.0);
            if let Scope::Enterprise(_) = scope {
                let mut o = 0.0;
                for l in 0..topo.n_links() {
                    let (a, bb) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
                    if self.inside(scope, a) && !self.inside(scope, bb) {
                        o += t.link_species(l, s);
                    }
                }
                drained_kg.insert(t.species[s].clone(), o / 1000.0);
            }
        }
        ScopeKpis {
            scope: id.to_string(),
            name: name.to_string(),
            kpis,
            discharge_kg,
            drained_kg,
        }
    }
}

/// Name, Chinese name, standard, formula, definition and direction of a KPI.
pub fn describe(
    key: &str,
) -> (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
) {
    match key {
        "repeated_use_rate" => (
            "repeated-use rate",
            "重复利用率",
            "GB/T 7119",
            "V_r/(V_i + V_r)",
            "V_r repeated use (recirculation + serial reuse of used water), V_i intake under the policy",
            true,
        ),
        "cooling_recirculation_rate" => (
            "indirect cooling-water recirculation rate",
            "间接冷却水循环率",
            "GB/T 7119",
            "V_cr/(V_cr + V_cf)",
            "V_cr cooling-tower circulation, V_cf the towers' make-up",
            true,
        ),
        "process_water_reuse_rate" => (
            "process-water reuse rate",
            "工艺水回用率",
            "GB/T 7119",
            "V_gr/(V_gr + V_gf)",
            "V_gr used water entering processes (and their recirculation), V_gf the rest of their inflow",
            true,
        ),
        "condensate_return_rate" => (
            "condensate return rate",
            "冷凝水回用率",
            "GB/T 7119",
            "condensate returned / steam generated",
            "mass of condensate returned over mass of steam generated",
            true,
        ),
        "wastewater_reuse_rate" => (
            "wastewater reuse rate",
            "废水回用率",
            "GB/T 7119 [M]",
            "V_w/(V_d + V_w)",
            "V_w used water reaching a water-using unit through treatment, V_d discharged (enterprise: plus drained to others)",
            true,
        ),
        "leakage_rate" => (
            "overall leakage rate",
            "用水综合漏失率",
            "GB/T 7119 [M]",
            "V_l/V_i",
            "V_l water lost by leaks, V_i intake",
            false,
        ),
        "unconventional_substitution_rate" => (
            "unconventional-water substitution rate",
            "非常规水资源替代率",
            "Action Plan [M]",
            "V_u/V_s",
            "V_u unconventional water (seawater, brackish, mine water, rainwater, reclaimed; for an enterprise also used water received from others); denominator V_s = all water entering the scope (every source kind and transfers), not V_i",
            true,
        ),
        "intake_per_10k_yuan" => (
            "intake per 10,000 yuan of industrial value added",
            "万元工业增加值取水量",
            "GB/T 7119",
            "V_i/V_z",
            "V_i intake (repeated use excluded), V_z industrial value added over the run, 10⁴ yuan (annual value prorated to the run's hours)",
            false,
        ),
        _ => ("unknown", "", "", "", "", true),
    }
}

/// Computes the KPI report of a run or window.
pub fn compute(topo: &Topology, meta: &ParkMeta, totals: &Totals) -> KpiReport {
    let policy = Policy::of(&meta.kpi);
    let ctx = Ctx {
        topo,
        meta,
        t: totals,
        policy: policy.clone(),
        treated: treated_side(topo, meta),
    };
    let park_balance = ctx.balance(Scope::Park, PARK_SCOPE, &meta.name);
    let va_total: f64 = meta
        .enterprises
        .iter()
        .map(|e| e.value_added_10k_yuan_per_year)
        .sum();
    let park_kpis = ctx.scope_kpis(
        Scope::Park,
        PARK_SCOPE,
        &meta.name,
        &park_balance,
        va_total,
        Some(&meta.kpi.targets),
    );
    let mut balances = vec![park_balance];
    let mut enterprises = Vec::new();
    let mut scopes: Vec<(Scope, String, String, f64)> = meta
        .enterprises
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let name = if e.name.is_empty() {
                e.id.clone()
            } else {
                e.name.clone()
            };
            (
                Scope::Enterprise(Some(i)),
                e.id.clone(),
                name,
                e.value_added_10k_yuan_per_year,
            )
        })
        .collect();
    if (0..topo.n_units()).any(|u| !is_source(meta, u) && meta.units[u].enterprise.is_none()) {
        scopes.push((
            Scope::Enterprise(None),
            NO_ENTERPRISE_SCOPE.to_string(),
            "units without an enterprise".to_string(),
            0.0,
        ));
    }
    let mut caveats = Vec::new();
    for (scope, id, name, va) in &scopes {
        let b = ctx.balance(*scope, id, name);
        let targets = meta.kpi.enterprise_targets.get(id);
        enterprises.push(ctx.scope_kpis(*scope, id, name, &b, *va, targets));
        // Used water from outside entering the enterprise's own treatment or storage, and
        // from there its own water-using units, is counted as its serial reuse as well as its
        // intake (one 'already used' tracer cannot tell whose use it was).
        for l in 0..topo.n_links() {
            let (a, bb) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
            if !ctx.inside(*scope, a)
                && !is_source(meta, a)
                && ctx.inside(*scope, bb)
                && !meta.units[bb].is_use
                && totals.link_used_m3.get(l).copied().unwrap_or(0.0) > 0.0
                && reaches_use(&ctx, *scope, bb)
            {
                caveats.push(format!(
                    "{id}: used water from outside enters its unit {:?} and then its own water-using units; that water counts as {id}'s serial reuse as well as its intake",
                    meta.units[bb].id
                ));
                break;
            }
        }
        balances.push(b);
    }
    let products = product_intake(&ctx, &scopes, &balances[1..]);
    KpiReport {
        park: meta.name.clone(),
        start: meta.start.clone(),
        hours: totals.hours(),
        policy,
        park_kpis,
        enterprises,
        products,
        balances,
        action_plan_source: ACTION_PLAN_SOURCE.to_string(),
        caveats,
    }
}

/// Whether water at non-using unit `from` can reach a water-using unit of the scope through
/// the scope's non-using units.
fn reaches_use(ctx: &Ctx<'_>, scope: Scope, from: usize) -> bool {
    let (topo, meta) = (ctx.topo, ctx.meta);
    let mut seen = vec![false; topo.n_units()];
    let mut stack = vec![from];
    seen[from] = true;
    while let Some(u) = stack.pop() {
        for l in 0..topo.n_links() {
            if topo.link_from[l] as usize != u {
                continue;
            }
            let v = topo.link_to[l] as usize;
            if !ctx.inside(scope, v) || seen[v] {
                continue;
            }
            if meta.units[v].is_use {
                return true;
            }
            seen[v] = true;
            stack.push(v);
        }
    }
    false
}

fn product_intake(
    ctx: &Ctx<'_>,
    scopes: &[(Scope, String, String, f64)],
    balances: &[WaterBalance],
) -> Vec<ProductIntake> {
    let (meta, t) = (ctx.meta, ctx.t);
    let plan = action_plan();
    let mut out = Vec::new();
    for ((scope, id, _, _), b) in scopes.iter().zip(balances) {
        // Products of the scope's processes, in declaration order.
        let mut products: Vec<(String, String, Vec<usize>)> = Vec::new();
        for (u, m) in meta.units.iter().enumerate() {
            if m.type_name != "Process" || !ctx.inside(*scope, u) {
                continue;
            }
            let Some((p, unit)) = &m.product else {
                continue;
            };
            match products.iter_mut().find(|(q, v, _)| q == p && v == unit) {
                Some(e) => e.2.push(u),
                None => products.push((p.clone(), unit.clone(), vec![u])),
            }
        }
        let inflow_all: f64 = products
            .iter()
            .flat_map(|(_, _, us)| us.iter())
            .map(|&u| t.units[u].throughput_m3)
            .sum();
        for (p, unit, us) in &products {
            let output: f64 = us.iter().map(|&u| t.units[u].product).sum();
            let (intake, allocation) = if products.len() == 1 {
                (b.intake, "the enterprise's whole intake".to_string())
            } else {
                let share: f64 = us.iter().map(|&u| t.units[u].throughput_m3).sum::<f64>()
                    / inflow_all.max(f64::MIN_POSITIVE);
                (
                    b.intake * share,
                    format!(
                        "{:.1} % of the enterprise's intake (its processes' share of process inflow)",
                        100.0 * share
                    ),
                )
            };
            let per = if output > 0.0 {
                Some(intake / output)
            } else {
                None
            };
            let reference = find_plan_row(&plan, p).cloned();
            let mut note = String::new();
            let unit_ok = reference
                .as_ref()
                .map(|r| norm(&r.unit) == norm(&format!("m3/{unit}")))
                .unwrap_or(false);
            if reference.is_none() {
                note = "no Action Plan baseline for this product".to_string();
            } else if !unit_ok {
                note = format!(
                    "product unit {unit:?} does not match the Action Plan's {}",
                    reference.as_ref().map(|r| r.unit.as_str()).unwrap_or("")
                );
            } else if per.is_none() {
                note = "no output in the run".to_string();
            }
            let cmp = |f: &dyn Fn(&PlanRow, f64) -> f64| match (&reference, per) {
                (Some(r), Some(v)) if unit_ok => Some(f(r, v)),
                _ => None,
            };
            out.push(ProductIntake {
                enterprise: id.clone(),
                units: us.iter().map(|&u| meta.units[u].id.clone()).collect(),
                product: p.clone(),
                product_unit: unit.clone(),
                output,
                intake_m3: intake,
                m3_per_unit: per,
                allocation,
                meets_target_2025: cmp(&|r, v| f64::from(u8::from(v <= r.target_2025)))
                    .map(|x| x > 0.5),
                meets_baseline_2020: cmp(&|r, v| f64::from(u8::from(v <= r.baseline_2020)))
                    .map(|x| x > 0.5),
                distance_to_target: cmp(&|r, v| v - r.target_2025),
                distance_to_target_pct: cmp(&|r, v| 100.0 * (v - r.target_2025) / r.target_2025),
                reference,
                note,
            });
        }
    }
    out
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.2} %", 100.0 * x))
        .unwrap_or_else(|| "n/a".into())
}

/// A KPI's value formatted in its unit (rates in %).
pub fn format_value(k: &Kpi, v: Option<f64>) -> String {
    if k.unit == "fraction" {
        pct(v)
    } else {
        v.map(|x| format!("{x:.3} {}", k.unit))
            .unwrap_or_else(|| "n/a".into())
    }
}

impl KpiReport {
    /// The KPI tables, the product comparison and the balance tables as text.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut o = String::new();
        let _ = writeln!(o, "KPIs (intake policy: {})", self.policy.text);
        for s in std::iter::once(&self.park_kpis).chain(&self.enterprises) {
            let _ = writeln!(o, "  [{}] {}", s.scope, s.name);
            for k in &s.kpis {
                let target = match (k.target, k.pass) {
                    (Some(_), Some(p)) => format!(
                        "  target {} {}",
                        format_value(k, k.target),
                        if p { "PASS" } else { "FAIL" }
                    ),
                    (Some(_), None) => format!("  target {}", format_value(k, k.target)),
                    _ => String::new(),
                };
                let _ = writeln!(
                    o,
                    "    {:<50} {:>16}{target}",
                    k.name,
                    format_value(k, k.value)
                );
            }
        }
        let _ = writeln!(
            o,
            "unit-product intake vs the Action Plan (2020 baseline → 2025 target)"
        );
        for p in &self.products {
            match (&p.reference, p.m3_per_unit, p.meets_target_2025) {
                (Some(r), Some(v), Some(ok)) => {
                    let _ = writeln!(
                        o,
                        "  {:<10} {:<24} {:>8.3} {:<9} baseline {:.3}, target {:.3}: {} by {:+.3} ({:+.1} %)",
                        p.enterprise,
                        p.product,
                        v,
                        r.unit,
                        r.baseline_2020,
                        r.target_2025,
                        if ok { "PASS" } else { "FAIL" },
                        p.distance_to_target.unwrap_or(0.0),
                        p.distance_to_target_pct.unwrap_or(0.0)
                    );
                }
                _ => {
                    let _ = writeln!(
                        o,
                        "  {:<10} {:<24} {:>8} m3/{}  {}",
                        p.enterprise,
                        p.product,
                        p.m3_per_unit
                            .map(|v| format!("{v:.3}"))
                            .unwrap_or_else(|| "n/a".into()),
                        p.product_unit,
                        p.note
                    );
                }
            }
        }
        let _ = writeln!(
            o,
            "water balance, m³ (GB/T 12452) {:>11} {:>11} {:>11} {:>12} {:>11} {:>11} {:>10} {:>8} {:>8} closure δ",
            "intake",
            "unconv.",
            "ΣV_in",
            "repeated",
            "consumed",
            "discharge",
            "drained",
            "leak",
            "ΔS"
        );
        for b in &self.balances {
            let _ = writeln!(
                o,
                "  {:<29} {:>11.0} {:>11.0} {:>11.0} {:>12.0} {:>11.0} {:>11.0} {:>10.0} {:>8.0} {:>8.0} {:.1e}",
                b.scope,
                b.intake,
                b.unconventional,
                b.total_inflow,
                b.repeated_use,
                b.consumption,
                b.discharge,
                b.drained_to_others,
                b.leakage,
                b.storage_change,
                b.closure_error
            );
        }
        for c in &self.caveats {
            let _ = writeln!(o, "  caveat: {c}");
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_table_parses_and_targets_follow_the_reduction() {
        let plan = action_plan();
        assert_eq!(plan.len(), 32);
        let steel = find_plan_row(&plan, "crude steel").unwrap();
        assert!((steel.target_2025 - 2.25).abs() < 1e-12);
        let beer = find_plan_row(&plan, "Beer").unwrap();
        assert!((beer.target_2025 - 3.825).abs() < 1e-12);
        // Several routes: the route is needed.
        assert!(find_plan_row(&plan, "soda ash").is_none());
        let soda = find_plan_row(&plan, "soda ash (ammonia-soda with seawater)").unwrap();
        assert_eq!(soda.baseline_2020, 8.0);
    }

    #[test]
    fn spec_check_reports_unknown_keys_and_ranges() {
        let mut spec = KpiSpec::default();
        spec.targets.insert("reuse".into(), 0.5);
        spec.targets.insert("leakage_rate".into(), 1.5);
        spec.enterprise_targets
            .insert("nobody".into(), BTreeMap::new());
        spec.closure_tolerance = 0.0;
        let p = check_spec(&spec, &[]);
        assert_eq!(p.len(), 4, "{p:?}");
    }
}
