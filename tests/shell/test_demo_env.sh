#!/usr/bin/env bash
# `lastmile demo` passes the user's own decisions to its workers.
#
# It used to drop every LASTMILE_* variable, so LASTMILE_CONFIG,
# LASTMILE_MODEL and LASTMILE_DEMO_KEEP were ignored and a user could not
# demo their own decisions file. Now only the variables that say where the
# fleet runs are replaced (and named on stderr). A decisions file with an
# error must therefore stop the demo at once, with the file, line and fix
# from the worker that refused it. No timing is asserted: the demo either
# fails on the bad file (pass) or runs the market (fail).
set -euo pipefail
bin=${LM_BINARY_DIR:?}/cli/lastmile
tmp=$(mktemp -d /tmp/lastmile-demo-env-XXXXXX)
# the demo keeps its own directory when it fails (for the user to read its
# logs), and this test makes it fail: remove the one stderr names too
cleanup() {
    local kept
    kept=$(sed -n 's/.*embedded broker and Redis in \(\/tmp\/lastmile-demo-[A-Za-z0-9]*\)$/\1/p' \
        "$tmp/err" 2>/dev/null | head -1)
    [ -z "$kept" ] || rm -rf "$kept"
    rm -rf "$tmp"
}
trap cleanup EXIT

printf 'thresholds:\n  qualified: 0.5\n' >"$tmp/bad.yaml"
rc=0
LASTMILE_CONFIG="$tmp/bad.yaml" LASTMILE_BROKERS=elsewhere:9092 \
    timeout 300 "$bin" demo --leads 20 >"$tmp/out" 2>"$tmp/err" || rc=$?
fail() { echo "FAIL: $*"; echo "--- stderr:"; cat "$tmp/err"; exit 1; }
[ "$rc" -ne 0 ] || fail "the demo ran although LASTMILE_CONFIG is a bad file"
[ "$rc" -ne 124 ] || fail "the demo did not stop on a worker that refused its config"
grep -q "$tmp/bad.yaml:1: " "$tmp/err" || fail "no file:line error for the bad config"
grep -q 'lastmile-[a-z]* exited (status 2)' "$tmp/err" || fail "the dead worker is not named"
grep -q 'ignoring LASTMILE_BROKERS' "$tmp/err" || fail "the replaced LASTMILE_BROKERS is not named"
echo "1 passed, 0 failed"
