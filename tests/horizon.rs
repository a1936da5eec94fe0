//! The `horizon` strategy (rolling-horizon LP): conservation, a one-step window equals
//! `optimal`, foresight on a tank park worth a saving computed by hand, `every`, an
//! infeasible window, and selection from a scenario and the strategy section.

use crate::common::{error_of, run, run_strategy_override, run_text, run_with, valid, withdrawn};
use parktwin::engine::diagnostics::DiagnosticKind;
use parktwin::engine::strategy::horizon::Horizon;
use parktwin::parks::strategies::{HorizonSpec, StrategySpec, horizon_config};
use parktwin::parks::summary::RunSummary;
use parktwin::parks::validate::ValidPark;

/// `horizon` with window `steps` (and the park's own weights and fresh sources).
fn run_window(valid: ValidPark, steps: usize, every: usize) -> RunSummary {
    let mut spec: StrategySpec = valid.strategy.clone().unwrap_or_default();
    spec.horizon = Some(HorizonSpec { steps, every });
    let s = Horizon::new(horizon_config(&spec, &valid));
    run_with(valid, Box::new(s))
}

/// Fresh water of a run: withdrawals of every source of kind Municipal, Groundwater or
/// Surface (the LP's default fresh sources), m³.
fn fresh(valid: &ValidPark, summary: &RunSummary) -> f64 {
    let spec = valid.strategy.clone().unwrap_or_default();
    let config = horizon_config(&spec, valid);
    (0..valid.topology.n_units())
        .filter(|&u| config.optimal.fresh[u])
        .map(|u| withdrawn(summary, &valid.topology.unit_id[u]))
        .sum()
}

fn assert_closes(s: &RunSummary, label: &str) {
    assert_eq!(s.strategy, "horizon", "{label}");
    assert!(
        s.balance.max_relative_residual <= 1e-9,
        "{label}: residual {}",
        s.balance.max_relative_residual
    );
    assert_eq!(s.diagnostics.get("closure_violation"), None, "{label}");
    assert_eq!(s.diagnostics.get("non_finite"), None, "{label}");
}

/// The ledger closes every unit's water and species balance to a relative 1e-9 under
/// `horizon` (H = 24) on the demo park (48 h), the coastal park (two tanks, 24 h) and the
/// tank park of `scenarios/horizon_tank.ron`.
#[test]
fn horizon_conserves_water_and_species() {
    for (label, v) in [
        ("demo", valid("scenarios/demo_park.ron", Some(48))),
        ("coastal", valid("scenarios/coastal_park.ron", Some(24))),
        ("tank", valid("scenarios/horizon_tank.ron", None)),
    ] {
        let s = run_window(v, 24, 1);
        assert_closes(&s, label);
        assert_eq!(s.diagnostics.get("infeasible"), None, "{label}");
    }
}

/// A one-step window is the one-step LP: built with the same variables, constraints and
/// objective in the same order, it takes the same fresh water as `optimal` on the demo park
/// (96 h) and the tank park, to a relative 1e-9 (solver rounding; in practice identical), and
/// costs the tank park the same 300 yuan.
#[test]
fn a_one_step_window_takes_the_fresh_water_of_optimal() {
    for (label, path, steps) in [
        ("demo", "scenarios/demo_park.ron", Some(96)),
        ("tank", "scenarios/horizon_tank.ron", None),
    ] {
        let v = valid(path, steps);
        let one = run_window(v.clone(), 1, 1);
        let opt = run(v.clone(), "optimal");
        assert_closes(&one, label);
        let (a, b) = (fresh(&v, &one), fresh(&v, &opt));
        assert!(b > 0.0, "{label}: some fresh water is drawn");
        assert!(
            ((a - b) / b).abs() <= 1e-9,
            "{label}: horizon(H=1) {a} m³ against optimal {b} m³"
        );
    }
    let v = valid("scenarios/horizon_tank.ron", None);
    let one = run_window(v, 1, 1);
    let money = withdrawn(&one, "well") * 1.0 + withdrawn(&one, "city") * 4.0;
    assert!((money - 300.0).abs() < 1e-6, "{money}");
}

