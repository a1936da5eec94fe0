//! Schema of the unit-physics library (RON types): weather, taxes, capital cost, chemicals, the
//! cooling tower's options, reverse osmosis, thermal desalination, the treatment presets
//! (membrane filtration, softening, biological treatment, MBR), the zero-liquid-discharge
//! crystalliser, the steam system, rainwater harvesting, mine water and on-site generation.
//!
//! Every default is documented on its field with its source tag ([P], [S], [M] as in
//! DOMAIN.md) and may be overridden. These types are re-exported by [`crate::schema`]; like
//! every schema type they are serde-only and reject unknown fields.

use crate::schema::{Driver, SpeciesMap};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Park weather drivers (`weather: (...)`); every field is optional.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeatherSpec {
    /// Dry-bulb air temperature, °C (default `Const(20.0)`).
    #[serde(default = "default_dry_bulb")]
    pub dry_bulb_c: Driver,
    /// Wet-bulb air temperature, °C (default `Const(15.0)`: about 60 % relative humidity at
    /// 20 °C).
    #[serde(default = "default_wet_bulb")]
    pub wet_bulb_c: Driver,
    /// Rainfall, mm/h (default `Const(0.0)`).
    #[serde(default = "default_rain")]
    pub rainfall_mm_per_h: Driver,
}

fn default_dry_bulb() -> Driver {
    Driver::Const(20.0)
}
fn default_wet_bulb() -> Driver {
    Driver::Const(15.0)
}
fn default_rain() -> Driver {
    Driver::Const(0.0)
}

impl Default for WeatherSpec {
    fn default() -> Self {
        Self {
            dry_bulb_c: default_dry_bulb(),
            wet_bulb_c: default_wet_bulb(),
            rainfall_mm_per_h: default_rain(),
        }
    }
}

/// China's environmental-protection tax on water pollutants (《环境保护税法》, 2018): per
/// outfall, the pollutants with the most pollution equivalents (the top three for general
/// pollutants) are taxed at a rate per equivalent set by each province within 1.4–14 yuan [S].
/// Equivalent values (kg per equivalent) from the law's annex: COD 1, ammonia nitrogen 0.8,
/// total phosphorus 0.25, suspended solids 4, BOD5 0.5 [S]. Computed per step here (the law
/// computes monthly); the reductions for discharges well below the standard are not modelled.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentalTaxSpec {
    /// Rate, yuan per pollution equivalent (e.g. Tianjin 12 [M], Beijing 14 [S]).
    pub yuan_per_equivalent: f64,
    /// Pollution-equivalent value per species, kg per equivalent.
    pub kg_per_equivalent: SpeciesMap,
    /// How many pollutants are taxed per outfall (default 3).
    #[serde(default = "three")]
    pub taxed_pollutants: usize,
    /// Discharge units taxed (default: every `Discharge`).
    #[serde(default)]
    pub outfalls: Vec<String>,
}

fn three() -> usize {
    3
}

/// Annualised capital cost (`capital: (...)` on a unit): `capex = yuan_per_capacity ×
/// capacity`, annualised with the capital recovery factor, plus fixed O&M.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CapitalSpec {
    /// Capex per unit of capacity (yuan per m³/d, per MW, per kW: the unit says which).
    pub yuan_per_capacity: f64,
    /// Capacity in that unit.
    pub capacity: f64,
    /// Lifetime, years (default 20 [M]).
    #[serde(default = "twenty")]
    pub lifetime_years: f64,
    /// Real discount rate (default 0.06 [M]).
    #[serde(default = "six_percent")]
    pub discount_rate: f64,
    /// Fixed O&M, fraction of capex per year (default 0.02 [M]).
    #[serde(default = "two_percent")]
    pub fixed_om_fraction: f64,
}

fn twenty() -> f64 {
    20.0
}
fn six_percent() -> f64 {
    0.06
}
fn two_percent() -> f64 {
    0.02
}

/// A chemical dose, per m³ of the unit's feed.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChemicalSpec {
    /// Name (for reports).
    pub name: String,
    /// Dose, kg per m³ of feed.
    pub kg_per_m3: f64,
    /// Carbon, kg CO2e per kg.
    #[serde(default)]
    pub co2_per_kg: f64,
    /// Price, yuan per kg.
    #[serde(default)]
    pub yuan_per_kg: f64,
}

/// A cooling tower's evaporation method.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Default)]
pub enum EvaporationSpec {
    /// `E = 0.00153·R·ΔT` (default).
    #[default]
    MetricRule,
    /// GB/T 50050 coefficient by inlet (dry-bulb) air temperature.
    GbT50050,
    /// Latent heat: `E = f·Q/h_fg`.
    LatentHeat(
        /// Latent share f, 0–1 (DOMAIN.md: 0.8–0.9 [S]).
        f64,
    ),
}

