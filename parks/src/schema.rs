//! The park description language: the RON schema, kept apart from the engine's components.
//!
//! Every struct rejects unknown fields. Parameter names carry their units
//! (`cap_m3_per_h`, `quality_mg_per_l`, `heat_load_mw`). Values that may vary in time are
//! [`Driver`]s. Maps keyed by species (`{"tds": 450.0}`) may name any declared species;
//! species not named take the documented default (0 for qualities and loads, no limit for
//! limits).
//!
//! The file is read with the RON extensions `unwrap_newtypes` and `implicit_some` enabled, so a
//! unit reads `Source(id: "city", ...)` and an optional field takes a bare value.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::unit_specs::*;

/// Species → value map.
pub type SpeciesMap = BTreeMap<String, f64>;

/// A park file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Park {
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Time axis.
    pub time: TimeSpec,
    /// Declared species; `"tds"` is always present (added first when missing).
    #[serde(default)]
    pub species: Vec<String>,
    /// Energy, carbon and price factors.
    #[serde(default)]
    pub carbon: CarbonSpec,
    /// Enterprises.
    #[serde(default)]
    pub enterprises: Vec<EnterpriseSpec>,
    /// Units.
    pub units: Vec<UnitSpec>,
    /// Links.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    /// Scheduled events.
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// Weather drivers (dry bulb, wet bulb, rainfall); constant defaults when absent.
    #[serde(default)]
    pub weather: Option<WeatherSpec>,
    /// KPI targets and the intake-accounting policy (see [`crate::kpi`]).
    #[serde(default)]
    pub kpi: KpiSpec,
    /// Meters of the twin (flow, level, conductivity, pressure; see [`crate::twin::meters`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub meters: Vec<crate::twin::meters::MeterSpec>,
    /// The coupling strategy and its weights (see [`crate::strategies`]; default: priority).
    #[serde(default)]
    pub strategy: Option<crate::strategies::StrategySpec>,
}

/// Time axis.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    /// Start, `"YYYY-MM-DDTHH:MM"` (local time; no time zone).
    #[serde(default = "default_start")]
    pub start: String,
    /// Step length, hours.
    #[serde(default = "one")]
    pub step_h: f64,
    /// Number of steps.
    pub steps: usize,
}

fn default_start() -> String {
    "2025-01-01T00:00".to_string()
}
fn one() -> f64 {
    1.0
}

/// A value that may vary in time.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub enum Driver {
    /// The same value every step.
    Const(f64),
    /// One value per step (or one per hour when `step_h` is 1).
    Hourly(Vec<f64>),
    /// A column of a CSV file (path relative to the park file), one row per step.
    Csv {
        /// CSV file.
        file: String,
        /// Column header.
        column: String,
        /// Multiplier applied to every value.
        #[serde(default = "one")]
        scale: f64,
    },
    /// `base × daily[hour] × weekly[weekday] × monthly[month]`; missing factor lists are 1.
    Profile {
        /// Base value.
        base: f64,
        /// 24 factors, hour 0–23.
        #[serde(default)]
        daily: Vec<f64>,
        /// 7 factors, Monday–Sunday.
        #[serde(default)]
        weekly: Vec<f64>,
        /// 12 factors, January–December.
        #[serde(default)]
        monthly: Vec<f64>,
    },
    /// `mean + annual_amplitude·cos(2π(d − peak_day)/365) + daily_amplitude·cos(2π(h − peak_hour)/24)`
    /// with `d` the day of year and `h` the hour of day (weather-like drivers).
    Seasonal {
        /// Mean.
        mean: f64,
        /// Annual amplitude.
        #[serde(default)]
        annual_amplitude: f64,
        /// Day of year of the annual peak (0-based).
        #[serde(default = "peak_day")]
        peak_day: f64,
        /// Daily amplitude.
        #[serde(default)]
        daily_amplitude: f64,
        /// Hour of the daily peak.
        #[serde(default = "peak_hour")]
        peak_hour: f64,
    },
}

fn peak_day() -> f64 {
    196.0
}
fn peak_hour() -> f64 {
    15.0
}

