//! Smart dosing and make-up (issue #7 part 6; `parks::dosing`, `units::dosing`): the controller
//! holds the recirculating LSI in its band through a heat wave, fixed cycles do not, smart
//! control uses less make-up than the fixed cycles that keep the index under the band's top
//! through the heat wave, balances close, and parks without a controller are unchanged.

use crate::common::{assert_json_close, bin, error_of};
use parktwin::parks::dosing::{Comparison, band_stats, compare};
use parktwin::parks::load::from_path;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// `scenarios/smart_dosing.ron` (target LSI 1.8, heat load × 1.4 and +4–5 °C air from hour
/// 240 to 408, conductivity sensor σ 20 µS/cm) against fixed cycles 3.6 (where the controller
/// settles before the heat wave) and 2.9 (the highest cycles, to 0.05, whose LSI stays ≤ 2.0
/// through the heat wave), with statistics after 72 h.
fn comparison() -> Comparison {
    let file = from_path(&scenario("smart_dosing.ron")).expect("scenario loads");
    compare(&file, &[3.6, 2.9], 0.2, 72).expect("comparison runs")
}

/// The basin's time constant `τ = V/(B + D) = V·(N − 1)/E` is longest at the upper bound
/// `N = 5`: `E = 0.00153·R·ΔT` with `R = 10 MW/(ρ·c_p·8 °C)` = 1,075.0 m³/h, so E = 13.158 m³/h
/// and τ = 200·4/13.158 = 60.8 h < 72 h: the band is checked from the end of the first time
/// constant on, at every step, on the true (noise-free) LSI of the basin at the hot-water
/// temperature. The controller holds 1.8 ± 0.2 (observed 1.69–1.86); fixed cycles 3.6 leave
/// the band in the heat wave (LSI above 2.0) and 2.9 leave it below (under 1.6) outside it.
#[test]
fn controller_holds_lsi_band_through_heat_wave() {
    let r = 10e6 / (1000.0 * 4186.0 * 8.0) * 3600.0;
    let tau = 200.0 * 4.0 / (0.00153 * r * 8.0);
    assert!(tau < 72.0, "{tau}");
    let c = comparison();
    assert_eq!(c.variants.len(), 3);
    let smart = &c.variants[0].towers[0];
    let (lo, hi, out) = band_stats(&smart.lsi, 72, 1.8, 0.2);
    assert_eq!(out, 0, "smart control left the band: LSI {lo:.3}–{hi:.3}");
    assert!(smart.lsi.len() == 672 && smart.controller.len() == 672);
    // In the heat wave the controller lowers the cycles (more blowdown), after it raises them.
    let mean = |a: usize, b: usize| smart.cycles[a..b].iter().sum::<f64>() / (b - a) as f64;
    let (before, during, after) = (mean(168, 240), mean(300, 408), mean(600, 672));
    assert!(
        during < before - 0.5 && after > during + 0.5,
        "{before} {during} {after}"
    );
    // Fixed cycles at the controller's pre-heat-wave setting exceed the band in the heat wave.
    let (_, hi36, out36) = band_stats(&c.variants[1].towers[0].lsi, 72, 1.8, 0.2);
    assert!(
        hi36 > 2.1 && out36 > 100,
        "fixed 3.6: max {hi36}, {out36} steps out"
    );
    // The conservative fixed cycles stay under the top but fall under the bottom outside it.
    let (lo29, hi29, out29) = band_stats(&c.variants[2].towers[0].lsi, 72, 1.8, 0.2);
    assert!(
        hi29 <= 2.0 && lo29 < 1.6 && out29 > 0,
        "fixed 2.9: {lo29}–{hi29}"
    );
}

/// Smart control saves make-up and blowdown against the conservative fixed cycles (2.9), and
/// uses more than fixed 3.6, which saves water only by running above the band; its inhibitor
/// is booked on the schedule (the chemicals, their cost and carbon reach the park totals).
/// Observed: make-up 14,437 m³ smart, 14,846 at 2.9, 13,467 at 3.6 (docs/dosing.md).
#[test]
fn smart_control_saves_make_up_against_conservative_fixed_cycles() {
    let c = comparison();
    let (s, f36, f29) = (
        &c.variants[0].towers[0],
        &c.variants[1].towers[0],
        &c.variants[2].towers[0],
    );
    assert!(
        s.makeup_m3 < f29.makeup_m3 - 200.0,
        "{} {}",
        s.makeup_m3,
        f29.makeup_m3
    );
    assert!(s.blowdown_m3 < f29.blowdown_m3);
    assert!(s.makeup_m3 > f36.makeup_m3);
    // Make-up = evaporation + blowdown + drift (drift 0.0001·R ≈ 0.1075 m³/h at load 1).
    for t in [s, f36, f29] {
        let drift = t.makeup_m3 - t.evaporation_m3 - t.blowdown_m3;
        assert!(
            drift > 0.0 && drift < 0.0001 * 1075.1 * 1.4 * 672.0,
            "{drift}"
        );
    }
    // The inhibitor booked equals the controller's record, and its schedule is in [0, 1].
    let logged: f64 = s.controller.iter().map(|d| d.inhibitor_kg).sum();
    assert!(
        (logged - s.chemicals_kg).abs() <= 1e-9 * s.chemicals_kg,
        "{logged}"
    );
    assert!(
        s.controller
            .iter()
            .all(|d| (0.0..=1.0).contains(&d.schedule))
    );
    assert!(s.chemicals_yuan > 0.0 && s.chemicals_co2e_kg > 0.0);
}

