#!/usr/bin/env bash
# demo-owner-loads.sh — runs `lastmile demo` and samples every owner's load
# (the size of lm:{team:<t>}:open:<owner>, the open leads that hold a slot)
# from the demo's Redis twice a second while it runs; prints the highest
# load each owner reached against its capacity (from the config the demo
# uses), then the demo's report line of open leads by owner.
#
#   scripts/demo-owner-loads.sh [build/cli/lastmile] [demo options...]
#   e.g. scripts/demo-owner-loads.sh build/cli/lastmile --leads 800
#
# Needs redis-cli. Read-only on the demo's Redis; the demo takes its stack
# down itself.
set -euo pipefail
LASTMILE=${1:-build/cli/lastmile}
shift || true
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$LASTMILE" demo --json "$@" >"$OUT/report.json" 2>"$OUT/demo.err" &
DEMO=$!
PORT=
# the demo's workers are its children; their environment names its Redis
for _ in $(seq 1 300); do
  for c in $(pgrep -P "$DEMO" 2>/dev/null); do
    PORT=$(tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null |
      grep -o '^LASTMILE_REDIS_URL=redis://127.0.0.1:[0-9]*' | grep -o '[0-9]*$' || true)
    [ -n "$PORT" ] && break
  done
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "the demo's Redis was not found (pid $DEMO)" >&2; wait "$DEMO"; exit 1; }
touch "$OUT/max"
while kill -0 "$DEMO" 2>/dev/null; do
  redis-cli -p "$PORT" --scan --pattern 'lm:{team:*}:open:*' 2>/dev/null |
    while read -r k; do
      printf '%s %s\n' "${k#*open:}" "$(redis-cli -p "$PORT" SCARD "$k" 2>/dev/null)"
    done >>"$OUT/max" || true
  sleep 0.5
done
wait "$DEMO" || { cat "$OUT/demo.err" >&2; exit 1; }
python3 - "$OUT/max" "${LASTMILE_CONFIG:-config/decisions.yaml}" "$OUT/report.json" <<'PY'
import sys, re, json
mx = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 2 and p[1].isdigit():
        mx[p[0]] = max(mx.get(p[0], 0), int(p[1]))
cap = {}
for m in re.finditer(r"name:\s*([\w.]+),\s*capacity:\s*(\d+)", open(sys.argv[2]).read()):
    cap[m.group(1)] = int(m.group(2))
print("%-16s %8s %9s" % ("owner", "max load", "capacity"))
over = 0
for o in sorted(cap):
    flag = "  OVER" if mx.get(o, 0) > cap[o] else ""
    over += bool(flag)
    print("%-16s %8d %9d%s" % (o, mx.get(o, 0), cap[o], flag))
print("owners above capacity at some moment: %d" % over)
rep = json.load(open(sys.argv[3]))
ob = rep.get("open_by_owner") or []
print("report open_by_owner (end of run): " +
      ", ".join("%s %s" % (x.get("owner"), x.get("open")) for x in ob[:8]))
PY
