#!/usr/bin/env bash
# tests/shell/test_gateway.sh — lastmile-gateway over real HTTP against the
# embedded stack (issue 18).
#
# Without a stack: a bad line of the keys file stops the gateway at start
# (exit 2) naming the file, the line number and the fix, for each kind of
# mistake; no keys at all likewise. Then the stack (4 partitions), three
# keys (web: leads from origin http://form.test; crm: responses and
# activities; all: every scope) and two gateways: the main one (small
# limits: 4096-byte bodies, arrays of 3, a 1.5 s ack timeout) and a
# rate-limited one (0.2 requests/s, burst 2). gateway_check.py then checks
#   - every error path: 400 naming each bad field (one lead, an array,
#     not JSON, a form), 401 (no key, unknown key), 403 (scope, origin),
#     404, 405, 413 (body, array), 415, 429 with Retry-After, the CORS
#     preflight for a listed and an unlisted origin;
#   - the happy paths: JSON, form, array, answers, activities, owner
#     status; Idempotency-Key as event_id; each message on its topic with
#     its key, numbers as attribute strings, timing messages on
#     murmur2(lead_id)'s partition;
#   - docs/openapi.yaml: every documented path, method and status is
#     requested and its status and content type compared; every route of
#     gateway/gw_http.c is documented;
#   - with the broker down: /readyz 503, each POST 503 with Retry-After
#     (no 202 without the broker's acknowledgement); back up: the same
#     request with the same Idempotency-Key is 202;
#   - /metrics, /healthz, /readyz on LASTMILE_METRICS_ADDR, with the
#     requests counted by path and status;
#   - SIGTERM stops the gateway with exit 0.
#
# Run by ctest with LM_SOURCE_DIR and LM_BINARY_DIR set, or by hand:
#   LM_BINARY_DIR=build bash tests/shell/test_gateway.sh
# Python is /usr/bin/python3 with PyYAML (python3-yaml). About 30 s.
# The last line is "N passed, N failed"; exit 0 when none failed.
set -uo pipefail

