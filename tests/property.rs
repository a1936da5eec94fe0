//! Property tests: random valid parks conserve water and every species.

use crate::common::run_text;
use parktwin::parks::generate::{GenerateOptions, generate, to_ron};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Synthetic parks of 1–6 enterprises with random seeds, run for a week: every unit and the
    /// park close to 1e-9 relative for water and every species, at every step, and no value is
    /// non-finite.
    #[test]
    fn random_parks_conserve_water_and_species(enterprises in 1usize..6, seed in any::<u64>()) {
        let park = generate(&GenerateOptions { enterprises, seed, steps: 168 });
        let (_, s) = run_text(&to_ron(&park), false);
        prop_assert!(s.balance.max_relative_residual <= 1e-9, "residual {}", s.balance.max_relative_residual);
        prop_assert_eq!(s.balance.violations, 0);
        prop_assert!(!s.diagnostics.contains_key("non_finite"));
        prop_assert!(s.water_m3.total_inflow.is_finite() && s.co2e_total_t.is_finite());
    }
}
