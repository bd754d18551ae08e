#!/usr/bin/env bash
# Functions a screen or two long: no function outside tests/ is longer
# than LM_FUNCTION_LINES_MAX lines (100: two screens), counted by pmccabe
# (Debian's package; its fifth column is a function's lines, from its
# name to its closing brace). A longer one is named with its file, line
# and length, and the fix: split it into named steps. Tests are left out
# (a table-driven test may be long and still read top-down).
set -euo pipefail
cd "${LM_SOURCE_DIR:-$(dirname "$0")/../..}"
max=${LM_FUNCTION_LINES_MAX:-100}
command -v pmccabe >/dev/null || {
    echo "FAIL: pmccabe is not installed (scripts/install-deps.sh installs it)"
    exit 1
}
mapfile -t files < <(git ls-files '*.c' 2>/dev/null | grep -v '^tests/' ||
    find common workers cli gateway -name '*.c')
[ ${#files[@]} -gt 50 ] || { echo "FAIL: found only ${#files[@]} C files"; exit 1; }
# columns: modified McCabe, McCabe, statements, first line, lines, file(line): name
report=$(pmccabe "${files[@]}")
n=$(wc -l <<<"$report")
[ "$n" -gt 500 ] || { echo "FAIL: pmccabe listed only $n functions"; exit 1; }
long=$(awk -F'\t' -v max="$max" '$5 > max {print $6 " is " $5 " lines"}' <<<"$report")
if [ -n "$long" ]; then
    echo "FAIL: functions longer than $max lines (split them into named steps):"
    echo "$long"
    exit 1
fi
longest=$(awk -F'\t' '$5 > m {m = $5; f = $6} END {print f ", " m " lines"}' <<<"$report")
echo "1 passed, 0 failed ($n functions in ${#files[@]} files; the longest: $longest)"
