//! Fuzz target: the scenario reader, override application and sweep expansion
//! (`parks::harness::scenario_text`) against the small park of `seeds/scenario_park.ron`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parktwin_parks::load::{ParkFile, from_str};
use std::path::Path;
use std::sync::OnceLock;

static PARK: OnceLock<ParkFile> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let park = PARK.get_or_init(|| {
        // Bounded sweeps: a huge grid is refused by the case limit, not allocated.
        parktwin_parks::limits::install(parktwin_parks::limits::Limits {
            max_cases: 10_000,
            ..Default::default()
        });
        from_str(include_str!("../seeds/scenario_park.ron"), Path::new("park.ron"))
            .expect("the seed park parses")
    });
    if let Ok(text) = std::str::from_utf8(data) {
        parktwin_parks::harness::scenario_text(text, park);
    }
});