/// A cooling tower's blowdown control.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Default)]
pub enum BlowdownSpec {
    /// Fixed (design) cycles (default).
    #[default]
    FixedCycles,
    /// Conductivity control holding the recirculating TDS at this set point, mg/L (the design
    /// cycles are then the upper bound).
    Conductivity(
        /// Set point, mg/L TDS.
        f64,
    ),
}

/// Scaling limits on a cooling tower's cycles (`scaling: (...)`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScalingSpec {
    /// Species holding calcium hardness, mg/L as CaCO3 (needed for LSI/RSI limits).
    #[serde(default)]
    pub calcium: Option<String>,
    /// Species holding alkalinity, mg/L as CaCO3 (needed for LSI/RSI limits).
    #[serde(default)]
    pub alkalinity: Option<String>,
    /// Controlled recirculating pH (default: the equilibrium pH from alkalinity).
    #[serde(default)]
    pub ph: Option<f64>,
    /// Largest Langelier index without inhibitor (none by default; untreated water is commonly
    /// kept at LSI ≤ 0.5 [M]).
    #[serde(default)]
    pub lsi_max: Option<f64>,
    /// Smallest Ryznar index (none by default; RSI below about 6 scales [S]).
    #[serde(default)]
    pub rsi_min: Option<f64>,
    /// Largest recirculating concentration per species, mg/L (`N ≤ C_limit/C_makeup`).
    #[serde(default)]
    pub limits_mg_per_l: SpeciesMap,
    /// Lowest cycles a limit may impose (default 1.5).
    #[serde(default = "min_cycles")]
    pub min_cycles: f64,
}

fn min_cycles() -> f64 {
    1.5
}

/// A cooling tower's scale inhibitor.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InhibitorSpec {
    /// Dose, kg per m³ of make-up (default 0.004: phosphonate/polymer blends hold 5–20 mg/L in
    /// the recirculating water, i.e. a few g per m³ of make-up at 4–6 cycles [M]).
    #[serde(default = "inhibitor_dose")]
    pub kg_per_m3: f64,
    /// LSI the inhibitor allows above `lsi_max` (default 1.5: DOMAIN.md LSI 1.5–2.5 with an
    /// inhibitor [M]).
    #[serde(default = "inhibitor_credit")]
    pub lsi_credit: f64,
    /// Carbon, kg CO2e/kg (default 2.0 [M], phosphonate blends).
    #[serde(default = "two")]
    pub co2_per_kg: f64,
    /// Price, yuan/kg (default 15 [M]).
    #[serde(default = "fifteen")]
    pub yuan_per_kg: f64,
}

fn inhibitor_dose() -> f64 {
    0.004
}
fn inhibitor_credit() -> f64 {
    1.5
}
fn two() -> f64 {
    2.0
}
fn fifteen() -> f64 {
    15.0
}

/// Feed pressure of a reverse-osmosis unit.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
pub enum FeedPressureSpec {
    /// `P_f = π_c − π_p + NDP_25/TCF(T) + ΔP_drop`: the net driving pressure at the concentrate
    /// end at 25 °C, bar.
    NetDriving(f64),
    /// Absolute feed pressure `factor·π_c` (WaterTAP's `calculate_operating_pressure`).
    OverOsmotic(f64),
    /// Gauge feed pressure set directly, bar.
    Fixed(f64),
}

/// Energy recovery of a reverse-osmosis unit.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
pub enum EnergyRecoverySpec {
    /// None.
    None,
    /// Turbine (Pelton wheel, pump as turbine) of this efficiency.
    Turbine(f64),
    /// Isobaric pressure exchanger.
    PressureExchanger {
        /// Exchanger efficiency (default 0.95 [S]: WaterTAP's RO_with_energy_recovery uses 0.95).
        #[serde(default = "px_eff")]
        efficiency: f64,
        /// Booster pump efficiency (default 0.8, as in WaterTAP's flowsheet).
        #[serde(default = "pump_eff")]
        booster_efficiency: f64,
    },
}

fn px_eff() -> f64 {
    0.95
}
fn pump_eff() -> f64 {
    0.8
}

/// Rejection basis of a reverse-osmosis unit.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Default)]
pub enum RejectionBasisSpec {
    /// `C_p = (1 − R)·C_f` (default).
    #[default]
    Feed,
    /// `C_p = (1 − R)·(C_f + C_c)/2`.
    FeedConcentrateMean,
}

