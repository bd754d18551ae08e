#!/usr/bin/env bash
# tests/shell/test_deploy.sh — checks the deployment files without a Docker
# engine or a cluster: docker-compose.yml renders (docker-compose config),
# every kustomization renders (kubectl kustomize), and the rendered objects,
# the Dockerfile, Prometheus and Grafana files agree with what the code says
# (common/runtime/lm_env_vars.def, the pkg-config modules CMake links, config/).
#
# Run by ctest with LM_SOURCE_DIR (and LM_BINARY_DIR) set, or by hand:
#   bash tests/shell/test_deploy.sh
# Installs what it needs from Debian's archive when missing (docker-compose,
# python3-yaml, kubernetes-client). Exit 0 when every check passed; the last
# line is "N passed, N failed".
set -uo pipefail

SRC=${LM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PY=/usr/bin/python3 # Debian's, where python3-yaml is installed
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lm-deploy.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

NAME=test_deploy
# shellcheck source=tests/shell/test_lib.sh
. "$SRC/tests/shell/test_lib.sh"

# ---- tools, from Debian's archive when missing -----------------------------
need=()
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
{ [ -x "$PY" ] && "$PY" -c 'import yaml' 2>/dev/null; } || need+=(python3-yaml)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      fail "missing tools: ${need[*]}" "this machine (not root, no password-less sudo)" \
        "install them: sudo apt-get install ${need[*]}"
      finish
    fi
  fi
  echo "test_deploy: installing ${need[*]} from Debian's archive" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { $sudo apt-get update -qq &&
    $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
    fail "could not install: ${need[*]}" "apt-get" \
      "check the network and apt sources, or install them by hand: apt-get install ${need[*]}"
    finish
  fi
fi

cd "$SRC" || {
  fail "source dir not found" "$SRC" "set LM_SOURCE_DIR to the repository root"
  finish
}

# ---- docker-compose.yml renders ---------------------------------------------
# A clean environment, so a developer's LASTMILE_* settings do not leak into
# the rendering; the default values are what we check.
compose() { env -i PATH="$PATH" HOME="$TMP" docker-compose -f docker-compose.yml "$@"; }
if [ ! -f docker-compose.yml ]; then
  fail "docker-compose.yml is missing" "$SRC/docker-compose.yml" "write it (see docs/DEPLOY.md)"
elif compose config -q 2>"$TMP/compose.err"; then
  ok "docker-compose config accepts docker-compose.yml ($(docker-compose version --short 2>/dev/null))"
else
  fail "docker-compose config rejects docker-compose.yml: $(tr '\n' ' ' <"$TMP/compose.err")" \
    "$SRC/docker-compose.yml" "fix the error above; keep to what docker-compose 1.29 accepts (no top-level name:)"
fi
if compose --profile sim --profile observe --profile receiver config >"$TMP/compose.yaml" 2>"$TMP/compose.err"; then
  ok "docker-compose config with --profile sim --profile observe --profile receiver"
else
  fail "docker-compose --profile sim --profile observe --profile receiver config failed: $(tr '\n' ' ' <"$TMP/compose.err")" \
    "$SRC/docker-compose.yml" "fix the error above"
  : >"$TMP/compose.yaml"
fi

# ---- the cluster profile: a Redis Cluster for the tools (issue 17) ----------
# Six redis nodes in cluster mode, each announcing its service name and
# keeping its own volume, and a one-shot create over all six with one
# replica per master; the workers stay on the single `redis`.
if compose --profile cluster config >"$TMP/compose-cluster.yaml" 2>"$TMP/compose.err"; then
  ok "docker-compose config with --profile cluster"
  if "$PY" - "$TMP/compose-cluster.yaml" >"$TMP/cluster.out" 2>&1 <<'PYEOF'; then
import sys, yaml
svc = yaml.safe_load(open(sys.argv[1]))["services"]
bad = []
nodes = sorted(n for n, s in svc.items()
               if "--cluster-enabled" in (s.get("command") or []))
if nodes != ["redis-c%d" % i for i in range(1, 7)]:
    bad.append("cluster nodes are %s, not redis-c1..redis-c6" % nodes)
vols = set()
for n in nodes:
    s, cmd = svc[n], svc[n]["command"]
    if s.get("profiles") != ["cluster"]:
        bad.append("%s: profiles %s, not [cluster]" % (n, s.get("profiles")))
    i = cmd.index("--cluster-announce-hostname") if "--cluster-announce-hostname" in cmd else -1
    if i < 0 or cmd[i + 1] != n:
        bad.append("%s: does not announce its service name" % n)
    v = [x for x in s.get("volumes") or [] if ":/data" in str(x)]
    if len(v) != 1 or v[0] in vols:
        bad.append("%s: no /data volume of its own" % n)
    vols.update(v)
c = svc.get("redis-cluster-create") or {}
script = " ".join(c.get("command") or [])
if c.get("profiles") != ["cluster"] or "--cluster-replicas 1" not in script:
    bad.append("redis-cluster-create: missing, or not --cluster-replicas 1")
for n in nodes:
    if n not in script or (c.get("depends_on") or {}).get(n, {}).get("condition") != "service_healthy":
        bad.append("redis-cluster-create: does not wait for %s" % n)
for n, s in svc.items():
    url = str((s.get("environment") or {}).get("LASTMILE_REDIS_URL", ""))
    if n in ("intake", "qualification", "followup", "timing", "webhook") and url.startswith("redis+cluster"):
        bad.append("%s: a worker on the cluster (they refuse it at start)" % n)
print("\n".join(bad))
sys.exit(1 if bad else 0)
PYEOF
    ok "the cluster profile: six nodes (own volume, announced name), a create with one replica each; workers on one Redis"
  else
    fail "the cluster profile is wrong: $(tr '\n' ';' <"$TMP/cluster.out")" \
      "$SRC/docker-compose.yml (profile cluster)" "fix the services named above (docs/DEPLOY.md, \"Redis Cluster\")"
  fi
else
  fail "docker-compose --profile cluster config failed: $(tr '\n' ' ' <"$TMP/compose.err")" \
    "$SRC/docker-compose.yml" "fix the error above"
fi

# ---- every kustomization renders --------------------------------------------
# (kubectl 1.20's kustomize v2.0 and newer ones; newer ones print
# deprecation notices for fields v2.0 needs: those are not failures.)
rendered=()
for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
  dir=${dir%/}
  [ -f "$dir/kustomization.yaml" ] || continue
  out="$TMP/k8s-$(echo "$dir" | tr '/' '_').yaml"
  if kubectl kustomize "$dir" >"$out" 2>"$TMP/kustomize.err"; then
    ok "kubectl kustomize $dir renders"
    rendered+=("$dir=$out")
  else
    fail "kubectl kustomize $dir failed: $(grep -v '^# Warning' "$TMP/kustomize.err" | tr '\n' ' ')" \
      "$SRC/$dir/kustomization.yaml" "fix the error above (run: kubectl kustomize $dir)"
  fi
done
[ ${#rendered[@]} -gt 0 ] || fail "no kustomization rendered" "deploy/k8s/" \
  "write deploy/k8s/base and deploy/k8s/overlays/example"

# ---- what the files say, checked against the code ---------------------------

args=()
for r in "${rendered[@]}"; do args+=("$r"); done
"$PY" "$SRC/tests/shell/deploy_checks.py" "$SRC" "$TMP/compose.yaml" "${args[@]}" >"$TMP/checks.out" 2>&1
rc=$?
cat "$TMP/checks.out"
passed=$((passed + $(grep -c '^ok ' "$TMP/checks.out")))
failed=$((failed + $(grep -c '^FAIL ' "$TMP/checks.out")))
skipped=$((skipped + $(grep -c '^skip ' "$TMP/checks.out")))
if [ $rc -ne 0 ]; then
  fail "the checks themselves crashed (exit $rc, traceback above)" \
    "tests/shell/deploy_checks.py" \
    "fix the check, or the file it could not parse"
fi
finish
