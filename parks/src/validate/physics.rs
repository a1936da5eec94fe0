//! Validation and resolution of the unit-physics library's schema (`crate::unit_specs`): the
//! weather and tax sections, the cooling tower's options, and the new unit types. A child of
//! [`crate::validate`], so it shares its checker and reports problems the same way.

use super::{Checker, MAX_MAGNITUDE, UnitMeta};
use crate::schema::*;
use crate::stochastic;
use parktwin_engine::series::Series;
use parktwin_units::biological::BioProcess;
use parktwin_units::chemistry::OsmoticCoefficient;
use parktwin_units::cooling_tower::{Blowdown, DEFAULT_APPROACH_C, Evaporation, ScalingLimit};
use parktwin_units::crystalliser::Salt;
use parktwin_units::economics::{Capital, Chemical};
use parktwin_units::ro::{CalciumSulphate, EnergyRecovery, FeedPressure, RejectionBasis};
use parktwin_units::taxes::EnvironmentalTax;
use parktwin_units::thermal::{HeatSource, ThermalEnergy};
use parktwin_units::treatment::DoseOnRemoval;
use parktwin_units::{
    AnyUnit, Biological, CoolingTower, Crystalliser, Feed, Generator, RainHarvest, ReverseOsmosis,
    Source, SourceKind, SteamSystem, Taxes, ThermalDesal, Treatment, Weather,
};
use std::collections::HashMap;

const BIG: f64 = MAX_MAGNITUDE;

/// The park's weather.
pub(super) fn weather(c: &mut Checker<'_>, w: &Option<WeatherSpec>) -> Weather {
    let Some(w) = w else {
        return Weather::default();
    };
    Weather {
        dry_bulb_c: c.driver("weather", None, "dry_bulb_c", &w.dry_bulb_c, -60.0, 60.0),
        wet_bulb_c: c.driver("weather", None, "wet_bulb_c", &w.wet_bulb_c, -60.0, 60.0),
        rainfall_mm_per_h: c.driver(
            "weather",
            None,
            "rainfall_mm_per_h",
            &w.rainfall_mm_per_h,
            0.0,
            500.0,
        ),
    }
}

/// The park's taxes.
pub(super) fn taxes(c: &mut Checker<'_>, park: &Park, ids: &HashMap<&str, usize>) -> Taxes {
    let mut t = Taxes::default();
    for (name, &v) in &park.carbon.water_resource_tax_yuan_per_m3 {
        match SourceKind::ALL.iter().position(|k| k.name() == name) {
            Some(k) => {
                t.resource_tax_yuan_per_m3[k] = c.num(
                    "carbon",
                    None,
                    &format!("water_resource_tax_yuan_per_m3[{name:?}]"),
                    v,
                    0.0,
                    false,
                    1e3,
                );
            }
            None => {
                let known: Vec<&str> = SourceKind::ALL.iter().map(|k| k.name()).collect();
                c.err(
                    "carbon.water_resource_tax_yuan_per_m3".into(),
                    None,
                    format!("unknown source kind {name:?} (known: {})", known.join(", ")),
                );
            }
        }
    }
    if let Some(e) = &park.carbon.environmental_tax {
        let it = "carbon.environmental_tax";
        let rate = c.num(
            it,
            None,
            "yuan_per_equivalent",
            e.yuan_per_equivalent,
            0.0,
            false,
            1e3,
        );
        let kg = c.species_vec(
            it,
            None,
            "kg_per_equivalent",
            &e.kg_per_equivalent,
            f64::INFINITY,
            1e-9,
            1e6,
        );
        let mut outfall = vec![e.outfalls.is_empty(); park.units.len()];
        if e.outfalls.is_empty() {
            for (u, spec) in park.units.iter().enumerate() {
                outfall[u] = matches!(spec, UnitSpec::Discharge(_));
            }
        }
        for id in &e.outfalls {
            match ids.get(id.as_str()) {
                Some(&u) if matches!(park.units[u], UnitSpec::Discharge(_)) => outfall[u] = true,
                Some(_) => c.err(
                    format!("{it}.outfalls"),
                    None,
                    format!("{id:?} is not a Discharge"),
                ),
                None => c.err(
                    format!("{it}.outfalls"),
                    None,
                    format!("unknown unit {id:?}"),
                ),
            }
        }
        t.environmental = Some(EnvironmentalTax {
            yuan_per_equivalent: rate,
            kg_per_equivalent: kg,
            taxed_pollutants: e.taxed_pollutants,
            outfall,
        });
    }
    t
}

fn capital(c: &mut Checker<'_>, it: &str, line: Option<usize>, s: &Option<CapitalSpec>) -> Capital {
    let Some(s) = s else {
        return Capital::default();
    };
    let price = c.num(
        it,
        line,
        "capital.yuan_per_capacity",
        s.yuan_per_capacity,
        0.0,
        false,
        BIG,
    );
    let cap = c.num(it, line, "capital.capacity", s.capacity, 0.0, false, BIG);
    let n = c.num(
        it,
        line,
        "capital.lifetime_years",
        s.lifetime_years,
        0.0,
        true,
        200.0,
    );
    let i = c.num(
        it,
        line,
        "capital.discount_rate",
        s.discount_rate,
        0.0,
        false,
        1.0,
    );
    let om = c.num(
        it,
        line,
        "capital.fixed_om_fraction",
        s.fixed_om_fraction,
        0.0,
        false,
        1.0,
    );
    Capital::new(price * cap, n, i, om)
}

fn chemicals(
    c: &mut Checker<'_>,
    it: &str,
    line: Option<usize>,
    list: &[ChemicalSpec],
) -> Vec<Chemical> {
    list.iter()
        .enumerate()
        .map(|(k, s)| {
            let f = format!("chemicals[{k}]");
            Chemical::new(
                &s.name,
                c.num(
                    it,
                    line,
                    &format!("{f}.kg_per_m3"),
                    s.kg_per_m3,
                    0.0,
                    false,
                    100.0,
                ),
                c.num(
                    it,
                    line,
                    &format!("{f}.co2_per_kg"),
                    s.co2_per_kg,
                    0.0,
                    false,
                    100.0,
                ),
                c.num(
                    it,
                    line,
                    &format!("{f}.yuan_per_kg"),
                    s.yuan_per_kg,
                    0.0,
                    false,
                    1e4,
                ),
            )
        })
        .collect()
}

