#!/usr/bin/env bash
# tests/shell/test_board.sh — the flow board (`lastmile board`) in a real
# browser, against a running fleet.
#
# Starts the embedded stack (`lastmile dev up`) in a temporary
# LASTMILE_DEV_DIR, the four workers on an accelerated clock, and a
# simulated market (`lastmile simulate`, 300 leads over 1 day + 3 tail days,
# about 20 real seconds); serves the board while the market runs and checks
# /api/board live (valid JSON, no errors, work moving through the stages).
# Then stops the workers (timing first, so some leads wait past their
# response window), loads the page in headless Chromium, and checks that
#   - every figure the page renders equals `lastmile report --json` (raw
#     value and the text shown), and the page has every figure it must;
#   - the stage figures (leads waiting, oldest waiting age, lag,
#     throughput) and the leads waiting longest agree with the lead rows
#     read from Redis by this script's own client and with the definitions
#     in cli/board.h;
#   - the funnel agrees with what the market published;
#   - /metrics carries the timing lift's gauges as the report has them;
#   - the page loads nothing from anywhere else.
# Screenshots are kept in $LM_BINARY_DIR/test-artifacts/ (board.png after
# the run, board-live.png during it).
#
# Run by ctest with LM_SOURCE_DIR and LM_BINARY_DIR set, or by hand:
#   LM_BINARY_DIR=build-board bash tests/shell/test_board.sh
# Installs Debian's chromium when missing (apt-get; sudo only when not
# root). Python is /usr/bin/python3 with the standard library only.
# Everything started here is stopped on exit, also on failure or Ctrl-C.
# Bounded: each wait has its own limit; the whole run takes about a minute.
# The last line is "N passed, N failed"; exit 0 when none failed.
set -uo pipefail