/// Grid emission factor.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub enum GridFactor {
    /// A named, dated factor from the built-in table (for example `"CN-national-2023"`).
    Named(String),
    /// A value or series, kg CO2/kWh.
    KgPerKwh(Driver),
}

/// Energy, carbon and price factors of the park.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CarbonSpec {
    /// Grid electricity factor.
    #[serde(default = "default_grid")]
    pub grid: GridFactor,
    /// Heat factor, kg CO2/kWh_th (0 for waste heat).
    #[serde(default)]
    pub heat_kg_per_kwh: f64,
    /// Electricity price, yuan/kWh.
    #[serde(default = "default_price")]
    pub electricity_yuan_per_kwh: Driver,
    /// Heat price, yuan/kWh_th.
    #[serde(default)]
    pub heat_yuan_per_kwh: f64,
    /// Water-resource tax by source kind (`"groundwater"`, `"surface"`, ...), yuan/m³, on top of
    /// each source's price (none by default).
    #[serde(default)]
    pub water_resource_tax_yuan_per_m3: ResourceTaxSpec,
    /// Environmental-protection tax on discharged pollutants (none by default).
    #[serde(default)]
    pub environmental_tax: Option<EnvironmentalTaxSpec>,
}

fn default_grid() -> GridFactor {
    GridFactor::Named("CN-national-2023".to_string())
}
fn default_price() -> Driver {
    Driver::Const(0.65)
}

impl Default for CarbonSpec {
    fn default() -> Self {
        Self {
            grid: default_grid(),
            heat_kg_per_kwh: 0.0,
            electricity_yuan_per_kwh: default_price(),
            heat_yuan_per_kwh: 0.0,
            water_resource_tax_yuan_per_m3: ResourceTaxSpec::new(),
            environmental_tax: None,
        }
    }
}

/// An enterprise (an accounting unit for KPIs).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseSpec {
    /// Id referenced by units.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Industry (as in the Action Plan table: steel, petrochemical_chemical, textile, paper,
    /// food, nonferrous, or other).
    #[serde(default)]
    pub industry: String,
    /// Industrial value added, 10,000 yuan per year.
    #[serde(default)]
    pub value_added_10k_yuan_per_year: f64,
}

/// A unit of the park, by type.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub enum UnitSpec {
    /// An intake.
    Source(SourceSpec),
    /// A storage tank.
    Tank(TankSpec),
    /// An enterprise process.
    Process(ProcessSpec),
    /// A fixed-load operation of water-network synthesis.
    FixedLoad(FixedLoadSpec),
    /// A cooling tower.
    CoolingTower(CoolingTowerSpec),
    /// A treatment unit.
    Treatment(TreatmentSpec),
    /// A splitter.
    Splitter(JunctionSpec),
    /// A mixer.
    Mixer(JunctionSpec),
    /// An outfall.
    Discharge(DischargeSpec),
    /// Reverse osmosis.
    ReverseOsmosis(RoSpec),
    /// Thermal desalination (MED, MVC).
    ThermalDesal(ThermalDesalSpec),
    /// Membrane filtration preset (MF, UF, NF).
    Filtration(FiltrationSpec),
    /// Softening preset (lime, ion exchange).
    Softening(SofteningSpec),
    /// Biological treatment (activated sludge, anammox, MBR).
    Biological(BiologicalSpec),
    /// Zero-liquid-discharge evaporator/crystalliser.
    Crystalliser(CrystalliserSpec),
    /// Steam system with condensate return.
    SteamSystem(SteamSystemSpec),
    /// Rainwater harvesting.
    RainHarvest(RainHarvestSpec),
    /// Mine-water inflow.
    MineWater(MineWaterSpec),
    /// On-site generation.
    Generator(GeneratorSpec),
}