/// Calcium-sulphate limit of an RO concentrate.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CaSo4Spec {
    /// Species of calcium, mg/L as Ca.
    pub calcium: String,
    /// Species of sulphate, mg/L as SO4.
    pub sulphate: String,
    /// Largest saturation ratio (default 1.0 without antiscalant; about 2.3 with one [M]).
    #[serde(default = "one_f")]
    pub saturation_max: f64,
}

fn one_f() -> f64 {
    1.0
}

/// How a unit's feed is decided (as for `Treatment`), re-exported here for the new units.
pub use crate::schema::FeedSpec;

/// A reverse-osmosis unit (`ReverseOsmosis(...)`); ports `permeate` and `concentrate`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Design recovery, permeate/feed (DOMAIN.md: SWRO 0.40–0.50, BWRO 0.75–0.85 [M]).
    pub recovery: f64,
    /// Rejection per species (default 0.995 for every species, DOMAIN.md 99.0–99.8 % [M]).
    #[serde(default)]
    pub rejection: SpeciesMap,
    /// What rejection is measured against (default `Feed`).
    #[serde(default)]
    pub rejection_basis: RejectionBasisSpec,
    /// Feed temperature, °C (default `Const(25.0)`).
    #[serde(default)]
    pub feed_temperature_c: Option<Driver>,
    /// Constant osmotic coefficient (default: the NaCl correlation of Bartholomew & Mauter 2019).
    #[serde(default)]
    pub osmotic_coefficient: Option<f64>,
    /// Feed pressure (default `NetDriving(7.0)` [M]: 5–10 bar at the concentrate end).
    #[serde(default)]
    pub feed_pressure: Option<FeedPressureSpec>,
    /// Feed-to-concentrate pressure drop, bar (default 1.5 [M]: 1–3 bar per pressure vessel).
    #[serde(default = "pressure_drop")]
    pub pressure_drop_bar: f64,
    /// High-pressure pump efficiency (default 0.8, as in WaterTAP's flowsheet).
    #[serde(default = "pump_eff")]
    pub pump_efficiency: f64,
    /// Energy recovery (default `PressureExchanger` for recovery ≤ 0.6, else `None`).
    #[serde(default)]
    pub energy_recovery: Option<EnergyRecoverySpec>,
    /// Specific energy set directly, kWh per m³ of permeate (replaces the pressure model; the
    /// second-law guard still applies).
    #[serde(default)]
    pub specific_energy_kwh_per_m3: Option<f64>,
    /// Intake, pretreatment and post-treatment electricity, kWh per m³ of feed (default 0).
    #[serde(default)]
    pub other_kwh_per_m3: f64,
    /// Largest concentrate concentration per species, mg/L (silica ≈ 120 at 25 °C without
    /// antiscalant [M]).
    #[serde(default)]
    pub concentrate_limits_mg_per_l: SpeciesMap,
    /// Calcium-sulphate limit.
    #[serde(default)]
    pub caso4: Option<CaSo4Spec>,
    /// Lowest recovery a limit may impose (default 0.1).
    #[serde(default = "min_recovery")]
    pub min_recovery: f64,
    /// Chemicals per m³ of feed (default: antiscalant 3 g/m³, 1.5 kg CO2e/kg, 20 yuan/kg, and
    /// cleaning chemicals 2 g/m³, 1.2 kg CO2e/kg, 5 yuan/kg [M]; `[]` for none).
    #[serde(default)]
    pub chemicals: Option<Vec<ChemicalSpec>>,
    /// Feed mode (default `Accept`).
    #[serde(default = "accept")]
    pub feed: FeedSpec,
    /// Capital cost (capacity in m³/d of feed).
    #[serde(default)]
    pub capital: Option<CapitalSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

fn pressure_drop() -> f64 {
    1.5
}
fn min_recovery() -> f64 {
    0.1
}
fn accept() -> FeedSpec {
    FeedSpec::Accept
}

/// Heat source of a thermal unit.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Default)]
pub enum HeatSourceSpec {
    /// The park's heat factor and price (default).
    #[default]
    Park,
    /// Waste heat: no carbon, no price.
    WasteHeat,
    /// An own boiler: fuel factor kg CO2/kWh of fuel, boiler efficiency, fuel price
    /// yuan/kWh of fuel (natural gas 0.202 kg/kWh = IPCC 2006 default 56.1 t CO2/TJ [S]; coal
    /// 0.341 = 94.6 t/TJ [S]).
    Boiler {
        /// kg CO2 per kWh of fuel.
        fuel_kg_co2_per_kwh: f64,
        /// Boiler efficiency (default 0.9 [M]).
        #[serde(default = "boiler_eff")]
        efficiency: f64,
        /// Fuel price, yuan per kWh of fuel (default 0).
        #[serde(default)]
        fuel_yuan_per_kwh: f64,
    },
}