SRC=${LM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${LM_BINARY_DIR:-$SRC/build}
BIN=$(cd "$BIN" 2>/dev/null && pwd || echo "$BIN")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lm-gateway.XXXXXX")
NAME=test_gateway
# shellcheck source=tests/shell/gateway_lib.sh
. "$SRC/tests/shell/gateway_lib.sh"
trap gw_cleanup EXIT
trap 'exit 130' INT TERM

need_built "$LM" "$GW"
# a lastmile-gateway from the outer environment must not leak in
unset "${!LASTMILE_@}"

# ---- lastmile gateway-key ------------------------------------------------------
"$LM" gateway-key --help >"$TMP/help.txt" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q 'NAME SCOPES \[ORIGINS\]' "$TMP/help.txt"; then
  ok "lastmile gateway-key --help: exit 0, usage"
else
  fail "lastmile gateway-key --help exited $rc" "cli/gateway_key.c" "print the usage, exit 0"
fi
for args in "web" "web leeds" "web leads example.com" "w/b leads" "a b c d"; do
  # shellcheck disable=SC2086
  "$LM" gateway-key $args >"$TMP/gk.out" 2>"$TMP/gk.err"
  rc=$?
  if [ "$rc" -eq 2 ] && [ ! -s "$TMP/gk.out" ] && [ -s "$TMP/gk.err" ]; then
    ok "lastmile gateway-key $args: usage error, no key printed: $(head -n1 "$TMP/gk.err")"
  else
    fail "lastmile gateway-key $args: exit $rc" "cli/gateway_key.c" "exit 2, print nothing on stdout"
  fi
done
"$LM" gateway-key k1 leads,responses https://a.test >"$TMP/gk1" && "$LM" gateway-key k1 leads >"$TMP/gk2"
k1=$(sed -n 's/^key: *//p' "$TMP/gk1")
h1=$(sed -n 's/^line: k1 \([0-9a-f]*\) leads,responses https:\/\/a.test$/\1/p' "$TMP/gk1")
if [[ "$k1" =~ ^lmk_[0-9a-f]{64}$ ]] && [ "$h1" = "$(printf %s "$k1" | sha256sum | cut -d' ' -f1)" ] &&
  [ "$k1" != "$(sed -n 's/^key: *//p' "$TMP/gk2")" ]; then
  ok "lastmile gateway-key: a fresh lmk_ key each time, the line holds its SHA-256"
else
  fail "lastmile gateway-key printed $(cat "$TMP/gk1")" "cli/gateway_key.c" \
    "key: lmk_<64 hex>, line: NAME sha256(key) SCOPES [ORIGINS]"
fi

# ---- the keys file: a bad line stops the gateway at start --------------------
GOOD="ok-1 $(printf '%064d' 0) leads"
check_bad_keys() { # line 3, what the error must say
  printf '# keys for the test\n%s\n%s\n' "$GOOD" "$1" >"$TMP/keys.bad"
  LASTMILE_BROKERS=127.0.0.1:1 LASTMILE_GATEWAY_KEYS_FILE="$TMP/keys.bad" \
    timeout 20 "$GW" >/dev/null 2>"$TMP/bad.err"
  local rc=$?
  if [ "$rc" -eq 2 ] && grep -q "keys.bad:3: .*$2" "$TMP/bad.err"; then
    ok "keys file line \"${1:0:40}\": exit 2, $(head -c 150 "$TMP/bad.err")"
  else
    fail "keys file line \"$1\": exit $rc, $(cat "$TMP/bad.err")" "gateway/gw_keys.c" \
      "refuse it at start with keys.bad:3: and \"$2\""
  fi
}
check_bad_keys "web nothex leads" "not 64 hex digits.*lastmile gateway-key"
check_bad_keys "web $(printf '%064d' 1) leeds" "unknown scope \"leeds\".*leads, responses"
check_bad_keys "web $(printf '%064d' 1) leads www.example.com" "not a web origin.*https://"
check_bad_keys "ok-1 $(printf '%064d' 1) leads" "used twice"
check_bad_keys "web $(printf '%064d' 1)" "2 fields; lines are NAME SHA256_HEX SCOPES"
check_bad_keys "w/b $(printf '%064d' 1) leads" "has '/'"
LASTMILE_BROKERS=127.0.0.1:1 timeout 20 "$GW" >/dev/null 2>"$TMP/nokeys.err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "LASTMILE_GATEWAY_KEYS_FILE is not set" "$TMP/nokeys.err"; then
  ok "no keys: exit 2, names LASTMILE_GATEWAY_KEYS_FILE"
else
  fail "no keys: exit $rc, $(cat "$TMP/nokeys.err")" "gateway/main.c" \
    "exit 2 and name LASTMILE_GATEWAY_KEYS_FILE"
fi

# ---- the stack, the keys, two gateways ---------------------------------------
stack_up 4
: >"$TMP/keys"
mint_key web leads http://form.test
WEB=$KEY
mint_key crm responses,activities
CRM=$KEY
mint_key all leads,responses,activities
ALL=$KEY
MPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
gw_start gateway LASTMILE_GATEWAY_MAX_BODY=4096 LASTMILE_GATEWAY_BATCH_MAX=3 \
  LASTMILE_GATEWAY_ACK_TIMEOUT_MS=1500 LASTMILE_GATEWAY_RATE=1000 \
  LASTMILE_GATEWAY_BURST=1000 LASTMILE_METRICS_ADDR=127.0.0.1:$MPORT
MAIN_URL=$GW_URL
MAIN_PID=${PIDS[-1]}
gw_start limited LASTMILE_GATEWAY_RATE=0.2 LASTMILE_GATEWAY_BURST=2
LIMITED_URL=$GW_URL
ok "gateways up at $MAIN_URL and $LIMITED_URL (rate-limited)"

printf '{"web":"%s","crm":"%s","all":"%s"}\n' "$WEB" "$CRM" "$ALL" >"$TMP/keys.json"
"$PY" "$SRC/tests/shell/gateway_check.py" "$MAIN_URL" "$LIMITED_URL" \
  "$TMP/keys.json" "$SRC" "$LM" 4 "http://127.0.0.1:$MPORT" >"$TMP/check.out" 2>&1
rc=$?
cat "$TMP/check.out"
passed=$((passed + $(grep -c '^ok ' "$TMP/check.out")))
failed=$((failed + $(grep -c '^FAIL ' "$TMP/check.out")))
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$TMP/check.out"; then
  fail "gateway_check.py exited $rc" "tests/shell/gateway_check.py" "see its output"
fi

# ---- SIGTERM: finish what runs, exit 0 -----------------------------------------
kill -TERM "$MAIN_PID"
for ((i = 0; i < 50 * MULT; i++)); do
  kill -0 "$MAIN_PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$MAIN_PID" 2>/dev/null; then
  fail "lastmile-gateway still runs 5 s after SIGTERM" "gateway/main.c" "stop on SIGTERM"
else
  wait "$MAIN_PID"
  rc=$?
  if [ "$rc" -eq 0 ] && grep -q '"event":"stopping"' "$TMP/gateway.log"; then
    ok "SIGTERM: the gateway stops, exit 0"
  else
    fail "SIGTERM: exit $rc" "gateway/main.c" "exit 0 after finishing the requests"
  fi
fi
finish
