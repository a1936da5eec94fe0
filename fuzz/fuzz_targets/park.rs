//! Fuzz target: the park reader and validation (`parks::harness::park_text`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        parktwin_parks::harness::park_text(text);
    }
});