fn boiler_eff() -> f64 {
    0.9
}

/// Energy model of an evaporator.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
pub enum ThermalProcessSpec {
    /// Multi-effect distillation.
    Med {
        /// Gain output ratio, kg distillate per kg steam (default 10; DOMAIN.md 8–16 [M]).
        #[serde(default = "gor")]
        gor: f64,
        /// Electricity, kWh per m³ of distillate (default 1.8; DOMAIN.md 1.5–2.5 [M]).
        #[serde(default = "med_kwh")]
        kwh_per_m3: f64,
    },
    /// Mechanical vapour compression: electricity `base + slope·C_feed[g/L]` kWh per m³ of
    /// distillate (defaults 2.5 and 0.2: 9.5 kWh/m³ on 35 g/L seawater, DOMAIN.md 7–12 [M]).
    Mvc {
        /// kWh/m³ at zero salinity.
        #[serde(default = "mvc_base")]
        base_kwh_per_m3: f64,
        /// kWh/m³ per g/L of feed TDS.
        #[serde(default = "mvc_slope")]
        kwh_per_m3_per_g_per_l: f64,
    },
}

fn gor() -> f64 {
    10.0
}
fn med_kwh() -> f64 {
    1.8
}
fn mvc_base() -> f64 {
    2.5
}
fn mvc_slope() -> f64 {
    0.2
}

/// Thermal desalination (`ThermalDesal(...)`); ports `distillate` and `brine`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThermalDesalSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Process and its energy.
    pub process: ThermalProcessSpec,
    /// Recovery, distillate/feed (default 0.35: seawater MED and MVC 0.3–0.4 [M]).
    #[serde(default = "thermal_recovery")]
    pub recovery: f64,
    /// Distillate concentration as a fraction of the feed's, per species (default 5e-4: about
    /// 17 mg/L from 35 g/L seawater; distillate 5–25 mg/L [M]).
    #[serde(default)]
    pub carryover: SpeciesMap,
    /// Latent heat of the heating steam, kJ/kg (default 2,333, DOMAIN.md).
    #[serde(default = "h_fg")]
    pub latent_heat_kj_per_kg: f64,
    /// Heat source (default `Park`).
    #[serde(default)]
    pub heat_source: HeatSourceSpec,
    /// Chemicals per m³ of feed (default none).
    #[serde(default)]
    pub chemicals: Vec<ChemicalSpec>,
    /// Feed mode (default `Accept`).
    #[serde(default = "accept")]
    pub feed: FeedSpec,
    /// Capital cost (capacity in m³/d of distillate).
    #[serde(default)]
    pub capital: Option<CapitalSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

fn thermal_recovery() -> f64 {
    0.35
}
fn h_fg() -> f64 {
    2333.0
}

/// Kind of membrane filtration.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum FiltrationKind {
    /// Microfiltration: 0.18 kWh/m³, recovery 0.95 (WaterTAP data, DOMAIN.md [P]).
    Microfiltration,
    /// Ultrafiltration: 0.231 kWh/m³, recovery 0.95 (WaterTAP data, DOMAIN.md [P]).
    Ultrafiltration,
    /// Nanofiltration: 0.231 kWh/m³, recovery 0.85 (WaterTAP data, DOMAIN.md [P]).
    Nanofiltration,
}

/// A membrane-filtration preset (`Filtration(...)`), resolving to a `Treatment` with ports
/// `product` and `reject`. Defaults by kind: recovery and electricity above; mass fraction of
/// each species sent to the reject: MF/UF `cod` 0.2 (particulate COD [M]), dissolved salts
/// at bulk concentration (`1 − recovery`); NF `tds` 0.5 of the salt, divalent hardness species
/// named `hardness`, `ca`, `mg` or `so4` 0.9, `cod` 0.8 [M].
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FiltrationSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// MF, UF or NF.
    pub kind: FiltrationKind,
    /// Recovery (default by kind).
    #[serde(default)]
    pub recovery: Option<f64>,
    /// Mass fraction of each species to the reject (defaults by kind, see above).
    #[serde(default)]
    pub removal_to_reject: SpeciesMap,
    /// Electricity, kWh per m³ of feed (default by kind).
    #[serde(default)]
    pub kwh_per_m3: Option<f64>,
    /// Chemicals per m³ of feed (default: cleaning chemicals 5 g/m³, 1.0 kg CO2e/kg,
    /// 4 yuan/kg [M]).
    #[serde(default)]
    pub chemicals: Option<Vec<ChemicalSpec>>,
    /// Feed mode (default `Accept`).
    #[serde(default = "accept")]
    pub feed: FeedSpec,
    /// Capital cost (capacity in m³/d of feed).
    #[serde(default)]
    pub capital: Option<CapitalSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

