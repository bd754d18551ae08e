#!/usr/bin/env bash
# test_cli_options.sh — the `lastmile` command line reads options the way
# users expect (cli/opts.c, getopt_long): `--opt=value` means `--opt value`,
# `--` ends the options, an unknown option or a missing value is a usage
# error (exit 2) that names the option and points to `lastmile CMD --help`,
# `--help`/`-h` exit 0 and list every option, and `lastmile --version`
# prints the version of CMake's project(). Only what needs no broker and no
# Redis runs: --dry-run, env, the errors that come before connecting (with
# LASTMILE_* unset, a command that parsed its options stops at "... is not
# set", exit 1, which tells a parsed value from a refused one).
set -u
bin=${LM_BINARY_DIR:?}
src=${LM_SOURCE_DIR:?}
LM=$bin/cli/lastmile
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

for v in $(compgen -e | grep '^LASTMILE_'); do unset "$v"; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LASTMILE_DEV_DIR="$work/no-stack" # dev: no stack runs there
cd "$work" || exit 1

# run ARGS...: exit code in $rc, stdout in $work/out, stderr in $work/err
run() {
  timeout 20 "$LM" "$@" >"$work/out" 2>"$work/err"
  rc=$?
}

# expect_usage_error WHAT CMD NEEDLE ARGS...: exit 2, stderr names NEEDLE,
# shows the usage line and points to `lastmile CMD --help`
expect_usage_error() {
  local what=$1 help="lastmile${2:+ $2} --help" needle=$3
  shift 3
  run "$@"
  if [ "$rc" -eq 2 ] && grep -qF -- "$needle" "$work/err" &&
    grep -q "^usage: lastmile" "$work/err" &&
    grep -qF "\`$help\`" "$work/err" && [ ! -s "$work/out" ]; then
    ok "$what: exit 2, $(head -n1 "$work/err")"
  else
    bad "$what (lastmile $*): exit $rc, want 2 naming '$needle' and \`$help\`"
    cat "$work/err"
  fi
}

# same_result WHAT 'ARGS A' 'ARGS B': both runs give the same exit code,
# stdout and stderr
same_result() {
  local what=$1 a=$2 b=$3
  # shellcheck disable=SC2086
  run $a
  local rc_a=$rc
  cp "$work/out" "$work/out.a"
  cp "$work/err" "$work/err.a"
  # shellcheck disable=SC2086
  run $b
  if [ "$rc" -eq "$rc_a" ] && cmp -s "$work/out" "$work/out.a" &&
    cmp -s "$work/err" "$work/err.a"; then
    ok "$what: '$a' = '$b' (exit $rc)"
  else
    bad "$what: '$a' (exit $rc_a) differs from '$b' (exit $rc)"
    diff "$work/err.a" "$work/err" | head -5
  fi
}