SRC=${LM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${LM_BINARY_DIR:-$SRC/build}
BIN=$(cd "$BIN" 2>/dev/null && pwd || echo "$BIN")
PY=/usr/bin/python3
LM=$BIN/cli/lastmile
ART=$BIN/test-artifacts
NAME=test_board
# shellcheck source=tests/shell/test_lib.sh
. "$SRC/tests/shell/test_lib.sh"

LEADS=300
SIM_DAYS=1
TAIL_DAYS=3
SIM_REAL_S=20 # real seconds the simulated 4 days take
SCALE=$(((SIM_DAYS + TAIL_DAYS) * 86400 / SIM_REAL_S))
WAIT_S=$((60 * MULT))       # any single wait
SIM_LIMIT_S=$((120 * MULT)) # the simulated market, at most
CHROME_LIMIT_S=$((90 * MULT))
REFRESH_S=2 # LM_BOARD_REFRESH_MS

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lm-board.XXXXXX")
WORKERS=(intake qualification followup timing)
declare -A WPID=()
BOARD_PID=""
SIM_PID=""
STACK_UP=0

# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
  local w
  stop_pid "$SIM_PID" 5
  stop_pid "$BOARD_PID" 5
  for w in timing followup qualification intake; do
    stop_pid "${WPID[$w]:-}" 15
  done
  [ "$STACK_UP" -eq 1 ] && LASTMILE_DEV_DIR="$TMP/stack" "$LM" dev down >/dev/null 2>&1
  if [ -n "${LASTMILE_TEST_KEEP:-}" ]; then
    echo "test_board: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- what it needs -----------------------------------------------------------
for f in "$LM" "$BIN"/workers/lastmile-{intake,qualification,followup,timing}; do
  if [ ! -x "$f" ]; then
    fail "$f is not built" "$BIN" "build first: cmake --build $BIN"
    finish
  fi
done
if [ ! -x "$PY" ]; then
  fail "/usr/bin/python3 is missing" "this machine" "apt-get install python3"
  finish
fi
need_chromium
mkdir -p "$ART"

# A clean slate: none of the caller's LASTMILE_* settings leak in.
for v in $(env | sed -n 's/^\(LASTMILE_[A-Z0-9_]*\)=.*/\1/p'); do
  unset "$v"
done

# headless Chromium: a new profile each run, nothing from the network
chrome() { # url, extra flags...
  local url=$1 profile
  shift
  profile=$(mktemp -d "$TMP/chrome.XXXXXX")
  timeout "$CHROME_LIMIT_S" "$CHROME" --headless --no-sandbox --disable-gpu \
    --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-dev-shm-usage \
    --user-data-dir="$profile" --window-size=1400,1500 "$@" "$url" \
    2>>"$TMP/chromium.log"
}

# ---- the command line --------------------------------------------------------
"$LM" board --help >"$TMP/help.txt" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q -- '--addr HOST:PORT' "$TMP/help.txt"; then
  ok "lastmile board --help exits 0 and documents --addr"
else
  fail "lastmile board --help exited $rc" "cli/board.c" "print the usage on stdout, exit 0"
fi
for args in "--bogus" "--addr nonsense" "--addr 127.0.0.1:99999"; do
  # shellcheck disable=SC2086
  LASTMILE_BROKERS=127.0.0.1:1 LASTMILE_REDIS_URL=redis://127.0.0.1:1/0 \
    timeout 20 "$LM" board $args >/dev/null 2>"$TMP/usage.txt"
  rc=$?
  if [ "$rc" -eq 2 ] && [ -s "$TMP/usage.txt" ]; then
    ok "lastmile board $args: usage error (exit 2): $(head -n1 "$TMP/usage.txt")"
  else
    fail "lastmile board $args exited $rc" "cli/board.c" "exit 2 with a message on a bad option"
  fi
done
(unset LASTMILE_BROKERS LASTMILE_REDIS_URL
  timeout 20 "$LM" board >/dev/null 2>"$TMP/noenv.txt")
rc=$?
if [ "$rc" -eq 2 ] && grep -q LASTMILE_BROKERS "$TMP/noenv.txt"; then
  ok "lastmile board without LASTMILE_BROKERS: exit 2, says what to set"
else
  fail "lastmile board without its environment exited $rc" "cli/board.c" \
    "exit 2 and name LASTMILE_BROKERS and LASTMILE_REDIS_URL"
fi
# a port in use: exit 1 at once, naming the address
"$PY" - "$LM" >"$TMP/busy.txt" 2>&1 <<'PY'
import os, socket, subprocess, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
addr = "127.0.0.1:%d" % s.getsockname()[1]
env = dict(os.environ, LASTMILE_BROKERS="127.0.0.1:1",
           LASTMILE_REDIS_URL="redis://127.0.0.1:1/0")
r = subprocess.run([sys.argv[1], "board", "--addr", addr], env=env,
                   capture_output=True, text=True, timeout=20)
print(r.returncode, addr in r.stderr, r.stderr.strip().splitlines()[-1:])
PY
if grep -q '^1 True' "$TMP/busy.txt"; then
  ok "lastmile board on a port in use: exit 1, names the address"
else
  fail "lastmile board on a port in use: $(cat "$TMP/busy.txt")" "cli/board.c" \
    "fail with exit 1 and the address"
fi

# ---- the stack, the fleet, the board ----------------------------------------
export LASTMILE_DEV_DIR="$TMP/stack"
if ! "$LM" dev up --partitions 4 >"$TMP/env.sh" 2>"$TMP/dev.log"; then
  fail "lastmile dev up failed: $(tr '\n' ' ' <"$TMP/dev.log")" "$LM dev up" \
    "see the message; is redis-server installed?"
  finish
fi
STACK_UP=1
# shellcheck disable=SC1091
. "$TMP/env.sh"
export LASTMILE_TIME_SCALE=$SCALE
LASTMILE_TIME_ORIGIN_MS=$(date +%s%3N)
export LASTMILE_TIME_ORIGIN_MS LASTMILE_SHUTDOWN_TIMEOUT_MS=10000
ok "embedded stack up (brokers $LASTMILE_BROKERS), clock x$SCALE"

for w in "${WORKERS[@]}"; do
  LASTMILE_INSTANCE_ID="$w-board-test" "$BIN/workers/lastmile-$w" \
    >"$TMP/$w.log" 2>&1 &
  WPID[$w]=$!
done

"$LM" board --addr 127.0.0.1:0 >"$TMP/board.url" 2>"$TMP/board.log" &
BOARD_PID=$!
URL=""
for ((i = 0; i < WAIT_S * 10; i++)); do
  URL=$(head -n1 "$TMP/board.url" 2>/dev/null)
  [ -n "$URL" ] && break
  kill -0 "$BOARD_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$URL" ]; then
  fail "lastmile board did not print its address: $(tr '\n' ' ' <"$TMP/board.log")" \
    "$LM board --addr 127.0.0.1:0" "see the message above"
  finish
fi
ok "lastmile board serves $URL"

# ---- live: while the market runs --------------------------------------------
"$LM" simulate --leads "$LEADS" --days "$SIM_DAYS" --tail-days "$TAIL_DAYS" \
  >"$TMP/sim.json" 2>"$TMP/sim.log" &
SIM_PID=$!

