//! KPIs, water-balance tables and the Action Plan comparison on small parks whose figures are
//! computed by hand in each test's doc comment.

use crate::common::run_text;
use parktwin::parks::kpi::{KpiReport, PARK_SCOPE as PARK, ScopeKpis};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[track_caller]
fn assert_close(a: f64, b: f64, what: &str) {
    assert!(close(a, b), "{what}: {a} != {b}");
}

#[track_caller]
fn kpi(s: &ScopeKpis, key: &str) -> f64 {
    s.value(key)
        .unwrap_or_else(|| panic!("{}: {key} should have a value", s.scope))
}

fn scope<'a>(k: &'a KpiReport, id: &str) -> &'a ScopeKpis {
    k.scope(id).unwrap_or_else(|| panic!("no scope {id}"))
}

const PARK_A: &str = r#"Park(
    name: "kpi-a",
    time: (start: "2025-01-01T00:00", step_h: 1.0, steps: 24),
    enterprises: [
        (id: "plant", value_added_10k_yuan_per_year: 8760.0),
        (id: "util"),
    ],
    units: [
        Source(id: "city", kind: Municipal, quality_mg_per_l: {"tds": 200.0}, cap_m3_per_h: 1000.0),
        Process(id: "mill", enterprise: "plant", product: "crude steel", product_unit: "t",
                production_per_h: Const(10.0), water_m3_per_unit: 10.0, consumptive_fraction: 0.2),
        Treatment(id: "wwtp", enterprise: "util", recovery: 0.5, removal_to_reject: {"tds": 0.9}),
        Discharge(id: "outfall", enterprise: "util"),
    ],
    links: [
        (from: "city", to: "mill", priority: 10),
        (from: "wwtp.product", to: "mill", priority: 0),
        (from: "mill.waste", to: "wwtp"),
        (from: "wwtp.reject", to: "outfall"),
    ],
    KPI
)"#;

