#!/usr/bin/env bash
# tests/shell/test_lib.sh — sourced by the shell tests (not a test of its
# own): the result lines (ok / fail with what, where and fix / finish),
# the wait multiplier, stopping a process politely then firmly, and
# Chromium from Debian's archive when a test needs a browser.
#
# The caller sets NAME (its name, for messages) first. finish prints the
# last line "N passed, N failed[, N skipped]" and exits 0 when none failed.

# LASTMILE_TEST_TIMEOUT_MULT (may be fractional) stretches every wait
MULT=$(awk -v m="${LASTMILE_TEST_TIMEOUT_MULT:-1}" \
  'BEGIN { x = int(m); if (x < m) x++; if (x < 1) x = 1; print x }')

passed=0
failed=0
skipped=0
ok() {
  passed=$((passed + 1))
  echo "ok   $1"
}
fail() { # what, where, fix
  failed=$((failed + 1))
  printf 'FAIL %s\n       where: %s\n       fix:   %s\n' "$1" "$2" "$3"
}
finish() {
  local line="$passed passed, $failed failed"
  [ "$skipped" -gt 0 ] && line+=", $skipped skipped"
  echo "$line"
  [ "$failed" -eq 0 ]
  exit $?
}

stop_pid() { # pid, seconds: SIGTERM, then SIGKILL when it does not go
  local pid=$1 limit=$2 i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# need_chromium: sets CHROME, installing Debian's chromium when missing
# (apt-get; sudo only when not root); fails and finishes when it cannot.
need_chromium() {
  CHROME=$(command -v chromium || true)
  [ -n "$CHROME" ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      fail "chromium is missing" "this machine (not root, no password-less sudo)" \
        "install it: sudo apt-get install chromium"
      finish
    fi
  fi
  echo "$NAME: installing chromium from Debian's archive" >&2
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086 # $sudo is empty or "sudo -n"
  if ! { timeout $((600 * MULT)) $sudo apt-get update -qq &&
    timeout $((600 * MULT)) $sudo apt-get install -y -qq --no-install-recommends \
      chromium >/dev/null; }; then
    fail "could not install chromium" "apt-get" \
      "check the network and apt sources, or install it by hand: apt-get install chromium"
    finish
  fi
  CHROME=$(command -v chromium || true)
  [ -n "$CHROME" ] || {
    fail "chromium installed but not on PATH" "$PATH" "check the chromium package"
    finish
  }
}