/// Resolves a treatment feed mode (shared by the generic treatment and the presets).
pub(super) fn feed(
    c: &mut Checker<'_>,
    it: &str,
    line: Option<usize>,
    f: &FeedSpec,
    ids: &HashMap<&str, usize>,
    park: &Park,
) -> Feed {
    match f {
        FeedSpec::Accept => Feed::Accept,
        FeedSpec::Fixed(d) => Feed::Fixed(c.driver(it, line, "feed", d, 0.0, BIG)),
        FeedSpec::FillTank {
            tank,
            capacity_m3_per_h,
            start_below,
            stop_above,
        } => {
            let t = match ids.get(tank.as_str()) {
                Some(&k) if matches!(park.units[k], UnitSpec::Tank(_)) => k,
                Some(_) => {
                    c.err(
                        format!("{it}.feed.tank"),
                        line,
                        format!("{tank:?} is not a Tank"),
                    );
                    0
                }
                None => {
                    c.err(
                        format!("{it}.feed.tank"),
                        line,
                        format!("unknown unit {tank:?}"),
                    );
                    0
                }
            };
            let cap = c.num(
                it,
                line,
                "feed.capacity_m3_per_h",
                *capacity_m3_per_h,
                0.0,
                true,
                BIG,
            );
            let lo = c.num(it, line, "feed.start_below", *start_below, 0.0, false, 1.0);
            let hi = c.num(it, line, "feed.stop_above", *stop_above, 0.0, false, 1.0);
            if lo > hi {
                c.err(
                    format!("{it}.feed"),
                    line,
                    format!("start_below {lo} is above stop_above {hi}"),
                );
            }
            Feed::FillTank {
                tank: t,
                capacity_m3_per_h: cap,
                start_below: lo,
                stop_above: hi,
            }
        }
    }
}

fn heat_source(
    c: &mut Checker<'_>,
    it: &str,
    line: Option<usize>,
    h: &HeatSourceSpec,
) -> HeatSource {
    match *h {
        HeatSourceSpec::Park => HeatSource::Park,
        HeatSourceSpec::WasteHeat => HeatSource::WasteHeat,
        HeatSourceSpec::Boiler {
            fuel_kg_co2_per_kwh,
            efficiency,
            fuel_yuan_per_kwh,
        } => HeatSource::Boiler {
            fuel_kg_co2_per_kwh: c.num(
                it,
                line,
                "heat_source.fuel_kg_co2_per_kwh",
                fuel_kg_co2_per_kwh,
                0.0,
                false,
                5.0,
            ),
            efficiency: c.num(
                it,
                line,
                "heat_source.efficiency",
                efficiency,
                0.0,
                true,
                1.0,
            ),
            fuel_yuan_per_kwh: c.num(
                it,
                line,
                "heat_source.fuel_yuan_per_kwh",
                fuel_yuan_per_kwh,
                0.0,
                false,
                100.0,
            ),
        },
    }
}

fn thermal_energy(
    c: &mut Checker<'_>,
    it: &str,
    line: Option<usize>,
    p: &ThermalProcessSpec,
    h_fg: f64,
) -> ThermalEnergy {
    match *p {
        ThermalProcessSpec::Med { gor, kwh_per_m3 } => ThermalEnergy::Med {
            gor: c.num(it, line, "process.gor", gor, 0.0, true, 100.0),
            kwh_per_m3: c.num(
                it,
                line,
                "process.kwh_per_m3",
                kwh_per_m3,
                0.0,
                false,
                100.0,
            ),
            latent_heat_kj_per_kg: c.num(
                it,
                line,
                "latent_heat_kj_per_kg",
                h_fg,
                1000.0,
                false,
                3000.0,
            ),
        },
        ThermalProcessSpec::Mvc {
            base_kwh_per_m3,
            kwh_per_m3_per_g_per_l,
        } => ThermalEnergy::Mvc {
            base_kwh_per_m3: c.num(
                it,
                line,
                "process.base_kwh_per_m3",
                base_kwh_per_m3,
                0.0,
                false,
                1e3,
            ),
            kwh_per_m3_per_g_per_l: c.num(
                it,
                line,
                "process.kwh_per_m3_per_g_per_l",
                kwh_per_m3_per_g_per_l,
                0.0,
                false,
                100.0,
            ),
        },
    }
}

fn series(
    c: &mut Checker<'_>,
    it: &str,
    line: Option<usize>,
    field: &str,
    s: &SeriesSpec,
    lo: f64,
    hi: f64,
) -> Series {
    match s {
        SeriesSpec::Driver(d) => c.driver(it, line, field, d, lo, hi),
        SeriesSpec::Stochastic(st) => {
            match st {
                StochasticSpec::Rain {
                    annual_mm,
                    wet_fraction,
                    mean_spell_h,
                    monthly,
                    ..
                } => {
                    c.num(
                        it,
                        line,
                        &format!("{field}.annual_mm"),
                        *annual_mm,
                        0.0,
                        false,
                        1e4,
                    );
                    c.num(
                        it,
                        line,
                        &format!("{field}.wet_fraction"),
                        *wet_fraction,
                        0.0,
                        true,
                        0.9,
                    );
                    c.num(
                        it,
                        line,
                        &format!("{field}.mean_spell_h"),
                        *mean_spell_h,
                        1.0,
                        false,
                        1e3,
                    );
                    if !monthly.is_empty() && monthly.len() != 12 {
                        c.err(
                            format!("{it}.{field}.monthly"),
                            line,
                            format!("{} factors given, 12 needed", monthly.len()),
                        );
                    }
                    for (k, &m) in monthly.iter().enumerate() {
                        c.num(
                            it,
                            line,
                            &format!("{field}.monthly[{k}]"),
                            m,
                            0.0,
                            false,
                            1e3,
                        );
                    }
                }
                StochasticSpec::Inflow {
                    mean,
                    cv,
                    correlation,
                    ..
                } => {
                    c.num(it, line, &format!("{field}.mean"), *mean, 0.0, false, BIG);
                    c.num(it, line, &format!("{field}.cv"), *cv, 0.0, false, 10.0);
                    c.num(
                        it,
                        line,
                        &format!("{field}.correlation"),
                        *correlation,
                        0.0,
                        false,
                        1.0,
                    );
                }
            }
            match c.axis {
                Some(axis) if c.problems.is_empty() => stochastic::generate(st, axis),
                _ => Series::Const(0.0),
            }
        }
    }
}