/// Softening method.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum SofteningKind {
    /// Lime softening: hardness precipitates as CaCO3/Mg(OH)2 sludge (solids).
    Lime,
    /// Ion exchange: hardness exchanged for sodium, regenerated with brine.
    IonExchange,
}

/// A softening preset (`Softening(...)`), resolving to a `Treatment` with ports `product` and
/// `reject` (lime sludge, or spent regenerant brine).
///
/// Lime: hardness removal 0.8 to solids [M]; lime dose `0.74 × 1.1` kg Ca(OH)₂ per kg hardness
/// removed as CaCO3 (stoichiometry of carbonate hardness plus 10 % excess [S]); sludge water 2 %
/// of feed [M]; 0.05 kWh/m³ [M]; lime 1.1 kg CO2e/kg (DOMAIN.md 1.0–1.2), 0.6 yuan/kg [M].
/// Ion exchange: removal 0.95 to the brine [M]; regenerant salt `3 × 1.17` kg NaCl per kg
/// hardness removed as CaCO3 (1.17 stoichiometric, about three times in practice [M]), added
/// to the brine as TDS; brine 3 % of feed [M]; 0.03 kWh/m³ [M]; NaCl 0.2 kg CO2e/kg,
/// 0.5 yuan/kg [M]. The dose of a step follows the hardness actually removed (the solved inlet).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SofteningSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Lime or ion exchange.
    pub kind: SofteningKind,
    /// Species holding hardness, mg/L as CaCO3 (default `"hardness"`).
    #[serde(default = "hardness")]
    pub hardness: String,
    /// Design feed hardness, mg/L as CaCO3 (ion exchange: the regenerant salt added to the
    /// brine's TDS is computed on it, a cross-species term the affine species model cannot carry
    /// step by step; the salt bought follows the hardness actually removed). Default 0.
    #[serde(default)]
    pub design_hardness_mg_per_l: Option<f64>,
    /// Fraction of hardness removed (default by kind).
    #[serde(default)]
    pub removal: Option<f64>,
    /// Reject (sludge water or brine) as a fraction of feed (default by kind).
    #[serde(default)]
    pub reject_fraction: Option<f64>,
    /// Electricity, kWh per m³ of feed (default by kind).
    #[serde(default)]
    pub kwh_per_m3: Option<f64>,
    /// Carbon of the chemical (lime or salt), kg CO2e/kg (default by kind).
    #[serde(default)]
    pub chemical_co2_per_kg: Option<f64>,
    /// Price of the chemical, yuan/kg (default by kind).
    #[serde(default)]
    pub chemical_yuan_per_kg: Option<f64>,
    /// Feed mode (default `Accept`).
    #[serde(default = "accept")]
    pub feed: FeedSpec,
    /// Capital cost (capacity in m³/d of feed).
    #[serde(default)]
    pub capital: Option<CapitalSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

fn hardness() -> String {
    "hardness".to_string()
}

/// Biological process.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
pub enum BioProcessSpec {
    /// Activated sludge with nitrification–denitrification (default).
    ActivatedSludge,
    /// Partial nitritation–anammox for nitrogen: 1.9 kg O2 per kg NH4-N instead of 4.57, no
    /// external carbon.
    Anammox,
    /// Membrane bioreactor: electricity `9.5·Q^−0.3` kWh/m³ with Q the design capacity in m³/h
    /// (WaterTAP data, DOMAIN.md [P]), replacing the aeration model.
    Mbr {
        /// Design capacity, m³/h.
        capacity_m3_per_h: f64,
    },
}

