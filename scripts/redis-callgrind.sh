#!/usr/bin/env bash
# redis-callgrind.sh — how many instructions Redis spends on N leads.
#
# The bench's wall-clock figures move by a third from one run to the next on
# a shared two-core machine; callgrind counts instructions, which do not.
# This is the measure to compare two versions of the workers' Redis work:
#
#   scripts/redis-callgrind.sh [N]          # default 5000 leads
#   BUILD=/other/build scripts/redis-callgrind.sh 5000
#   REDIS_AOF=no scripts/redis-callgrind.sh     # what the AOF costs
#   REDIS_ARGS="--hash-max-listpack-value 512" scripts/redis-callgrind.sh  # a Redis setting
#   VALGRIND=no scripts/redis-callgrind.sh 5000  # commands and AOF bytes only
#                                                # (Redis at full speed)
#   FLOOR=1 scripts/redis-callgrind.sh 5000      # the same for the bench's
#                                                # state floor (`lastmile bench
#                                                # --floor`, one hop a process)
#   AOF_BREAKDOWN=1 scripts/redis-callgrind.sh   # + the AOF by command, key
#                                                # and lead-hash field
#                                                # (scripts/aof-breakdown.py)
#
# It starts the embedded broker (`lastmile dev up`), a redis-server under
# callgrind (AOF everysec, as the embedded stack runs it) on a free port,
# publishes N distinct leads before any worker runs (so every batch is
# full and the count does not depend on timing), turns instrumentation on,
# runs intake, qualification and followup until Redis stops taking commands
# with every lead's keys there (its first action taken), and prints Redis's
# instructions per lead, the commands per lead, and AOF bytes per lead.
# Needs valgrind. Leaves nothing running; files in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
build=${BUILD:-build}
vg_on=${VALGRIND:-yes}
tools="redis-server redis-cli"
[ "$vg_on" = no ] || tools="valgrind callgrind_annotate callgrind_control $tools"
for tool in $tools; do
    command -v "$tool" >/dev/null || { echo "redis-callgrind: needs $tool" >&2; exit 2; }
done
[ -x "$build/cli/lastmile" ] || { echo "redis-callgrind: build first (make build)" >&2; exit 2; }

dir=$(mktemp -d /tmp/lastmile-callgrind-XXXXXX)
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
mkdir -p "$dir/redis"
vgcmd=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/cg.out")
[ "$vg_on" = no ] && vgcmd=()
"${vgcmd[@]}" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/redis" \
    --appendonly "${REDIS_AOF:-yes}" --appendfsync everysec --save "" \
    ${REDIS_ARGS:-} >"$dir/redis.log" 2>&1 &
vg=$!
rcli() { redis-cli -p "$port" "$@"; }
for _ in $(seq 100); do rcli ping >/dev/null 2>&1 && break; sleep 0.2; done

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

rcli config resetstat >/dev/null
[ "$vg_on" = no ] || callgrind_control -i on "$vg" >/dev/null 2>&1
if [ -n "${FLOOR:-}" ]; then # the bench's state floor instead of the fleet
    for hop in "intake qualification" "qualification followup" "followup actions"; do
        # shellcheck disable=SC2086 # two words: IN OUT
        "$build/cli/lastmile" bench --floor $hop >"$dir/floor-${hop%% *}.log" 2>&1 &
        pids+=($!)
    done
else
    for w in intake qualification followup; do
        LASTMILE_METRICS_ADDR=127.0.0.1:0 "$build/workers/lastmile-$w" >"$dir/$w.log" 2>&1 &
        pids+=($!)
    done
fi
# done when every lead has at least its person and lead keys and Redis has
# stopped taking commands (under callgrind Redis is the bottleneck: while
# any worker has input, commands keep coming; this loop's own two probes
# are all there is once they are idle). Not a key count per lead: which
# keys a lead has depends on how the workers record what they applied.
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
[ "$vg_on" = no ] || callgrind_control -i off "$vg" >/dev/null 2>&1
if [ "$stable" -lt 2 ]; then
    echo "redis-callgrind: $keys keys for $n leads and Redis still busy after 10 minutes; see the" \
        "workers' logs (kept in $dir)" >&2
    trap - EXIT
    exit 1
fi
cmds=$(rcli info stats | awk -F: '/total_commands_processed/ {print $2 + 0}')
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
pids=()
rcli shutdown nosave >/dev/null 2>&1 || true
wait "$vg" 2>/dev/null || true
ir=0
[ "$vg_on" = no ] ||
    ir=$(callgrind_annotate "$dir/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
aof=0
if [ -d "$dir/redis/appendonlydir" ]; then
    aof=$(cat "$dir"/redis/appendonlydir/*.incr.aof | wc -c)
fi
[ -n "${AOF_BREAKDOWN:-}" ] && [ -d "$dir/redis/appendonlydir" ] &&
    python3 scripts/aof-breakdown.py "$n" "$dir"/redis/appendonlydir/*.incr.aof
awk -v ir="$ir" -v n="$n" -v c="$cmds" -v a="$aof" -v k="$keys" 'BEGIN {
    printf "redis: %d leads, %.0f instructions per lead, %.1f commands per lead, %.0f AOF bytes per lead, %.1f keys per lead\n",
        n, ir / n, c / n, a / n, k / n }'
