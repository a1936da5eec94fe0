//! The bundled parks that use the unit library: the coastal chemical park and the extended demo
//! park run a year with exact balances and report energy and carbon by origin.

use parktwin::engine::diagnostics::DiagnosticKind;
use parktwin::parks::build::BuildOptions;
use parktwin::parks::load_and_build;
use parktwin::parks::summary::{RunSummary, summarize};
use std::path::Path;

fn run(file: &str) -> RunSummary {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let mut built = load_and_build(&path, BuildOptions::default())
        .unwrap_or_else(|e| panic!("{file} should load: {e}"));
    built.sim.run();
    summarize(&built.sim, &built.meta)
}

/// The coastal park (seawater RO, MED on waste heat, towers on blended make-up, MBR + UF/RO
/// reuse, rainwater storage, PV) runs 8,760 hourly steps with every unit and the park closing to
/// 1e-9; its summary reports electricity, heat and on-site generation and CO2e by origin: the
/// grid (imports × 0.55 kg/kWh), heat (the refinery's own gas boiler only: the MED runs on waste
/// heat), chemicals, and direct N2O/CH4 of the MBR under "other". No demand goes unmet and the
/// outfall meets its permit.
#[test]
fn coastal_park_runs_a_year_closed() {
    let s = run("coastal_park.ron");
    assert!(
        s.balance.max_relative_residual <= 1e-9,
        "{}",
        s.balance.max_relative_residual
    );
    assert_eq!(s.balance.violations, 0);
    assert_eq!(s.water_m3.unmet_demand, 0.0);
    let count = |k: DiagnosticKind| {
        let name = serde_json::to_value(k).expect("kind");
        s.diagnostics
            .get(name.as_str().expect("name"))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(count(DiagnosticKind::PermitExceeded), 0);
    assert_eq!(count(DiagnosticKind::Physics), 0);
    assert!(s.energy.electricity_kwh > 0.0 && s.energy.heat_kwh > 0.0);
    assert!(s.energy.generation_kwh > 0.0);
    assert!(s.energy.grid_import_kwh < s.energy.electricity_kwh);
    assert!(s.co2e_kg.electricity > 0.0);
    assert!(s.co2e_kg.heat > 0.0);
    assert!(s.co2e_kg.chemicals > 0.0);
    assert!(s.co2e_kg.other > 0.0);
    // Grid carbon is the import after PV at the East China factor.
    approx::assert_relative_eq!(
        s.co2e_kg.electricity,
        s.energy.grid_import_kwh * 0.55,
        max_relative = 1e-9
    );
    for kind in ["seawater", "rainwater", "surface"] {
        assert!(
            s.water_m3.by_source_kind.get(kind).copied().unwrap_or(0.0) > 0.0,
            "{kind}"
        );
    }
    eprintln!(
        "coastal park: electricity {:.3} GWh (PV {:.3}, grid {:.3}), heat {:.1} GWh_th, CO2e {:.1} t \
         (electricity {:.1}, heat {:.1}, chemicals {:.1}, other {:.1}), cost {:.3} M yuan",
        s.energy.electricity_kwh / 1e6,
        s.energy.generation_kwh / 1e6,
        s.energy.grid_import_kwh / 1e6,
        s.energy.heat_kwh / 1e6,
        s.co2e_total_t,
        s.co2e_kg.electricity / 1e3,
        s.co2e_kg.heat / 1e3,
        s.co2e_kg.chemicals / 1e3,
        s.co2e_kg.other / 1e3,
        s.cost_total_yuan / 1e6
    );
}

/// The extended demo park (GB/T 50050 evaporation under Tianjin weather, UF + RO reuse with the
/// pressure model) still closes to 1e-9 with no unmet demand and no permit exceedance.
#[test]
fn demo_park_runs_a_year_closed() {
    let s = run("demo_park.ron");
    assert!(s.balance.max_relative_residual <= 1e-9);
    assert_eq!(s.water_m3.unmet_demand, 0.0);
    assert!(!s.diagnostics.contains_key("permit_exceeded"));
    assert!(!s.diagnostics.contains_key("physics"));
}

/// The coastal park's seeded stochastic rain makes no run differ from another: two runs give
/// the same JSON summary, bit for bit.
#[test]
fn coastal_park_is_deterministic() {
    let a = serde_json::to_string(&run("coastal_park.ron")).expect("json");
    let b = serde_json::to_string(&run("coastal_park.ron")).expect("json");
    assert_eq!(a, b);
}