fn species_index(
    c: &mut Checker<'_>,
    it: &str,
    line: Option<usize>,
    field: &str,
    name: &str,
) -> Option<usize> {
    let k = c.species.iter().position(|s| s == name);
    if k.is_none() {
        let known = c.species.join(", ");
        c.err(
            format!("{it}.{field}"),
            line,
            format!("unknown species {name:?} (declared: {known})"),
        );
    }
    k
}

/// A species map over the defaults `default(name)` for every declared species.
#[expect(
    clippy::too_many_arguments,
    reason = "item, line, field, map, default and bounds"
)]
fn species_defaults(
    c: &mut Checker<'_>,
    it: &str,
    line: Option<usize>,
    field: &str,
    map: &SpeciesMap,
    default: impl Fn(&str) -> f64,
    lo: f64,
    hi: f64,
) -> Vec<f64> {
    let given = c.species_vec(it, line, field, map, f64::NAN, lo, hi);
    c.species
        .clone()
        .iter()
        .zip(given)
        .map(|(n, g)| if g.is_nan() { default(n) } else { g })
        .collect()
}

/// A cooling tower.
pub(super) fn cooling_tower(
    c: &mut Checker<'_>,
    it: &str,
    line: Option<usize>,
    s: &CoolingTowerSpec,
) -> CoolingTower {
    let (heat, circ) = match (&s.heat_load_mw, &s.circulation_m3_per_h) {
        (Some(h), None) => (c.driver(it, line, "heat_load_mw", h, 0.0, 1e5), None),
        (None, Some(r)) => (
            Series::Const(0.0),
            Some(c.driver(it, line, "circulation_m3_per_h", r, 0.0, 1e7)),
        ),
        _ => {
            c.err(
                it.to_string(),
                line,
                "give exactly one of heat_load_mw and circulation_m3_per_h".into(),
            );
            (Series::Const(0.0), None)
        }
    };
    let cycles = c.num(it, line, "cycles", s.cycles, 1.0, true, 100.0);
    let evaporation = match s.evaporation {
        EvaporationSpec::MetricRule => Evaporation::MetricRule,
        EvaporationSpec::GbT50050 => Evaporation::GbT50050,
        EvaporationSpec::LatentHeat(f) => Evaporation::LatentHeat {
            latent_share: c.num(it, line, "evaporation.LatentHeat", f, 0.0, true, 1.0),
        },
    };
    let blowdown = match s.blowdown {
        BlowdownSpec::FixedCycles => Blowdown::FixedCycles,
        BlowdownSpec::Conductivity(set) => Blowdown::Conductivity {
            setpoint_mg_per_l: c.num(it, line, "blowdown.Conductivity", set, 0.0, true, 1e6),
        },
    };
    let mut min_cycles = parktwin_units::cooling_tower::DEFAULT_MIN_CYCLES;
    let scaling = s.scaling.as_ref().map(|sc| {
        let calcium = sc
            .calcium
            .as_ref()
            .and_then(|n| species_index(c, it, line, "scaling.calcium", n));
        let alkalinity = sc
            .alkalinity
            .as_ref()
            .and_then(|n| species_index(c, it, line, "scaling.alkalinity", n));
        if (sc.lsi_max.is_some() || sc.rsi_min.is_some())
            && (calcium.is_none() || alkalinity.is_none())
        {
            c.err(
                format!("{it}.scaling"),
                line,
                "an LSI or RSI limit needs the calcium and alkalinity species".into(),
            );
        }
        min_cycles = c.num(
            it,
            line,
            "scaling.min_cycles",
            sc.min_cycles,
            1.0,
            true,
            100.0,
        );
        ScalingLimit {
            calcium,
            alkalinity,
            ph: sc
                .ph
                .map(|p| c.num(it, line, "scaling.ph", p, 0.0, false, 14.0)),
            lsi_max: sc
                .lsi_max
                .map(|l| c.num(it, line, "scaling.lsi_max", l, -5.0, false, 5.0)),
            rsi_min: sc
                .rsi_min
                .map(|r| c.num(it, line, "scaling.rsi_min", r, 0.0, false, 15.0)),
            limit_mg_per_l: c.species_vec(
                it,
                line,
                "scaling.limits_mg_per_l",
                &sc.limits_mg_per_l,
                f64::INFINITY,
                0.0,
                1e6,
            ),
        }
    });
    let inhibitor = s.inhibitor.as_ref().map(|i| {
        (
            Chemical::new(
                "scale inhibitor",
                c.num(
                    it,
                    line,
                    "inhibitor.kg_per_m3",
                    i.kg_per_m3,
                    0.0,
                    false,
                    10.0,
                ),
                c.num(
                    it,
                    line,
                    "inhibitor.co2_per_kg",
                    i.co2_per_kg,
                    0.0,
                    false,
                    100.0,
                ),
                c.num(
                    it,
                    line,
                    "inhibitor.yuan_per_kg",
                    i.yuan_per_kg,
                    0.0,
                    false,
                    1e4,
                ),
            ),
            c.num(
                it,
                line,
                "inhibitor.lsi_credit",
                i.lsi_credit,
                0.0,
                false,
                5.0,
            ),
        )
    });
    let mut ct = CoolingTower {
        heat_load_mw: heat,
        circulation_m3_per_h: circ,
        range_c: c.num(it, line, "range_c", s.range_c, 0.0, true, 50.0),
        cycles,
        drift_fraction: c.num(
            it,
            line,
            "drift_fraction",
            s.drift_fraction,
            0.0,
            false,
            0.05,
        ),
        holding_volume_m3: c.num(
            it,
            line,
            "holding_volume_m3",
            s.holding_volume_m3,
            0.0,
            true,
            BIG,
        ),
        initial_mg_per_l: c.species_vec(
            it,
            line,
            "initial_mg_per_l",
            &s.initial_mg_per_l,
            0.0,
            0.0,
            1e6,
        ),
        circulation_head_m: c.num(
            it,
            line,
            "circulation_head_m",
            s.circulation_head_m,
            0.0,
            false,
            500.0,
        ),
        pump_efficiency: c.num(
            it,
            line,
            "pump_efficiency",
            s.pump_efficiency,
            0.0,
            true,
            1.0,
        ),
        fan_kw_per_mw: c.num(it, line, "fan_kw_per_mw", s.fan_kw_per_mw, 0.0, false, 1e3),
        chemical_kg_per_m3: c.num(
            it,
            line,
            "chemical_kg_per_m3",
            s.chemical_kg_per_m3,
            0.0,
            false,
            100.0,
        ),
        chemical_co2_per_kg: c.num(
            it,
            line,
            "chemical_co2_per_kg",
            s.chemical_co2_per_kg,
            0.0,
            false,
            100.0,
        ),
        chemical_yuan_per_kg: c.num(
            it,
            line,
            "chemical_yuan_per_kg",
            s.chemical_yuan_per_kg,
            0.0,
            false,
            1e4,
        ),
        evaporation,
        blowdown,
        scaling,
        inhibitor,
        approach_c: match s.approach_c {
            Some(a) => c.num(it, line, "approach_c", a, 0.0, false, 30.0),
            None => DEFAULT_APPROACH_C,
        },
        min_cycles,
        capital: capital(c, it, line, &s.capital),
        cycles_now: cycles,
        smart: None,
    };
    ct.smart = s
        .smart_control
        .as_ref()
        .and_then(|sc| smart_control(c, it, line, s, sc, &ct))
        .map(Box::new);
    ct
}