impl UnitSpec {
    /// The unit's id.
    pub fn id(&self) -> &str {
        match self {
            UnitSpec::Source(s) => &s.id,
            UnitSpec::Tank(s) => &s.id,
            UnitSpec::Process(s) => &s.id,
            UnitSpec::FixedLoad(s) => &s.id,
            UnitSpec::CoolingTower(s) => &s.id,
            UnitSpec::Treatment(s) => &s.id,
            UnitSpec::Splitter(s) | UnitSpec::Mixer(s) => &s.id,
            UnitSpec::Discharge(s) => &s.id,
            UnitSpec::ReverseOsmosis(s) => &s.id,
            UnitSpec::ThermalDesal(s) => &s.id,
            UnitSpec::Filtration(s) => &s.id,
            UnitSpec::Softening(s) => &s.id,
            UnitSpec::Biological(s) => &s.id,
            UnitSpec::Crystalliser(s) => &s.id,
            UnitSpec::SteamSystem(s) => &s.id,
            UnitSpec::RainHarvest(s) => &s.id,
            UnitSpec::MineWater(s) => &s.id,
            UnitSpec::Generator(s) => &s.id,
        }
    }

    /// The unit's enterprise, if any.
    pub fn enterprise(&self) -> Option<&str> {
        match self {
            UnitSpec::Source(s) => s.enterprise.as_deref(),
            UnitSpec::Tank(s) => s.enterprise.as_deref(),
            UnitSpec::Process(s) => s.enterprise.as_deref(),
            UnitSpec::FixedLoad(s) => s.enterprise.as_deref(),
            UnitSpec::CoolingTower(s) => s.enterprise.as_deref(),
            UnitSpec::Treatment(s) => s.enterprise.as_deref(),
            UnitSpec::Splitter(s) | UnitSpec::Mixer(s) => s.enterprise.as_deref(),
            UnitSpec::Discharge(s) => s.enterprise.as_deref(),
            UnitSpec::ReverseOsmosis(s) => s.enterprise.as_deref(),
            UnitSpec::ThermalDesal(s) => s.enterprise.as_deref(),
            UnitSpec::Filtration(s) => s.enterprise.as_deref(),
            UnitSpec::Softening(s) => s.enterprise.as_deref(),
            UnitSpec::Biological(s) => s.enterprise.as_deref(),
            UnitSpec::Crystalliser(s) => s.enterprise.as_deref(),
            UnitSpec::SteamSystem(s) => s.enterprise.as_deref(),
            UnitSpec::RainHarvest(s) => s.enterprise.as_deref(),
            UnitSpec::MineWater(s) => s.enterprise.as_deref(),
            UnitSpec::Generator(s) => s.enterprise.as_deref(),
        }
    }

    /// The unit's coordinates `[longitude, latitude]` as written, if any.
    pub fn location(&self) -> Option<&[f64]> {
        match self {
            UnitSpec::Source(s) => s.location.as_deref(),
            UnitSpec::Tank(s) => s.location.as_deref(),
            UnitSpec::Process(s) => s.location.as_deref(),
            UnitSpec::FixedLoad(s) => s.location.as_deref(),
            UnitSpec::CoolingTower(s) => s.location.as_deref(),
            UnitSpec::Treatment(s) => s.location.as_deref(),
            UnitSpec::Splitter(s) | UnitSpec::Mixer(s) => s.location.as_deref(),
            UnitSpec::Discharge(s) => s.location.as_deref(),
            UnitSpec::ReverseOsmosis(s) => s.location.as_deref(),
            UnitSpec::ThermalDesal(s) => s.location.as_deref(),
            UnitSpec::Filtration(s) => s.location.as_deref(),
            UnitSpec::Softening(s) => s.location.as_deref(),
            UnitSpec::Biological(s) => s.location.as_deref(),
            UnitSpec::Crystalliser(s) => s.location.as_deref(),
            UnitSpec::SteamSystem(s) => s.location.as_deref(),
            UnitSpec::RainHarvest(s) => s.location.as_deref(),
            UnitSpec::MineWater(s) => s.location.as_deref(),
            UnitSpec::Generator(s) => s.location.as_deref(),
        }
    }