/// Biological treatment (`Biological(...)`); ports `product` and `sludge`. See
/// `units::biological` for the equations and defaults.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BiologicalSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Process (default `ActivatedSludge`).
    #[serde(default = "activated_sludge")]
    pub process: BioProcessSpec,
    /// COD species (default `"cod"` when declared).
    #[serde(default)]
    pub cod: Option<String>,
    /// Ammonia-nitrogen species, mg/L as N (default `"nh3n"` when declared).
    #[serde(default)]
    pub ammonia: Option<String>,
    /// Fraction of COD removed (default 0.90; MBR 0.95 [M]).
    #[serde(default)]
    pub cod_removal: Option<f64>,
    /// Fraction of ammonia nitrogen removed (default 0.90 [M]).
    #[serde(default)]
    pub ammonia_removal: Option<f64>,
    /// Waste sludge as a fraction of feed (default 0.01 [M]).
    #[serde(default = "sludge_fraction")]
    pub sludge_fraction: f64,
    /// Fraction of inlet COD leaving in the sludge as biomass (default 0.04 [M]).
    #[serde(default = "cod_to_sludge")]
    pub cod_to_sludge: f64,
    /// Oxygen per kg COD removed (default 0.6 [M]: `1 − 1.42·Y_obs`, Y_obs ≈ 0.28).
    #[serde(default = "o2_cod")]
    pub o2_kg_per_kg_cod: f64,
    /// Oxygen per kg ammonia-N removed (default 4.57 nitrification [S]; anammox 1.9 [S]).
    #[serde(default)]
    pub o2_kg_per_kg_n: Option<f64>,
    /// Aeration efficiency, kg O2 per kWh (default 2.0 [M]: fine-bubble 1.5–2.5 in the field).
    #[serde(default = "sae")]
    pub kg_o2_per_kwh: f64,
    /// Other electricity (pumping, mixing, recycles), kWh per m³ of feed (default 0.2 [M]).
    #[serde(default = "bio_base")]
    pub kwh_per_m3: f64,
    /// External carbon source per kg ammonia-N removed, kg (default 0; methanol 2.5–3 kg per kg
    /// NO3-N denitrified when the influent lacks carbon [S]; anammox needs none).
    #[serde(default)]
    pub carbon_source_kg_per_kg_n: f64,
    /// Carbon source carbon, kg CO2e/kg (default 0.65: methanol 0.5–0.8, DOMAIN.md [M]).
    #[serde(default = "methanol_co2")]
    pub carbon_source_co2_per_kg: f64,
    /// Carbon source price, yuan/kg (default 3.0 [M]).
    #[serde(default = "methanol_price")]
    pub carbon_source_yuan_per_kg: f64,
    /// N2O emission factor, kg N2O-N per kg influent N (default 0.016: IPCC 2019 Refinement,
    /// centralised aerobic treatment [S]; no separate default exists for anammox).
    #[serde(default = "ef_n2o")]
    pub n2o_ef: f64,
    /// CH4 methane correction factor (default 0.03: IPCC 2019 Refinement, centralised aerobic
    /// plant [S]).
    #[serde(default = "mcf")]
    pub ch4_mcf: f64,
    /// CH4 producing capacity, kg CH4 per kg COD (default 0.25, IPCC [S]).
    #[serde(default = "b0")]
    pub ch4_b0: f64,
    /// Global-warming potentials `(CH4, N2O)` (default AR5 100-year: 28, 265 [S]).
    #[serde(default = "gwp")]
    pub gwp: (f64, f64),
    /// Chemicals per m³ of feed (default none).
    #[serde(default)]
    pub chemicals: Vec<ChemicalSpec>,
    /// Capital cost (capacity in m³/d of feed).
    #[serde(default)]
    pub capital: Option<CapitalSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

fn activated_sludge() -> BioProcessSpec {
    BioProcessSpec::ActivatedSludge
}
fn sludge_fraction() -> f64 {
    0.01
}
fn cod_to_sludge() -> f64 {
    0.04
}
fn o2_cod() -> f64 {
    0.6
}
fn sae() -> f64 {
    2.0
}
fn bio_base() -> f64 {
    0.2
}
fn methanol_co2() -> f64 {
    0.65
}
fn methanol_price() -> f64 {
    3.0
}
fn ef_n2o() -> f64 {
    0.016
}
fn mcf() -> f64 {
    0.03
}
fn b0() -> f64 {
    0.25
}
fn gwp() -> (f64, f64) {
    (28.0, 265.0)
}

/// A salt recovered separately by a crystalliser (分盐).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SaltSpec {
    /// Salt name (`"NaCl"`, `"Na2SO4"`).
    pub name: String,
    /// Species of its anion (`"cl"`, `"so4"`), mg/L.
    pub species: String,
    /// Salt mass per mass of that anion (NaCl/Cl = 58.44/35.45 = 1.6486; Na2SO4/SO4 =
    /// 142.04/96.06 = 1.4787).
    pub salt_per_anion: f64,
}