cat >"$TMP/live.py" <<'PY'
"""Fetches /api/board once; appends a compact summary line to argv[2]."""
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "api/board", timeout=10) as r:
        d = json.load(r)
except Exception as e:  # noqa: BLE001 - reported, not raised
    print(json.dumps({"fetch_error": str(e)}))
    sys.exit(0)
s = {st["name"]: st for st in d.get("stages", [])}
print(json.dumps({
    "errors": d.get("errors"),
    "has_report": d.get("report") is not None,
    "throughput": {k: v.get("throughput_per_s") for k, v in s.items()},
    "lag": {k: v.get("lag") for k, v in s.items()},
    "generated_at_ms": d.get("generated_at_ms"),
    "now_ms": d.get("now_ms"),
    "timing_waiting": s.get("timing", {}).get("waiting"),
}))
PY
start=$(date +%s)
shot_live=0
while kill -0 "$SIM_PID" 2>/dev/null; do
  if [ $(($(date +%s) - start)) -gt "$SIM_LIMIT_S" ]; then
    stop_pid "$SIM_PID" 5
    fail "lastmile simulate did not finish in ${SIM_LIMIT_S}s" "$TMP/sim.log" \
      "check the workers' logs (LASTMILE_TEST_KEEP=1 keeps them)"
    finish
  fi
  "$PY" "$TMP/live.py" "$URL" >>"$TMP/live.jsonl"
  if [ "$shot_live" -eq 0 ] && [ $(($(date +%s) - start)) -ge 8 ]; then
    shot_live=1
    chrome "$URL" --virtual-time-budget=3000 --screenshot="$ART/board-live.png" \
      >/dev/null
  fi
  sleep 1
done
wait "$SIM_PID"
sim_rc=$?
SIM_PID=""
if [ "$sim_rc" -ne 0 ]; then
  fail "lastmile simulate exited $sim_rc: $(tail -n3 "$TMP/sim.log" | tr '\n' ' ')" \
    "$LM simulate" "see the message above"
  finish
fi
ok "lastmile simulate: $(cat "$TMP/sim.json")"

# ---- frozen: workers stopped one by one, so leads wait in every stage -------
# followup first: timing goes on moving leads whose window closed to the
# followup stage, where they now wait; then qualification, and a few more
# leads arrive, which intake accepts and which wait for a decision; then
# timing: leads inside a response window wait past it, with no timer to
# move them on; intake last.
# A snapshot of /api/board is taken every REFRESH_S: one that shows what
# happened after a stop must have been generated a whole refresh after it
# (its offsets read after the stop), or it may show the lag of a worker
# still running (a lead in flight to followup, committed a moment later).
fresh_after() { # prints the real ms after which a snapshot is fresh
  echo $(($(date +%s%3N) + REFRESH_S * 1000 + 500))
}
stop_pid "${WPID[followup]}" 20
WPID[followup]=""
fresh=$(fresh_after)
wait_board() { # python condition on d (the /api/board summary), what
  local i
  for ((i = 0; i < WAIT_S * 2; i++)); do
    "$PY" "$TMP/live.py" "$URL" | "$PY" -c "import json,sys
d = json.load(sys.stdin)
sys.exit(0 if (d.get('generated_at_ms') or 0) > $fresh and ($1) else 1)" &&
      return 0
    sleep 0.5
  done
  fail "$2 did not happen in ${WAIT_S}s" "$URL/api/board" "see the workers' logs (LASTMILE_TEST_KEEP=1)"
  return 1
}
wait_board '(d.get("lag", {}).get("followup") or 0) > 0' \
  "a lead moving on to the stopped followup worker"
stop_pid "${WPID[qualification]}" 20
WPID[qualification]=""
fresh=$(fresh_after)
if ! timeout "$SIM_LIMIT_S" "$LM" simulate --leads 8 --days 0.01 --tail-days 0 \
  --seed 99 >"$TMP/sim2.json" 2>>"$TMP/sim.log"; then
  fail "the second lastmile simulate failed: $(tail -n3 "$TMP/sim.log" | tr '\n' ' ')" \
    "$LM simulate" "see the message above"
  finish
fi
wait_board 'd.get("lag", {}).get("intake") == 0 and (d.get("lag", {}).get("qualification") or 0) > 0' \
  "intake taking the late leads"
for w in timing intake; do
  stop_pid "${WPID[$w]}" 20
  WPID[$w]=""
