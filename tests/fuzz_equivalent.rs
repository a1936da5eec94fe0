//! The CI equivalent of the cargo-fuzz targets (`fuzz/`): the same entry points
//! (`parks::harness`) on the same seed files, mutated by proptest (byte-range deletions,
//! insertions of RON fragments and pathological values, numbers replaced by NaN, infinities,
//! huge or negative values, splices of two seeds). A panic anywhere is a failure; the harness
//! also checks that a valid park that runs closes its balance and reports non-finite values.
//! See docs/reliability.md for why CI runs this rather than libFuzzer.

use parktwin::parks::harness;
use parktwin::parks::load::from_str;
use proptest::prelude::*;
use std::path::Path;

const PARK_SEEDS: [&str; 15] = [
    include_str!("../fuzz/seeds/park/demo.ron"),
    include_str!("../fuzz/seeds/park/coastal.ron"),
    include_str!("../fuzz/seeds/park/tour.ron"),
    include_str!("../fuzz/seeds/park/good.ron"),
    include_str!("../fuzz/seeds/park/recycle.ron"),
    include_str!("../fuzz/seeds/park/good_nan.ron"),
    include_str!("../fuzz/seeds/park/good_inf.ron"),
    include_str!("../fuzz/seeds/park/good_huge.ron"),
    include_str!("../fuzz/seeds/park/good_hourly.ron"),
    include_str!("../fuzz/seeds/park/good_profile.ron"),
    include_str!("../fuzz/seeds/park/good_seasonal.ron"),
    include_str!("../fuzz/seeds/park/good_loop.ron"),
    include_str!("../fuzz/seeds/park/good_csv.ron"),
    include_str!("../fuzz/seeds/park/recycle_outage.ron"),
    include_str!("../fuzz/seeds/park/recycle_long.ron"),
];

const SCENARIO_SEEDS: [&str; 11] = [
    include_str!("../fuzz/seeds/scenario/list.ron"),
    include_str!("../fuzz/seeds/scenario/grid.ron"),
    include_str!("../fuzz/seeds/scenario/lhs.ron"),
    include_str!("../fuzz/seeds/scenario/mc.ron"),
    include_str!("../fuzz/seeds/scenario/overrides.ron"),
    include_str!("../fuzz/seeds/scenario/events.ron"),
    include_str!("../fuzz/seeds/scenario/bad_path.ron"),
    include_str!("../fuzz/seeds/scenario/bad_name.ron"),
    include_str!("../fuzz/seeds/scenario/bad_type.ron"),
    include_str!("../fuzz/seeds/scenario/nan_sweep.ron"),
    include_str!("../fuzz/seeds/scenario/demo_sweep.ron"),
];

/// Fragments worth inserting: pathological numbers, structure, paths that try to escape, and
/// pieces of valid syntax.
const TOKENS: [&str; 30] = [
    "NaN",
    "inf",
    "-inf",
    "1e308",
    "-1e308",
    "-1.0",
    "0",
    "0.0",
    "99999999999999999999",
    "18446744073709551615",
    "\"\"",
    "\"../../x\"",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "Const(",
    "Hourly([1.0, NaN])",
    "Csv(file: \"/nonexistent.csv\", column: \"c\")",
    "Outage(unit: \"p\", from_h: -1e300, to_h: 1e300)",
    "steps: 87600",
    "steps: 0",
    "step_h: 1e-300",
    "samples: 1000000000",
    "\"units.p.water_m3_per_unit\": [NaN, 1e300]",
    "Mixer(id: \"p\"),",
];

const NUMBERS: [&str; 10] = [
    "NaN", "inf", "-inf", "1e308", "-5.0", "0.0", "1e-320", "4e9", "-0", "1e12",
];

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, usize),
    Number(usize, usize),
    Splice(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..64).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(a, t)| Edit::Insert(a, t)),
        (any::<usize>(), 0..NUMBERS.len()).prop_map(|(a, t)| Edit::Number(a, t)),
        (any::<usize>(), any::<usize>(), 0usize..400).prop_map(|(a, b, n)| Edit::Splice(a, b, n)),
    ]
}

