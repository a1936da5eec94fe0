//! Fuzz target: a short bounded run of whatever validates (`parks::harness::short_run`:
//! at most 72 steps, 64 units), checking closure and the reporting of non-finite values.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        parktwin_parks::harness::short_run(text);
    }
});
