#!/usr/bin/env bash
# The layers of docs/ARCHITECTURE.md, checked on the sources: every
# #include "..." of a file resolves to its own layer or one below.
#   base < domain < runtime (base only) < tools < workers, gateway < cli
# (the gateway, like a worker, sits on the layers of common/; it may use
# tools, a worker does not)
# (the compiler enforces most of this, since each layer's library sees
# only the include folders below it; this check also covers headers that
# no .c of their layer includes, and names the offending line.)
set -euo pipefail
cd "${LM_SOURCE_DIR:-$(dirname "$0")/../..}"

declare -A layer_of allowed
for d in base domain runtime tools; do
  for h in common/$d/*.h; do layer_of[$(basename "$h")]=$d; done
done
for h in workers/*/*.h; do layer_of[$(basename "$h")]=workers; done
for h in gateway/*.h; do layer_of[$(basename "$h")]=gateway; done
for h in cli/*.h; do layer_of[$(basename "$h")]=cli; done

allowed[base]="base"
allowed[domain]="base domain"
allowed[runtime]="base runtime"
allowed[tools]="base domain runtime tools"
allowed[workers]="base domain runtime tools workers"
allowed[gateway]="base domain runtime tools gateway"
allowed[cli]="base domain runtime tools workers gateway cli"

bad=0 checked=0
check() { # file layer
  local f=$1 me=$2 line inc to
  while IFS= read -r line; do
    inc=${line#*\"}; inc=${inc%%\"*}; inc=$(basename "$inc")
    to=${layer_of[$inc]:-}
    [ -n "$to" ] || continue # generated (lastmile/v1/*.pb-c.h) or local
    checked=$((checked + 1))
    case " ${allowed[$me]} " in
      *" $to "*) ;;
      *) echo "$f: includes \"$inc\" ($to), above its layer ($me)"; bad=1 ;;
    esac
  done < <(grep -E '^#include "' "$f" || true)
}
for d in base domain runtime tools; do
  for f in common/$d/*.[ch]; do check "$f" "$d"; done
done
for f in workers/*/*.[ch]; do check "$f" workers; done
for f in gateway/*.[ch]; do check "$f" gateway; done
for f in cli/*.[ch]; do check "$f" cli; done

[ "$checked" -gt 50 ] || { echo "checked only $checked includes: is the tree where it should be?"; exit 1; }
[ "$bad" = 0 ] || { echo "FAIL: an include points up a layer (docs/ARCHITECTURE.md)"; exit 1; }
echo "layers: $checked includes, every one pointing down or sideways"