/// Park A, 24 hourly steps. The mill (enterprise `plant`, 10 t/h of crude steel at 10 m³/t)
/// takes 100 m³/h, evaporates 20 % and sends 80 m³/h of wastewater to the utility's WWTP
/// (enterprise `util`, recovery 0.5): 40 m³/h of treated, already-used water come back to the
/// mill before municipal water, which tops up 60 m³/h; the 40 m³/h reject is discharged.
///
/// Park (transfers internal): `V_i` = 60 × 24 = 1,440 m³; `V_r` = serial reuse 40 × 24 = 960;
/// repeated-use rate 960/(1,440 + 960) = **0.4** (target 0.94: FAIL); process-water reuse
/// 960/(960 + 1,440) = **0.4**; wastewater reuse `V_w/(V_d + V_w)` = 960/(960 + 960) = **0.5**;
/// leakage 0; unconventional 0; value added 8,760 × 10⁴ yuan/yr × 24/8,760 = 24 × 10⁴ yuan, so
/// **60** m³ per 10⁴ yuan. Balance: in 1,440 = evaporation 480 + discharge 960, δ = 0.
///
/// Plant (separate accounting unit): intake = municipal 1,440 + reclaimed water from the
/// utility 960 = 2,400 m³; repeated use 0 (the reuse is not its own); unconventional (reclaimed)
/// 960/2,400 = **0.4**; 2,400/24 = **100** m³/10⁴ yuan; crude steel 2,400 m³/240 t = **10 m³/t**
/// against the 2020 baseline 2.5 and the 2025 target 2.5 × 0.9 = 2.25: FAIL by +7.75 m³/t
/// (+344.4 %). Utility: intake 1,920 (the mill's wastewater), drains 960 back, discharges 960.
///
/// TDS (200 mg/L in city water, 90 % of the WWTP's inlet mass to the reject, no storage): the
/// mill's inlet mass `m` satisfies `m = 60·200 + 0.1·m`, so `m` = 13,333.3 g/h; the outfall gets
/// 0.9·m = 12,000 g/h = all the city's salt: 288 kg in 24 h; the plant drains 320 kg to the
/// utility, which returns 32 kg.
#[test]
fn transfers_reuse_and_crude_steel_by_hand() {
    let (_, s) = run_text(&PARK_A.replace("KPI", ""), false);
    let k = &s.kpi;
    let park = scope(k, PARK);
    assert_close(
        kpi(park, "repeated_use_rate"),
        0.4,
        "park repeated-use rate",
    );
    assert_eq!(park.get("repeated_use_rate").unwrap().target, Some(0.94));
    assert_eq!(park.get("repeated_use_rate").unwrap().pass, Some(false));
    assert_close(kpi(park, "process_water_reuse_rate"), 0.4, "process reuse");
    assert_close(kpi(park, "wastewater_reuse_rate"), 0.5, "wastewater reuse");
    assert_close(kpi(park, "leakage_rate"), 0.0, "leakage");
    assert_close(
        kpi(park, "unconventional_substitution_rate"),
        0.0,
        "unconventional",
    );
    assert_close(
        kpi(park, "intake_per_10k_yuan"),
        60.0,
        "intake per 10k yuan",
    );
    assert!(park.value("cooling_recirculation_rate").is_none());
    assert!(park.value("condensate_return_rate").is_none());
    assert_close(park.discharge_kg["tds"], 288.0, "park TDS discharge");

    let plant = scope(k, "plant");
    assert_close(kpi(plant, "repeated_use_rate"), 0.0, "plant repeated use");
    assert_close(
        kpi(plant, "unconventional_substitution_rate"),
        0.4,
        "plant reclaimed share",
    );
    assert_close(
        kpi(plant, "intake_per_10k_yuan"),
        100.0,
        "plant intake per 10k yuan",
    );
    assert_close(plant.drained_kg["tds"], 320.0, "plant drains TDS");
    let util = scope(k, "util");
    assert!(
        util.value("intake_per_10k_yuan").is_none(),
        "no value added given"
    );
    assert_close(util.discharge_kg["tds"], 288.0, "util TDS discharge");
    assert_close(util.drained_kg["tds"], 32.0, "util returns TDS");

    let b = k.balance(PARK).unwrap();
    assert_close(b.intake, 1440.0, "park intake");
    assert_close(b.repeated_use, 960.0, "park repeated use");
    assert_close(b.evaporation, 480.0, "evaporation");
    assert_close(b.discharge, 960.0, "discharge");
    assert!(b.closure_error < 1e-12 && b.closure_ok);
    let b = k.balance("plant").unwrap();
    assert_close(b.inflow_by_kind["municipal"], 1440.0, "plant municipal");
    assert_close(b.inflow_by_kind["transfer_used"], 960.0, "plant reclaimed");
    assert_close(b.intake, 2400.0, "plant intake");
    assert_close(b.drained_to_others, 1920.0, "plant drains");
    assert!(b.closure_error < 1e-12);
    let b = k.balance("util").unwrap();
    assert_close(b.intake, 1920.0, "util intake");
    assert_close(b.drained_to_others + b.discharge, 1920.0, "util out");
    assert!(b.closure_error < 1e-12);

    let p = &k.products[0];
    assert_eq!(p.product, "crude steel");
    assert_close(p.m3_per_unit.unwrap(), 10.0, "crude steel m3/t");
    let r = p.reference.as_ref().unwrap();
    assert_close(r.target_2025, 2.25, "target");
    assert_eq!(p.meets_target_2025, Some(false));
    assert_eq!(p.meets_baseline_2020, Some(false));
    assert_close(p.distance_to_target.unwrap(), 7.75, "distance");
    assert_close(
        p.distance_to_target_pct.unwrap(),
        100.0 * 7.75 / 2.25,
        "distance %",
    );
    // The summary's park figures agree with the KPI tables.
    assert_close(s.water_m3.repeated_use, 960.0, "summary repeated use");
    assert_close(s.water_m3.repeated_use_rate, 0.4, "summary rate");
}

