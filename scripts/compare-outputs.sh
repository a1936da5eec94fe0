#!/bin/bash
# Compare every output of two parktwin binaries within a tolerance (issue #4's speed work may move
# last bits; see ARCHITECTURE.md, "Determinism"): 7 parks' `run --json` summaries, two parks'
# `--out` series, KPIs and water balances, and the 24-case demo sweep's results.csv.
# Each number must agree to 1e-9 relative + 1e-9 absolute; closure statistics (residuals, which are
# rounding noise) only need to stay below 1e-9 relative. Needs python3 (standard library only).
#
# Usage: scripts/compare-outputs.sh OLD_BINARY NEW_BINARY [WORK_DIR]
#   e.g. after `git worktree add /tmp/base-wt BASE && (cd /tmp/base-wt && cargo build --release)`:
#        scripts/compare-outputs.sh /tmp/base-wt/target/release/parktwin target/release/parktwin
# Prints one line per file: values compared, values beyond tolerance, largest relative difference.
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2"); work=${3:-$(mktemp -d)}
here=$(cd "$(dirname "$0")/.." && pwd)
cmp_py="$here/scripts/compare_outputs.py"
cd "$here"
mkdir -p "$work/old" "$work/new"
"$new" generate --enterprises 60 --seed 1 > "$work/g60.ron"
parks="scenarios/demo_park.ron scenarios/coastal_park.ron $work/g60.ron scenarios/metered_park.ron \
scenarios/smart_dosing.ron scenarios/horizon_tank.ron scenarios/literature/wang_smith_1994_ex1.ron"
for side in old new; do
  bin=${!side}
  for p in $parks; do "$bin" run "$p" --json > "$work/$side/$(basename "$p" .ron).json"; done
  for n in demo coastal; do
    rm -rf "$work/$side/${n}_out"; "$bin" run "scenarios/${n}_park.ron" --out "$work/$side/${n}_out" > /dev/null
  done
  rm -rf "$work/$side/sweep"; "$bin" sweep scenarios/demo_sweep.ron --jobs 2 --out "$work/$side/sweep" > /dev/null 2>&1
done
bad=0
check() { python3 "$cmp_py" "$1" "$2" | tee /dev/stderr | grep -q "beyond tolerance 0," || bad=1; }
for p in $parks; do b=$(basename "$p" .ron); check "$work/old/$b.json" "$work/new/$b.json"; done
for n in demo coastal; do
  for f in unit_series.csv link_series.csv park_series.csv water_balance.csv kpis.json; do
    check "$work/old/${n}_out/$f" "$work/new/${n}_out/$f"
  done
done
check "$work/old/sweep/results.csv" "$work/new/sweep/results.csv"
if [ "$bad" -ne 0 ]; then echo "outputs differ beyond tolerance (files in $work)"; exit 1; fi
echo "all outputs agree within tolerance (files in $work)"