/// Resolves a cooling tower's smart controller (`smart_control`; see [`crate::dosing`]).
fn smart_control(
    c: &mut Checker<'_>,
    it: &str,
    line: Option<usize>,
    s: &CoolingTowerSpec,
    sc: &crate::dosing::SmartControlSpec,
    ct: &CoolingTower,
) -> Option<parktwin_units::dosing::SmartDosing> {
    let f = |name: &str| format!("smart_control.{name}");
    if s.blowdown != BlowdownSpec::FixedCycles {
        c.err(
            format!("{it}.smart_control"),
            line,
            "smart_control replaces blowdown control: leave blowdown at FixedCycles".into(),
        );
    }
    let species = ct
        .scaling
        .as_ref()
        .and_then(|sl| sl.calcium.zip(sl.alkalinity));
    if species.is_none() {
        c.err(
            format!("{it}.smart_control"),
            line,
            "the controller computes the LSI: give scaling with its calcium and alkalinity species"
                .into(),
        );
    }
    let lsi_target = c.num(it, line, &f("lsi_target"), sc.lsi_target, -5.0, false, 5.0);
    let lsi_u = match sc.lsi_uninhibited {
        Some(l) => c.num(it, line, &f("lsi_uninhibited"), l, -5.0, false, 5.0),
        None => ct.scaling.as_ref().and_then(|sl| sl.lsi_max).unwrap_or(0.5),
    };
    let credit = ct.inhibitor.as_ref().map_or(0.0, |(_, k)| *k);
    if lsi_target > lsi_u + credit {
        c.err(
            format!("{it}.smart_control.lsi_target"),
            line,
            format!(
                "target LSI {lsi_target} is above the inhibited limit {} (un-inhibited limit {lsi_u} + inhibitor credit {credit})",
                lsi_u + credit
            ),
        );
    }
    let full = match sc.inhibitor_full_mg_per_l {
        Some(v) => c.num(it, line, &f("inhibitor_full_mg_per_l"), v, 0.0, false, 1e4),
        None => ct
            .inhibitor
            .as_ref()
            .map_or(0.0, |(chem, _)| 1000.0 * chem.kg_per_m3 * ct.cycles),
    };
    let sensor = match &sc.sensor {
        None => None,
        Some(id) => {
            let m = c.file.park.meters.iter().find(|m| &m.id == id).cloned();
            match m {
                Some(m) if m.kind == crate::twin::meters::MeterKind::Conductivity => {
                    Some(parktwin_units::dosing::Sensor::new(
                        m.sd,
                        m.bias,
                        m.tds_mg_per_l_per_us_per_cm,
                        sc.sensor_seed,
                    ))
                }
                _ => {
                    c.err(
                        format!("{it}.smart_control.sensor"),
                        line,
                        format!("{id:?} is not a declared Conductivity meter"),
                    );
                    None
                }
            }
        }
    };
    let (calcium, alkalinity) = species?;
    Some(parktwin_units::dosing::SmartDosing {
        lsi_target,
        gain_p: c.num(it, line, &f("gain_p"), sc.gain_p, 0.0, false, 10.0),
        integral_h: c.num(it, line, &f("integral_h"), sc.integral_h, 0.0, false, 1e5),
        integral_max: c.num(
            it,
            line,
            &f("integral_max"),
            sc.integral_max,
            0.0,
            false,
            5.0,
        ),
        lsi_uninhibited: lsi_u,
        lsi_inhibited: lsi_u + credit,
        inhibitor_full_mg_per_l: full,
        inhibitor: ct.inhibitor.as_ref().map(|(chem, _)| chem.clone()),
        calcium,
        alkalinity,
        ph: ct.scaling.as_ref().and_then(|sl| sl.ph),
        sensor,
        integral: 0.0,
        saturated: 0,
        log: Vec::new(),
    })
}