    /// Type name as written in the file.
    pub fn type_name(&self) -> &'static str {
        match self {
            UnitSpec::Source(_) => "Source",
            UnitSpec::Tank(_) => "Tank",
            UnitSpec::Process(_) => "Process",
            UnitSpec::FixedLoad(_) => "FixedLoad",
            UnitSpec::CoolingTower(_) => "CoolingTower",
            UnitSpec::Treatment(_) => "Treatment",
            UnitSpec::Splitter(_) => "Splitter",
            UnitSpec::Mixer(_) => "Mixer",
            UnitSpec::Discharge(_) => "Discharge",
            UnitSpec::ReverseOsmosis(_) => "ReverseOsmosis",
            UnitSpec::ThermalDesal(_) => "ThermalDesal",
            UnitSpec::Filtration(_) => "Filtration",
            UnitSpec::Softening(_) => "Softening",
            UnitSpec::Biological(_) => "Biological",
            UnitSpec::Crystalliser(_) => "Crystalliser",
            UnitSpec::SteamSystem(_) => "SteamSystem",
            UnitSpec::RainHarvest(_) => "RainHarvest",
            UnitSpec::MineWater(_) => "MineWater",
            UnitSpec::Generator(_) => "Generator",
        }
    }
}

/// Kind of source, as written in the file.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum SourceKindSpec {
    /// Municipal supply.
    Municipal,
    /// Groundwater.
    Groundwater,
    /// Surface water.
    Surface,
    /// Seawater.
    Seawater,
    /// Brackish water.
    Brackish,
    /// Mine water.
    MineWater,
    /// Rainwater.
    Rainwater,
    /// Reclaimed municipal wastewater.
    ReclaimedMunicipal,
}

/// An intake.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Unique id.
    pub id: String,
    /// Kind of water.
    pub kind: SourceKindSpec,
    /// Enterprise that owns the intake (none for a park-wide supply).
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Quality, mg/L per species (default 0).
    #[serde(default)]
    pub quality_mg_per_l: SpeciesMap,
    /// Largest withdrawal, m³/h.
    pub cap_m3_per_h: f64,
    /// Fraction of the cap available, 0–1 (default 1).
    #[serde(default)]
    pub availability: Option<Driver>,
    /// Annual permit, m³ per year (none by default).
    #[serde(default)]
    pub annual_cap_m3: Option<f64>,
    /// Price, yuan/m³ (tariff plus water-resource tax).
    #[serde(default)]
    pub price_yuan_per_m3: f64,
    /// Embodied carbon, kg CO2e/m³.
    #[serde(default)]
    pub carbon_kg_per_m3: f64,
    /// Coordinates `[longitude, latitude]` (WGS 84).
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

/// A storage tank.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TankSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Capacity, m³.
    pub capacity_m3: f64,
    /// Lowest level, m³ (default 0).
    #[serde(default)]
    pub minimum_m3: f64,
    /// Initial volume, m³ (default half the capacity).
    #[serde(default)]
    pub initial_m3: Option<f64>,
    /// Initial quality, mg/L per species.
    #[serde(default)]
    pub initial_mg_per_l: SpeciesMap,
    /// Largest outflow to consumers, m³/h (default unlimited).
    #[serde(default)]
    pub max_outflow_m3_per_h: Option<f64>,
    /// Refill control from the tank's supply links.
    #[serde(default)]
    pub refill: Option<RefillSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

/// Refill control of a tank.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RefillSpec {
    /// Start refilling below this fraction of capacity.
    pub below_fraction: f64,
    /// Stop at this fraction.
    pub to_fraction: f64,
    /// Largest refill rate, m³/h.
    pub max_m3_per_h: f64,
}

/// Where a process's consumed water goes.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
pub enum LossSpec {
    /// Evaporated (carries no species).
    #[default]
    Evaporated,
    /// Bound into the product (carries species).
    IntoProduct,
}