/// Park A with `transfers_are_intake: false` and a repeated-use target of 0.3: the plant's
/// intake is its municipal water alone, 1,440 m³, so crude steel takes 1,440/240 = 6 m³/t and
/// the utility has no intake; the park's figures do not change (rate 0.4 ≥ 0.3: PASS).
#[test]
fn transfer_policy_is_configurable() {
    let text = PARK_A.replace(
        "KPI",
        r#"kpi: (targets: {"repeated_use_rate": 0.3}, transfers_are_intake: false),"#,
    );
    let (_, s) = run_text(&text, false);
    let k = &s.kpi;
    assert!(k.policy.text.contains("is not the receiver's intake"));
    assert_eq!(
        scope(k, PARK).get("repeated_use_rate").unwrap().pass,
        Some(true)
    );
    assert_close(k.balance("plant").unwrap().intake, 1440.0, "plant intake");
    assert_close(k.balance("util").unwrap().intake, 0.0, "util intake");
    assert_close(k.products[0].m3_per_unit.unwrap(), 6.0, "crude steel m3/t");
    assert_close(k.balance(PARK).unwrap().intake, 1440.0, "park intake");
}

const PARK_B: &str = r#"Park(
    name: "kpi-b",
    time: (start: "2025-01-01T00:00", step_h: 1.0, steps: 24),
    enterprises: [
        (id: "steel", value_added_10k_yuan_per_year: 87600.0),
        (id: "brewery", value_added_10k_yuan_per_year: 8760.0),
        (id: "textile", value_added_10k_yuan_per_year: 17520.0),
    ],
    units: [
        Source(id: "city", kind: Municipal, quality_mg_per_l: {"tds": 100.0}, cap_m3_per_h: 1000.0),
        Source(id: "sea", kind: Seawater, enterprise: "steel", quality_mg_per_l: {"tds": 35000.0}, cap_m3_per_h: 1000.0),
        Treatment(id: "desal", enterprise: "steel", recovery: 0.4, removal_to_reject: {"tds": 0.99},
                  feed: Fixed(Const(50.0))),
        Process(id: "bof", enterprise: "steel", product: "crude steel", product_unit: "t",
                production_per_h: Const(100.0), water_m3_per_unit: 2.0, consumptive_fraction: 0.5),
        Process(id: "brewing", enterprise: "brewery", product: "beer", product_unit: "kL",
                production_per_h: Const(10.0), water_m3_per_unit: 4.0, consumptive_fraction: 0.25,
                loss: IntoProduct),
        Process(id: "dyeing", enterprise: "textile", product: "woven dyed fabric", product_unit: "100 m",
                production_per_h: Const(50.0), water_m3_per_unit: 1.2, consumptive_fraction: 0.1),
        Discharge(id: "outfall"),
    ],
    links: [
        (from: "sea", to: "desal"),
        (from: "desal.product", to: "bof"),
        (from: "desal.reject", to: "outfall"),
        (from: "city", to: "bof", priority: 10),
        (from: "city", to: "brewing"),
        (from: "city", to: "dyeing"),
        (from: "bof.waste", to: "outfall"),
        (from: "brewing.waste", to: "outfall"),
        (from: "dyeing.waste", to: "outfall"),
    ],
    events: [Leak(link: "city->brewing", m3_per_h: 1.0, from_h: 0.0, to_h: 24.0)],
)"#;

