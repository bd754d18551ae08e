#!/usr/bin/env bash
# chaos-runs.sh — the chaos test, again and again: RUNS consecutive runs
# of LEADS leads each (two replicas of every worker, kill -9 every ~2 s for
# 30 s, the market answering on lastmile.timing), one summary line per run
# and a tally. The long run of docs/FUZZING.md:
#
#   scripts/chaos-runs.sh [RUNS [LEADS [BUILD_DIR]]]     # defaults: 20 6000 build
#
# Each run's whole output is kept in $BUILD_DIR/chaos-runs/run-<n>.log; a
# run fails when the test's Criterion result is not a pass. Exits 0 when
# every run passed. Set LASTMILE_TEST_CHAOS_SOAK=1 for the soak instead.
set -euo pipefail

runs=${1:-20}
leads=${2:-6000}
build=${3:-build}
exe="$build/tests/test_chaos"
[[ -x $exe ]] || { echo "chaos-runs: $exe not built (make build)" >&2; exit 2; }
[[ $runs =~ ^[0-9]+$ && $leads =~ ^[0-9]+$ ]] ||
    { echo "chaos-runs: RUNS and LEADS are whole numbers" >&2; exit 2; }

out="$build/chaos-runs"
mkdir -p "$out"
passed=0
for ((i = 1; i <= runs; i++)); do
    log="$out/run-$i.log"
    if LASTMILE_TEST_CHAOS_LEADS=$leads "$exe" --jobs 1 --filter 'faults/chaos' \
        >"$log" 2>&1; then
        verdict=pass
        passed=$((passed + 1))
    else
        verdict=FAIL
    fi
    decided=$(grep -o 'every lead decided [-0-9.]* s after the last restart' "$log" |
        grep -o '[-0-9.]* s' || echo '? s')
    twice=$(grep -o '[0-9]* written twice byte for byte' "$log" | grep -o '^[0-9]*' ||
        echo '?')
    closed=$(grep -o 'all closed in [0-9]* ms\|NOT all closed' "$log" || echo '?')
    echo "run $i/$runs: $verdict; decided ${decided} after the last restart;" \
        "$closed; records twice: $twice ($log)"
done
echo "chaos-runs: $passed of $runs runs of $leads leads passed"
[[ $passed -eq $runs ]]