/// An enterprise process.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Product name (for KPIs, for example `"crude steel"`).
    #[serde(default)]
    pub product: Option<String>,
    /// Product unit (`"t"`, `"kL"`, `"100 m"`).
    #[serde(default = "default_product_unit")]
    pub product_unit: String,
    /// Production, product units per hour.
    pub production_per_h: Driver,
    /// Specific water use, m³ per product unit.
    pub water_m3_per_unit: f64,
    /// Consumed fraction of the inflow.
    #[serde(default)]
    pub consumptive_fraction: f64,
    /// Where consumed water goes.
    #[serde(default)]
    pub loss: LossSpec,
    /// Load added per m³ of inflow, kg/m³ per species.
    #[serde(default)]
    pub adds_kg_per_m3: SpeciesMap,
    /// Load added per product unit, kg per species.
    #[serde(default)]
    pub adds_kg_per_unit: SpeciesMap,
    /// Highest accepted inlet concentration, mg/L per species.
    #[serde(default)]
    pub accepts_mg_per_l: SpeciesMap,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

fn default_product_unit() -> String {
    "t".to_string()
}

/// A fixed-load operation (water-network synthesis): a contaminant load picked up with
/// limiting inlet and outlet concentrations.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FixedLoadSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// The contaminant species.
    pub species: String,
    /// Mass load, kg/h.
    pub load_kg_per_h: f64,
    /// Highest inlet concentration, mg/L.
    pub c_in_max_mg_per_l: f64,
    /// Highest outlet concentration, mg/L.
    pub c_out_max_mg_per_l: f64,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

/// A cooling tower.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CoolingTowerSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Heat load, MW (give this or `circulation_m3_per_h`).
    #[serde(default)]
    pub heat_load_mw: Option<Driver>,
    /// Circulation, m³/h, when the tower is driven by circulation × range (the heat load then
    /// follows as `R·ρ·c_p·ΔT`).
    #[serde(default)]
    pub circulation_m3_per_h: Option<Driver>,
    /// Range, °C.
    pub range_c: f64,
    /// Cycles of concentration: fixed, or the upper bound under conductivity control or
    /// scaling limits.
    pub cycles: f64,
    /// Drift, fraction of circulation (default 0.0001, modern eliminators).
    #[serde(default = "default_drift")]
    pub drift_fraction: f64,
    /// System holding volume, m³.
    pub holding_volume_m3: f64,
    /// Initial recirculating quality, mg/L per species (default 0).
    #[serde(default)]
    pub initial_mg_per_l: SpeciesMap,
    /// Circulation pump head, m (default 20).
    #[serde(default = "default_ct_head")]
    pub circulation_head_m: f64,
    /// Circulation pump efficiency (default 0.75).
    #[serde(default = "default_eta")]
    pub pump_efficiency: f64,
    /// Fan electricity per MW of heat load, kW/MW (default 7).
    #[serde(default = "default_fan")]
    pub fan_kw_per_mw: f64,
    /// Treatment chemicals per m³ of make-up, kg/m³ (default 0).
    #[serde(default)]
    pub chemical_kg_per_m3: f64,
    /// Carbon of the chemicals, kg CO2e/kg.
    #[serde(default)]
    pub chemical_co2_per_kg: f64,
    /// Price of the chemicals, yuan/kg.
    #[serde(default)]
    pub chemical_yuan_per_kg: f64,
    /// Evaporation method (default `MetricRule`; `GbT50050` and `LatentHeat(f)` read the
    /// weather and the heat load).
    #[serde(default)]
    pub evaporation: EvaporationSpec,
    /// Blowdown control (default `FixedCycles`; `Conductivity(setpoint_mg_per_l)`).
    #[serde(default)]
    pub blowdown: BlowdownSpec,
    /// Scaling limits on the cycles (none by default).
    #[serde(default)]
    pub scaling: Option<ScalingSpec>,
    /// Scale inhibitor (none by default).
    #[serde(default)]
    pub inhibitor: Option<InhibitorSpec>,
    /// Approach of the cold water to the wet bulb, °C (default 5 [M]: 3–6 °C), for the
    /// hot-water temperature of the scaling indices.
    #[serde(default)]
    pub approach_c: Option<f64>,
    /// Capital cost (capacity in MW of heat rejected).
    #[serde(default)]
    pub capital: Option<CapitalSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
    /// Smart controller of blowdown and inhibitor dose on the measured LSI (none by default;
    /// see [`crate::dosing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smart_control: Option<crate::dosing::SmartControlSpec>,
}

