//! The rest of the unit library in whole runs: thermal desalination and its heat sources,
//! treatment presets, biological treatment with direct emissions, the ZLD crystalliser's salt
//! balance, the steam system, rainwater harvesting, mine water, on-site generation and taxes.

use crate::common::run_text;
use approx::assert_relative_eq;
use parktwin::engine::ledger::Ledger;
use parktwin::engine::network::{ExitKind, Topology};
use parktwin::engine::record::{Summary, UnitTotals};
use parktwin::engine::sim::Simulation;
use parktwin::engine::state::Species;
use parktwin::units::RainHarvest;

fn unit(sim: &Simulation, id: &str) -> UnitTotals {
    let topo = sim.resource::<Topology>();
    sim.resource::<Summary>().units[topo.unit_index(id).expect("unit")].clone()
}

/// Seawater (35,000 mg/L) fed at 100 m³/h to `unit` for `steps` hours; its two outlets
/// (`a`, `b`) to discharges.
fn feed_park(
    species: &str,
    quality: &str,
    unit: &str,
    a: &str,
    b: &str,
    steps: usize,
    carbon: &str,
) -> String {
    format!(
        r#"Park(
    name: "lib",
    time: (step_h: 1.0, steps: {steps}),
    species: [{species}],
    carbon: ({carbon}),
    units: [
        Source(id: "s", kind: Seawater, quality_mg_per_l: {{{quality}}}, cap_m3_per_h: 1000.0),
        {unit},
        Discharge(id: "da"),
        Discharge(id: "db"),
    ],
    links: [
        (from: "s", to: "u"),
        (from: "u.{a}", to: "da"),
        (from: "u.{b}", to: "db"),
    ],
)"#
    )
}

