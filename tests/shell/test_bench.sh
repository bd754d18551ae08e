#!/usr/bin/env bash
# test_bench.sh — `lastmile bench --json` on a small run (1,000 leads)
# prints every figure the performance issue asks for, each of the right
# kind and consistent with the others: throughput, the state floor, the
# passthrough and the ratios to both, latency percentiles in order (of the
# whole run, of each half, and split at the decision), CPU and
# RSS of each worker (the fleet's and the chains'), Redis commands (by name
# too), AOF bytes and round trips per lead and per batch per worker, and
# that the AOF rewrite the bench starts overlapped the latency run. The floor must have
# done exactly its Redis work: one claim, one HSET and one ZADD per lead,
# one round trip per batch per hop. It checks behaviour, not speed: no
# figure is compared with a target (this machine is shared;
# docs/PERFORMANCE.md has the figures). scripts/aof-breakdown.py and
# scripts/aof-outboxes.py are checked on small AOFs written here.
set -u
bin=${LM_BINARY_DIR:?}
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! "$bin/cli/lastmile" bench --leads 1000 --json >"$work/bench.json" \
  2>"$work/bench.err"; then
  bad "lastmile bench --leads 1000 --json exited non-zero"
  cat "$work/bench.err"
  echo "$pass passed, $fail failed"
  exit 1
fi
ok "lastmile bench --leads 1000 --json exits 0"

# one check a line: "description<TAB>python expression over d". (A worker's
# CPU comes from /proc in 10 ms ticks: on 1,000 leads it may be 0.)
checks=$(
  cat <<'EOT'
1,000 leads measured	d["leads"] == 1000
throughput is positive	d["throughput_leads_per_s"] > 0
the passthrough is measured	d["passthrough_leads_per_s"] > 0
the ratio is throughput over passthrough	abs(d["passthrough_ratio"] - d["throughput_leads_per_s"] / d["passthrough_leads_per_s"]) < 1e-3
latency offered at half the maximum	abs(d["latency_submit_to_first_action"]["offered_leads_per_s"] - d["throughput_leads_per_s"] / 2) < 1
latency measured over the run's leads	d["latency_submit_to_first_action"]["leads"] >= 1000
p50 <= p99 <= p99.9, all positive	0 < d["latency_submit_to_first_action"]["p50_ms"] <= d["latency_submit_to_first_action"]["p99_ms"] <= d["latency_submit_to_first_action"]["p999_ms"]
the latency run's halves and its split at the decision (p50 <= p99)	all(0 < d["latency_submit_to_first_action"][k]["p50_ms"] <= d["latency_submit_to_first_action"][k]["p99_ms"] for k in ("first_half", "second_half", "submit_to_decision", "decision_to_first_action"))
the latency run met an AOF rewrite (at 1,000 leads, the one the bench starts)	d["latency_submit_to_first_action"]["aof_rewrite_started_by_bench"] is True and isinstance(d["latency_submit_to_first_action"]["aof_rewrites_during"], int) and d["latency_submit_to_first_action"]["aof_rewrites_during"] >= 1
every worker's CPU and RSS	all(w in d["workers"] and d["workers"][w]["peak_rss_mb"] > 0 and d["workers"][w]["cpu_s_per_1000_leads"] >= 0 for w in ("intake", "qualification", "followup", "timing"))
Redis commands per lead are counted	d["redis"]["commands_per_lead"] > 1
Redis round trips per batch: the runtime's two	0 < d["redis"]["roundtrips_per_batch"] <= 2.0001
Redis CPU and busy share	d["redis"]["cpu_s_per_1000_leads"] > 0 and 0 < d["redis"]["busy_share_at_max"] <= 1.5
the fleet's AOF bytes per lead are measured	d["redis"]["aof_bytes_per_lead"] > 100
the fleet's commands by name add up to its commands	abs(sum(d["redis"]["commands_by_name_per_lead"].values()) - d["redis"]["commands_per_lead"]) < 0.05
the bench's own INFO probes are not counted	"info" not in d["redis"]["commands_by_name_per_lead"]
round trips per batch per fleet worker	all(0 <= d["workers"][w]["redis_roundtrips_per_batch"] <= 2.0001 and d["workers"][w]["redis_roundtrips_per_lead"] >= 0 for w in d["workers"]) and d["workers"]["intake"]["batches"] > 0
the state floor is measured	d["floor_leads_per_s"] > 0 and d["floor"]["leads_per_s"] == d["floor_leads_per_s"]
the floor ratio is throughput over the floor	abs(d["floor_ratio"] - d["throughput_leads_per_s"] / d["floor_leads_per_s"]) < 1e-3
the floor does its three commands per lead	all(abs(d["floor"]["redis"]["commands_by_name_per_lead"].get(c, 0) - 1) < 0.01 for c in ("set", "hset", "zadd")) and abs(d["floor"]["redis"]["commands_per_lead"] - 3) < 0.05
the floor's AOF bytes per lead, fewer than the fleet's	0 < d["floor"]["redis"]["aof_bytes_per_lead"] < d["redis"]["aof_bytes_per_lead"]
the AOF ratio is the fleet's bytes over the floor's	abs(d["aof_floor_ratio"] - d["redis"]["aof_bytes_per_lead"] / d["floor"]["redis"]["aof_bytes_per_lead"]) < 1e-3
one round trip per batch per floor hop	all(d["floor"]["workers"][w]["batches"] > 0 and d["floor"]["workers"][w]["redis_roundtrips_per_batch"] == 1 for w in ("floor-intake", "floor-qualification", "floor-followup")) and d["floor"]["redis"]["roundtrips_per_batch"] == 1
the floor's Redis CPU	d["floor"]["redis"]["cpu_s_per_1000_leads"] > 0
CPU and RSS of every chain worker	all(len(d[c]["workers"]) == 3 and all(v["peak_rss_mb"] > 0 and v["cpu_s_per_1000_leads"] >= 0 for v in d[c]["workers"].values()) for c in ("floor", "passthrough"))
EOT
)
while IFS=$'\t' read -r what expr; do
  [ -n "$what" ] || continue
  if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$work/bench.json" "$expr" 2>"$work/py.err"; then
    ok "$what"
  else
    bad "$what: $expr"
    cat "$work/py.err"
  fi
