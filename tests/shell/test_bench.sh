#!/usr/bin/env bash
# test_bench.sh — `lastmile bench --json` on a small run (1,000 leads)
# prints every figure the performance issue asks for, each of the right
# kind and consistent with the others: throughput, the passthrough and
# their ratio, latency percentiles in order, CPU and RSS of each worker,
# Redis commands and round trips, and whether an AOF rewrite overlapped the
# latency run. It checks behaviour, not speed: no figure is compared with
# a target (this machine is shared; docs/PERFORMANCE.md has the figures).
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
AOF rewrites during the latency run: a count	isinstance(d["latency_submit_to_first_action"]["aof_rewrites_during"], int) and d["latency_submit_to_first_action"]["aof_rewrites_during"] >= 0
every worker's CPU and RSS	all(w in d["workers"] and d["workers"][w]["peak_rss_mb"] > 0 and d["workers"][w]["cpu_s_per_1000_leads"] >= 0 for w in ("intake", "qualification", "followup", "timing"))
Redis commands per lead are counted	d["redis"]["commands_per_lead"] > 1
Redis round trips per batch: the runtime's two	0 < d["redis"]["roundtrips_per_batch"] <= 2.0001
Redis CPU and busy share	d["redis"]["cpu_s_per_1000_leads"] > 0 and 0 < d["redis"]["busy_share_at_max"] <= 1.5
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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