# ---- --version ---------------------------------------------------------------
want=$(sed -n 's/^project(lastmile VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
for args in "--version" "version"; do
  run $args
  if [ "$rc" -eq 0 ] && [ "$(cat "$work/out")" = "lastmile $want" ] && [ -n "$want" ]; then
    ok "lastmile $args prints 'lastmile $want'"
  else
    bad "lastmile $args: exit $rc, printed '$(cat "$work/out")', want 'lastmile $want'"
  fi
done
expect_usage_error "an unknown top-level option" "" "unknown option --bogus" --bogus
run nosuch
if [ "$rc" -eq 2 ] && grep -q "unknown command 'nosuch'" "$work/err"; then
  ok "an unknown command: exit 2, named"
else
  bad "lastmile nosuch: exit $rc"
fi

# ---- --help and -h: exit 0, every option listed ------------------------------
while read -r cmd opts; do
  for h in --help -h; do
    run $cmd $h
    missing=""
    for o in $opts; do grep -qF -- "$o" "$work/out" || missing="$missing $o"; done
    if [ "$rc" -eq 0 ] && grep -q "^usage: lastmile ${cmd%% *}" "$work/out" && [ -z "$missing" ]; then
      ok "lastmile $cmd $h: exit 0, lists$( [ -n "$opts" ] && echo " $opts" || echo " the usage")"
    else
      bad "lastmile $cmd $h: exit $rc, missing:${missing:- none}"
    fi
  done
done <<'EOT'
publish --format --dry-run
tail --from-beginning --limit --timeout-ms
report --json
waiting --older-than --limit --json
train --out --from-beginning --min-examples --l2 --holdout --label --replace-live
model --live --seed --seeds --leads show promote cohorts
board --addr
bench --leads --rate --json
env --json
demo --leads --days --tail-days --seed --json --board
simulate --leads --days --tail-days --seed
dev --partitions --prefix broker-down broker-up request-errors
dev up --partitions --prefix
dev fault broker-down request-errors
EOT

# ---- --opt=value is --opt value ----------------------------------------------
cat >"$work/leads.txt" <<'EOT'
email,source,submitted_at_ms
ada@example.com,web_form,1700000000000
EOT
same_result "publish --format" "publish leads.txt --dry-run --format csv" \
  "publish leads.txt --dry-run --format=csv"
if grep -q '"key":"ada@example.com"' "$work/out"; then
  ok "publish --format=csv read the file as CSV"
else
  bad "publish --format=csv --dry-run: $(cat "$work/out" "$work/err")"
fi
same_result "publish: options after the operand" \
  "publish --dry-run --format csv leads.txt" "publish leads.txt --format=csv --dry-run"
same_result "tail --limit (refused)" "tail intake --limit 0" "tail intake --limit=0"
same_result "tail --timeout-ms (accepted)" "tail intake --timeout-ms 5" \
  "tail intake --timeout-ms=5"
if [ "$rc" -eq 1 ] && grep -q "LASTMILE_BROKERS is not set" "$work/err"; then
  ok "tail --timeout-ms=5 was accepted (stops at the missing broker)"
else
  bad "tail --timeout-ms=5: exit $rc: $(cat "$work/err")"
fi
same_result "waiting --older-than" "waiting --older-than soon" "waiting --older-than=soon"
same_result "waiting --limit (accepted)" "waiting --limit 3" "waiting --limit=3"
same_result "train --min-examples" "train --min-examples 0" "train --min-examples=0"
same_result "train --l2 (accepted)" "train --l2 2.5" "train --l2=2.5"
same_result "bench --leads (refused)" "bench --leads 5" "bench --leads=5"
same_result "demo --leads (refused)" "demo --leads 0" "demo --leads=0"
same_result "simulate --days (accepted)" "simulate --days 2 --seed 3" \
  "simulate --days=2 --seed=3"
if grep -q "LASTMILE_BROKERS is not set" "$work/err"; then
  ok "simulate --days=2 --seed=3 were accepted (stops at the missing broker)"
else
  bad "simulate --days=2 --seed=3: exit $rc: $(cat "$work/err")"
fi
same_result "board --addr" "board --addr nonsense" "board --addr=nonsense"
same_result "dev up --partitions" "dev up --partitions 0" "dev up --partitions=0"
same_result "a unique prefix is the option" "env --json" "env --js"
run env --json
if [ "$rc" -eq 0 ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/out"; then
  ok "env --json prints JSON"
else
  bad "env --json: exit $rc"
fi

# ---- -- ends the options -----------------------------------------------------
cp "$work/leads.txt" "$work/-x.csv"
run publish --dry-run -- -x.csv
if [ "$rc" -eq 0 ] && grep -q '"event_id":"-x.csv:2"' "$work/out"; then
  ok "publish --dry-run -- -x.csv reads the file named -x.csv"
else
  bad "publish --dry-run -- -x.csv: exit $rc: $(cat "$work/err")"
fi
expect_usage_error "without --, -x.csv is an option" publish "unknown option -x" \
  publish --dry-run -x.csv
expect_usage_error "env -- --json: an operand" env "unexpected argument '--json'" \
  env -- --json
run tail --limit 1 -- intake
if [ "$rc" -eq 1 ] && grep -q "LASTMILE_BROKERS is not set" "$work/err"; then
  ok "tail --limit 1 -- intake: the topic after --"
else
  bad "tail --limit 1 -- intake: exit $rc: $(cat "$work/err")"
fi

# ---- unknown options, missing values, values for flags -----------------------
for cmd in publish tail report waiting train model board bench env demo simulate; do
  expect_usage_error "$cmd --bogus" "$cmd" "unknown option --bogus" "$cmd" --bogus
done
expect_usage_error "--bogus=1 is named without its value" report \
  "unknown option --bogus" report --bogus=1
expect_usage_error "a short option" waiting "unknown option -q" waiting -q
expect_usage_error "dev up --bogus" "dev up" "unknown option --bogus" dev up --bogus
expect_usage_error "tail --limit without a value" tail "--limit needs a value" \
  tail intake --limit
expect_usage_error "train --out without a value" train "--out needs a value" train --out
expect_usage_error "board --addr without a value" board "--addr needs a value" board --addr
expect_usage_error "a flag given a value" report "--json takes no value" report --json=yes
expect_usage_error "an ambiguous prefix" "dev up" "ambiguous option --p (--partitions, --prefix)" \
  dev up --p 3
expect_usage_error "simulate has no --json" simulate "unknown option --json" simulate --json
expect_usage_error "publish without FILE" publish "FILE is missing" publish --dry-run

# ---- dev fault checks its arguments before it needs a stack ------------------
expect_usage_error "dev fault broker-down abc" "dev fault" "SECONDS" \
  dev fault broker-down abc
expect_usage_error "dev fault broker-down 0" "dev fault" "SECONDS" dev fault broker-down 0
expect_usage_error "dev fault broker-down without SECONDS" "dev fault" "broker-down takes 1" \
  dev fault broker-down
expect_usage_error "dev fault request-errors, COUNT too big" "dev fault" "COUNT" \
  dev fault request-errors 0 -1 5000
expect_usage_error "dev fault request-errors, 2 numbers" "dev fault" "takes 3 arguments" \
  dev fault request-errors 0 1
expect_usage_error "dev fault, an unknown fault" "dev fault" "unknown fault 'melt'" \
  dev fault melt
expect_usage_error "dev, an unknown subcommand" dev "unknown subcommand 'sideways'" \
  dev sideways
for args in "fault broker-down 10" "fault request-errors 0 -1 5" "fault broker-up"; do
  # shellcheck disable=SC2086
  run dev $args
  if [ "$rc" -eq 1 ] && grep -q "no stack" "$work/err"; then
    ok "dev $args: accepted (exit 1: no stack runs here)"
  else
    bad "dev $args: exit $rc, want 1 (valid, no stack): $(cat "$work/err")"
  fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