done <<<"$checks"

# scripts/aof-breakdown.py on an AOF of two leads: a claim, a lead hash
# written twice and a timer; its per-lead rows and the HSET fields
src=$(cd "$(dirname "$0")/../.." && pwd)
resp() { # one RESP command from its arguments
  printf '*%d\r\n' "$#"
  for a in "$@"; do printf '$%d\r\n%s\r\n' "${#a}" "$a"; done
}
{
  for p in 0123456789abcdef fedcba9876543210; do
    resp SET "lm:{$p}:person" "$p-0badcafe" PXAT 1800000000000
    resp HSET "lm:{$p}:lead:$p-0badcafe" stage qualification score 0.5
    resp HSET "lm:{$p}:lead:$p-0badcafe" stage followup
    resp ZADD "lm:{timers:3}" 1800000000000 "$p-0badcafe|response|0|NA"
  done
} >"$work/t.aof"
if python3 "$src/scripts/aof-breakdown.py" 2 "$work/t.aof" >"$work/aof.txt" 2>&1 &&
  grep -Eq '^HSET +lm:\{P\}:lead:L +2\.000 ' "$work/aof.txt" &&
  grep -Eq '^SET +lm:\{P\}:person +1\.000 ' "$work/aof.txt" &&
  grep -Eq '^stage +2\.000 ' "$work/aof.txt" &&
  grep -Eq '^score +1\.000 ' "$work/aof.txt" &&
  grep -Eq "^total +4\.000 +$(awk -v b="$(wc -c <"$work/t.aof")" 'BEGIN { printf "%.1f", b / 2 }')\$" "$work/aof.txt"; then
  ok "aof-breakdown.py: commands, bytes and HSET fields per lead"
else
  bad "aof-breakdown.py: commands, bytes and HSET fields per lead"
  cat "$work/aof.txt"
fi
if python3 "$src/scripts/aof-breakdown.py" zero "$work/t.aof" >/dev/null 2>"$work/aof.err"; then
  bad "aof-breakdown.py refuses a bad lead count"
elif grep -q "number of leads" "$work/aof.err"; then
  ok "aof-breakdown.py refuses a bad lead count"
else
  bad "aof-breakdown.py refuses a bad lead count: $(cat "$work/aof.err")"
fi

# scripts/aof-outboxes.py on a fence with one decision (a 20-byte lead)
# and one outcome, and one intake done record (a 30-byte LeadAccepted);
# then the same fence as the runtime writes it, its inputs compressed
python3 - "$work/o.aof" "$work/oz.aof" <<'EOP'
import subprocess, sys
def ld(num, b): # a length-delimited field (lengths < 128 here)
    return bytes([num << 3 | 2, len(b)]) + b
