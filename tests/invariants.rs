//! Property tests of the product's invariants over generated parks and scenarios (issue #8):
//! conservation of water and every species, determinism, finiteness under events, and shards
//! merged equal to a single run. Case counts are chosen to keep the module well under a
//! minute in CI (see docs/reliability.md for the counts and timings).

use crate::common::run_text;
use parktwin::parks::generate::{GenerateOptions, generate, to_ron};
use parktwin::parks::schema::{EventSpec, Park, UnitSpec};
use parktwin::sweep::{SweepOptions, merge, run_sweep};
use proptest::prelude::*;

/// Adds events drawn from `picks` to a generated park: an outage of some unit, an intake cap on
/// some source, a leak on some link, a heat wave and a production change, each in a window
/// inside the horizon.
fn with_events(mut park: Park, picks: &[u64; 8]) -> Park {
    let hours = park.time.steps as f64 * park.time.step_h;
    let window = |a: u64, b: u64| {
        let x = (a % 100) as f64 / 100.0 * hours;
        let y = (b % 100) as f64 / 100.0 * hours;
        (x.min(y), x.max(y) + 1.0)
    };
    let n = park.units.len() as u64;
    let unit = park.units[(picks[0] % n) as usize].id().to_string();
    let (f, t) = window(picks[1], picks[2]);
    park.events.push(EventSpec::Outage {
        unit,
        from_h: f,
        to_h: t,
    });
    let sources: Vec<String> = park
        .units
        .iter()
        .filter(|u| matches!(u, UnitSpec::Source(_)))
        .map(|u| u.id().to_string())
        .collect();
    if !sources.is_empty() {
        let (f, t) = window(picks[3], picks[1]);
        park.events.push(EventSpec::IntakeCap {
            source: sources[(picks[3] % sources.len() as u64) as usize].clone(),
            cap_m3_per_h: (picks[4] % 500) as f64,
            from_h: f,
            to_h: t,
        });
    }
    let l = &park.links[(picks[5] % park.links.len() as u64) as usize];
    let link =
        l.id.clone()
            .unwrap_or_else(|| format!("{}->{}", l.from, l.to));
    let (f, t) = window(picks[5], picks[6]);
    park.events.push(EventSpec::Leak {
        link,
        m3_per_h: (picks[6] % 20) as f64,
        from_h: f,
        to_h: t,
    });
    let (f, t) = window(picks[7], picks[2]);
    park.events.push(EventSpec::HeatWave {
        units: Vec::new(),
        factor: 0.5 + (picks[7] % 150) as f64 / 100.0,
        from_h: f,
        to_h: t,
    });
    park.events.push(EventSpec::Production {
        units: Vec::new(),
        factor: (picks[4] % 200) as f64 / 100.0,
        from_h: f,
        to_h: t,
    });
    park
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Generated parks of 1–4 enterprises with random outages, intake caps, leaks, heat waves
    /// and production changes, 24–120 steps: water and every species close to 1e-9 relative
    /// at every unit and step (no ledger violation), no value is non-finite, and a second run
    /// of the same text gives a bit-identical summary.
    #[test]
    fn events_keep_conservation_finiteness_and_determinism(
        enterprises in 1usize..5,
        seed in any::<u64>(),
        steps in 24usize..121,
        picks in any::<[u64; 8]>(),
    ) {
        let park = with_events(generate(&GenerateOptions { enterprises, seed, steps }), &picks);
        let text = to_ron(&park);
        let (_, a) = run_text(&text, false);
        prop_assert!(a.balance.max_relative_residual <= 1e-9, "residual {}", a.balance.max_relative_residual);
        prop_assert_eq!(a.balance.violations, 0);
        prop_assert!(!a.diagnostics.contains_key("non_finite"), "{:?}", a.diagnostics);
        let w = &a.water_m3;
        for v in [w.intake, w.total_inflow, w.reuse, w.discharge, w.consumption, w.unmet_demand,
                  a.energy.electricity_kwh, a.co2e_total_t, a.cost_total_yuan] {
            prop_assert!(v.is_finite(), "non-finite total {}", v);
        }
        let json = serde_json::to_string(&a).unwrap();
        let (_, b) = run_text(&text, false);
        prop_assert_eq!(json, serde_json::to_string(&b).unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// A Monte Carlo sweep (3–12 cases with demand noise) of a generated park split into 1–4
    /// shards, each run separately with 1 or 2 threads and merged, writes byte-identical
    /// `results.csv`, `results.json` and `results.parquet` to the single run.
    #[test]
    fn shards_merged_equal_a_single_run(
        seed in any::<u64>(),
        samples in 3usize..13,
        shards in 1usize..5,
        jobs in 1usize..3,
    ) {
        let d = tempfile::tempdir().unwrap();
        let park = generate(&GenerateOptions { enterprises: 1, seed, steps: 48 });
        std::fs::write(d.path().join("park.ron"), to_ron(&park)).unwrap();
        let sc_path = d.path().join("sc.ron");
        std::fs::write(&sc_path, format!(
            "Scenario(name: \"p\", park: \"park.ron\", seed: {}, stochastic: (demand_sd: 0.05), \
             sweep: MonteCarlo(samples: {samples}, ranges: {{\"carbon.heat_kg_per_kwh\": Uniform(0.1, 0.4)}}))",
            seed % 1000
        )).unwrap();
        let sc = parktwin::parks::scenario::load(&sc_path).unwrap();
        let opts = |out: std::path::PathBuf, shard| SweepOptions { jobs, out, resume: false, shard, series: false };
        run_sweep(&sc, &opts(d.path().join("single"), None)).unwrap();
        let dirs: Vec<_> = (0..shards).map(|k| {
            let dir = d.path().join(format!("s{k}"));
            run_sweep(&sc, &opts(dir.clone(), Some((k, shards)))).unwrap();
            dir
        }).collect();
        merge(&dirs, &d.path().join("merged")).unwrap();
        for f in ["results.csv", "results.json", "results.parquet"] {
            let a = std::fs::read(d.path().join("single").join(f)).unwrap();
            let b = std::fs::read(d.path().join("merged").join(f)).unwrap();
            prop_assert!(a == b, "{} differs", f);
        }
    }
}
