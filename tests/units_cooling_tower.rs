//! Cooling-tower physics in whole runs: the steady state `C_r = N·C_m` under every cycles
//! control, evaporation by weather, circulation drive, and the simple model's unchanged results.

use crate::common::run_text;
use approx::assert_relative_eq;
use parktwin::engine::ledger::Ledger;
use parktwin::engine::network::{ExitKind, Topology};
use parktwin::engine::record::Summary;
use parktwin::engine::sim::Simulation;
use parktwin::engine::state::{Species, Storage};
use parktwin::units::chemistry::max_cycles_by_index;

/// A tower of 20 MW over 8 °C (R = 2,150.02 m³/h) on a make-up of TDS 400, Ca 150, alkalinity
/// 100 (mg/L as CaCO3) and silica 25 mg/L, with `extra` tower fields and a `weather` section.
fn park(extra: &str, weather: &str, steps: usize) -> String {
    format!(
        r#"Park(
    name: "tower",
    time: (step_h: 1.0, steps: {steps}),
    species: ["tds", "ca", "alk", "sio2"],
    {weather}
    units: [
        Source(id: "s", kind: Surface, quality_mg_per_l: {{"tds": 400.0, "ca": 150.0, "alk": 100.0, "sio2": 25.0}}, cap_m3_per_h: 1000.0),
        CoolingTower(id: "ct", heat_load_mw: Const(20.0), range_c: 8.0, cycles: 5.0, holding_volume_m3: 200.0,
                     initial_mg_per_l: {{"tds": 400.0, "ca": 150.0, "alk": 100.0, "sio2": 25.0}} {extra}),
        Discharge(id: "out"),
    ],
    links: [
        (from: "s", to: "ct"),
        (from: "ct.blowdown", to: "out"),
    ],
)"#
    )
}

/// End-of-run concentration of species `s` in the tower's basin, mg/L.
fn basin(sim: &Simulation, species: &str) -> f64 {
    let topo = sim.resource::<Topology>();
    let sp = sim.resource::<Species>();
    let u = topo.unit_index("ct").expect("tower");
    sim.resource::<Storage>().conc_end[u * sp.len() + sp.index(species).expect("species")]
}

fn exit_m3(sim: &Simulation, kind: ExitKind) -> f64 {
    let topo = sim.resource::<Topology>();
    let u = topo.unit_index("ct").expect("tower");
    sim.resource::<Summary>().units[u].exits_m3[kind.index()]
}

