#!/usr/bin/env bash
# `lastmile model promote` and `show`, and train's guard of the live model.
#
# A bad candidate is refused with its file:line and fix and the live file
# stays byte for byte; a good one becomes the live file (atomically
# renamed) with the old one kept as <live>.previous, and promoting
# .previous undoes it. Without --live or LASTMILE_MODEL there is no live
# file to replace (usage error). `lastmile train --out` on the live model's
# file is refused before anything is read. No broker, no Redis.
set -euo pipefail
bin=${LM_BINARY_DIR:?}/cli/lastmile
src=${LM_SOURCE_DIR:?}
tmp=$(mktemp -d /tmp/lastmile-promote-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
run() { rc=0; "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?; }

cp "$src/config/model.json" "$tmp/live.json"
sed 's/"2026-11-25.default"/"candidate-7"/' "$src/config/model.json" >"$tmp/cand.json"
sed 's/"title=vp"/"titel=vp"/' "$tmp/cand.json" >"$tmp/bad.json"
cp "$tmp/live.json" "$tmp/live.orig"
line=$(grep -n '"titel=vp"' "$tmp/bad.json" | cut -d: -f1)

run "$bin" model show "$tmp/cand.json"
if [ "$rc" -eq 0 ] && grep -q "version  candidate-7" "$tmp/out" &&
  grep -q "title=vp" "$tmp/out"; then
  ok "show prints the version and the weights"
else bad "show: exit $rc: $(cat "$tmp/out" "$tmp/err")"; fi

run "$bin" model show "$tmp/bad.json"
if [ "$rc" -eq 1 ] && grep -q "$tmp/bad.json:$line: " "$tmp/err"; then
  ok "show names a bad file's line"
else bad "show bad: exit $rc: $(cat "$tmp/err")"; fi

run "$bin" model promote "$tmp/bad.json" --live "$tmp/live.json"
if [ "$rc" -eq 1 ] && grep -q "$tmp/bad.json:$line: .*fix:" "$tmp/err" &&
  cmp -s "$tmp/live.json" "$tmp/live.orig" && [ ! -e "$tmp/live.json.previous" ]; then
  ok "a bad candidate is refused with file:line and fix; live untouched"
else bad "promote bad: exit $rc: $(cat "$tmp/err")"; fi

run "$bin" model promote "$tmp/cand.json" --live "$tmp/live.json"
if [ "$rc" -eq 0 ] && cmp -s "$tmp/live.json" "$tmp/cand.json" &&
  cmp -s "$tmp/live.json.previous" "$tmp/live.orig" &&
  grep -q "restart them" "$tmp/out"; then
  ok "promote: the candidate is live, the old one in .previous"
else bad "promote: exit $rc: $(cat "$tmp/out" "$tmp/err")"; fi
if ls "$tmp" | grep -q '\.tmp\.'; then bad "a temporary file was left"; else
  ok "no temporary file left"; fi

cp "$tmp/live.json.previous" "$tmp/prev.json"
run "$bin" model promote "$tmp/prev.json" --live "$tmp/live.json"
if [ "$rc" -eq 0 ] && cmp -s "$tmp/live.json" "$tmp/live.orig"; then
  ok "promoting the previous model undoes it"
else bad "undo: exit $rc: $(cat "$tmp/err")"; fi

run env -u LASTMILE_MODEL "$bin" model promote "$tmp/cand.json"
if [ "$rc" -eq 2 ] && grep -q "which file is live" "$tmp/err"; then
  ok "no live file named: usage error"
else bad "no live: exit $rc: $(cat "$tmp/err")"; fi

run env LASTMILE_MODEL="$tmp/live.json" "$bin" model promote "$tmp/live.json"
if [ "$rc" -eq 2 ] && grep -q "already the live model" "$tmp/err"; then
  ok "promoting the live file onto itself is refused"
else bad "self: exit $rc: $(cat "$tmp/err")"; fi

run env LASTMILE_MODEL="$tmp/live.json" LASTMILE_BROKERS=nowhere:9 \
  "$bin" train --out "$tmp/live.json"
if [ "$rc" -eq 2 ] && grep -q "is the live model" "$tmp/err" &&
  cmp -s "$tmp/live.json" "$tmp/live.orig"; then
  ok "train will not write over the live model"
else bad "train --out live: exit $rc: $(cat "$tmp/err")"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