/// Resolves a unit of the physics library.
///
/// # Panics
/// When `spec` is not one of the library's unit types: the caller dispatches only those here, so
/// this is a programming error, never a user-input error.
pub(super) fn unit(
    c: &mut Checker<'_>,
    it: &str,
    line: Option<usize>,
    spec: &UnitSpec,
    meta: &mut UnitMeta,
    ids: &HashMap<&str, usize>,
    park: &Park,
) -> AnyUnit {
    let ns = c.species.len();
    match spec {
        UnitSpec::ReverseOsmosis(s) => {
            let r = c.num(it, line, "recovery", s.recovery, 0.0, true, 0.99);
            let rejection = c.species_vec(it, line, "rejection", &s.rejection, 0.995, 0.0, 1.0);
            let pressure = match s.feed_pressure.unwrap_or(FeedPressureSpec::NetDriving(7.0)) {
                FeedPressureSpec::NetDriving(b) => FeedPressure::NetDriving {
                    ndp_bar: c.num(it, line, "feed_pressure.NetDriving", b, 0.0, false, 200.0),
                },
                FeedPressureSpec::OverOsmotic(f) => FeedPressure::OverOsmotic {
                    factor: c.num(it, line, "feed_pressure.OverOsmotic", f, 1.0, false, 10.0),
                },
                FeedPressureSpec::Fixed(b) => FeedPressure::Fixed {
                    bar: c.num(it, line, "feed_pressure.Fixed", b, 0.0, false, 300.0),
                },
            };
            let default_erd = if r <= 0.6 {
                EnergyRecoverySpec::PressureExchanger {
                    efficiency: 0.95,
                    booster_efficiency: 0.8,
                }
            } else {
                EnergyRecoverySpec::None
            };
            let recovery_device = match s.energy_recovery.unwrap_or(default_erd) {
                EnergyRecoverySpec::None => EnergyRecovery::None,
                EnergyRecoverySpec::Turbine(e) => EnergyRecovery::Turbine {
                    efficiency: c.num(it, line, "energy_recovery.Turbine", e, 0.0, false, 1.0),
                },
                EnergyRecoverySpec::PressureExchanger {
                    efficiency,
                    booster_efficiency,
                } => EnergyRecovery::PressureExchanger {
                    efficiency: c.num(
                        it,
                        line,
                        "energy_recovery.efficiency",
                        efficiency,
                        0.0,
                        false,
                        1.0,
                    ),
                    booster_efficiency: c.num(
                        it,
                        line,
                        "energy_recovery.booster_efficiency",
                        booster_efficiency,
                        0.0,
                        true,
                        1.0,
                    ),
                },
            };
            let caso4 = s.caso4.as_ref().and_then(|k| {
                let ca = species_index(c, it, line, "caso4.calcium", &k.calcium);
                let so4 = species_index(c, it, line, "caso4.sulphate", &k.sulphate);
                let smax = c.num(
                    it,
                    line,
                    "caso4.saturation_max",
                    k.saturation_max,
                    0.0,
                    true,
                    100.0,
                );
                Some(CalciumSulphate {
                    calcium: ca?,
                    sulphate: so4?,
                    saturation_max: smax,
                })
            });
            let default_chem = vec![
                ChemicalSpec {
                    name: "antiscalant".into(),
                    kg_per_m3: 0.003,
                    co2_per_kg: 1.5,
                    yuan_per_kg: 20.0,
                },
                ChemicalSpec {
                    name: "cleaning".into(),
                    kg_per_m3: 0.002,
                    co2_per_kg: 1.2,
                    yuan_per_kg: 5.0,
                },
            ];
            let chem = chemicals(c, it, line, s.chemicals.as_ref().unwrap_or(&default_chem));
            let temp = match &s.feed_temperature_c {
                Some(d) => c.driver(it, line, "feed_temperature_c", d, 0.0, 50.0),
                None => Series::Const(25.0),
            };
            AnyUnit::ReverseOsmosis(ReverseOsmosis {
                recovery: r,
                rejection,
                basis: match s.rejection_basis {
                    RejectionBasisSpec::Feed => RejectionBasis::Feed,
                    RejectionBasisSpec::FeedConcentrateMean => RejectionBasis::FeedConcentrateMean,
                },
                feed_temperature_c: temp,
                osmotic: match s.osmotic_coefficient {
                    Some(p) => OsmoticCoefficient::Constant(c.num(
                        it,
                        line,
                        "osmotic_coefficient",
                        p,
                        0.0,
                        true,
                        2.0,
                    )),
                    None => OsmoticCoefficient::NaCl,
                },
                pressure,
                pressure_drop_bar: c.num(
                    it,
                    line,
                    "pressure_drop_bar",
                    s.pressure_drop_bar,
                    0.0,
                    false,
                    50.0,
                ),
                pump_efficiency: c.num(
                    it,
                    line,
                    "pump_efficiency",
                    s.pump_efficiency,
                    0.0,
                    true,
                    1.0,
                ),
                recovery_device,
                sec_kwh_per_m3: s
                    .specific_energy_kwh_per_m3
                    .map(|e| c.num(it, line, "specific_energy_kwh_per_m3", e, 0.0, false, 100.0)),
                other_kwh_per_m3: c.num(
                    it,
                    line,
                    "other_kwh_per_m3",
                    s.other_kwh_per_m3,
                    0.0,
                    false,
                    100.0,
                ),
                concentrate_limit_mg_per_l: c.species_vec(
                    it,
                    line,
                    "concentrate_limits_mg_per_l",
                    &s.concentrate_limits_mg_per_l,
                    f64::INFINITY,
                    0.0,
                    1e6,
                ),
                caso4,
                min_recovery: c.num(it, line, "min_recovery", s.min_recovery, 0.0, true, r),
                chemicals: chem,
                feed: feed(c, it, line, &s.feed, ids, park),
                running: false,
                capital: capital(c, it, line, &s.capital),
                recovery_now: r,
            })
        }
        UnitSpec::ThermalDesal(s) => {
            let r = c.num(it, line, "recovery", s.recovery, 0.0, true, 0.99);
            AnyUnit::ThermalDesal(ThermalDesal {
                energy: thermal_energy(c, it, line, &s.process, s.latent_heat_kj_per_kg),
                recovery: r,
                carryover: species_defaults(
                    c,
                    it,
                    line,
                    "carryover",
                    &s.carryover,
                    |_| 5e-4,
                    0.0,
                    1.0,
                ),
                heat_source: heat_source(c, it, line, &s.heat_source),
                chemicals: chemicals(c, it, line, &s.chemicals),
                feed: feed(c, it, line, &s.feed, ids, park),
                running: false,
                capital: capital(c, it, line, &s.capital),
            })
        }
        UnitSpec::Filtration(s) => {
            let (r0, e0) = match s.kind {
                FiltrationKind::Microfiltration => (0.95, 0.18),
                FiltrationKind::Ultrafiltration => (0.95, 0.231),
                FiltrationKind::Nanofiltration => (0.85, 0.231),
            };
            let r = c.num(
                it,
                line,
                "recovery",
                s.recovery.unwrap_or(r0),
                0.0,
                true,
                0.999,
            );
            let nf = s.kind == FiltrationKind::Nanofiltration;
            let to_reject = species_defaults(
                c,
                it,
                line,
                "removal_to_reject",
                &s.removal_to_reject,
                |n| match (nf, n) {
                    (false, "cod") => 0.2f64.max(1.0 - r),
                    (true, "tds") => 0.5,
                    (true, "hardness" | "ca" | "mg" | "so4") => 0.9,
                    (true, "cod") => 0.8,
                    _ => 1.0 - r,
                },
                0.0,
                1.0,
            );
            let default_chem = vec![ChemicalSpec {
                name: "membrane cleaning".into(),
                kg_per_m3: 0.005,
                co2_per_kg: 1.0,
                yuan_per_kg: 4.0,
            }];
            AnyUnit::Treatment(Treatment {
                recovery: r,
                to_reject,
                destroyed: vec![0.0; ns],
                kwh_per_m3: c.num(
                    it,
                    line,
                    "kwh_per_m3",
                    s.kwh_per_m3.unwrap_or(e0),
                    0.0,
                    false,
                    100.0,
                ),
                heat_kwh_per_m3: 0.0,
                chemical_kg_per_m3: 0.0,
                chemical_co2_per_kg: 0.0,
                chemical_yuan_per_kg: 0.0,
                feed: feed(c, it, line, &s.feed, ids, park),
                running: false,
                solids: vec![0.0; ns],
                added_g_per_m3: vec![0.0; ns],
                chemicals: chemicals(c, it, line, s.chemicals.as_ref().unwrap_or(&default_chem)),
                removal_chemicals: Vec::new(),
                capital: capital(c, it, line, &s.capital),
            })
        }
        UnitSpec::Softening(s) => {
            let lime = s.kind == SofteningKind::Lime;
            let h = species_index(c, it, line, "hardness", &s.hardness);
            let removal = c.num(
                it,
                line,
                "removal",
                s.removal.unwrap_or(if lime { 0.8 } else { 0.95 }),
                0.0,
                false,
                1.0,
            );
            let w = c.num(
                it,
                line,
                "reject_fraction",
                s.reject_fraction.unwrap_or(if lime { 0.02 } else { 0.03 }),
                0.0,
                true,
                0.5,
            );
            let r = 1.0 - w;
            let mut to_reject = vec![w; ns];
            let mut solids = vec![0.0; ns];
            let mut added = vec![0.0; ns];
            // kg chemical per kg hardness (as CaCO3) removed: lime 0.74 stoichiometric + 10 %;
            // NaCl 1.17 stoichiometric × 3.
            let per_kg = if lime { 0.74 * 1.1 } else { 1.17 * 3.0 };
            // Fraction of the hardness fed that is precipitated (lime) or exchanged from the
            // product water (ion exchange).
            let treated = if lime { removal } else { r * removal };
            if let Some(h) = h {
                if lime {
                    to_reject[h] = w * (1.0 - removal);
                    solids[h] = removal;
                } else {
                    to_reject[h] = 1.0 - r * (1.0 - removal);
                    let design = s.design_hardness_mg_per_l.unwrap_or(0.0);
                    added[0] = c.num(
                        it,
                        line,
                        "design_hardness_mg_per_l",
                        design,
                        0.0,
                        false,
                        1e5,
                    ) * treated
                        * per_kg;
                }
            }
            let chem = Chemical::new(
                if lime { "lime" } else { "regenerant NaCl" },
                0.0,
                c.num(
                    it,
                    line,
                    "chemical_co2_per_kg",
                    s.chemical_co2_per_kg
                        .unwrap_or(if lime { 1.1 } else { 0.2 }),
                    0.0,
                    false,
                    100.0,
                ),
                c.num(
                    it,
                    line,
                    "chemical_yuan_per_kg",
                    s.chemical_yuan_per_kg
                        .unwrap_or(if lime { 0.6 } else { 0.5 }),
                    0.0,
                    false,
                    1e4,
                ),
            );
            AnyUnit::Treatment(Treatment {
                recovery: r,
                to_reject,
                destroyed: vec![0.0; ns],
                kwh_per_m3: c.num(
                    it,
                    line,
                    "kwh_per_m3",
                    s.kwh_per_m3.unwrap_or(if lime { 0.05 } else { 0.03 }),
                    0.0,
                    false,
                    100.0,
                ),
                heat_kwh_per_m3: 0.0,
                chemical_kg_per_m3: 0.0,
                chemical_co2_per_kg: 0.0,
                chemical_yuan_per_kg: 0.0,
                feed: feed(c, it, line, &s.feed, ids, park),
                running: false,
                solids,
                added_g_per_m3: added,
                chemicals: Vec::new(),
                removal_chemicals: h
                    .map(|h| {
                        vec![DoseOnRemoval {
                            species: h,
                            fraction: treated,
                            kg_per_kg: per_kg,
                            chemical: chem,
                        }]
                    })
                    .unwrap_or_default(),
                capital: capital(c, it, line, &s.capital),
            })
        }
        UnitSpec::Biological(s) => {
            let find = |c: &mut Checker<'_>, given: &Option<String>, default: &str, field: &str| {
                match given {
                    Some(n) => species_index(c, it, line, field, n),
                    None => c.species.iter().position(|x| x == default),
                }
            };
            let cod = find(c, &s.cod, "cod", "cod");
            let ammonia = find(c, &s.ammonia, "nh3n", "ammonia");
            let (process, o2_n_default) = match s.process {
                BioProcessSpec::ActivatedSludge => (BioProcess::ActivatedSludge, 4.57),
                BioProcessSpec::Anammox => (BioProcess::Anammox, 1.9),
                BioProcessSpec::Mbr { capacity_m3_per_h } => (
                    BioProcess::Mbr {
                        capacity_m3_per_h: c.num(
                            it,
                            line,
                            "process.Mbr.capacity_m3_per_h",
                            capacity_m3_per_h,
                            0.0,
                            true,
                            BIG,
                        ),
                    },
                    4.57,
                ),
            };
            let mbr = matches!(process, BioProcess::Mbr { .. });
            let cod_removal = c.num(
                it,
                line,
                "cod_removal",
                s.cod_removal.unwrap_or(if mbr { 0.95 } else { 0.9 }),
                0.0,
                false,
                1.0,
            );
            let cod_to_sludge = c.num(it, line, "cod_to_sludge", s.cod_to_sludge, 0.0, false, 1.0);
            if cod_to_sludge > cod_removal {
                c.err(
                    format!("{it}.cod_to_sludge"),
                    line,
                    format!("{cod_to_sludge} exceeds cod_removal {cod_removal}"),
                );
            }
            let mut b = Biological {
                process,
                cod,
                ammonia,
                cod_removal,
                ammonia_removal: c.num(
                    it,
                    line,
                    "ammonia_removal",
                    s.ammonia_removal.unwrap_or(0.9),
                    0.0,
                    false,
                    1.0,
                ),
                sludge_fraction: c.num(
                    it,
                    line,
                    "sludge_fraction",
                    s.sludge_fraction,
                    0.0,
                    true,
                    0.5,
                ),
                cod_to_sludge,
                destroyed: Vec::new(),
                to_sludge: Vec::new(),
                o2_per_cod: c.num(
                    it,
                    line,
                    "o2_kg_per_kg_cod",
                    s.o2_kg_per_kg_cod,
                    0.0,
                    false,
                    5.0,
                ),
                o2_per_n: c.num(
                    it,
                    line,
                    "o2_kg_per_kg_n",
                    s.o2_kg_per_kg_n.unwrap_or(o2_n_default),
                    0.0,
                    false,
                    10.0,
                ),
                kg_o2_per_kwh: c.num(it, line, "kg_o2_per_kwh", s.kg_o2_per_kwh, 0.0, true, 10.0),
                kwh_per_m3: c.num(it, line, "kwh_per_m3", s.kwh_per_m3, 0.0, false, 100.0),
                carbon_source: (
                    c.num(
                        it,
                        line,
                        "carbon_source_kg_per_kg_n",
                        s.carbon_source_kg_per_kg_n,
                        0.0,
                        false,
                        20.0,
                    ),
                    Chemical::new(
                        "carbon source",
                        0.0,
                        c.num(
                            it,
                            line,
                            "carbon_source_co2_per_kg",
                            s.carbon_source_co2_per_kg,
                            0.0,
                            false,
                            100.0,
                        ),
                        c.num(
                            it,
                            line,
                            "carbon_source_yuan_per_kg",
                            s.carbon_source_yuan_per_kg,
                            0.0,
                            false,
                            1e4,
                        ),
                    ),
                ),
                n2o_ef: c.num(it, line, "n2o_ef", s.n2o_ef, 0.0, false, 1.0),
                ch4_mcf: c.num(it, line, "ch4_mcf", s.ch4_mcf, 0.0, false, 1.0),
                ch4_b0: c.num(it, line, "ch4_b0", s.ch4_b0, 0.0, false, 1.0),
                gwp_ch4: c.num(it, line, "gwp.0", s.gwp.0, 0.0, false, 1e5),
                gwp_n2o: c.num(it, line, "gwp.1", s.gwp.1, 0.0, false, 1e5),
                chemicals: chemicals(c, it, line, &s.chemicals),
                capital: capital(c, it, line, &s.capital),
            };
            b.derive_fractions(ns);
            AnyUnit::Biological(b)
        }
        UnitSpec::Crystalliser(s) => {
            let purge = c.num(it, line, "purge_fraction", s.purge_fraction, 0.0, true, 0.5);
            let moisture = c.num(it, line, "cake_moisture", s.cake_moisture, 0.0, false, 0.6);
            let salts: Vec<Salt> = s
                .salts
                .iter()
                .enumerate()
                .filter_map(|(k, x)| {
                    let sp = species_index(c, it, line, &format!("salts[{k}].species"), &x.species);
                    let f = c.num(
                        it,
                        line,
                        &format!("salts[{k}].salt_per_anion"),
                        x.salt_per_anion,
                        1.0,
                        false,
                        10.0,
                    );
                    Some(Salt {
                        name: x.name.clone(),
                        species: sp?,
                        salt_per_anion: f,
                    })
                })
                .collect();
            let mut x = Crystalliser {
                crystallised: species_defaults(
                    c,
                    it,
                    line,
                    "crystallised",
                    &s.crystallised,
                    |_| 0.95,
                    0.0,
                    1.0,
                ),
                purge_fraction: purge,
                cake_moisture: moisture,
                design_feed_tds: c.num(
                    it,
                    line,
                    "design_feed_tds_mg_per_l",
                    s.design_feed_tds_mg_per_l,
                    0.0,
                    false,
                    1e6,
                ),
                carryover: species_defaults(
                    c,
                    it,
                    line,
                    "carryover",
                    &s.carryover,
                    |_| 1e-4,
                    0.0,
                    1.0,
                ),
                salts,
                mixed_salt_yuan_per_t: c.num(
                    it,
                    line,
                    "mixed_salt_yuan_per_t",
                    s.mixed_salt_yuan_per_t,
                    0.0,
                    false,
                    1e5,
                ),
                energy: thermal_energy(
                    c,
                    it,
                    line,
                    &s.process.unwrap_or(ThermalProcessSpec::Mvc {
                        base_kwh_per_m3: 15.0,
                        kwh_per_m3_per_g_per_l: 0.1,
                    }),
                    s.latent_heat_kj_per_kg,
                ),
                heat_source: heat_source(c, it, line, &s.heat_source),
                feed: feed(c, it, line, &s.feed, ids, park),
                running: false,
                capital: capital(c, it, line, &s.capital),
                cake_share: 0.0,
            };
            x.cake_share = x.cake_share_at(x.design_feed_tds);
            if purge + x.cake_share >= 0.99 {
                c.err(
                    it.to_string(),
                    line,
                    "purge and cake water leave less than 1 % as distillate".into(),
                );
            }
            AnyUnit::Crystalliser(x)
        }
        UnitSpec::SteamSystem(s) => {
            meta.is_use = true;
            AnyUnit::SteamSystem(SteamSystem {
                steam_t_per_h: c.driver(it, line, "steam_t_per_h", &s.steam_t_per_h, 0.0, 1e5),
                condensate_return: c.num(
                    it,
                    line,
                    "condensate_return",
                    s.condensate_return,
                    0.0,
                    false,
                    1.0,
                ),
                cycles: c.num(it, line, "cycles", s.cycles, 1.0, true, 1e3),
                h_steam: c.num(
                    it,
                    line,
                    "steam_enthalpy_kj_per_kg",
                    s.steam_enthalpy_kj_per_kg,
                    0.0,
                    true,
                    5000.0,
                ),
                h_blowdown: c.num(
                    it,
                    line,
                    "blowdown_enthalpy_kj_per_kg",
                    s.blowdown_enthalpy_kj_per_kg,
                    0.0,
                    false,
                    3000.0,
                ),
                t_condensate_c: c.num(
                    it,
                    line,
                    "condensate_temperature_c",
                    s.condensate_temperature_c,
                    0.0,
                    false,
                    200.0,
                ),
                t_makeup_c: c.num(
                    it,
                    line,
                    "makeup_temperature_c",
                    s.makeup_temperature_c,
                    0.0,
                    false,
                    100.0,
                ),
                heat_source: heat_source(c, it, line, &s.heat_source),
                kwh_per_t: c.num(it, line, "kwh_per_t", s.kwh_per_t, 0.0, false, 1e3),
                chemicals: chemicals(c, it, line, &s.chemicals),
                capital: capital(c, it, line, &s.capital),
            })
        }
        UnitSpec::RainHarvest(s) => {
            meta.source_kind = Some(SourceKind::Rainwater);
            let storage = c.num(it, line, "storage_m3", s.storage_m3, 0.0, true, BIG);
            let initial = c.num(it, line, "initial_m3", s.initial_m3, 0.0, false, BIG);
            if initial > storage {
                c.err(
                    format!("{it}.initial_m3"),
                    line,
                    format!("{initial} exceeds storage_m3 {storage}"),
                );
            }
            AnyUnit::RainHarvest(RainHarvest {
                catchment_m2: c.num(it, line, "catchment_m2", s.catchment_m2, 0.0, false, BIG),
                runoff_coefficient: c.num(
                    it,
                    line,
                    "runoff_coefficient",
                    s.runoff_coefficient,
                    0.0,
                    false,
                    1.0,
                ),
                first_flush_mm: c.num(
                    it,
                    line,
                    "first_flush_mm",
                    s.first_flush_mm,
                    0.0,
                    false,
                    100.0,
                ),
                inter_event_h: c.num(it, line, "inter_event_h", s.inter_event_h, 0.0, false, 1e4),
                storage_m3: storage,
                max_outflow_m3_per_h: match s.max_outflow_m3_per_h {
                    Some(v) => c.num(it, line, "max_outflow_m3_per_h", v, 0.0, true, BIG),
                    None => f64::INFINITY,
                },
                rainfall_mm_per_h: s
                    .rainfall_mm_per_h
                    .as_ref()
                    .map(|r| series(c, it, line, "rainfall_mm_per_h", r, 0.0, 500.0)),
                quality_mg_per_l: c.species_vec(
                    it,
                    line,
                    "quality_mg_per_l",
                    &s.quality_mg_per_l,
                    0.0,
                    0.0,
                    1e6,
                ),
                capital: capital(c, it, line, &s.capital),
                stored_m3: initial,
                inflow_m3: 0.0,
                event_mm: 0.0,
                dry_h: f64::INFINITY,
                captured_total_m3: 0.0,
                diverted_total_m3: 0.0,
                spilled_total_m3: 0.0,
            })
        }
        UnitSpec::MineWater(s) => {
            meta.source_kind = Some(SourceKind::MineWater);
            let q = series(c, it, line, "inflow_m3_per_h", &s.inflow_m3_per_h, 0.0, BIG);
            let (_, max) = q.range();
            let (cap, availability) = if max > 0.0 {
                (max, q.scaled(1.0 / max))
            } else {
                (0.0, Series::Const(0.0))
            };
            AnyUnit::Source(Source {
                kind: SourceKind::MineWater,
                quality_mg_per_l: c.species_vec(
                    it,
                    line,
                    "quality_mg_per_l",
                    &s.quality_mg_per_l,
                    0.0,
                    0.0,
                    1e6,
                ),
                cap_m3_per_h: cap,
                availability,
                annual_cap_m3: f64::INFINITY,
                price_yuan_per_m3: c.num(
                    it,
                    line,
                    "price_yuan_per_m3",
                    s.price_yuan_per_m3,
                    0.0,
                    false,
                    1e4,
                ),
                carbon_kg_per_m3: 0.0,
                withdrawn_this_year_m3: 0.0,
            })
        }
        UnitSpec::Generator(s) => AnyUnit::Generator(Generator {
            output_kw: c.driver(it, line, "output_kw", &s.output_kw, 0.0, 1e9),
            capital: capital(c, it, line, &s.capital),
        }),
        other => unreachable!("{} is validated in validate.rs", other.type_name()),
    }
}
