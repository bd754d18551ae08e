#!/usr/bin/env bash
# worker-callgrind.sh — how many instructions one worker spends per lead,
# and on what.
#
# Wall-clock figures on a shared two-core machine move by a third from one
# run to the next; callgrind counts instructions, which do not. This is the
# measure to compare two versions of a worker's CPU work (issue 16):
#
#   scripts/worker-callgrind.sh intake [N]        # default 5000 leads
#   scripts/worker-callgrind.sh qualification 5000
#   scripts/worker-callgrind.sh followup 5000
#   BUILD=/other/build scripts/worker-callgrind.sh intake 5000
#   TOP=40 scripts/worker-callgrind.sh intake     # more functions listed
#   KEEP=1 scripts/worker-callgrind.sh intake     # keep cg.out-* to read
#                                                 # with callgrind_annotate
#   HEAP=1 scripts/worker-callgrind.sh qualification 20000
#       # memory instead: the worker under heaptrack (near full speed), its
#       # peak RSS (VmHWM) and heap, and the allocation sites that made
#       # the heap's peak (heaptrack_print; Debian's heaptrack package)
#
# It starts the embedded broker (`lastmile dev up`) and a redis-server at
# full speed on a free port, then the named worker under callgrind with
# instrumentation off; once the worker logs "started" (settings, policy and
# model loaded, Redis and Kafka connected) instrumentation is turned on, N
# distinct leads (the same people as scripts/redis-callgrind.sh) are
# published and the other two workers of intake → qualification → followup
# run at full speed. When Redis holds every lead's keys and has stopped
# taking commands, instrumentation is turned off and it prints:
#   - the worker's instructions per lead: the main thread (the batch loop:
#     decode, decide, Redis, produce) and librdkafka's threads apart (their
#     count depends on time, which callgrind stretches: read it as a bound);
#   - the main thread's top functions, exclusive and inclusive.
# Startup is not counted; the few idle seconds at the end are (polls and
# timer sweeps, a few thousand instructions a lead at most at N=5000).
# Needs valgrind. Leaves nothing running; files in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
worker=${1:-}
n=${2:-5000}
build=${BUILD:-build}
top=${TOP:-25}
case "$worker" in
intake | qualification | followup) ;;
*)
    echo "worker-callgrind: which worker? intake, qualification or followup" \
        "(usage: scripts/worker-callgrind.sh WORKER [N])" >&2
    exit 2
    ;;
esac
tools="valgrind callgrind_annotate callgrind_control"
[ -n "${HEAP:-}" ] && tools="heaptrack heaptrack_print"
for tool in $tools redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "worker-callgrind: needs $tool" >&2; exit 2; }
done
[ -x "$build/cli/lastmile" ] || { echo "worker-callgrind: build first (make build)" >&2; exit 2; }

dir=$(mktemp -d /tmp/lastmile-wcallgrind-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    LASTMILE_DEV_DIR="$dir/dev" "$build/cli/lastmile" dev down >/dev/null 2>&1 || true
    [ -n "${KEEP:-}" ] && { echo "kept: $dir" >&2; return; }
    rm -rf "$dir"
}
trap cleanup EXIT

export LASTMILE_DEV_DIR="$dir/dev"
eval "$("$build/cli/lastmile" dev up 2>/dev/null)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LASTMILE_REDIS_URL="redis://127.0.0.1:$port/0"
export LASTMILE_METRICS_ADDR=127.0.0.1:0
mkdir -p "$dir/redis"
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/redis" \
    --appendonly yes --appendfsync everysec --save "" >"$dir/redis.log" 2>&1 &
pids+=($!)
rcli() { redis-cli -p "$port" "$@"; }
for _ in $(seq 100); do rcli ping >/dev/null 2>&1 && break; sleep 0.2; done

if [ -n "${HEAP:-}" ]; then
    heaptrack -o "$dir/ht" "$build/workers/lastmile-$worker" \
        >"$dir/$worker.log" 2>&1 &
else
    valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
        --callgrind-out-file="$dir/cg.out" "$build/workers/lastmile-$worker" \
        >"$dir/$worker.log" 2>&1 &
fi
vg=$!
pids+=("$vg")
for _ in $(seq 300); do # at most a minute to start under valgrind
    grep -q '"started"' "$dir/$worker.log" && break
    kill -0 "$vg" 2>/dev/null || break
    sleep 0.2
done
grep -q '"started"' "$dir/$worker.log" || {
    echo "worker-callgrind: lastmile-$worker did not start; its log:" >&2
    cat "$dir/$worker.log" >&2
    exit 1
}
[ -z "${HEAP:-}" ] && callgrind_control -i on "$vg" >/dev/null 2>&1

