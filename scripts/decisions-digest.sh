#!/usr/bin/env bash
# decisions-digest.sh — every output of intake → qualification → followup
# on N fixed leads (default 3000), one line each, for comparing the
# decisions of two builds byte for byte (CPU work must not change them):
#
#   diff <(BUILD=/old/build scripts/decisions-digest.sh) \
#        <(scripts/decisions-digest.sh) && echo same
#
# It compiles scripts/decisions_digest.c against BUILD's libraries (built
# first: `cmake --build BUILD --target lm_workers`) and the headers of the
# source tree BUILD was configured from, and runs it: the built-in policy
# and model, lm_recorder, a fixed time (the workers' log lines go to
# stderr). What the leads are: see decisions_digest.c. Files in a
# temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${BUILD:-build}" && pwd)
n=${1:-3000}
[ -f "$build/workers/liblm_workers.a" ] || {
    echo "decisions-digest: no $build/workers/liblm_workers.a; build it first" \
        "(cmake --build $build --target lm_workers)" >&2
    exit 2
}
src=$(awk -F= '/^CMAKE_HOME_DIRECTORY:/ {print $2}' "$build/CMakeCache.txt")
dir=$(mktemp -d /tmp/lastmile-digest-XXXXXX)
trap 'rm -rf "$dir"' EXIT
inc=(-I"$build/gen")
for d in common/base common/domain common/runtime common/tools workers \
    workers/followup workers/intake workers/qualification workers/shared; do
    inc+=(-I"$src/$d")
done
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -O2 -std=gnu11 "${inc[@]}" $(pkg-config --cflags hiredis) \
    scripts/decisions_digest.c -o "$dir/digest" \
    "$build/workers/liblm_workers.a" "$build/common/liblm_tools.a" \
    "$build/common/liblm_runtime.a" "$build/common/liblm_domain.a" \
    "$build/liblm_proto.a" "$build/common/liblm_base.a" \
    -lrdkafka -lhiredis -lmicrohttpd -lprotobuf-c -lyaml -lcrypto -ljansson \
    -lcurl -lm
"$dir/digest" "$n"