/// Foresight on `scenarios/horizon_tank.ron` (its comments give the hand calculation):
/// `optimal` leaves the tank empty in the idle hours (filling costs 1 yuan/m³ against a storage
/// value of 0.5) and buys 60 m³ of city water at 4 yuan/m³: well 60 m³, city 60 m³, 300 yuan.
/// `horizon` (12-step window) fills the 60 m³ tank from the well in hours 0–5 and draws it in
/// hours 6–11: well 120 m³, city 0, 120 yuan; the saving is 60·(4 − 1) = 180 yuan. Absolute
/// tolerance 1e-6 m³ and yuan (LP rounding on 12 steps).
#[test]
fn foresight_fills_the_tank_ahead_of_the_shift() {
    let v = valid("scenarios/horizon_tank.ron", None);
    let h = run(v.clone(), "horizon");
    let o = run(v.clone(), "optimal");
    assert_closes(&h, "horizon");
    let money = |s: &RunSummary| withdrawn(s, "well") * 1.0 + withdrawn(s, "city") * 4.0;
    for (s, well, city, yuan) in [(&h, 120.0, 0.0, 120.0), (&o, 60.0, 60.0, 300.0)] {
        assert!(
            (withdrawn(s, "well") - well).abs() < 1e-6,
            "{}: well",
            s.strategy
        );
        assert!(
            (withdrawn(s, "city") - city).abs() < 1e-6,
            "{}: city",
            s.strategy
        );
        assert!((money(s) - yuan).abs() < 1e-6, "{}: money", s.strategy);
        assert!(
            (s.cost_total_yuan - yuan).abs() < 1e-6,
            "{}: summary cost",
            s.strategy
        );
        assert!(
            s.water_m3.unmet_demand.abs() < 1e-9,
            "{}: demand met",
            s.strategy
        );
    }
    assert!((money(&o) - money(&h) - 180.0).abs() < 1e-6, "saving");
    // The same fresh water (both sources are fresh): foresight moves it to the cheap source.
    assert!((fresh(&v, &h) - fresh(&v, &o)).abs() < 1e-6);
    // Solving every 6 steps and applying the plan's first 6 steps in turn gives the same.
    let every = run_window(v, 12, 6);
    assert_closes(&every, "every 6");
    assert!((money(&every) - 120.0).abs() < 1e-6, "{}", money(&every));
}

/// A window the park cannot serve (the mill needs 5 m³/h now and 20 m³/h from the next step,
/// the only well gives 10) is an `infeasible` diagnostic naming the unit, the shortfall and
/// the step; the one-step `optimal` LP allocates instead: step 0 is served (5 m³/h), steps 1
/// and 2 are infeasible for it too and fall to the priority cascade (10 m³/h each, 10 short).
/// Diagnostics: one per step from `horizon` and one each at steps 1–2 from `optimal` = 5.
#[test]
fn an_infeasible_window_falls_back_to_optimal() {
    let text = r#"Park(
        name: "short ahead", time: (steps: 3),
        units: [
            Source(id: "well", kind: Groundwater, cap_m3_per_h: 10.0),
            Process(id: "mill", production_per_h: Hourly([5.0, 20.0, 20.0]), water_m3_per_unit: 1.0,
                    consumptive_fraction: 0.5),
            Discharge(id: "out"),
        ],
        links: [(from: "well", to: "mill"), (from: "mill.waste", to: "out")],
        strategy: (name: "horizon", horizon: (steps: 3)),
    )"#;
    let (_, s) = run_text(text, false);
    assert_eq!(s.strategy, "horizon");
    assert_eq!(s.diagnostics.get("infeasible"), Some(&5));
    let first = s
        .diagnostics_first
        .iter()
        .find(|d| d.kind == DiagnosticKind::Infeasible)
        .expect("an infeasible diagnostic");
    assert_eq!(first.step, 0);
    assert!(
        first
            .message
            .starts_with("horizon: the window LP is infeasible")
            && first.message.contains("mill short 10.000 m³/h at step 1")
            && first.message.contains("optimal LP allocated this step"),
        "{}",
        first.message
    );
    assert!((withdrawn(&s, "well") - 25.0).abs() < 1e-9);
    assert!((s.water_m3.unmet_demand - 20.0).abs() < 1e-9);
    assert!(s.balance.max_relative_residual <= 1e-9);
}