/// Park B, 24 hourly steps, three enterprises and three Action Plan products.
///
/// - Steel: the BOF shop needs 100 t/h × 2 m³/t = 200 m³/h. Its own seawater intake feeds a
///   desalination unit at 50 m³/h (recovery 0.4): 20 m³/h of permeate reach the shop first,
///   municipal water tops up 180 m³/h. Seawater is unconventional and not intake, so steel's
///   intake is 180 m³/h: **1.8 m³/t** of crude steel, below the 2025 target 2.25 (PASS by
///   −0.45, −20 %). Its unconventional share is 50/(50 + 180) = **0.21739…**; value added
///   87,600 × 10⁴ yuan/yr is 10 × 10⁴ yuan/h, so **18** m³/10⁴ yuan.
/// - Brewery: 10 kL/h × 4 m³/kL = 40 m³/h arrive through a supply pipe that leaks 1 m³/h, so
///   41 m³/h are drawn for it: intake 41 m³/h, **4.1 m³/kL** of beer against the baseline 4.5
///   (met) and the 2025 target 4.5 × 0.85 = 3.825: FAIL by +0.275 (+7.19 %); leakage rate
///   **1/41**; 41 m³ per 10⁴ yuan (1 × 10⁴ yuan/h).
/// - Textile: 50 (100 m)/h × 1.2 = 60 m³/h: **1.2 m³/100 m** against the target 1.6 × 0.85 =
///   1.36: PASS by −0.16 (−11.76 %); 60/2 = **30** m³/10⁴ yuan.
/// - Park: intake 180 + 41 + 60 = 281 m³/h, seawater 50; unconventional share 50/331; leakage
///   1/281; value added 13 × 10⁴ yuan/h, so 281/13 m³/10⁴ yuan; no reuse: repeated-use rate 0.
#[test]
fn three_products_against_the_action_plan_by_hand() {
    let (_, s) = run_text(PARK_B, false);
    let k = &s.kpi;
    let find = |p: &str| k.products.iter().find(|x| x.product == p).unwrap();
    let steel = find("crude steel");
    assert_close(steel.m3_per_unit.unwrap(), 1.8, "crude steel");
    assert_eq!(steel.meets_target_2025, Some(true));
    assert_close(steel.distance_to_target.unwrap(), -0.45, "steel distance");
    assert_close(
        steel.distance_to_target_pct.unwrap(),
        -20.0,
        "steel distance %",
    );
    let beer = find("beer");
    assert_close(beer.m3_per_unit.unwrap(), 4.1, "beer");
    assert_eq!(beer.meets_baseline_2020, Some(true));
    assert_eq!(beer.meets_target_2025, Some(false));
    assert_close(beer.distance_to_target.unwrap(), 0.275, "beer distance");
    assert_close(
        beer.distance_to_target_pct.unwrap(),
        100.0 * 0.275 / 3.825,
        "beer distance %",
    );
    let cloth = find("woven dyed fabric");
    assert_close(cloth.m3_per_unit.unwrap(), 1.2, "woven dyed fabric");
    assert_eq!(cloth.meets_target_2025, Some(true));
    assert_close(cloth.distance_to_target.unwrap(), -0.16, "fabric distance");

    let st = scope(k, "steel");
    assert_close(
        kpi(st, "unconventional_substitution_rate"),
        50.0 / 230.0,
        "steel unconventional",
    );
    assert_close(kpi(st, "intake_per_10k_yuan"), 18.0, "steel per 10k yuan");
    let br = scope(k, "brewery");
    assert_close(kpi(br, "leakage_rate"), 1.0 / 41.0, "brewery leakage");
    assert_close(kpi(br, "intake_per_10k_yuan"), 41.0, "brewery per 10k yuan");
    assert_close(
        kpi(scope(k, "textile"), "intake_per_10k_yuan"),
        30.0,
        "textile per 10k yuan",
    );
    let park = scope(k, PARK);
    assert_close(kpi(park, "repeated_use_rate"), 0.0, "park repeated use");
    assert_close(
        kpi(park, "unconventional_substitution_rate"),
        50.0 / 331.0,
        "park unconventional",
    );
    assert_close(kpi(park, "leakage_rate"), 1.0 / 281.0, "park leakage");
    assert_close(
        kpi(park, "intake_per_10k_yuan"),
        281.0 / 13.0,
        "park per 10k yuan",
    );
    for b in &k.balances {
        assert!(
            b.closure_error < 1e-12,
            "{}: δ = {}",
            b.scope,
            b.closure_error
        );
    }
    let b = k.balance("brewery").unwrap();
    assert_close(b.leakage, 24.0, "brewery leakage m3");
    assert_close(b.product, 240.0, "beer water into product");
    let b = k.balance("steel").unwrap();
    assert_close(b.inflow_by_kind["seawater"], 1200.0, "steel seawater");
    assert!(!b.counted_as_intake["seawater"]);
}

