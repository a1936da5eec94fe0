//! Bad input: every class of error is reported with its place, all at once, and never panics.

use crate::common::error_of;

const GOOD: &str = r#"Park(
    name: "ok",
    time: (steps: 24),
    units: [
        Source(id: "s", kind: Municipal, cap_m3_per_h: 100.0),
        Process(id: "p", production_per_h: Const(1.0), water_m3_per_unit: 10.0),
        Discharge(id: "out"),
    ],
    links: [
        (from: "s", to: "p"),
        (from: "p.waste", to: "out"),
    ],
)"#;

#[test]
fn the_reference_park_is_valid() {
    crate::common::run_text(GOOD, false);
}

/// A syntax error names the file, line and column: here a missing comma on line 5, found where
/// the next field starts (column 41).
#[test]
fn syntax_error_has_line_and_column() {
    let text = GOOD.replace("kind: Municipal,", "kind: Municipal");
    let e = error_of(&text);
    assert!(e.starts_with("test.ron:5:41: "), "{e}");
}

/// An unknown field is refused (deny_unknown_fields) with its position.
#[test]
fn unknown_field_is_refused() {
    let e = error_of(&GOOD.replace("cap_m3_per_h: 100.0", "cap_m3_per_h: 100.0, colour: 3.0"));
    assert!(e.starts_with("test.ron:5:") && e.contains("colour"), "{e}");
}

