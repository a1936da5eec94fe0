#!/usr/bin/env bash
# Bounded libFuzzer runs of the cargo-fuzz targets in fuzz/ (park reader + validation,
# scenario reader + expansion, short bounded run of whatever validates).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     # default: 60 s each, all three
#
# A developer tool, not part of .ci/run: building the instrumented targets alone takes longer
# than CI's budget on the standard machine (see docs/reliability.md); CI runs the proptest
# equivalent over the same entry points (tests/fuzz_equivalent.rs). Only stable Rust is
# installed, so RUSTC_BOOTSTRAP=1 lets cargo-fuzz use -Z flags. New inputs go to
# fuzz/corpus/TARGET (ignored by git); the committed seeds are fuzz/seeds/. A crash is saved
# under fuzz/artifacts/TARGET and the script fails.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(park scenario run)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    seeds="seeds/$t"
    [ "$t" = run ] && seeds=seeds/park
    mkdir -p "corpus/$t"
    echo "== fuzz $t for ${secs} s"
    # -s none: the code is safe Rust (unsafe_code is forbidden), so AddressSanitizer adds
    # little; panics, aborts, timeouts and the RSS limit are what libFuzzer catches here.
    log="corpus/$t.log"
    rc=0
    cargo fuzz run -s none -O "$t" "corpus/$t" "$seeds" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -print_final_stats=1 >"$log" 2>&1 || rc=$?
    grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|INFO: Loaded|SUMMARY)|panicked" "$log" || true
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$log"
        echo "fuzz target $t failed (exit $rc): see fuzz/artifacts/$t" >&2
        exit "$rc"
    fi
done
