#!/usr/bin/env bash
# tests/shell/gateway_lib.sh — sourced by test_gateway.sh and
# test_gateway_form.sh (not a test of its own), on top of test_lib.sh:
# stopping what was started, the embedded stack, minting keys and starting a
# gateway on a free port.
#
# The caller sets SRC, BIN, TMP and NAME first; the stack's state goes to
# $TMP/stack. Every process started here is recorded and stopped by
# gw_cleanup (the caller's EXIT trap), also on failure.

LM=$BIN/cli/lastmile
GW=$BIN/gateway/lastmile-gateway
PY=/usr/bin/python3
# shellcheck source=tests/shell/test_lib.sh
. "$SRC/tests/shell/test_lib.sh"
WAIT_S=$((30 * MULT))
GW_KEEP=${LASTMILE_TEST_KEEP:-}

PIDS=()
STACK_UP=0

# shellcheck disable=SC2317 # invoked by the caller's trap
gw_cleanup() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${PIDS[$i]}" 15
  done
  [ "$STACK_UP" -eq 1 ] && LASTMILE_DEV_DIR="$TMP/stack" "$LM" dev down >/dev/null 2>&1
  if [ -n "$GW_KEEP" ]; then
    echo "$NAME: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
}

need_built() { # files...
  local f
  for f in "$@"; do
    if [ ! -x "$f" ]; then
      fail "$f is not built" "$BIN" "build first: cmake --build $BIN"
      finish
    fi
  done
  if [ ! -x "$PY" ]; then
    fail "/usr/bin/python3 is missing" "this machine" "apt-get install python3"
    finish
  fi
}

stack_up() { # partitions
  export LASTMILE_DEV_DIR="$TMP/stack"
  if ! "$LM" dev up --partitions "$1" >"$TMP/env.sh" 2>"$TMP/dev.log"; then
    fail "lastmile dev up failed: $(tr '\n' ' ' <"$TMP/dev.log")" "$LM dev up" \
      "see the message; is redis-server installed?"
    finish
  fi
  STACK_UP=1
  # shellcheck disable=SC1091
  . "$TMP/env.sh"
  ok "embedded stack up (brokers $LASTMILE_BROKERS)"
}

mint_key() { # name scopes [origins]: sets KEY, appends the line to $TMP/keys
  local out
  out=$("$LM" gateway-key "$@") || {
    fail "lastmile gateway-key $* failed" "cli/gateway_key.c" "see its message"
    finish
  }
  KEY=$(sed -n 's/^key: *//p' <<<"$out")
  sed -n 's/^line: //p' <<<"$out" >>"$TMP/keys"
}

# gw_start LOGNAME [VAR=VALUE...]: a gateway on a free loopback port with
# the keys in $TMP/keys; sets GW_URL and records the pid.
gw_start() {
  local log=$TMP/$1.log i port=""
  shift
  env LASTMILE_GATEWAY_KEYS_FILE="$TMP/keys" LASTMILE_GATEWAY_ADDR=127.0.0.1:0 \
    "$@" "$GW" >"$log" 2>&1 &
  PIDS+=($!)
  for ((i = 0; i < WAIT_S * 10; i++)); do
    port=$(sed -n 's/.*"event":"started".*(port \([0-9]*\)).*/\1/p' "$log" | head -n1)
    [ -n "$port" ] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    fail "lastmile-gateway did not start: $(tail -n3 "$log" | tr '\n' ' ')" "$log" \
      "see the log"
    finish
  fi
  GW_URL=http://127.0.0.1:$port
}