/// A zero-liquid-discharge evaporator/crystalliser (`Crystalliser(...)`); ports `distillate`,
/// `purge` (mother liquor) and the exit `cake` (water bound in the salt cake).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrystalliserSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Fraction of each species' inlet mass crystallised (default 0.95 for every species [M]).
    #[serde(default)]
    pub crystallised: SpeciesMap,
    /// Mother-liquor purge as a fraction of feed (default 0.03 [M]).
    #[serde(default = "purge")]
    pub purge_fraction: f64,
    /// Water in the wet salt cake, mass fraction (default 0.10 [M]: centrifuge cakes 5–10 %).
    #[serde(default = "moisture")]
    pub cake_moisture: f64,
    /// Feed TDS, mg/L, assumed for the cake's water share until a feed has been solved (then
    /// the previous step's feed TDS is used).
    pub design_feed_tds_mg_per_l: f64,
    /// Distillate concentration as a fraction of the feed's (default 1e-4 [M]).
    #[serde(default)]
    pub carryover: SpeciesMap,
    /// Salts recovered separately (分盐); the rest is mixed salt.
    #[serde(default)]
    pub salts: Vec<SaltSpec>,
    /// Disposal cost of mixed salt, yuan/t (default 2,500 [M]: hazardous-waste landfill).
    #[serde(default = "mixed_salt_cost")]
    pub mixed_salt_yuan_per_t: f64,
    /// Energy (default `Mvc(base 15, slope 0.1)`: ≈ 25 kWh/m³ on 100 g/L brine [M]).
    #[serde(default)]
    pub process: Option<ThermalProcessSpec>,
    /// Latent heat of the heating steam, kJ/kg (default 2,333).
    #[serde(default = "h_fg")]
    pub latent_heat_kj_per_kg: f64,
    /// Heat source (default `Park`).
    #[serde(default)]
    pub heat_source: HeatSourceSpec,
    /// Feed mode (default `Accept`).
    #[serde(default = "accept")]
    pub feed: FeedSpec,
    /// Capital cost (capacity in m³/d of feed).
    #[serde(default)]
    pub capital: Option<CapitalSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

fn purge() -> f64 {
    0.03
}
fn moisture() -> f64 {
    0.10
}
fn mixed_salt_cost() -> f64 {
    2500.0
}

/// A steam system (`SteamSystem(...)`): boiler, steam to processes, condensate return and
/// boiler blowdown; inlet `makeup`, ports `blowdown` and the exit `steam_loss`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SteamSystemSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Steam generated, t/h.
    pub steam_t_per_h: Driver,
    /// Fraction of the steam returned as condensate (default 0.6 [M]; 0.8+ is good practice).
    #[serde(default = "condensate")]
    pub condensate_return: f64,
    /// Boiler cycles of concentration (feedwater → boiler water) (default 20 [M]: 10–50 with
    /// demineralised make-up).
    #[serde(default = "boiler_cycles")]
    pub cycles: f64,
    /// Steam enthalpy, kJ/kg (default 2,778: saturated at 10 bar(a), IAPWS-IF97 [S]).
    #[serde(default = "h_steam")]
    pub steam_enthalpy_kj_per_kg: f64,
    /// Blowdown enthalpy, kJ/kg (default 763: saturated liquid at 10 bar(a) [S]).
    #[serde(default = "h_blowdown")]
    pub blowdown_enthalpy_kj_per_kg: f64,
    /// Condensate return temperature, °C (default 90 [M]).
    #[serde(default = "t_condensate")]
    pub condensate_temperature_c: f64,
    /// Make-up temperature, °C (default 20).
    #[serde(default = "t_makeup")]
    pub makeup_temperature_c: f64,
    /// Heat source (default `Park`; a boiler's fuel factor and efficiency).
    #[serde(default)]
    pub heat_source: HeatSourceSpec,
    /// Feed pumps and auxiliaries, kWh per t of steam (default 5 [M]).
    #[serde(default = "steam_kwh")]
    pub kwh_per_t: f64,
    /// Chemicals per m³ of make-up (default none).
    #[serde(default)]
    pub chemicals: Vec<ChemicalSpec>,
    /// Capital cost (capacity in t/h of steam).
    #[serde(default)]
    pub capital: Option<CapitalSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

fn condensate() -> f64 {
    0.6
}
fn boiler_cycles() -> f64 {
    20.0
}
fn h_steam() -> f64 {
    2778.0
}
fn h_blowdown() -> f64 {
    763.0
}
fn t_condensate() -> f64 {
    90.0
}
fn t_makeup() -> f64 {
    20.0
}
fn steam_kwh() -> f64 {
    5.0
}

