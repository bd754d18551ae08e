#!/usr/bin/env bash
# tests/shell/test_deploy_gateway.sh — the deploy files for lastmile-gateway
# (tests/shell/deploy_checks.py checks the four workers; the gateway is not
# a consumer, so it has its own shape): the image builds and exposes it;
# docker-compose runs it with a port, a keys file that exists and parses,
# a /readyz healthcheck and only settings the gateway reads; Prometheus
# scrapes it; the Kubernetes base has its Deployment (probes on the
# metrics port, the keys file inside a mounted Secret), a Service on its
# http port and a PodDisruptionBudget; `lastmile env` lists every
# LASTMILE_GATEWAY_* variable. `docker-compose config` and
# `kubectl kustomize` are used when installed.
# Run by ctest with LM_SOURCE_DIR and LM_BINARY_DIR set, or by hand.
# The last line is "N passed, N failed"; exit 0 when none failed.
set -uo pipefail
SRC=${LM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${LM_BINARY_DIR:-$SRC/build}
cd "$SRC" || exit 1
KUSTOMIZED=""
if command -v kubectl >/dev/null 2>&1; then
  KUSTOMIZED=$(kubectl kustomize deploy/k8s/base 2>/dev/null) || KUSTOMIZED="kustomize failed"
fi
COMPOSED=""
if command -v docker-compose >/dev/null 2>&1; then
  COMPOSED=$(docker-compose -f docker-compose.yml config 2>&1) || COMPOSED="config failed: $COMPOSED"
fi
ENVJSON=$("$BIN/cli/lastmile" env --json 2>/dev/null || echo '[]')
export KUSTOMIZED COMPOSED ENVJSON
exec /usr/bin/python3 - <<'PY'
import json, os, re, sys
import yaml

passed = failed = 0
def check(what, probs):
    global passed, failed
    if probs:
        failed += 1
        for p in probs:
            print("FAIL %s: %s\n       where: %s\n       fix:   %s" % ((what,) + p))
    else:
        passed += 1
        print("ok   " + what)

ENV = {}
for m in re.finditer(r'LM_ENV\(\s*"([A-Z0-9_]+)",\s*"([^"]*)",\s*(\d)',
                     open("common/runtime/lm_env_vars.def").read()):
    ENV[m.group(1)] = (m.group(2), m.group(3) != "0")

def env_probs(names, where):
    probs = []
    for n in names:
        base = n[:-5] if n.endswith("_FILE") else n
        if n.startswith("LASTMILE_KAFKA_"):
            continue
        if base not in ENV:
            probs.append((n + " is not a lastmile variable", where,
                          "fix the name or add it to lm_env_vars.def"))
        elif ENV[base][0] not in ("all", "gateway"):
            probs.append((n + " is read only by " + ENV[base][0], where,
                          "remove it from the gateway"))
        elif base == "LASTMILE_REDIS_URL":
            probs.append(("the gateway does not use Redis", where, "remove " + n))
    for base, (who, req) in ENV.items():
        if who == "gateway" and req and base not in names and base + "_FILE" not in names:
            probs.append(("required %s is not set" % base, where, "set %s_FILE" % base))
    if "LASTMILE_BROKERS" not in names:
        probs.append(("LASTMILE_BROKERS is not set", where, "set it"))
    return probs

def keys_file_probs(text, where):
    probs, n = [], 0
    for i, line in enumerate(text.splitlines(), 1):
        f = line.split("#", 1)[0].split()
        if not f:
            continue
        n += 1
        if not (3 <= len(f) <= 4 and re.fullmatch(r"[0-9a-fA-F]{64}", f[1]) and
                set(f[2].split(",")) <= {"leads", "responses", "activities"}):
            probs.append(("line %d is not NAME SHA256_HEX SCOPES [ORIGINS]" % i, where,
                          "use a line from `lastmile gateway-key`"))
    if n == 0:
        probs.append(("no key line", where, "add one (a placeholder is fine)"))
    return probs

# ---- the image
df = open("deploy/Dockerfile").read()
probs = []
if not re.search(r"for b in [^;]*lastmile-gateway", df):
    probs.append(("the build stage does not check lastmile-gateway is built",
                  "deploy/Dockerfile", "add it to the `for b in` list"))
if not re.search(r"^EXPOSE .*\b8080\b", df, re.M):
    probs.append(("port 8080 is not exposed", "deploy/Dockerfile", "EXPOSE 9464 8080"))
check("image: builds and exposes lastmile-gateway", probs)

# ---- docker-compose
raw = yaml.safe_load(open("docker-compose.yml"))
svc = (raw.get("services") or {}).get("gateway") or {}
probs = []
composed = os.environ.get("COMPOSED", "")
if composed.startswith("config failed"):
    probs.append((composed[:300], "docker-compose.yml", "docker-compose config must pass"))
elif composed:
    svc = (yaml.safe_load(composed).get("services") or {}).get("gateway") or svc
if svc.get("command") != ["lastmile-gateway"]:
    probs.append(("no service `gateway` running [\"lastmile-gateway\"]",
                  "docker-compose.yml", "add it"))
ports = json.dumps(svc.get("ports"))
if "8080" not in ports:
    probs.append(("the API port 8080 is not published", "docker-compose.yml services.gateway",
                  "ports: [\"127.0.0.1:${GATEWAY_HOST_PORT:-8080}:8080\"]"))
env = svc.get("environment") or {}
if isinstance(env, list):
    env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
probs += env_probs(set(env), "docker-compose.yml services.gateway.environment")
kf = str(env.get("LASTMILE_GATEWAY_KEYS_FILE") or "")
kf = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", kf)
local = kf.replace("/etc/lastmile/", "config/", 1)
if not kf.startswith("/etc/lastmile/") or not os.path.exists(local):
    probs.append(("keys file %s is not a file of config/ (mounted at /etc/lastmile)" % kf,
                  "docker-compose.yml", "ship config/gateway-keys.example"))
else:
    probs += keys_file_probs(open(local).read(), local)
if "/readyz" not in json.dumps(svc.get("healthcheck")):
    probs.append(("no /readyz healthcheck", "docker-compose.yml services.gateway",
                  "the workers' healthcheck"))
check("compose: service gateway (port, keys file, healthcheck, settings)", probs)

prom = open("deploy/prometheus/prometheus.yml").read()
check("Prometheus scrapes the gateway",
      [] if re.search(r"names: \[[^\]]*\bgateway\b", prom) else
      [("gateway is not in the dns_sd names", "deploy/prometheus/prometheus.yml",
        "add it")])

# ---- Kubernetes
kz = open("deploy/k8s/base/kustomization.yaml").read()
probs = [] if re.search(r"^\s*- gateway\.yaml", kz, re.M) else [
    ("gateway.yaml is not a resource", "deploy/k8s/base/kustomization.yaml", "list it")]
out = os.environ.get("KUSTOMIZED", "")
docs = list(yaml.safe_load_all(out)) if out and "kustomize failed" not in out else \
    list(yaml.safe_load_all(open("deploy/k8s/base/gateway.yaml")))
if out.startswith("kustomize failed"):
    probs.append(("kubectl kustomize deploy/k8s/base failed", "deploy/k8s/base", "fix it"))
byk = lambda k: [d for d in docs if d and d.get("kind") == k and
                 d["metadata"]["name"] == "lastmile-gateway"]
dep, srv, pdb = byk("Deployment"), byk("Service"), byk("PodDisruptionBudget")
where = "deploy/k8s/base/gateway.yaml"
if not dep:
    probs.append(("no Deployment lastmile-gateway", where, "add it"))
else:
    ps = dep[0]["spec"]["template"]["spec"]
    c = ps["containers"][0]
    if c.get("command") != ["lastmile-gateway"]:
        probs.append(("the container does not run lastmile-gateway", where, "command"))
    cports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    if cports.get("http") != 8080 or cports.get("metrics") != 9464:
        probs.append(("ports %s, want http 8080 and metrics 9464" % cports, where, "name them"))
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        hg = (c.get(probe) or {}).get("httpGet") or {}
        if hg.get("path") != path or hg.get("port") not in ("metrics", 9464):
            probs.append(("%s is not GET %s on the metrics port" % (probe, path), where,
                          "httpGet: {path: %s, port: metrics}" % path))
    names = {e["name"]: e.get("value") for e in c.get("env", [])}
    probs += env_probs(set(names), where + " env")
    kfile = names.get("LASTMILE_GATEWAY_KEYS_FILE") or ""
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in ps.get("volumes", [])}
    hit = [n for n, p in mounts.items() if kfile.startswith(p.rstrip("/") + "/")
           and "secret" in vols.get(n, {})]
    if not hit:
        probs.append(("LASTMILE_GATEWAY_KEYS_FILE %s is not in a mounted Secret" % kfile,
                      where, "mount the Secret lastmile-gateway-keys there"))
    labels = dep[0]["spec"]["template"]["metadata"]["labels"]
    if not srv:
        probs.append(("no Service lastmile-gateway", where, "add one"))
    else:
        sel = srv[0]["spec"].get("selector") or {}
        sp = srv[0]["spec"].get("ports") or [{}]
        if any(labels.get(k) != v for k, v in sel.items()) or not sel:
            probs.append(("the Service selects %s, not the pods" % sel, where, "fix the selector"))
        if sp[0].get("targetPort") not in ("http", 8080):
            probs.append(("the Service does not target the http port", where,
                          "targetPort: http"))
    if not pdb:
        probs.append(("no PodDisruptionBudget lastmile-gateway", where, "add one"))
check("k8s base: gateway Deployment, Service, PDB, probes, keys Secret", probs)

listed = {e["name"] for e in json.loads(os.environ.get("ENVJSON") or "[]")}
want = {n for n, (who, _) in ENV.items() if who == "gateway"}
check("`lastmile env` lists the %d LASTMILE_GATEWAY_* variables" % len(want),
      [] if want and want <= listed else
      [("missing: %s" % sorted(want - listed), "lastmile env", "rebuild the CLI")])
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