fn boundary(s: &str, mut i: usize) -> usize {
    i %= s.len() + 1;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Applies the edits to `seed`; `other` is the seed splices take text from.
fn mutate(seed: &str, other: &str, edits: &[Edit]) -> String {
    let mut s = seed.to_string();
    for e in edits {
        match *e {
            Edit::Delete(a, n) => {
                let a = boundary(&s, a);
                let b = boundary(&s, a + n);
                if b >= a {
                    s.replace_range(a..b, "");
                }
            }
            Edit::Insert(a, t) => {
                let a = boundary(&s, a);
                s.insert_str(a, TOKENS[t]);
            }
            Edit::Number(k, t) => {
                // The k-th (mod count) run of digits.
                let runs: Vec<(usize, usize)> = s
                    .char_indices()
                    .filter(|&(i, c)| {
                        c.is_ascii_digit() && (i == 0 || !s.as_bytes()[i - 1].is_ascii_digit())
                    })
                    .map(|(i, _)| {
                        let end = s[i..]
                            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                            .map_or(s.len(), |e| i + e);
                        (i, end)
                    })
                    .collect();
                if !runs.is_empty() {
                    let (a, b) = runs[k % runs.len()];
                    s.replace_range(a..b, NUMBERS[t]);
                }
            }
            Edit::Splice(a, b, n) => {
                let a = boundary(&s, a);
                let b0 = boundary(other, b);
                let b1 = boundary(other, b0 + n);
                if b1 >= b0 {
                    s.insert_str(a, &other[b0..b1]);
                }
            }
        }
    }
    s
}

fn case() -> impl Strategy<Value = (usize, usize, Vec<Edit>)> {
    (
        0..PARK_SEEDS.len(),
        0..PARK_SEEDS.len(),
        prop::collection::vec(edit(), 0..6),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, failure_persistence: None, ..ProptestConfig::default() })]

    /// The park reader and validation never panic on a mutated park file.
    #[test]
    fn park_reader_and_validation((i, j, edits) in case()) {
        harness::park_text(&mutate(PARK_SEEDS[i], PARK_SEEDS[j], &edits));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// The scenario reader, overrides and sweep expansion never panic on a mutated scenario
    /// file (against the fuzz target's park).
    #[test]
    fn scenario_reader_and_expansion(
        i in 0..SCENARIO_SEEDS.len(),
        j in 0..SCENARIO_SEEDS.len(),
        edits in prop::collection::vec(edit(), 0..6),
    ) {
        let park = from_str(include_str!("../fuzz/seeds/scenario_park.ron"), Path::new("park.ron")).unwrap();
        harness::scenario_text(&mutate(SCENARIO_SEEDS[i], SCENARIO_SEEDS[j], &edits), &park);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever validates after mutation runs for up to 72 steps without a panic, closes its
    /// balance, and reports any non-finite value as a diagnostic.
    #[test]
    fn short_run_of_whatever_validates((i, j, edits) in case()) {
        harness::short_run(&mutate(PARK_SEEDS[i], PARK_SEEDS[j], &edits[..edits.len().min(2)]));
    }
}

/// The unmutated seeds: every park seed meant to be valid runs, and the invalid ones are
/// refused (so the mutations start from both sides of validity).
#[test]
fn seeds_are_what_they_claim() {
    for (k, valid) in [
        (0, true),
        (1, true),
        (2, true),
        (3, true),
        (4, true),
        (5, false),
        (6, false),
        (7, false),
        (12, false),
        (14, true),
    ] {
        assert_eq!(harness::park_text(PARK_SEEDS[k]), valid, "seed {k}");
    }
    assert!(harness::short_run(PARK_SEEDS[4]));
    let park = from_str(
        include_str!("../fuzz/seeds/scenario_park.ron"),
        Path::new("park.ron"),
    )
    .unwrap();
    assert_eq!(harness::scenario_text(SCENARIO_SEEDS[1], &park), 3);
    assert_eq!(harness::scenario_text(SCENARIO_SEEDS[6], &park), 0);
}

/// A case the fuzzer found: the tour park with its `step_h` replaced by the denormal `1e-320`
/// validated, and every balance turned NaN (`1/Δt` overflows), 434 closure violations without a
/// `non_finite` diagnostic. A step shorter than one second is now refused, so it never runs.
#[test]
fn a_denormal_step_is_refused() {
    let text = mutate(
        PARK_SEEDS[2],
        PARK_SEEDS[0],
        &[Edit::Number(16535293492084179965, 6)],
    );
    assert!(text.contains("step_h: 1e-320"), "the edit hits step_h");
    assert!(
        !harness::short_run(&text),
        "a 1e-320 h step must not validate"
    );
}

/// A case the fuzzer found: the tour park with no city water and a 4·10⁹ m³ cooling-tower
/// basin at 2,000 mg/L (8·10¹² g of TDS stored). Each unit's storage change `V1·C1 − V0·C0`
/// is rounded at that scale (about 10⁻³ g), and the park's balance used to be judged
/// without the stored amounts in its scale, so it reported 41 closure violations of 1.4e-6
/// relative. The park's judge now scales by its units' stored amounts, as each unit's does.
#[test]
fn a_huge_basin_closes_at_park_level() {
    let text = mutate(
        PARK_SEEDS[2],
        PARK_SEEDS[3],
        &[
            Edit::Number(8710102183716708283, 7),
            Edit::Number(5618276438218230804, 5),
        ],
    );
    assert!(
        text.contains("holding_volume_m3: 4e9"),
        "the mutation still makes the huge basin"
    );
    assert!(
        text.contains("cap_m3_per_h: 0.0"),
        "the mutation still cuts the city water"
    );
    harness::short_run(&text);
}