fn default_drift() -> f64 {
    0.0001
}
fn default_ct_head() -> f64 {
    20.0
}
fn default_eta() -> f64 {
    0.75
}
fn default_fan() -> f64 {
    7.0
}

/// How a treatment unit's feed is decided.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub enum FeedSpec {
    /// Takes what is pushed to it.
    Accept,
    /// Draws a set rate, m³/h.
    Fixed(Driver),
    /// Keeps a tank filled (hysteresis between two fractions of its capacity).
    FillTank {
        /// Tank id.
        tank: String,
        /// Feed capacity, m³/h.
        capacity_m3_per_h: f64,
        /// Start below this fraction.
        start_below: f64,
        /// Stop above this fraction.
        stop_above: f64,
    },
}

/// A treatment unit.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TreatmentSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Recovery, product/feed, (0, 1].
    pub recovery: f64,
    /// Fraction of each species' inlet mass sent to the reject.
    #[serde(default)]
    pub removal_to_reject: SpeciesMap,
    /// Fraction of each species' inlet mass destroyed.
    #[serde(default)]
    pub destroyed: SpeciesMap,
    /// Electricity per m³ of feed, kWh/m³.
    #[serde(default)]
    pub kwh_per_m3: f64,
    /// Heat per m³ of feed, kWh_th/m³.
    #[serde(default)]
    pub heat_kwh_per_m3: f64,
    /// Chemicals per m³ of feed, kg/m³.
    #[serde(default)]
    pub chemical_kg_per_m3: f64,
    /// Carbon of the chemicals, kg CO2e/kg.
    #[serde(default)]
    pub chemical_co2_per_kg: f64,
    /// Price of the chemicals, yuan/kg.
    #[serde(default)]
    pub chemical_yuan_per_kg: f64,
    /// Feed mode (default `Accept`).
    #[serde(default = "default_feed")]
    pub feed: FeedSpec,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

fn default_feed() -> FeedSpec {
    FeedSpec::Accept
}

/// A splitter or mixer.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JunctionSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

/// An outfall.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DischargeSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Permit limits, mg/L per species.
    #[serde(default)]
    pub limits_mg_per_l: SpeciesMap,
    /// Fee, yuan/m³.
    #[serde(default)]
    pub fee_yuan_per_m3: f64,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

/// A link from a unit's outlet to a unit's inlet.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Id (default `"FROM->TO"`).
    #[serde(default)]
    pub id: Option<String>,
    /// `"unit"` or `"unit.port"`.
    pub from: String,
    /// `"unit"` or `"unit.inlet"`.
    pub to: String,
    /// Capacity, m³/h (default unlimited).
    #[serde(default)]
    pub capacity_m3_per_h: Option<f64>,
    /// Pump head, m (default 0).
    #[serde(default)]
    pub head_m: f64,
    /// Wire-to-water pump efficiency (default 0.7).
    #[serde(default = "default_link_eta")]
    pub pump_efficiency: f64,
    /// Priority among links of the same port or inlet, lower first (default 0).
    #[serde(default)]
    pub priority: i32,
    /// Fixed split fraction of the upstream port's flow.
    #[serde(default)]
    pub split_fraction: Option<f64>,
}

fn default_link_eta() -> f64 {
    0.7
}