/// MED at GOR 10 on waste heat, 100 m³/h of seawater at r = 0.35 for 10 h: distillate 350 m³,
/// heat `350·1000·2333/(10·3600)` = 22,682 kWh_th with no carbon and no cost, electricity
/// 1.8 kWh/m³ → 630 kWh. On an own gas boiler (0.202 kg CO2/kWh fuel, η 0.9, 0.3 yuan/kWh
/// fuel) the same heat emits `22,682·0.202/0.9` = 5,091 kg CO2 and costs 7,561 yuan, whatever
/// the park's heat factor. Distillate TDS `5e-4·35,000` = 17.5 mg/L; brine
/// `(1 − 0.35·5e-4)/0.65·35,000` = 53,837 mg/L; the unit's salt balance closes.
#[test]
fn med_heat_sources() {
    let med = |heat: &str| {
        feed_park(
            "\"tds\"",
            "\"tds\": 35000.0",
            &format!(
                "ThermalDesal(id: \"u\", process: Med(gor: 10.0), heat_source: {heat}, feed: Fixed(Const(100.0)))"
            ),
            "distillate",
            "brine",
            10,
            "heat_kg_per_kwh: 0.3, heat_yuan_per_kwh: 0.2",
        )
    };
    let (sim, summary) = run_text(&med("WasteHeat"), false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    let t = unit(&sim, "u");
    let heat = 350.0 * 1000.0 * 2333.0 / (10.0 * 3600.0);
    assert_relative_eq!(t.heat_kwh, heat, max_relative = 1e-12);
    assert_eq!(t.carbon.heat, 0.0);
    assert_eq!(t.cost.heat, 0.0);
    assert_relative_eq!(t.electricity_kwh, 630.0, max_relative = 1e-12);
    let ledger = sim.resource::<Ledger>();
    let topo = sim.resource::<Topology>();
    let da = topo.unit_index("da").expect("da");
    assert_relative_eq!(
        ledger.unit_species(da, 0).inflow / ledger.unit_water(da).inflow,
        17.5,
        max_relative = 1e-12
    );
    let (sim, _) = run_text(
        &med("Boiler(fuel_kg_co2_per_kwh: 0.202, efficiency: 0.9, fuel_yuan_per_kwh: 0.3)"),
        false,
    );
    let t = unit(&sim, "u");
    assert_relative_eq!(t.carbon.heat, heat * 0.202 / 0.9, max_relative = 1e-12);
    assert_relative_eq!(t.cost.heat, heat * 0.3 / 0.9, max_relative = 1e-12);
    let (sim, _) = run_text(&med("Park"), false);
    assert_relative_eq!(
        unit(&sim, "u").carbon.heat,
        heat * 0.3,
        max_relative = 1e-12
    );
}

/// MVC electricity rises with feed salinity: `2.5 + 0.2·35` = 9.5 kWh/m³ of distillate on
/// seawater, `2.5 + 0.2·70` = 16.5 on a 70 g/L brine.
#[test]
fn mvc_energy_rises_with_salinity() {
    for (c, e) in [(35_000.0, 9.5), (70_000.0, 16.5)] {
        let text = feed_park(
            "\"tds\"",
            &format!("\"tds\": {c}"),
            "ThermalDesal(id: \"u\", process: Mvc(), recovery: 0.4, feed: Fixed(Const(10.0)))",
            "distillate",
            "brine",
            4,
            "",
        );
        let (sim, _) = run_text(&text, false);
        assert_relative_eq!(
            unit(&sim, "u").electricity_kwh,
            e * 16.0,
            max_relative = 1e-12
        );
    }
}

/// Ultrafiltration preset: WaterTAP's 0.231 kWh/m³ and recovery 0.95 (DOMAIN.md), dissolved
/// salt at bulk concentration (permeate TDS = feed TDS), 20 % of COD to the reject; 100 m³/h
/// for 10 h → 231 kWh, permeate 950 m³.
#[test]
fn ultrafiltration_preset() {
    let text = feed_park(
        "\"tds\", \"cod\"",
        "\"tds\": 1000.0, \"cod\": 50.0",
        "Filtration(id: \"u\", kind: Ultrafiltration, chemicals: [], feed: Fixed(Const(100.0)))",
        "product",
        "reject",
        10,
        "",
    );
    let (sim, summary) = run_text(&text, false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    assert_relative_eq!(unit(&sim, "u").electricity_kwh, 231.0, max_relative = 1e-12);
    assert_relative_eq!(unit(&sim, "da").throughput_m3, 950.0, max_relative = 1e-12);
    let ledger = sim.resource::<Ledger>();
    let topo = sim.resource::<Topology>();
    let da = topo.unit_index("da").expect("da");
    assert_relative_eq!(
        ledger.unit_species(da, 0).inflow / 950.0,
        1000.0,
        max_relative = 1e-12
    );
    assert_relative_eq!(
        ledger.unit_species(da, 1).inflow / 950.0,
        50.0 * 0.8 / 0.95,
        max_relative = 1e-12
    );
}

/// Lime softening of 100 m³/h with hardness 300 mg/L as CaCO3 for 10 h: 80 % of the hardness
/// precipitates (240 kg leave as solids, booked in the species balance's solids exit), the
/// product holds `(1 − 0.8)·300` = 60 mg/L, lime `0.814·240` = 195.36 kg. Ion exchange removes
/// 95 % of the hardness of the 97 % product water to a 3 % brine and buys
/// `3.51·0.97·0.95·300` = 970.34 kg NaCl.
#[test]
fn softening_presets() {
    let text = |kind: &str| {
        feed_park(
            "\"tds\", \"hardness\"",
            "\"tds\": 800.0, \"hardness\": 300.0",
            &format!(
                "Softening(id: \"u\", kind: {kind}, design_hardness_mg_per_l: 300.0, feed: Fixed(Const(100.0)))"
            ),
            "product",
            "reject",
            10,
            "",
        )
    };
    let (sim, summary) = run_text(&text("Lime"), false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    let ledger = sim.resource::<Ledger>();
    let h = sim
        .resource::<Species>()
        .index("hardness")
        .expect("hardness");
    assert_relative_eq!(
        ledger.species_by_exit[h][ExitKind::Solids.index()],
        240.0 * 1000.0,
        max_relative = 1e-12
    );
    let topo = sim.resource::<Topology>();
    let da = topo.unit_index("da").expect("da");
    assert_relative_eq!(
        ledger.unit_species(da, h).inflow / ledger.unit_water(da).inflow,
        60.0,
        max_relative = 1e-12
    );
    assert_relative_eq!(
        unit(&sim, "u").chemicals_kg,
        0.74 * 1.1 * 240.0,
        max_relative = 1e-12
    );
    let (sim, summary) = run_text(&text("IonExchange"), false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    assert_relative_eq!(
        unit(&sim, "u").chemicals_kg,
        3.51 * 0.97 * 0.95 * 300.0,
        max_relative = 1e-12
    );
}

/// Biological treatment of 1,000 m³/h at COD 500 and NH3-N 40 mg/L for 10 h (hand numbers per
/// 1,000 m³ in `units::biological`): activated sludge 417.26 kWh/h, anammox 369.2 kWh/h; both
/// emit N2O `0.016·40·44/28·265` = 266.51 kg CO2e/h and CH4 `0.03·0.25·450·28` = 94.5 kg CO2e/h
/// as direct (other) carbon; the effluent COD is 50 mg/L; the MBR of 1,000 m³/h design draws
/// `9.5·1000^−0.3` = 1.1928 kWh/m³.
#[test]
fn biological_options() {
    let text = |process: &str| {
        feed_park(
            "\"tds\", \"cod\", \"nh3n\"",
            "\"tds\": 1000.0, \"cod\": 500.0, \"nh3n\": 40.0",
            &format!("Biological(id: \"u\", process: {process})"),
            "product",
            "sludge",
            10,
            "",
        )
        .replace("(from: \"s\", to: \"u\")", "(from: \"s\", to: \"p\"), (from: \"p.waste\", to: \"u\")")
        .replace(
            "Discharge(id: \"da\"),",
            "Discharge(id: \"da\"), Process(id: \"p\", production_per_h: Const(1000.0), water_m3_per_unit: 1.0),",
        )
    };
    let (sim, summary) = run_text(&text("ActivatedSludge"), false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    let t = unit(&sim, "u");
    assert_relative_eq!(t.electricity_kwh, 4172.6, max_relative = 1e-9);
    assert_relative_eq!(
        t.carbon.other,
        10.0 * (0.016 * 40.0 * 44.0 / 28.0 * 265.0 + 3.375 * 28.0),
        max_relative = 1e-9
    );
    let ledger = sim.resource::<Ledger>();
    let topo = sim.resource::<Topology>();
    let da = topo.unit_index("da").expect("da");
    assert_relative_eq!(
        ledger.unit_species(da, 1).inflow / ledger.unit_water(da).inflow,
        50.0,
        max_relative = 1e-12
    );
    let (sim, _) = run_text(&text("Anammox"), false);
    let a = unit(&sim, "u");
    assert_relative_eq!(a.electricity_kwh, 3692.0, max_relative = 1e-9);
    assert_relative_eq!(a.carbon.other, t.carbon.other, max_relative = 1e-12);
    let (sim, _) = run_text(&text("Mbr(capacity_m3_per_h: 1000.0)"), false);
    assert_relative_eq!(
        unit(&sim, "u").electricity_kwh,
        9.5 * 1000f64.powf(-0.3) * 10_000.0,
        max_relative = 1e-12
    );
}

/// ZLD crystalliser on a 100 g/L brine with chloride 40 g/L and sulphate 20 g/L, 10 m³/h for
/// 10 h: 95 % of every species crystallises, so 95 t of TDS leave as crystals — the species
/// balance's solids exit is the crystals plus the salt dissolved in the cake's moisture
/// (mother liquor), solids + discharge (purge, distillate) equal the salt fed, and the park's
/// salt balance closes; the
/// cake holds `95·0.1/0.9` = 10.556 kg water per m³ of feed (1.0556 m³ leave as solids
/// water); NaCl `0.95·40·100·1.6486` kg = 6.2647 t and Na2SO4 `0.95·20·100·1.4787` = 2.8095 t
/// are the product (9.0742 t); the rest of the 9.5 t (0.4258 t) is mixed salt at
/// 2,500 yuan/t.
#[test]
fn crystalliser_salt_balance() {
    let text = feed_park(
        "\"tds\", \"cl\", \"so4\"",
        "\"tds\": 100000.0, \"cl\": 40000.0, \"so4\": 20000.0",
        r#"Crystalliser(id: "u", design_feed_tds_mg_per_l: 100000.0, feed: Fixed(Const(10.0)),
            salts: [(name: "NaCl", species: "cl", salt_per_anion: 1.6486),
                    (name: "Na2SO4", species: "so4", salt_per_anion: 1.4787)])"#,
        "distillate",
        "purge",
        10,
        "",
    );
    let (sim, summary) = run_text(&text, false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    let ledger = sim.resource::<Ledger>();
    // Cake water per m³ of feed, distillate share, and the mother liquor's concentration factor.
    let sc = 95.0 * 0.1 / 0.9 / 1000.0;
    let sd = 1.0 - 0.03 - sc;
    let ml = (1.0 - 0.95 - sd * 1e-4) / (0.03 + sc);
    for (s, c) in [(0, 100_000.0), (1, 40_000.0), (2, 20_000.0)] {
        let fed = c * 100.0;
        // Crystals plus the salt dissolved in the cake's moisture leave as solids.
        let solids = ledger.species_by_exit[s][ExitKind::Solids.index()];
        assert_relative_eq!(solids, fed * (0.95 + sc * ml), max_relative = 1e-12);
        let discharged = ledger.species_by_exit[s][ExitKind::Discharge.index()];
        assert_relative_eq!(
            solids + discharged,
            ledger.species_from_sources[s],
            max_relative = 1e-12
        );
        assert!(ledger.park_species[s].residual().abs() <= 1e-9 * fed);
    }
    let t = unit(&sim, "u");
    assert_relative_eq!(
        t.exits_m3[ExitKind::Solids.index()],
        95.0 * 0.1 / 0.9 / 1000.0 * 100.0,
        max_relative = 1e-12
    );
    let sellable = 0.95 * (40.0 * 1.6486 + 20.0 * 1.4787) * 100.0 / 1000.0;
    assert_relative_eq!(t.product, sellable, max_relative = 1e-12);
    assert_relative_eq!(t.cost.water, (9.5 - sellable) * 2500.0, max_relative = 1e-9);
}

/// Steam system: 10 t/h at N = 20 with 60 % condensate return for 10 h raises 100 t of steam
/// and returns 60 t of condensate (booked for the KPI), takes `4.526316·10` m³ of make-up,
/// and sends every gram of the make-up's salt out with the blowdown (`B = 10/19` t/h at
/// `C_M·M/B` = 8.6 × the make-up TDS).
#[test]
fn steam_system_condensate_and_blowdown() {
    let text = r#"Park(
    name: "steam",
    time: (step_h: 1.0, steps: 10),
    units: [
        Source(id: "demin", kind: Municipal, quality_mg_per_l: {"tds": 10.0}, cap_m3_per_h: 100.0),
        SteamSystem(id: "boiler", steam_t_per_h: Const(10.0), condensate_return: 0.6, cycles: 20.0,
                    heat_source: Boiler(fuel_kg_co2_per_kwh: 0.202)),
        Discharge(id: "drain"),
    ],
    links: [(from: "demin", to: "boiler"), (from: "boiler.blowdown", to: "drain")],
)"#;
    let (sim, summary) = run_text(text, false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    let t = unit(&sim, "boiler");
    assert_relative_eq!(t.steam_t, 100.0, max_relative = 1e-12);
    assert_relative_eq!(t.condensate_returned_t, 60.0, max_relative = 1e-12);
    assert_relative_eq!(t.throughput_m3, 45.263158, max_relative = 1e-6);
    assert_relative_eq!(t.heat_kwh, 70_950.54, max_relative = 1e-6);
    assert_relative_eq!(t.carbon.heat, 70_950.54 * 0.202 / 0.9, max_relative = 1e-6);
    let ledger = sim.resource::<Ledger>();
    let topo = sim.resource::<Topology>();
    let d = topo.unit_index("drain").expect("drain");
    assert_relative_eq!(
        ledger.unit_species(d, 0).inflow,
        10.0 * 45.263158,
        max_relative = 1e-6
    );
    assert_relative_eq!(
        ledger.unit_water(d).inflow,
        100.0 / 19.0,
        max_relative = 1e-9
    );
}

/// Rainwater harvesting on 10,000 m² (φ 0.85, 2 mm first flush) with rain 1.5, 3.0 and 0.5 mm
/// in the first three hours of two days: 12.75 + 4.25 m³ diverted, 21.25 + 4.25 m³ captured
/// into a 20 m³ store, 1 m³/h drawn by a process (municipal water when the store is empty): the
/// store spills 0.25 and 3.25 m³, then serves 20 more hours, so 22 m³ of rainwater are drawn
/// (the park's rainwater intake) and `captured = drawn + spilled + stored` (25.5 = 22 + 3.5 + 0).
#[test]
fn rain_harvest_balance() {
    let mut rain = vec!["0.0"; 48];
    rain[0] = "1.5";
    rain[1] = "3.0";
    rain[2] = "0.5";
    let (mut sim, summary) = run_text(
        &rain_park(&format!("Driver(Hourly([{}]))", rain.join(", "))),
        false,
    );
    assert!(summary.balance.max_relative_residual <= 1e-9);
    assert_relative_eq!(unit(&sim, "roof").throughput_m3, 22.0, max_relative = 1e-12);
    assert_relative_eq!(
        summary
            .water_m3
            .by_source_kind
            .get("rainwater")
            .copied()
            .unwrap_or(0.0),
        22.0,
        max_relative = 1e-12
    );
    let mut q = sim.world.query::<&RainHarvest>();
    let h = q.iter(&sim.world).next().expect("rain harvest");
    assert_relative_eq!(h.diverted_total_m3, 17.0, max_relative = 1e-12);
    assert_relative_eq!(h.captured_total_m3, 25.5, max_relative = 1e-12);
    assert_relative_eq!(h.spilled_total_m3, 3.5, max_relative = 1e-12);
    assert_relative_eq!(h.stored_m3, 0.0, epsilon = 1e-12);
}

fn rain_park(rain: &str) -> String {
    format!(
        r#"Park(
    name: "rain",
    time: (step_h: 1.0, steps: 48),
    units: [
        RainHarvest(id: "roof", catchment_m2: 10000.0, storage_m3: 20.0, quality_mg_per_l: {{"tds": 20.0}},
                    rainfall_mm_per_h: {rain}),
        Process(id: "wash", production_per_h: Const(1.0), water_m3_per_unit: 1.0),
        Source(id: "city", kind: Municipal, cap_m3_per_h: 10.0),
        Discharge(id: "out"),
    ],
    links: [(from: "roof", to: "wash"), (from: "city", to: "wash", priority: 1), (from: "wash.waste", to: "out")],
)"#
    )
}

/// Seeded stochastic series: the same seed gives bit-identical runs, another seed another
/// series; a mine-water inflow (mean 50 m³/h, cv 0.3) caps what a process may draw.
#[test]
fn stochastic_sources_are_seeded() {
    let rain = |seed: u64| {
        let (sim, _) = run_text(
            &rain_park(&format!(
                "Stochastic(Rain(seed: {seed}, annual_mm: 5000.0, wet_fraction: 0.3))"
            )),
            false,
        );
        unit(&sim, "roof").throughput_m3
    };
    assert_eq!(rain(11).to_bits(), rain(11).to_bits());
    assert_ne!(rain(11).to_bits(), rain(12).to_bits());
    let mine = |seed: u64| {
        let text = format!(
            r#"Park(
    name: "mine",
    time: (step_h: 1.0, steps: 200),
    units: [
        MineWater(id: "mine", inflow_m3_per_h: Stochastic(Inflow(seed: {seed}, mean: 50.0, cv: 0.3)),
                  quality_mg_per_l: {{"tds": 1500.0}}),
        Process(id: "p", production_per_h: Const(1000.0), water_m3_per_unit: 1.0),
        Discharge(id: "out"),
    ],
    links: [(from: "mine", to: "p"), (from: "p.waste", to: "out")],
)"#
        );
        let (sim, summary) = run_text(&text, false);
        assert!(summary.balance.max_relative_residual <= 1e-9);
        assert!(
            summary
                .water_m3
                .by_source_kind
                .get("mine_water")
                .copied()
                .unwrap_or(0.0)
                > 0.0
        );
        unit(&sim, "mine").throughput_m3
    };
    let (a, b) = (mine(5), mine(5));
    assert_eq!(a.to_bits(), b.to_bits());
    assert!((a / 200.0 - 50.0).abs() < 10.0, "{a}");
}

/// On-site generation nets against grid import hour by hour: a 100 kW load (an RO given
/// 4 kWh/m³ on 25 m³/h of permeate) with 60 kW of PV imports 40 kWh/h; with 150 kW of PV it
/// imports nothing (never below zero). Capital of 4,000 yuan/kW × 60 kW over
/// 25 years at 6 % with 1 % O&M books `240,000·(0.078227 + 0.01)` yuan per 8,760 h.
#[test]
fn generation_nets_grid_import() {
    let text = |kw: f64| {
        format!(
            r#"Park(
    name: "pv",
    time: (step_h: 1.0, steps: 10),
    units: [
        Source(id: "s", kind: Municipal, cap_m3_per_h: 100.0),
        ReverseOsmosis(id: "ro", recovery: 0.5, specific_energy_kwh_per_m3: 4.0, chemicals: [], feed: Fixed(Const(50.0))),
        Discharge(id: "out"),
        Generator(id: "pv", output_kw: Const({kw}),
                  capital: (yuan_per_capacity: 4000.0, capacity: {kw}, lifetime_years: 25.0, discount_rate: 0.06, fixed_om_fraction: 0.01)),
    ],
    links: [(from: "s", to: "ro"), (from: "ro.permeate", to: "out"), (from: "ro.concentrate", to: "out")],
)"#
        )
    };
    let (sim, summary) = run_text(&text(60.0), false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    let s = sim.resource::<Summary>();
    assert_relative_eq!(s.grid_import_kwh, 400.0, max_relative = 1e-12);
    let crf = 0.06 * 1.06f64.powf(25.0) / (1.06f64.powf(25.0) - 1.0);
    assert_relative_eq!(
        unit(&sim, "pv").cost.capital,
        240_000.0 * (crf + 0.01) * 10.0 / 8760.0,
        max_relative = 1e-12
    );
    let (sim, _) = run_text(&text(150.0), false);
    assert_eq!(sim.resource::<Summary>().grid_import_kwh, 0.0);
}

/// Taxes: a groundwater resource tax of 2 yuan/m³ on 100 m³/h for 10 h is 2,000 yuan on top of
/// the price; the environmental tax on an outfall discharging 1,000 m³ at COD 40 mg/L and
/// NH3-N 4 mg/L at 12 yuan per equivalent is `12·(40 + 5)` = 540 yuan.
#[test]
fn water_resource_and_environmental_taxes() {
    let text = r#"Park(
    name: "tax",
    time: (step_h: 1.0, steps: 10),
    species: ["tds", "cod", "nh3n"],
    carbon: (water_resource_tax_yuan_per_m3: {"groundwater": 2.0},
             environmental_tax: (yuan_per_equivalent: 12.0, kg_per_equivalent: {"cod": 1.0, "nh3n": 0.8})),
    units: [
        Source(id: "well", kind: Groundwater, cap_m3_per_h: 100.0, price_yuan_per_m3: 1.0),
        Process(id: "p", production_per_h: Const(100.0), water_m3_per_unit: 1.0,
                adds_kg_per_m3: {"cod": 0.04, "nh3n": 0.004}),
        Discharge(id: "out"),
    ],
    links: [(from: "well", to: "p"), (from: "p.waste", to: "out")],
)"#;
    let (sim, summary) = run_text(text, false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    assert_relative_eq!(
        unit(&sim, "well").cost.water,
        1000.0 + 2000.0,
        max_relative = 1e-12
    );
    assert_relative_eq!(
        unit(&sim, "out").cost.water,
        12.0 * (40.0 + 5.0),
        max_relative = 1e-12
    );
}
