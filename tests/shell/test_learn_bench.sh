#!/usr/bin/env bash
# test_learn_bench.sh — `lastmile learn-bench` (the learning figure,
# docs/LEARNING.md) on a short run: it runs, prints every week of both
# learners with figures of the right kind, and learned timing beats a
# random allowed slot (a behaviour of the learner, not a speed: the
# 5-seed, 8-week figures are in docs/LEARNING.md). Bad options exit 2.
set -u
unset LASTMILE_CONFIG # the built-in learning: settings
bin=${LM_BINARY_DIR:?}
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! "$bin/cli/lastmile" learn-bench --seeds 2 --weeks 3 --leads 1500 --json \
  >"$work/lb.json" 2>"$work/lb.err"; then
  bad "learn-bench --seeds 2 --weeks 3 --leads 1500 --json exited non-zero"
  cat "$work/lb.err"
  echo "$pass passed, $fail failed"
  exit 1
fi
ok "learn-bench --json exits 0"

checks=$(
  cat <<'EOT'
two seeds, three weeks	d["seeds"] == 2 and d["weeks"] == 3 and d["first_seed"] == 1
both learners, every week	all(len(d[k]["weeks"]) == 3 for k in ("old", "new"))
each week: touches, answers, qualities, shares per seed	all(set(("week", "touches", "answers", "learned", "random", "best", "share", "value_share", "seed_share")) <= set(w) and len(w["seed_share"]) == 2 for k in ("old", "new") for w in d[k]["weeks"])
the best of the segment beats a random slot	all(w["best"] > w["random"] for k in ("old", "new") for w in d[k]["weeks"] if w["touches"] > 0)
touches are chosen every week	all(w["touches"] > 0 for k in ("old", "new") for w in d[k]["weeks"])
the new learner beats a random slot from week 2 on	all(w["learned"] > w["random"] and w["share"] > 0 for w in d["new"]["weeks"][1:])
the new learner gains more than the old one over weeks 2-3	sum(w["share"] for w in d["new"]["weeks"][1:]) > sum(w["share"] for w in d["old"]["weeks"][1:])
EOT
)
while IFS=$'\t' read -r what expr; do
  if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($expr) else 1)" \
    "$work/lb.json"; then
    ok "$what"
  else
    bad "$what"
  fi
done <<<"$checks"

# the same seed gives the same figures (pure in the seed)
"$bin/cli/lastmile" learn-bench --seeds 1 --weeks 1 --leads 300 --json >"$work/a.json"
"$bin/cli/lastmile" learn-bench --seeds 1 --weeks 1 --leads 300 --json >"$work/b.json"
"$bin/cli/lastmile" learn-bench --seeds 1 --first-seed 2 --weeks 1 --leads 300 \
  --json >"$work/c.json"
if cmp -s "$work/a.json" "$work/b.json"; then ok "a seed repeats"; else bad "a seed repeats"; fi
if ! cmp -s "$work/a.json" "$work/c.json"; then
  ok "another seed is another world"
else
  bad "another seed is another world"
fi

for args in "--seeds 0" "--weeks 99" "--learner newest" "--leads x" "extra"; do
  # shellcheck disable=SC2086
  "$bin/cli/lastmile" learn-bench $args >/dev/null 2>"$work/err"
  rc=$?
  if [ "$rc" -eq 2 ] && grep -q "learn-bench" "$work/err"; then
    ok "learn-bench $args: usage error, exit 2"
  else
    bad "learn-bench $args: exit $rc, want 2 with a message"
  fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