#[test]
fn unknown_unit_in_link() {
    let e = error_of(&GOOD.replace("(from: \"s\", to: \"p\")", "(from: \"s\", to: \"q\")"));
    assert!(e.contains(r#"links[0] "s->q".to: unknown unit "q""#), "{e}");
    assert!(e.contains("1 problem found"), "{e}");
}

#[test]
fn unlinked_outlet_is_dangling() {
    let e = error_of(&GOOD.replace("(from: \"p.waste\", to: \"out\"),", ""));
    assert!(
        e.contains(r#"units[1] "p""#) && e.contains("p.waste is not linked"),
        "{e}"
    );
}

#[test]
fn doubly_connected_port() {
    let e = error_of(&GOOD.replace(
        "(from: \"p.waste\", to: \"out\"),",
        "(from: \"p.waste\", to: \"out\"), (id: \"again\", from: \"p.waste\", to: \"out\"),",
    ));
    assert!(
        e.contains("\"again\"") && e.contains("same port and unit"),
        "{e}"
    );
}

#[test]
fn unknown_port() {
    let e = error_of(&GOOD.replace("p.waste", "p.effluent"));
    assert!(
        e.contains("has no outlet \"effluent\"") && e.contains("waste"),
        "{e}"
    );
}

#[test]
fn impossible_values_are_named_by_item_path() {
    let text = GOOD
        .replace("cap_m3_per_h: 100.0", "cap_m3_per_h: -5.0")
        .replace(
            "water_m3_per_unit: 10.0",
            "water_m3_per_unit: 10.0, consumptive_fraction: NaN",
        );
    let e = error_of(&text);
    assert!(
        e.contains(r#"units[0] "s".cap_m3_per_h: -5 is out of range"#),
        "{e}"
    );
    assert!(
        e.contains(r#"units[1] "p".consumptive_fraction: NaN is out of range"#),
        "{e}"
    );
    assert!(e.contains("2 problems found"), "{e}");
}

#[test]
fn recovery_outside_unit_interval() {
    let text = GOOD
        .replace(
            "Discharge(id: \"out\"),",
            "Discharge(id: \"out\"), Treatment(id: \"t\", recovery: 1.5),",
        )
        .replace("(from: \"p.waste\", to: \"out\"),", "(from: \"p.waste\", to: \"t\"), (from: \"t.product\", to: \"out\"), (from: \"t.reject\", to: \"out\"),");
    let e = error_of(&text);
    assert!(
        e.contains(r#"units[3] "t".recovery: 1.5 is out of range"#),
        "{e}"
    );
}

#[test]
fn series_of_wrong_length() {
    let e = error_of(&GOOD.replace("Const(1.0)", "Hourly([1.0, 2.0, 3.0])"));
    assert!(
        e.contains(r#"units[1] "p".production_per_h: has 3 values but the horizon has 24 steps"#),
        "{e}"
    );
}

#[test]
fn unknown_species_and_enterprise() {
    let e = error_of(&GOOD.replace(
        "cap_m3_per_h: 100.0",
        "cap_m3_per_h: 100.0, quality_mg_per_l: {\"nitrate\": 3.0}, enterprise: \"acme\"",
    ));
    assert!(e.contains("unknown species \"nitrate\""), "{e}");
    assert!(e.contains("unknown enterprise \"acme\""), "{e}");
}

#[test]
fn duplicate_ids() {
    let e = error_of(&GOOD.replace("Discharge(id: \"out\")", "Discharge(id: \"p\")"));
    assert!(e.contains("id is also used by units[1]"), "{e}");
}

/// A recycle loop whose only exit is evaporation would concentrate salt without limit.
#[test]
fn loop_without_purge_is_rejected() {
    let text = r#"Park(
    name: "no purge",
    time: (steps: 24),
    units: [
        Source(id: "s", kind: Municipal, cap_m3_per_h: 100.0),
        Process(id: "p", production_per_h: Const(1.0), water_m3_per_unit: 10.0, consumptive_fraction: 0.1),
        Mixer(id: "m"),
    ],
    links: [
        (from: "s", to: "p"),
        (from: "p.waste", to: "m"),
        (from: "m", to: "p"),
    ],
)"#;
    let e = error_of(text);
    assert!(e.contains("has no purge"), "{e}");
}

/// Water pulled from a source needs a consumer that draws it.
#[test]
fn supply_into_a_unit_that_does_not_draw() {
    let e = error_of(&GOOD.replace(
        "(from: \"s\", to: \"p\"),",
        "(from: \"s\", to: \"p\"), (from: \"s\", to: \"out\"),",
    ));
    assert!(e.contains("does not draw water"), "{e}");
}

#[test]
fn bad_time_axis() {
    let e = error_of(&GOOD.replace(
        "time: (steps: 24)",
        "time: (start: \"2025-13-01T00:00\", step_h: 0.0, steps: 0)",
    ));
    assert!(
        e.contains("time.start") && e.contains("time.step_h") && e.contains("time.steps"),
        "{e}"
    );
}

/// A step shorter than one second is refused by name, whatever its size: a denormal step
/// (`1e-320` h, which a fuzz run found) used to validate and turn every balance NaN, since
/// `1/Δt` overflows to infinity. A step of one second (0.00027778 h) is accepted.
#[test]
fn a_step_shorter_than_a_second_is_refused() {
    for dt in ["1e-320", "1e-300", "0.0002"] {
        let e = error_of(&GOOD.replace(
            "time: (steps: 24)",
            &format!("time: (step_h: {dt}, steps: 24)"),
        ));
        assert!(
            e.contains("time.step_h") && e.contains("shorter than one second"),
            "{dt}: {e}"
        );
    }
    let one_second = GOOD.replace("time: (steps: 24)", "time: (step_h: 0.00027778, steps: 24)");
    let file =
        parktwin::parks::load::from_str(&one_second, std::path::Path::new("park.ron")).unwrap();
    assert!(parktwin::parks::validate::validate(&file).is_ok());
}

/// A nonzero number below 1e-30 in magnitude is refused by name, as a field and inside a driver
/// series: a fuzz case, `water_m3_per_unit: 1e-320` (subnormal), validated and drove a cooling
/// tower's concentrations to NaN. Zero itself stays valid.
#[test]
fn a_vanishing_number_is_refused() {
    let field = GOOD.replace("water_m3_per_unit: 10.0", "water_m3_per_unit: 1e-320");
    let e = error_of(&field);
    assert!(
        e.contains("\"p\".water_m3_per_unit") && e.contains("too small"),
        "{e}"
    );
    let driver = GOOD.replace("Const(1.0)", "Const(1e-31)");
    let e = error_of(&driver);
    assert!(
        e.contains("\"p\".production_per_h") && e.contains("too small"),
        "{e}"
    );
    crate::common::run_text(&GOOD.replace("Const(1.0)", "Const(1e-30)"), false);
}

/// No input makes the loader panic: a sample of mangled files.
#[test]
fn mangled_inputs_do_not_panic() {
    let mangles = [
        String::new(),
        "Park(".to_string(),
        GOOD.replace("Municipal", "Lava"),
        GOOD.replace("24", "99999999999999999999"),
        GOOD.replace("100.0", "1e400"),
        GOOD.replace("\"s\"", "\"\""),
        GOOD[..GOOD.len() / 2].to_string(),
    ];
    for m in mangles {
        let r = std::panic::catch_unwind(|| crate::common::build_text(&m, false).map(|_| ()));
        assert!(r.is_ok(), "panicked on {m:?}");
        assert!(r.unwrap().is_err(), "accepted {m:?}");
    }
}