/// Fixed cycles N = 5: the basin (V = 200 m³, V/(B + D) ≈ 30 h) reaches `C_r = N·C_m` =
/// 2,000 mg/L TDS, 750 Ca, 500 alkalinity, 125 silica (every species concentrated alike) to
/// 1e-9 after 2,000 h; the make-up is `M = E·N/(N − 1)` with the metric rule,
/// `E = 0.00153·2150.02·8` = 26.316 m³/h → M = 32.895 m³/h, and the circulation is booked as
/// recirculated water (2,150.02 m³/h).
#[test]
fn steady_state_is_cycles_times_makeup() {
    let (sim, summary) = run_text(&park("", "", 2000), false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    for (sp, c) in [
        ("tds", 400.0),
        ("ca", 150.0),
        ("alk", 100.0),
        ("sio2", 25.0),
    ] {
        assert_relative_eq!(basin(&sim, sp), 5.0 * c, max_relative = 1e-9);
    }
    let topo = sim.resource::<Topology>();
    let u = topo.unit_index("ct").expect("tower");
    let t = &sim.resource::<Summary>().units[u];
    let r = 20e6 / (1000.0 * 4186.0 * 8.0) * 3600.0;
    let e = 0.00153 * r * 8.0;
    assert_relative_eq!(
        t.throughput_m3,
        e * 5.0 / 4.0 * 2000.0,
        max_relative = 1e-12
    );
    assert_relative_eq!(t.recirculated_m3, r * 2000.0, max_relative = 1e-12);
}

/// Conductivity control at 1,600 mg/L TDS on a 400 mg/L make-up gives `N = 4` from the second
/// step on, so the basin settles at 1,600 mg/L TDS and 4 × every other species.
#[test]
fn conductivity_control_holds_the_setpoint() {
    let (sim, summary) = run_text(&park(", blowdown: Conductivity(1600.0)", "", 2000), false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    assert_relative_eq!(basin(&sim, "tds"), 1600.0, max_relative = 1e-9);
    assert_relative_eq!(basin(&sim, "sio2"), 100.0, max_relative = 1e-9);
}

/// A silica limit of 150 mg/L on a 25 mg/L make-up allows N = 6, above the design 5, so N stays
/// 5 (basin silica 125 mg/L); a limit of 100 mg/L caps N at 4 and the basin holds 100 mg/L
/// silica and 1,600 mg/L TDS.
#[test]
fn species_limit_caps_cycles() {
    let (sim, _) = run_text(
        &park(", scaling: (limits_mg_per_l: {\"sio2\": 150.0})", "", 2000),
        false,
    );
    assert_relative_eq!(basin(&sim, "sio2"), 125.0, max_relative = 1e-9);
    let (sim, summary) = run_text(
        &park(", scaling: (limits_mg_per_l: {\"sio2\": 100.0})", "", 2000),
        false,
    );
    assert!(summary.balance.max_relative_residual <= 1e-9);
    assert_relative_eq!(basin(&sim, "sio2"), 100.0, max_relative = 1e-9);
    assert_relative_eq!(basin(&sim, "tds"), 1600.0, max_relative = 1e-9);
}

/// An LSI limit of 1.0 at the hot-water temperature `T_wb + approach + range = 20 + 5 + 8 =
/// 33 °C` with pH_eq: the steady-state cycles equal the closed form
/// `N = 10^((1.0 − LSI(1))/3.365)` for the make-up (TDS 400, Ca 150, alkalinity 100), about
/// 2.2 here, and an inhibitor's credit of 0.5 raises them by `10^(0.5/3.365)` = 1.408×.
#[test]
fn langelier_limit_sets_cycles() {
    let weather = "weather: (dry_bulb_c: Const(28.0), wet_bulb_c: Const(20.0)),";
    let lim = ", scaling: (calcium: \"ca\", alkalinity: \"alk\", lsi_max: 1.0)";
    let ten = |t: String| t.replace("cycles: 5.0", "cycles: 10.0");
    let (sim, summary) = run_text(&ten(park(lim, weather, 2000)), false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    let n = max_cycles_by_index(400.0, 150.0, 100.0, 33.0, None, Some(1.0), None);
    assert!(n > 2.0 && n < 5.0, "{n}");
    assert_relative_eq!(basin(&sim, "tds") / 400.0, n, max_relative = 1e-9);
    let with = format!("{lim}, inhibitor: (lsi_credit: 0.5)");
    let (sim, _) = run_text(&ten(park(&with, weather, 2000)), false);
    let n2 = max_cycles_by_index(400.0, 150.0, 100.0, 33.0, None, Some(1.5), None);
    assert_relative_eq!(n2 / n, 10f64.powf(0.5 / 3.365), max_relative = 1e-9);
    assert_relative_eq!(basin(&sim, "tds") / 400.0, n2, max_relative = 1e-9);
}

/// GB/T 50050 evaporation under an hourly dry bulb alternating 25 °C and 35 °C:
/// `k = 0.00145` and `0.00155`, so over 100 h `E = 50·(0.00145 + 0.00155)·8·R` =
/// 1.2·R m³ (R = 2,150.02 m³/h) = 2,580.0 m³.
#[test]
fn gbt50050_evaporation_follows_weather() {
    let temps: Vec<String> = (0..100)
        .map(|k| if k % 2 == 0 { "25.0" } else { "35.0" }.to_string())
        .collect();
    let weather = format!("weather: (dry_bulb_c: Hourly([{}])),", temps.join(", "));
    let (sim, summary) = run_text(&park(", evaporation: GbT50050", &weather, 100), false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    let r = 20e6 / (1000.0 * 4186.0 * 8.0) * 3600.0;
    assert_relative_eq!(
        exit_m3(&sim, ExitKind::Evaporation),
        50.0 * (0.00145 + 0.00155) * 8.0 * r,
        max_relative = 1e-12
    );
}

/// Latent heat with share 0.85: `E = 0.85·20e6/2.4e6·3600/1000` = 25.5 m³/h.
#[test]
fn latent_heat_evaporation() {
    let (sim, _) = run_text(&park(", evaporation: LatentHeat(0.85)", "", 10), false);
    assert_relative_eq!(
        exit_m3(&sim, ExitKind::Evaporation),
        255.0,
        max_relative = 1e-12
    );
}

/// Driven by circulation × range instead of heat load: 2,000 m³/h over 8 °C gives
/// `E = 0.00153·2000·8` = 24.48 m³/h and the circulation booked as recirculated water.
#[test]
fn circulation_drive() {
    let text = park("", "", 10).replace(
        "heat_load_mw: Const(20.0)",
        "circulation_m3_per_h: Const(2000.0)",
    );
    let (sim, summary) = run_text(&text, false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    assert_relative_eq!(
        exit_m3(&sim, ExitKind::Evaporation),
        244.8,
        max_relative = 1e-12
    );
    let topo = sim.resource::<Topology>();
    let u = topo.unit_index("ct").expect("tower");
    assert_relative_eq!(
        sim.resource::<Summary>().units[u].recirculated_m3,
        20_000.0,
        max_relative = 1e-12
    );
}

/// Every species closes on the tower and the park whatever the control: the ledger's
/// residuals are at rounding level.
#[test]
fn tower_balances_close_under_limits() {
    let weather = "weather: (dry_bulb_c: Seasonal(mean: 15.0, annual_amplitude: 12.0), wet_bulb_c: Seasonal(mean: 10.0, annual_amplitude: 10.0)),";
    let text = park(
        ", evaporation: GbT50050, blowdown: Conductivity(2400.0), scaling: (calcium: \"ca\", alkalinity: \"alk\", lsi_max: 1.2, limits_mg_per_l: {\"sio2\": 150.0}), inhibitor: ()",
        weather,
        8760,
    );
    let (sim, summary) = run_text(&text, false);
    assert!(summary.balance.max_relative_residual <= 1e-9);
    assert_eq!(sim.resource::<Ledger>().violations, 0);
}