/// A cooling tower on municipal water (metric rule, DOMAIN.md): heat load
/// `Q = 41,860/3,600` MW at a 10 °C range circulates `R = Q/(ρ·c_p·ΔT)` = 1,000 m³/h, evaporates
/// `E = 0.00153·R·ΔT` = 15.3 m³/h, drifts `D = 0.0001·R` = 0.1 m³/h and blows down
/// `B = E/(N − 1) − D` = 15.3/3 − 0.1 = 5.0 m³/h at N = 4, so the make-up is
/// `M = E + B + D` = 20.4 m³/h. Indirect cooling-water recirculation rate
/// `R/(R + M)` = 1,000/1,020.4 = **0.98001…**; repeated-use rate the same (no other use);
/// wastewater reuse 0 (the blowdown is discharged).
#[test]
fn cooling_recirculation_by_hand() {
    let text = r#"Park(
        name: "kpi-ct",
        time: (step_h: 1.0, steps: 12),
        enterprises: [(id: "plant")],
        units: [
            Source(id: "city", kind: Municipal, cap_m3_per_h: 1000.0),
            CoolingTower(id: "ct", enterprise: "plant", heat_load_mw: Const(11.627777777777778),
                         range_c: 10.0, cycles: 4.0, drift_fraction: 0.0001, holding_volume_m3: 100.0),
            Discharge(id: "outfall"),
        ],
        links: [(from: "city", to: "ct"), (from: "ct.blowdown", to: "outfall")],
    )"#;
    let (_, s) = run_text(text, false);
    let k = &s.kpi;
    let expected = 1000.0 / 1020.4;
    for id in [PARK, "plant"] {
        let sc = scope(k, id);
        let v = kpi(sc, "cooling_recirculation_rate");
        assert!((v - expected).abs() < 1e-9, "{id}: {v} != {expected}");
        let r = kpi(sc, "repeated_use_rate");
        assert!((r - expected).abs() < 1e-9, "{id}: {r}");
    }
    let b = k.balance("plant").unwrap();
    assert!(
        (b.recirculated - 12_000.0).abs() < 1e-6,
        "{}",
        b.recirculated
    );
    assert!((b.intake - 12.0 * 20.4).abs() < 1e-6, "{}", b.intake);
    assert!(b.closure_error < 1e-12);
}

/// A steam system (enterprise `plant`) raising `S` = 10 t/h with a condensate return of 0.8 and
/// boiler cycles `N` = 11: condensate returned 8 t/h, so the condensate return rate is
/// 8/10 = **0.8**; blowdown `B = S/(N − 1)` = 1 t/h and make-up `M = S·(1 − 0.8) + B` = 3 m³/h
/// (1 t = 1 m³), all municipal: intake 3 × 12 = 36 m³ in 12 h, 24 m³ lost as steam and 12 m³
/// blown down. The boiler is no process, so the process-water reuse rate does not apply.
#[test]
fn condensate_return_by_hand() {
    let text = r#"Park(
        name: "kpi-steam",
        time: (step_h: 1.0, steps: 12),
        enterprises: [(id: "plant")],
        units: [
            Source(id: "city", kind: Municipal, cap_m3_per_h: 100.0),
            SteamSystem(id: "boiler", enterprise: "plant", steam_t_per_h: Const(10.0),
                        condensate_return: 0.8, cycles: 11.0),
            Discharge(id: "outfall"),
        ],
        links: [(from: "city", to: "boiler"), (from: "boiler.blowdown", to: "outfall")],
    )"#;
    let (_, s) = run_text(text, false);
    let k = &s.kpi;
    for id in [PARK, "plant"] {
        let sc = scope(k, id);
        assert_close(kpi(sc, "condensate_return_rate"), 0.8, "condensate return");
        assert!(sc.value("process_water_reuse_rate").is_none());
    }
    let b = k.balance("plant").unwrap();
    assert_close(b.intake, 36.0, "make-up");
    assert_close(b.discharge + b.drained_to_others, 12.0, "blowdown");
    assert!(b.closure_error < 1e-12);
}
