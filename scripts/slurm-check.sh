#!/usr/bin/env bash
# The Slurm path end to end on a real single-node cluster (scripts/slurm-local.sh), in one
# command; .ci/run runs it too. docs/slurm.md explains what is checked.
#
#  1. Builds the release binary and runs the bundled demo sweep (24 cases) on this machine.
#  2. `parktwin slurm --shards 3` writes the scripts; submit.sh submits the 3-task job array and
#     the merge (--dependency=afterok); the check waits (bounded) and requires the merged
#     results.csv and results.json to be byte-identical to the single-machine run's.
#  3. The failure case: a wrapper around the binary (--binary) makes array task 1 fail on its
#     first attempt after finishing 3 of its 8 cases (as if killed). The check requires task 1
#     FAILED, tasks 0 and 2 COMPLETED, the merge job cancelled without running (no results in
#     OUT, no merge log) and `parktwin merge` of the shards refused (naming shard-1); then resubmits task 1 alone
#     (`submit.sh 1`), requires that the rerun computed only the 5 unfinished cases (--resume),
#     and the merged results identical again.
#  4. Brings the daemons down (trap), unless PARKTWIN_SLURM_KEEP=1.
#
# Job states come from `scontrol show job` (no accounting daemon: sacct is not used).
# Work files: target/slurm-check/. Timeout per wait: $PARKTWIN_SLURM_CHECK_TIMEOUT (300 s).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
t_start=$SECONDS
timeout_s=${PARKTWIN_SLURM_CHECK_TIMEOUT:-300}
work=$repo/target/slurm-check
scenario=$repo/scenarios/demo_sweep.ron