def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out
decision = ld(2, b"L" * 10) + ld(11, b"x" * 20)               # lead_id, lead
rec = lambda topic, value: ld(1, topic) + ld(5, value)
inputs = ld(2, rec(b"lastmile.followup", ld(1, decision))) + ld(2, rec(b"lastmile.outcomes", b"o" * 5))
fence = ld(2, inputs)
zipped = subprocess.run(["zstd", "-q", "-c"], input=ld(1, inputs), capture_output=True, check=True).stdout
done = ld(1, rec(b"lastmile.qualification", b"a" * 30))
key = b"lm:{fence}:qualification:lastmile.qualification:0"
with open(sys.argv[1], "wb") as f:
    f.write(resp(b"SET", key, fence))
    f.write(resp(b"SET", b"lm:{0123456789abcdef}:done:intake:e1", done, b"PXAT", b"1"))
    # a claim holding its outbox (a named record: field 8), and one plain
    named = ld(1, b"lastmile.qualification") + ld(5, b"a" * 7) + bytes([8 << 3, 1])
    claim = ld(1, b"0123456789abcdef-01234567") + ld(2, b"e2") + ld(3, ld(1, named))
    f.write(resp(b"SET", b"lm:{0123456789abcdef}:person", claim, b"PX", b"1"))
    f.write(resp(b"SET", b"lm:{fedcba9876543210}:person", b"fedcba9876543210-01234567"))
with open(sys.argv[2], "wb") as f:
    f.write(resp(b"SET", key, ld(7, zipped)))
EOP
if python3 "$src/scripts/aof-outboxes.py" "$work/o.aof" >"$work/o.txt" 2>&1 &&
  grep -q "2 outbox records, .*; 1 decisions, 34 B each, of which lead 22 B" "$work/o.txt" &&
  grep -q "intake's done records: 1, .* LeadAccepted 30 B" "$work/o.txt" &&
  grep -q "intake's claims: 1 holding an outbox, .* outbox 37 B, record 37 B, 1 named by their input; 1 plain" "$work/o.txt"; then
  ok "aof-outboxes.py: a decision's lead and intake's LeadAccepted weighed"
else
  bad "aof-outboxes.py: a decision's lead and intake's LeadAccepted weighed"
  cat "$work/o.txt"
fi
if python3 "$src/scripts/aof-outboxes.py" "$work/oz.aof" >"$work/oz.txt" 2>&1 &&
  grep -q "2 outbox records, .*; 1 decisions, 34 B each, of which lead 22 B" "$work/oz.txt" &&
  grep -q "0 B plain; [0-9]* B compressed, [0-9]* B decompressed" "$work/oz.txt"; then
  ok "aof-outboxes.py: a fence's compressed inputs weighed as the plain ones"
else
  bad "aof-outboxes.py: a fence's compressed inputs weighed as the plain ones"
  cat "$work/oz.txt"
fi
# ... and compressed inputs that do not decompress are said so, exit 1
printf '*3\r\n$3\r\nSET\r\n$21\r\nlm:{fence}:followup:x\r\n$6\r\n\x3a\x04abcd\r\n' \
  >"$work/ob.aof" # field 7 (inputs_zstd), 4 bytes that are no zstd frame
if ! python3 "$src/scripts/aof-outboxes.py" "$work/ob.aof" >"$work/ob.txt" 2>&1 &&
  grep -q "compressed inputs do not decompress" "$work/ob.txt"; then
  ok "aof-outboxes.py: compressed inputs that do not decompress are named"
else
  bad "aof-outboxes.py: compressed inputs that do not decompress are named"
  cat "$work/ob.txt"
fi

# A worker that cannot run ends the bench at once, saying which and why:
# a copy of lastmile with no workers beside it is refused before the
# chains run; with an intake that exits (a planted script) the fleet's
# wait ends when it is gone, with the end of its log. (Before, both
# waited 10 minutes per phase for leads that could not come; `timeout`
# only bounds this test.)
mkdir -p "$work/alone" "$work/planted"
cp "$bin/cli/lastmile" "$work/alone/"
timeout 300 "$work/alone/lastmile" bench --leads 100 --json \
  >"$work/alone.json" 2>"$work/alone.err"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ ! -s "$work/alone.json" ] &&
  grep -q "no executable lastmile-intake beside" "$work/alone.err" &&
  ! grep -q "bench: passthrough" "$work/alone.err"; then
  ok "a lastmile without its workers is refused before the chains run"
else
  bad "a lastmile without its workers is refused before the chains run (rc $rc)"
  cat "$work/alone.err"
fi
cp "$bin/cli/lastmile" "$work/planted/"
for w in qualification followup timing; do
  ln -s "$bin/workers/lastmile-$w" "$work/planted/lastmile-$w"
done
printf '#!/bin/sh\necho "intake: a planted failure" >&2\nexit 3\n' \
  >"$work/planted/lastmile-intake"
chmod +x "$work/planted/lastmile-intake"
timeout 300 "$work/planted/lastmile" bench --leads 100 --json \
  >"$work/planted.json" 2>"$work/planted.err"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ ! -s "$work/planted.json" ] &&
  grep -q "bench: intake exited with status 3" "$work/planted.err" &&
  grep -q "intake: a planted failure" "$work/planted.err"; then
  ok "a worker that exits ends the bench, with its status and its log's end"
else
  bad "a worker that exits ends the bench, with its status and its log's end (rc $rc)"
  cat "$work/planted.err"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