# N distinct people, every field a lead form would have
now=$(($(date +%s) * 1000))
awk -v n="$n" -v now="$now" 'BEGIN {
    split("US DE GB FR IN BR JP CA", cc, " ");
    split("CTO|VP Sales|Engineer|Head of Ops|Intern|CEO|Director", ti, "|");
    split("web_form ads crm", so, " ");
    split("5 50 250 2000", sz, " ");
    for (i = 0; i < n; i++)
        printf "{\"event_id\":\"cg-%d\",\"source\":\"%s\",\"email\":\"p%d@ex%d.com\",\"company\":\"Acme\",\"company_size\":%s,\"country\":\"%s\",\"title\":\"%s\",\"submitted_at_ms\":%.0f,\"attributes\":{\"pages_viewed\":\"%d\"}}\n",
            i, so[i % 3 + 1], i, i % 97, sz[i % 4 + 1], cc[i % 8 + 1], ti[i % 7 + 1], now, i % 20
}' >"$dir/leads.jsonl"
"$build/cli/lastmile" publish "$dir/leads.jsonl" >/dev/null 2>&1
for w in intake qualification followup; do
    [ "$w" = "$worker" ] && continue
    "$build/workers/lastmile-$w" >"$dir/$w.log" 2>&1 &
    pids+=($!)
done

# done when every lead has at least its person and lead keys and Redis has
# stopped taking commands (the worker under callgrind is the slowest hop:
# while it has input, commands keep coming)
prev=-1 keys=0 stable=0
for _ in $(seq 300); do # at most 10 minutes
    sleep 2
    keys=$(rcli dbsize)
    cmds=$(rcli info stats | awk -F: '/total_commands_processed/ {print $2 + 0}')
    if [ "$keys" -ge $((2 * n)) ] && [ "$prev" -ge 0 ] && [ $((cmds - prev)) -le 10 ]; then
        stable=$((stable + 1))
        [ "$stable" -ge 2 ] && break
    else
        stable=0
    fi
    prev=$cmds
done
[ -z "${HEAP:-}" ] && callgrind_control -i off "$vg" >/dev/null 2>&1
if [ "$stable" -lt 2 ]; then
    echo "worker-callgrind: $keys keys for $n leads and Redis still busy after 10 minutes; see the" \
        "workers' logs (kept in $dir)" >&2
    KEEP=1
    exit 1
fi
if [ -n "${HEAP:-}" ]; then
    # heaptrack's wrapper runs the worker as its child: stop the worker
    wpid=$(pgrep -P "$vg" -f "lastmile-$worker" | head -1)
    [ -n "$wpid" ] || wpid=$(pgrep -f "^$build/workers/lastmile-$worker\$" | head -1)
    echo "$worker: $n leads, peak RSS $(awk '/VmHWM/ {print $2}' "/proc/$wpid/status") kB"
    kill "$wpid" 2>/dev/null || true
    wait "$vg" 2>/dev/null || true
    heaptrack_print -f "$dir"/ht*.zst --print-peaks 1 --print-allocators 0 \
        --print-temporary 0 --print-leaks 0 -n "$top" -s 0 2>/dev/null |
        awk '/peak heap memory consumption/ {print "peak heap: " $NF}
             /peak memory consumed over/ {what = $0; getline; print what " " $0}'
    exit 0
fi
kill "$vg" 2>/dev/null || true
wait "$vg" 2>/dev/null || true

# thread 1 is the main thread (the batch loop); the rest are librdkafka's
main_out=
for f in "$dir"/cg.out*-01; do [ -s "$f" ] && main_out=$f; done
[ -n "$main_out" ] || { echo "worker-callgrind: no callgrind output (kept in $dir)" >&2; KEEP=1; exit 1; }
total() {
    [ -s "$1" ] || { echo 0; return; }
    callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); t = $1} END {print t + 0}'
}
ir_main=$(total "$main_out")
ir_rest=0
for f in "$dir"/cg.out*; do
    [ "$f" = "$main_out" ] || [ ! -s "$f" ] && continue
    ir_rest=$((ir_rest + $(total "$f")))
done
awk -v w="$worker" -v n="$n" -v m="$ir_main" -v r="$ir_rest" 'BEGIN {
    printf "%s: %d leads, %.0f instructions per lead in the main thread, %.0f in librdkafka threads\n",
        w, n, m / n, r / n }'
echo "--- main thread, top $top exclusive (instructions per lead, function)"
callgrind_annotate "$main_out" 2>/dev/null | awk -v n="$n" -v top="$top" '
    /^-+$/ { sep++; next } sep >= 3 && NF >= 2 && c < top {
        x = $1; gsub(",", "", x); if (x + 0 == 0) next;
        $1 = ""; sub(/ \[[^]]*\]$/, ""); sub(/^ +/, ""); printf "%9.0f %s\n", x / n, $0; c++ }'
echo "--- main thread, top $top inclusive"
callgrind_annotate --inclusive=yes "$main_out" 2>/dev/null | awk -v n="$n" -v top="$top" '
    /^-+$/ { sep++; next } sep >= 3 && NF >= 2 && c < top {
        x = $1; gsub(",", "", x); if (x + 0 == 0) next;
        $1 = ""; sub(/ \[[^]]*\]$/, ""); sub(/^ +/, ""); printf "%9.0f %s\n", x / n, $0; c++ }'