done
stopped_ms=$(date +%s%3N)
# Wait for a snapshot taken over a stopped interval (throughput 0) in
# which some lead waits past its response window (simulated time runs on:
# a response window of days passes in seconds). Its collection must have
# begun a refresh after the stop, not only ended after it: a snapshot's
# `now_ms` is taken when it begins, and on a loaded machine its Kafka and
# Redis reads take seconds (the check below holds its figures to Redis's
# rows at that now). now_ms is simulated: a real time r is
# ORIGIN + (r - ORIGIN) * SCALE on that clock.
stopped_sim=$((LASTMILE_TIME_ORIGIN_MS + (stopped_ms + REFRESH_S * 1000 - LASTMILE_TIME_ORIGIN_MS) * SCALE))
fresh=0
for ((i = 0; i < WAIT_S * 2; i++)); do
  state=$("$PY" "$TMP/live.py" "$URL" | "$PY" -c 'import json,sys
d = json.load(sys.stdin)
print(d.get("now_ms") or 0, d.get("timing_waiting") or 0)')
  snap_now=${state% *}
  if [ "${snap_now:-0}" -gt "$stopped_sim" ] &&
    [ "${state#* }" -gt 0 ]; then
    fresh=1
    break
  fi
  sleep 0.5
done
if [ "$fresh" -eq 1 ]; then
  ok "the board shows leads waiting past their response window (${state#* })"
else
  fail "/api/board shows no lead waiting in the timing stage ${WAIT_S}s after the workers stopped" \
    "$URL/api/board" "check $TMP/board.log; oldest waiting: see cli/board.h"
fi

# The page, rendered: a virtual-time budget lets the fetch and a few
# refreshes run before the DOM is dumped.
chrome "$URL" --virtual-time-budget=5000 --dump-dom >"$TMP/dom.html"
chrome "$URL" --virtual-time-budget=5000 --screenshot="$ART/board.png" >/dev/null
if ! "$LM" report --json >"$TMP/report.json" 2>"$TMP/report.log"; then
  fail "lastmile report --json failed: $(tr '\n' ' ' <"$TMP/report.log")" \
    "$LM report --json" "see the message above"
fi
# the leads qualification has not taken, read from Kafka by its own code
# (lm_report_read_pending), against which the board's lag and peek are held
if ! "$LM" waiting --json --limit 100000 >"$TMP/waiting.json" 2>"$TMP/waiting.log"; then
  fail "lastmile waiting --json failed: $(tr '\n' ' ' <"$TMP/waiting.log")" \
    "$LM waiting --json" "see the message above"
fi
curl_like() { "$PY" -c 'import sys,urllib.request
r=urllib.request.urlopen(sys.argv[1],timeout=10)
sys.stdout.write(r.headers.get(sys.argv[2]) or "") if len(sys.argv)>2 else sys.stdout.buffer.write(r.read())' "$@"; }
curl_like "${URL}api/board" >"$TMP/board.json" 2>>"$TMP/board.log"
curl_like "$URL" Content-Security-Policy >"$TMP/csp.txt" 2>>"$TMP/board.log"
# The page is cli/board/index.html with its two slot lines filled by
# board.css and board.js (cli/board_http.c), byte for byte.
if curl_like "$URL" >"$TMP/page.html" 2>"$TMP/page.log" &&
  "$PY" - "$SRC/cli/board" "$TMP/page.html" <<'PY'; then
import sys
d, page = sys.argv[1], open(sys.argv[2], "rb").read()
html = open(d + "/index.html", "rb").read()
css = open(d + "/board.css", "rb").read()
js = open(d + "/board.js", "rb").read()
want = html.replace(b"/* board.css */\n", css, 1).replace(b"/* board.js */\n", js, 1)
sys.exit(0 if page == want and want != html else 1)
PY
  ok "the page is cli/board/index.html with board.css and board.js inline"
else
  fail "the served page is not cli/board/index.html with its two slots filled" \
    "$TMP/page.html" "see board_page in cli/board_http.c"
fi

# /metrics: the timing lift's gauges say what the report says.
if curl_like "${URL}metrics" >"$TMP/metrics.txt" 2>"$TMP/metrics.log" &&
  "$PY" - "$TMP/metrics.txt" "$TMP/report.json" >"$TMP/metrics.out" 2>&1 <<'PY'; then
import json, math, sys
series = {}
for line in open(sys.argv[1]):
    if line.strip() and not line.startswith("#"):
        name, value = line.rsplit(" ", 1)
        series[name] = float(value)
arms = json.load(open(sys.argv[2]))["timing_arms"]
lift = arms["lift"]
want = {
    'lastmile_timing_lift_state{comparison="control"}': lift["state_code"],
    'lastmile_timing_arm_touched{arm="adaptive"}': arms["adaptive"]["touched"],
    'lastmile_timing_arm_touched{arm="fixed"}': arms["fixed"]["touched"],
    'lastmile_timing_arm_touched{arm="holdout"}': arms["holdout"]["touched"],
    'lastmile_timing_lift{comparison="control"}': lift["value"],
    'lastmile_timing_lift_lower{comparison="control"}': lift["ci95"][0],
    'lastmile_timing_lift_upper{comparison="control"}': lift["ci95"][1],
}
bad = []
for k, v in want.items():
    got = series.get(k)
    if got is None:
        bad.append("%s missing" % k)
    elif v is None:
        if not math.isnan(got):
            bad.append("%s = %r, the report has none" % (k, got))
    elif not math.isclose(got, v, abs_tol=1e-6):
        bad.append("%s = %r, the report has %r" % (k, got, v))
print("; ".join(bad) if bad else "state %s, %d series" % (lift["state_code"], len(series)))
sys.exit(1 if bad else 0)
PY
  ok "/metrics: the timing lift's gauges equal the report ($(cat "$TMP/metrics.out"))"
else
  fail "/metrics disagrees with the report: $(cat "$TMP/metrics.out" "$TMP/metrics.log" 2>/dev/null | tr '\n' ' ')" \
    "${URL}metrics" "see lm_report_lift_metrics (common/tools/lm_report_lift.c)"
fi

# ---- the comparisons -----------------------------------------------------------

"$PY" "$SRC/tests/shell/board_check.py" "$TMP/dom.html" "$TMP/report.json" "$TMP/board.json" \
  "$TMP/sim.json" "$TMP/sim2.json" "$TMP/live.jsonl" "$TMP/csp.txt" \
  "$LASTMILE_REDIS_URL" "$TMP/waiting.json" \
  >"$TMP/check.out" 2>&1
check_rc=$?
cat "$TMP/check.out"
passed=$((passed + $(grep -c '^ok ' "$TMP/check.out")))
failed=$((failed + $(grep -c '^FAIL ' "$TMP/check.out")))
[ "$check_rc" -eq 0 ] ||
  fail "the comparison script stopped with status $check_rc" "tests/shell/board_check.py" \
    "see its output above"

# ---- a Redis that hangs: the board must not say "live" over frozen data ----
# (issue 14, item 9 reported /api/board frozen with no error while Redis
# hung.) SIGSTOP keeps the connection open, unanswered: the board's Redis
# commands time out (LM_BOARD_REDIS_TIMEOUT_MS) and the snapshot carries
# the error, cleared by the first refresh after Redis answers again.
board_errors() { # the number of errors /api/board reports, or -1
  curl_like "${URL}api/board" 2>/dev/null |
    "$PY" -c 'import json,sys; print(len(json.load(sys.stdin).get("errors",[])))' \
      2>/dev/null || echo -1
}
REDIS_PID=$(cat "$LASTMILE_DEV_DIR/redis.pid" 2>/dev/null)
if [ -n "$REDIS_PID" ] && kill -STOP "$REDIS_PID" 2>/dev/null; then
  seen=0
  for ((i = 0; i < 60; i++)); do
    n=$(board_errors)
    [ "$n" -gt 0 ] 2>/dev/null && { seen=1; break; }
    sleep 1
  done
  kill -CONT "$REDIS_PID"
  if [ "$seen" = 1 ]; then
    ok "with Redis hanging, /api/board reports a problem within 60 s"
  else
    fail "with Redis hanging 60 s, /api/board still reports no problem" \
      "cli/board_collect.c (board_redis)" \
      "a refresh whose Redis part fails must put its error in the snapshot"
  fi
  back=0
  for ((i = 0; i < 60; i++)); do
    [ "$(board_errors)" = 0 ] && { back=1; break; }
    sleep 1
  done
  if [ "$back" = 1 ]; then
    ok "with Redis answering again, /api/board reports no problem"
  else
    fail "Redis is back, yet /api/board still reports a problem" \
      "cli/board_collect.c" "the next refresh must clear the errors"
  fi
else
  fail "could not pause redis-server" "$LASTMILE_DEV_DIR/redis.pid" \
    "is the embedded stack's Redis running?"
fi

if [ -s "$ART/board.png" ]; then
  ok "screenshot kept: $ART/board.png ($(stat -c %s "$ART/board.png") bytes)"
else
  fail "no screenshot" "$ART/board.png" "see $TMP/chromium.log"
fi
finish