/// Water and species balances close in every variant: the ledger's worst relative residual
/// (water and each species, every unit and the park, every step) is at most 1e-9 with no
/// violation. The noisy sensor is seeded, so a second run is bit-identical.
#[test]
fn balances_close_under_smart_and_fixed_control() {
    let (a, b) = (comparison(), comparison());
    let bits = |c: &Comparison| -> Vec<u64> {
        let t = &c.variants[0].towers[0];
        t.lsi.iter().chain(&t.cycles).map(|x| x.to_bits()).collect()
    };
    assert_eq!(bits(&a), bits(&b));
    for v in a.variants {
        assert!(
            v.max_relative_residual <= 1e-9 && v.violations == 0,
            "{}: {} ({} violations)",
            v.name,
            v.max_relative_residual,
            v.violations
        );
    }
}

/// Without a controller results are unchanged: `parktwin run PARK --json` for the demo, coastal
/// (scaling limits and inhibitor) and metered parks, without the `balance` report, agrees with
/// the stored summaries in `tests/golden/` to 1e-9 relative ([`assert_json_close`]: each number
/// to 1e-9 of itself or of the largest number beside it). The stored summaries are the ones
/// this test used to pin bit for bit by their SHA-256 (checked here, so they are provably those
/// outputs): the binary at 89139e1, whose whole outputs hash to the first pins, taken with the
/// `main` binary at commit 746d3a9 before the controller existed (demo d329a8e8…, coastal
/// d7ed2b12…, metered 8495aeea…). A tolerance instead of a hash lets the engine reassociate its
/// sums (speed work moves last bits, 1e-15 relative) while any change of a result beyond
/// rounding still fails.
#[test]
fn parks_without_controller_are_unchanged() {
    for (park, pin) in [
        (
            "demo_park",
            "62ae3ef5c76d623edf8bfddc6d607304f49db6001c23a24e334a9397f61efc06",
        ),
        (
            "coastal_park",
            "420bd44dd8a51b686bc548450855d67eb3a9086133a236c2b5bfd35a8a6ab85d",
        ),
        (
            "metered_park",
            "c31fbc0a1c80c25ee6e89c8d3ce6d6635a7be7ee53ebdb5983bed948bcea7b28",
        ),
    ] {
        let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(format!("{park}.summary.json"));
        let text = std::fs::read_to_string(&golden).expect("golden summary");
        let golden: serde_json::Value = serde_json::from_str(&text).expect("golden JSON");
        assert_eq!(
            digest(&golden),
            pin,
            "{park}: the stored summary is the pinned one"
        );
        let out = Command::new(bin())
            .args(["run", "--json"])
            .arg(scenario(&format!("{park}.ron")))
            .output()
            .expect("parktwin runs");
        assert!(out.status.success(), "{park}");
        let mut now: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
        now.as_object_mut().expect("an object").remove("balance");
        assert_json_close(&golden, &now, 1e-9, park);
    }
}

/// SHA-256 of a summary as compact JSON text. The `balance` report (the worst closure residual
/// and where) is left out of the stored summaries: it changed on purpose when the park's judge
/// took its units' stored amounts into its scale.
fn digest(v: &serde_json::Value) -> String {
    let text = serde_json::to_string(v).expect("serialises");
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The controller needs the calcium and alkalinity species and a declared conductivity meter
/// as its sensor; a target above the inhibited limit is refused.
#[test]
fn smart_control_options_are_checked() {
    let park = |tower: &str| {
        format!(
            r#"Park(name: "t", time: (steps: 2), species: ["tds", "ca", "alk"],
    units: [
        Source(id: "s", kind: Surface, quality_mg_per_l: {{"tds": 400.0, "ca": 120.0, "alk": 100.0}}, cap_m3_per_h: 100.0),
        CoolingTower(id: "ct", heat_load_mw: Const(5.0), range_c: 8.0, cycles: 5.0, holding_volume_m3: 100.0, {tower}),
        Discharge(id: "out"),
    ],
    links: [(from: "s", to: "ct"), (from: "ct.blowdown", to: "out")],
)"#
        )
    };
    let e = error_of(&park("smart_control: (lsi_target: 1.0)"));
    assert!(e.contains("calcium and alkalinity"), "{e}");
    let e = error_of(&park(
        r#"scaling: (calcium: "ca", alkalinity: "alk"), smart_control: (lsi_target: 1.0, sensor: "CE-x")"#,
    ));
    assert!(
        e.contains("\"CE-x\" is not a declared Conductivity meter"),
        "{e}"
    );
    let e = error_of(&park(
        r#"scaling: (calcium: "ca", alkalinity: "alk", lsi_max: 0.5), inhibitor: (lsi_credit: 1.0), smart_control: (lsi_target: 1.8)"#,
    ));
    assert!(e.contains("above the inhibited limit 1.5"), "{e}");
}
