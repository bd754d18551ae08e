#!/usr/bin/env bash
# test_contracts.sh — the contracts are usable by any client: a lead
# encoded with `protoc --encode` and produced with kcat onto the embedded
# stack's intake topic comes out of the intake worker as a LeadAccepted
# that `protoc --decode` reads back. Needs protoc and kcat (Debian's
# protobuf-compiler and kcat; installed when missing).
set -u
src=${LM_SOURCE_DIR:?}
bin=${LM_BINARY_DIR:?}
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

if ! command -v protoc >/dev/null || ! command -v kcat >/dev/null; then
  LM_EXTRA_PACKAGES="protobuf-compiler kcat" bash "$src/scripts/install-deps.sh"
fi
work=$(mktemp -d)
export LASTMILE_DEV_DIR="$work/stack"
worker=""
cleanup() {
  [ -n "$worker" ] && kill "$worker" 2>/dev/null && wait "$worker" 2>/dev/null
  "$bin/cli/lastmile" dev down >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

eval "$("$bin/cli/lastmile" dev up --partitions 1 2>/dev/null)" ||
  { echo "FAIL lastmile dev up"; echo "0 passed, 1 failed"; exit 1; }
kcat -b "$LASTMILE_BROKERS" -L -t lastmile.intake >/dev/null 2>&1 &&
  ok "kcat reaches the embedded broker" || bad "kcat -L"
[ "$(redis-cli -u "$LASTMILE_REDIS_URL" ping 2>/dev/null)" = PONG ] &&
  ok "redis-cli reaches the embedded Redis" || bad "redis-cli ping"

proto=(-I"$src/proto" "$src/proto/lastmile/v1/lastmile.proto")
now=$(date +%s%3N)
protoc --encode=lastmile.v1.LeadSubmitted "${proto[@]}" >"$work/lead.bin" <<EOT
event_id: "contract-1"
source: "web_form"
email: "Grace.Hopper@Example.com"
full_name: "Grace Hopper"
title: "Director of Engineering"
company_size: 450
country: "US"
submitted_at_ms: $now
attributes { key: "pages_viewed" value: "7" }
EOT
[ -s "$work/lead.bin" ] && ok "protoc --encode LeadSubmitted" || bad "encode"
kcat -b "$LASTMILE_BROKERS" -P -t lastmile.intake -k grace "$work/lead.bin" &&
  ok "kcat produced it" || bad "kcat -P"

"$bin/workers/lastmile-intake" 2>"$work/intake.log" &
worker=$!
kcat -b "$LASTMILE_BROKERS" -C -t lastmile.qualification -o beginning -c 1 \
  -e -q -D '' -m 30 >"$work/accepted.bin" 2>/dev/null
for _ in $(seq 1 60); do
  [ -s "$work/accepted.bin" ] && break
  sleep 0.5
  kcat -b "$LASTMILE_BROKERS" -C -t lastmile.qualification -o beginning \
    -c 1 -e -q -D '' >"$work/accepted.bin" 2>/dev/null
done
protoc --decode=lastmile.v1.LeadAccepted "${proto[@]}" \
  <"$work/accepted.bin" >"$work/accepted.txt" 2>&1
grep -q 'email: "grace.hopper@example.com"' "$work/accepted.txt" &&
  ok "protoc --decode LeadAccepted: normalised email" ||
  { bad "decode LeadAccepted"; cat "$work/accepted.txt"; }
grep -q 'timezone: "America/New_York"' "$work/accepted.txt" &&
  ok "the country's default time zone was filled in" || bad "timezone"
grep -qE 'lead_id: "[0-9a-f]{16}-[0-9a-f]{8}"' "$work/accepted.txt" &&
  ok "a lead_id was assigned" || bad "lead_id"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