/// A scenario override selects `horizon` on the Polley & Polley (2000) problem, where it reaches
/// the same published 70 t/h as `optimal` (constant inputs: foresight has nothing to add);
/// a window outside its bounds is an error naming the item.
#[test]
fn a_scenario_selects_horizon_and_bad_windows_are_named() {
    let (s, hours) =
        run_strategy_override("scenarios/literature/polley_polley_2000.ron", "horizon");
    assert_eq!(s.strategy, "horizon");
    let f = withdrawn(&s, "fresh") / hours;
    assert!(((f - 70.0) / 70.0).abs() <= 1e-6, "{f} t/h");
    for (window, item) in [
        ("(steps: 0)", "strategy.horizon.steps"),
        ("(steps: 4, every: 5)", "strategy.horizon.every"),
        ("(steps: 1000)", "strategy.horizon.steps"),
    ] {
        let bad = error_of(&format!(
            r#"Park(name: "x", time: (steps: 1), units: [Source(id: "s", kind: Municipal, cap_m3_per_h: 1.0)],
               strategy: (name: "horizon", horizon: {window}))"#
        ));
        assert!(bad.contains(item) && bad.contains("out of range"), "{bad}");
    }
}

/// An annual permit seen ahead: a cheap well (20 m³/h, permit 60 m³) and city water capped at
/// 10 m³/h; the mill needs 10 m³/h in hours 0–5 and 20 m³/h in hours 6–8. By hand: `optimal`
/// spends the permit in hours 0–5 (well 60 m³), so in hours 6–8 the city's 10 m³/h is all there
/// is: 3 infeasible steps, 30 m³ unmet, city 30 m³. `horizon` (9-step window) keeps 30 m³ of
/// the permit for the shift: well 30 m³ in hours 0–5 and 30 m³ in hours 6–8 (60 m³), city
/// 30 m³ in hours 0–5 and 30 m³ in hours 6–8 (60 m³), nothing unmet. Absolute tolerance 1e-6 m³.
#[test]
fn an_annual_permit_is_kept_for_the_hours_that_need_it() {
    let text = |strategy: &str| {
        format!(
            r#"Park(
        name: "permit", time: (steps: 9),
        units: [
            Source(id: "well", kind: Groundwater, cap_m3_per_h: 20.0, annual_cap_m3: 60.0,
                   price_yuan_per_m3: 1.0),
            Source(id: "city", kind: Municipal, cap_m3_per_h: 10.0, price_yuan_per_m3: 4.0),
            Process(id: "mill", production_per_h: Hourly([10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 20.0, 20.0, 20.0]),
                    water_m3_per_unit: 1.0, consumptive_fraction: 0.5),
            Discharge(id: "out"),
        ],
        links: [(from: "well", to: "mill"), (from: "city", to: "mill", priority: 10),
                (from: "mill.waste", to: "out")],
        strategy: (name: "{strategy}", weights: (fresh_water: 0.0, money: 1.0), horizon: (steps: 9)),
    )"#
        )
    };
    let (_, o) = run_text(&text("optimal"), false);
    let (_, h) = run_text(&text("horizon"), false);
    assert_eq!(o.diagnostics.get("infeasible"), Some(&3));
    assert!(
        (o.water_m3.unmet_demand - 30.0).abs() < 1e-6,
        "{}",
        o.water_m3.unmet_demand
    );
    assert!((withdrawn(&o, "well") - 60.0).abs() < 1e-6);
    assert!((withdrawn(&o, "city") - 30.0).abs() < 1e-6);
    assert_closes(&h, "permit");
    assert_eq!(h.diagnostics.get("infeasible"), None);
    assert!(
        h.water_m3.unmet_demand.abs() < 1e-6,
        "{}",
        h.water_m3.unmet_demand
    );
    assert!(
        (withdrawn(&h, "well") - 60.0).abs() < 1e-6,
        "{}",
        withdrawn(&h, "well")
    );
    assert!(
        (withdrawn(&h, "city") - 60.0).abs() < 1e-6,
        "{}",
        withdrawn(&h, "city")
    );
}