/// A seeded stochastic hourly series (generated once at validation, from a ChaCha8 stream).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub enum StochasticSpec {
    /// Rainfall, mm/h: a two-state (wet/dry) Markov chain of hours with exponentially
    /// distributed wet-hour depths: `P(wet)` = `wet_fraction`, mean wet spell `mean_spell_h`,
    /// mean depth `annual_mm/(8,760·wet_fraction)`.
    Rain {
        /// Seed.
        seed: u64,
        /// Mean annual rainfall, mm.
        annual_mm: f64,
        /// Share of wet hours (default 0.06 [M]: about 500 wet hours a year in North China).
        #[serde(default = "wet_fraction")]
        wet_fraction: f64,
        /// Mean wet spell, h (default 4 [M]).
        #[serde(default = "spell")]
        mean_spell_h: f64,
        /// Monthly factors on the wet fraction (12, default flat; North China's summer
        /// monsoon puts two thirds of the rain in June–August).
        #[serde(default)]
        monthly: Vec<f64>,
    },
    /// A positive inflow, m³/h: `q = mean·exp(σ·z − σ²/2)` with `z` an AR(1) standard normal
    /// series of hour-to-hour correlation `correlation` and `σ² = ln(1 + cv²)` (lognormal with
    /// the given mean and coefficient of variation).
    Inflow {
        /// Seed.
        seed: u64,
        /// Mean, m³/h.
        mean: f64,
        /// Coefficient of variation.
        cv: f64,
        /// Hour-to-hour correlation (default 0.99 [M]: mine inflows change over days).
        #[serde(default = "inflow_corr")]
        correlation: f64,
    },
}

fn wet_fraction() -> f64 {
    0.06
}
fn spell() -> f64 {
    4.0
}
fn inflow_corr() -> f64 {
    0.99
}

/// A series given as a driver or generated stochastically.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub enum SeriesSpec {
    /// A driver.
    Driver(Driver),
    /// A seeded stochastic series.
    Stochastic(StochasticSpec),
}

/// Rainwater harvesting (`RainHarvest(...)`): catchment × runoff coefficient × rainfall, a
/// first flush diverted, a store with spill; consumers pull from port `out` (a source of kind
/// rainwater).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RainHarvestSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Catchment (roof, paved) area, m².
    pub catchment_m2: f64,
    /// Runoff coefficient (default 0.85 [S]: roofs 0.8–0.95, GB 50400 rainwater code range).
    #[serde(default = "runoff")]
    pub runoff_coefficient: f64,
    /// First flush diverted per event, mm (default 2 [S]: GB 50400 recommends 2–3 mm for roofs).
    #[serde(default = "flush")]
    pub first_flush_mm: f64,
    /// Dry hours that end an event (default 6 [M]).
    #[serde(default = "inter_event")]
    pub inter_event_h: f64,
    /// Storage, m³.
    pub storage_m3: f64,
    /// Initial storage, m³ (default 0).
    #[serde(default)]
    pub initial_m3: f64,
    /// Largest outflow, m³/h (default unlimited).
    #[serde(default)]
    pub max_outflow_m3_per_h: Option<f64>,
    /// Rainfall, mm/h (default: the park's weather).
    #[serde(default)]
    pub rainfall_mm_per_h: Option<SeriesSpec>,
    /// Quality, mg/L per species (default 0; rain TDS ≈ 10–50 mg/L [M]).
    #[serde(default)]
    pub quality_mg_per_l: SpeciesMap,
    /// Capital cost (capacity in m³ of storage).
    #[serde(default)]
    pub capital: Option<CapitalSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

fn runoff() -> f64 {
    0.85
}
fn flush() -> f64 {
    2.0
}
fn inter_event() -> f64 {
    6.0
}

/// Mine-water inflow (`MineWater(...)`): a source of kind mine water whose availability follows
/// an inflow series (dewatering: what is not used leaves the mine elsewhere).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MineWaterSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Inflow, m³/h.
    pub inflow_m3_per_h: SeriesSpec,
    /// Quality, mg/L per species.
    #[serde(default)]
    pub quality_mg_per_l: SpeciesMap,
    /// Price (treatment, pumping charges, resource tax), yuan/m³ (default 0).
    #[serde(default)]
    pub price_yuan_per_m3: f64,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

/// On-site generation (`Generator(...)`): an hourly output credited against grid import.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    /// Unique id.
    pub id: String,
    /// Enterprise.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// Output, kW (a `Profile` or CSV of PV or wind output).
    pub output_kw: Driver,
    /// Capital cost (capacity in kW).
    #[serde(default)]
    pub capital: Option<CapitalSpec>,
    /// Coordinates.
    #[serde(default)]
    pub location: Option<Vec<f64>>,
}

/// Water-resource tax by source kind (`"groundwater"`, `"surface"`, ...), yuan/m³, booked on
/// withdrawals in addition to the source's own price (China's 水资源税 pilot rates: surface
/// water 0.1–1.6, groundwater 0.2–4 yuan/m³ by province and use [M]).
pub type ResourceTaxSpec = BTreeMap<String, f64>;