/// A scheduled event. Times are hours from the start; `from_h` is inclusive, `to_h` exclusive.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub enum EventSpec {
    /// A unit out of service.
    Outage {
        /// Unit id.
        unit: String,
        /// Start, h.
        from_h: f64,
        /// End, h.
        to_h: f64,
    },
    /// A cap on a source's withdrawal (drought, curtailed permit).
    IntakeCap {
        /// Source id.
        source: String,
        /// Cap, m³/h.
        cap_m3_per_h: f64,
        /// Start, h.
        from_h: f64,
        /// End, h.
        to_h: f64,
    },
    /// Heat load of cooling towers multiplied by `factor` (all towers when `units` is empty).
    HeatWave {
        /// Cooling-tower ids (empty: every cooling tower).
        #[serde(default)]
        units: Vec<String>,
        /// Multiplier.
        factor: f64,
        /// Start, h.
        from_h: f64,
        /// End, h.
        to_h: f64,
    },
    /// Production of processes multiplied by `factor` (all processes when `units` is empty).
    Production {
        /// Process ids (empty: every process).
        #[serde(default)]
        units: Vec<String>,
        /// Multiplier.
        factor: f64,
        /// Start, h.
        from_h: f64,
        /// End, h.
        to_h: f64,
    },
    /// Electricity price multiplied by `factor`.
    Tariff {
        /// Multiplier.
        factor: f64,
        /// Start, h.
        from_h: f64,
        /// End, h.
        to_h: f64,
    },
    /// Grid emission factor multiplied by `factor`.
    GridCarbon {
        /// Multiplier.
        factor: f64,
        /// Start, h.
        from_h: f64,
        /// End, h.
        to_h: f64,
    },
    /// A leak on a link: this much is lost while the link carries water.
    Leak {
        /// Link id (`"FROM->TO"` by default).
        link: String,
        /// Loss, m³/h.
        m3_per_h: f64,
        /// Start, h.
        from_h: f64,
        /// End, h.
        to_h: f64,
    },
    /// A fault of a meter's synthetic readings (see [`crate::twin::meters`]); the water is
    /// not affected.
    MeterFault {
        /// Meter id.
        meter: String,
        /// What goes wrong.
        fault: crate::twin::meters::FaultSpec,
        /// Start, h.
        from_h: f64,
        /// End, h.
        to_h: f64,
    },
}

/// KPI targets and the intake-accounting policy of a park (DOMAIN.md, "KPIs"). Every field has
/// a default, so `kpi` may be left out.
///
/// ```ron
/// kpi: (
///     targets: {"repeated_use_rate": 0.94, "intake_per_10k_yuan": 8.0},
///     enterprise_targets: {"steel": {"repeated_use_rate": 0.975}},
///     intake_kinds: [Municipal, Surface, Groundwater, ReclaimedMunicipal],
///     transfers_are_intake: true,
///     closure_tolerance: 0.05,
/// )
/// ```
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KpiSpec {
    /// Park-level targets by KPI key (see [`crate::kpi::KPI_KEYS`]); rates are fractions
    /// (0.94, not 94). Default: the Action Plan's 2025 national repeated-use rate, 0.94.
    #[serde(default = "default_targets")]
    pub targets: BTreeMap<String, f64>,
    /// Targets per enterprise id, by KPI key.
    #[serde(default)]
    pub enterprise_targets: BTreeMap<String, BTreeMap<String, f64>>,
    /// Source kinds that count as intake (取水量). Default: municipal, surface, groundwater
    /// and purchased reclaimed municipal water (GB/T 18916 practice).
    #[serde(default = "default_intake_kinds")]
    pub intake_kinds: Vec<SourceKindSpec>,
    /// Whether water received from another enterprise counts as the receiver's intake
    /// (separate accounting units; default true). It never counts as the park's intake.
    #[serde(default = "default_true")]
    pub transfers_are_intake: bool,
    /// Largest relative closure error `|ΣV_in − ΣV_out − ΔS|/ΣV_in` accepted in the water-balance
    /// tables (GB/T 12452 practice: 5 % per unit, 10 % site-wide; default 0.05).
    #[serde(default = "default_closure")]
    pub closure_tolerance: f64,
}

fn default_targets() -> BTreeMap<String, f64> {
    BTreeMap::from([("repeated_use_rate".to_string(), 0.94)])
}
fn default_intake_kinds() -> Vec<SourceKindSpec> {
    vec![
        SourceKindSpec::Municipal,
        SourceKindSpec::Surface,
        SourceKindSpec::Groundwater,
        SourceKindSpec::ReclaimedMunicipal,
    ]
}
fn default_true() -> bool {
    true
}
fn default_closure() -> f64 {
    0.05
}

impl Default for KpiSpec {
    fn default() -> Self {
        Self {
            targets: default_targets(),
            enterprise_targets: BTreeMap::new(),
            intake_kinds: default_intake_kinds(),
            transfers_are_intake: true,
            closure_tolerance: default_closure(),
        }
    }
}