say() { echo "slurm-check: $*"; }
fail() {
    echo "slurm-check FAILED: $*" >&2
    for f in "$work"/*/slurm/logs/*.out; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 5 "$f" >&2; }
    done
    exit 1
}

say "building the release binary"
cargo build --release --quiet
bin=$repo/target/release/parktwin
rm -rf "$work"
mkdir -p "$work"

cleanup() {
    if [ "${PARKTWIN_SLURM_KEEP:-0}" != 1 ]; then
        scripts/slurm-local.sh down || true
    fi
}
trap cleanup EXIT
scripts/slurm-local.sh up
eval "$(scripts/slurm-local.sh env)"
export SLURM_CONF

# The states of a job's tasks, one per line (an array job has one line per task).
states() { scontrol show job -o "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
# Waits until every task of job $1 has ended; prints the final states.
wait_job() {
    local id=$1 t0=$SECONDS s
    while true; do
        s=$(states "$id") || fail "scontrol does not know job $id"
        if ! grep -qvE '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|BOOT_FAIL|DEADLINE|PREEMPTED)$' <<<"$s"; then
            echo "$s"
            return 0
        fi
        [ $((SECONDS - t0)) -lt "$timeout_s" ] || { squeue >&2; fail "job $id not finished after $timeout_s s"; }
        sleep 1
    done
}
# The state of array task $2 of job $1.
task_state() { scontrol show job -o "$1" | grep -E "ArrayTaskId=$2 " | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
same_results() {
    local d
    for f in results.csv results.json; do
        cmp -s "$work/single/$f" "$1/$f" || fail "$1/$f differs from the single-machine run's"
    done
    say "$1: results.csv and results.json identical to the single-machine run ($(($(wc -l <"$1/results.csv") - 1)) cases)"
}

say "single-machine reference run"
t=$SECONDS
"$bin" sweep "$scenario" --jobs 2 --out "$work/single" >/dev/null
say "single-machine sweep: $((SECONDS - t)) s"

# --- 1. the job array and its merge ---------------------------------------------------------
t=$SECONDS
"$bin" slurm "$scenario" --shards 3 --out "$work/array" --cpus-per-task 1 --time 00:15:00 >/dev/null
ids=$("$work/array/slurm/submit.sh" | tail -n 1)
array=$(sed -n 's/^array=\([0-9]*\) merge=.*/\1/p' <<<"$ids")
merge=$(sed -n 's/.* merge=\([0-9]*\)$/\1/p' <<<"$ids")
[ -n "$array" ] && [ -n "$merge" ] || fail "submit.sh printed no job ids: $ids"
say "submitted array job $array (3 tasks) and merge job $merge"
wait_job "$array" >/dev/null
for k in 0 1 2; do
    [ "$(task_state "$array" "$k")" = COMPLETED ] || fail "array task $k: $(task_state "$array" "$k")"
done
[ "$(wait_job "$merge")" = COMPLETED ] || fail "merge job $merge: $(states "$merge")"
same_results "$work/array"
say "job array and merge: $((SECONDS - t)) s"

# --- 2. a failed task, resubmitted alone ----------------------------------------------------
t=$SECONDS
wrapper=$work/fail-once.sh
cat >"$wrapper" <<EOF
#!/usr/bin/env bash
# Test wrapper: array task 1's first attempt finishes 3 of its cases, then "dies".
set -euo pipefail
real='$bin'
marker='$work/task1-failed-once'
if [ "\$1" = sweep ] && [ "\${SLURM_ARRAY_TASK_ID:-}" = 1 ] && [ ! -e "\$marker" ]; then
    touch "\$marker"
    out=""; prev=""
    for a in "\$@"; do [ "\$prev" = --out ] && out=\$a; prev=\$a; done
    "\$real" "\$@"
    # What a kill after 3 finished cases leaves: 3 journal rows, no results, no manifest.
    head -n 3 "\$out/journal.ndjson" >"\$out/journal.tmp" && mv "\$out/journal.tmp" "\$out/journal.ndjson"
    rm -f "\$out"/results.* "\$out/manifest.json"
    echo "fail-once.sh: simulated failure of array task 1" >&2
    exit 1
fi
exec "\$real" "\$@"
EOF
chmod +x "$wrapper"
"$bin" slurm "$scenario" --shards 3 --out "$work/fail" --cpus-per-task 1 --time 00:15:00 \
    --binary "$wrapper" >/dev/null
ids=$("$work/fail/slurm/submit.sh" | tail -n 1)
array=$(sed -n 's/^array=\([0-9]*\) merge=.*/\1/p' <<<"$ids")
merge=$(sed -n 's/.* merge=\([0-9]*\)$/\1/p' <<<"$ids")
say "submitted array job $array with task 1 made to fail, merge job $merge"
wait_job "$array" >/dev/null
[ "$(task_state "$array" 0)" = COMPLETED ] || fail "task 0: $(task_state "$array" 0)"
[ "$(task_state "$array" 1)" = FAILED ] || fail "task 1 should have failed: $(task_state "$array" 1)"
[ "$(task_state "$array" 2)" = COMPLETED ] || fail "task 2: $(task_state "$array" 2)"
m=$(wait_job "$merge")
[ "$m" = CANCELLED ] || fail "merge job $merge should be cancelled after a failed shard, is $m"
[ ! -e "$work/fail/results.csv" ] || fail "the merge ran although a shard failed"
ls "$work/fail/slurm/logs/" | grep -q -- '-merge-' && fail "the merge job left a log: it ran"
if "$bin" merge "$work"/fail/shard-{0,1,2} --out "$work/fail-merge-refused" 2>"$work/refused.txt"; then
    fail "parktwin merge accepted shards with missing cases"
fi
# The killed shard wrote no manifest: merge names that shard's directory.
grep -q "fail/shard-1: no manifest.json, so this shard has not finished" "$work/refused.txt" || fail "merge refusal: $(cat "$work/refused.txt")"
say "task 1 FAILED, tasks 0 and 2 COMPLETED; merge job CANCELLED without running; merge refuses: $(cat "$work/refused.txt")"
ids=$("$work/fail/slurm/submit.sh" 1 | tail -n 1)
array=$(sed -n 's/^array=\([0-9]*\) merge=.*/\1/p' <<<"$ids")
merge=$(sed -n 's/.* merge=\([0-9]*\)$/\1/p' <<<"$ids")
say "resubmitted task 1 alone: array job $array, merge job $merge"
[ "$(wait_job "$array")" = COMPLETED ] || fail "resubmitted task 1: $(states "$array")"
[ "$(wait_job "$merge")" = COMPLETED ] || fail "merge job $merge: $(states "$merge")"
computed=$(grep -o '"computed_last_run": *[0-9]*' "$work/fail/shard-1/manifest.json" | grep -o '[0-9]*$')
[ "$computed" = 5 ] || fail "the resubmitted shard computed $computed cases, expected the 5 unfinished"
say "the resubmitted shard computed only its 5 unfinished cases (--resume)"
same_results "$work/fail"
say "failure and resubmission: $((SECONDS - t)) s"
say "passed in $((SECONDS - t_start)) s"
