"""deploy_checks.py SRC COMPOSE_RENDERED [DIR=RENDERED ...] (run by test_deploy.sh):
the rendered compose file and manifests, the Dockerfile and the observability
files. One line per check: "ok", "skip" or "FAIL" with "where:" and "fix:"."""
import glob
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

from deploy_common import *  # noqa: F401,F403 (the shared checks and data)


# ---- workers CMake builds ---------------------------------------------------
def cmake_workers():
    m = re.search(r"foreach\(\s*w\s+([^)]*)\)", read("workers/CMakeLists.txt"))
    return m.group(1).split() if m else []


check("workers/CMakeLists.txt builds lastmile-<worker> for every worker",
      [(f"no lastmile-{w} target", "workers/CMakeLists.txt",
        "keep `foreach(w intake qualification followup timing webhook)` there, or update "
        "WORKERS in tests/shell/deploy_common.py and the deploy files together")
       for w in WORKERS if w not in cmake_workers()])

# ---- Dockerfile -------------------------------------------------------------
PKG_MAP = {  # pkg-config module -> (Debian -dev package, runtime package, bookworm)
    "rdkafka": ("librdkafka-dev", "librdkafka1"),
    "libprotobuf-c": ("libprotobuf-c-dev", "libprotobuf-c1"),
    "hiredis": ("libhiredis-dev", "libhiredis0.14"),
    "jansson": ("libjansson-dev", "libjansson4"),
    "yaml-0.1": ("libyaml-dev", "libyaml-0-2"),
    "libmicrohttpd": ("libmicrohttpd-dev", "libmicrohttpd12"),
    "libcurl": ("libcurl4-openssl-dev", "libcurl4"),
    "libcrypto": ("libssl-dev", "libssl3"),
    "libzstd": ("libzstd-dev", "libzstd1"),
}
BUILD_TOOLS = ["gcc", "libc6-dev", "make", "cmake", "pkg-config"]
PROGRAM_MAP = {"protoc-c": "protobuf-c-compiler"}
RUNTIME_EXTRA = ["tzdata", "ca-certificates"]


def cmake_files():
    out = []
    for root, dirs, files in os.walk(SRC):
        rel = os.path.relpath(root, SRC)
        dirs[:] = [d for d in dirs if not d.startswith(".") and not d.startswith("build")
                   and not (rel == "." and d in ("tests", "deploy", "docs"))]
        out += [os.path.normpath(os.path.join(rel, f)) for f in files if f == "CMakeLists.txt"]
    return sorted(out)


def cmake_modules():
    mods, progs = {}, {}
    for rel in cmake_files():
        text = re.sub(r"#[^\n]*", "", read(rel))
        for m in re.finditer(r"pkg_check_modules\s*\(([^)]*)\)", text):
            words = m.group(1).split()[1:]
            for w in words:
                if w in ("REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL", "NO_CMAKE_PATH",
                         "NO_CMAKE_ENVIRONMENT_PATH"):
                    continue
                mods.setdefault(re.split(r"[<>=]", w)[0], rel)
        for m in re.finditer(r"find_program\s*\(\s*\w+\s+([^\s)]+)", text):
            progs.setdefault(m.group(1), rel)
    return mods, progs


def dockerfile_stages(path):
    text = read(path)
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    stages = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        kw, _, rest = s.partition(" ")
        kw = kw.upper()
        if kw == "FROM":
            parts = rest.split()
            stages.append({"from": parts[0], "name": parts[2] if len(parts) > 2 else "",
                           "packages": [], "lines": []})
        elif stages:
            stages[-1]["lines"].append((kw, rest))
            if kw == "RUN":
                for cmd in re.split(r"&&|;|\|\|", rest):
                    w = cmd.split()
                    if "apt-get" in w and "install" in w:
                        after = w[w.index("install") + 1:]
                        stages[-1]["packages"] += [p for p in after if not p.startswith("-")]
    return stages


DOCKERFILE = "deploy/Dockerfile"
RUN_UID = None
if not os.path.exists(os.path.join(SRC, DOCKERFILE)):
    check("deploy/Dockerfile exists", [("missing", DOCKERFILE, "write the Dockerfile")])
else:
    stages = dockerfile_stages(DOCKERFILE)
    mods, progs = cmake_modules()
    probs = []
    if len(stages) < 2:
        probs.append(("not a multi-stage build", DOCKERFILE,
                      "build in one stage, copy the binaries into a runtime stage"))
        stages = stages + [{"from": "", "name": "", "packages": [], "lines": []}] * 2
    build, runtime = stages[0], stages[-1]
    for st in (build, runtime):
        if not st["from"].startswith("debian:bookworm"):
            probs.append((f"stage FROM {st['from']} is not debian:bookworm", DOCKERFILE,
                          "use FROM debian:bookworm (build) and debian:bookworm-slim (runtime)"))
    for mod, where in sorted(mods.items()):
        if mod == "criterion":
            continue  # tests only; the image builds with -DLASTMILE_TESTS=OFF
        if mod not in PKG_MAP:
            probs.append((f"pkg-config module {mod} (linked in {where}) has no Debian "
                          f"package mapping", "tests/shell/deploy_checks.py PKG_MAP",
                          f"add {mod}: (its -dev package, its runtime package) to PKG_MAP, "
                          f"then to both apt-get lines of {DOCKERFILE}"))
            continue
        dev, rt = PKG_MAP[mod]
        if dev not in build["packages"]:
            probs.append((f"build stage does not install {dev} (for pkg-config {mod}, "
                          f"linked in {where})", f"{DOCKERFILE}, first stage apt-get install",
                          f"add {dev} to the build stage's apt-get install"))
        if rt not in runtime["packages"]:
            probs.append((f"runtime stage does not install {rt} (runtime of pkg-config "
                          f"{mod}, linked in {where})",
                          f"{DOCKERFILE}, last stage apt-get install",
                          f"add {rt} to the runtime stage's apt-get install"))
    for prog, where in sorted(progs.items()):
        pkg = PROGRAM_MAP.get(prog)
        if pkg is None:
            probs.append((f"program {prog} (find_program in {where}) has no package mapping",
                          "tests/shell/test_deploy.sh PROGRAM_MAP",
                          f"add {prog}: its Debian package to PROGRAM_MAP and the build stage"))
        elif pkg not in build["packages"]:
            probs.append((f"build stage does not install {pkg} (provides {prog}, found by "
                          f"{where})", DOCKERFILE, f"add {pkg} to the build stage"))
    for pkg in BUILD_TOOLS:
        if pkg not in build["packages"]:
            probs.append((f"build stage does not install {pkg}", DOCKERFILE,
                          f"add {pkg} to the build stage's apt-get install"))
    for pkg in RUNTIME_EXTRA:
        if pkg not in runtime["packages"]:
            probs.append((f"runtime stage does not install {pkg}", DOCKERFILE,
                          f"add {pkg} to the runtime stage's apt-get install"))
    for pkg in runtime["packages"]:
        if pkg.endswith("-dev") or pkg in BUILD_TOOLS or pkg in PROGRAM_MAP.values():
            probs.append((f"runtime stage installs build-only package {pkg}", DOCKERFILE,
                          f"remove {pkg} from the runtime stage"))
    check("Dockerfile package lists match the pkg-config modules CMake links", probs)

    # Where Debian's -dev package is installed here, its runtime dependency
    # must be the runtime package named above (catches a soname bump).
    probs = []
    for mod in sorted(mods):
        if mod not in PKG_MAP:
            continue
        dev, rt = PKG_MAP[mod]
        try:
            deps = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", dev],
                                  capture_output=True, text=True).stdout
        except OSError:
            deps = ""
        if deps and not re.search(r"(^|[\s,|])" + re.escape(rt) + r"([\s(,]|$)", deps):
            probs.append((f"{dev} here depends on '{deps}', not on {rt}", "this machine's dpkg",
                          f"update PKG_MAP in tests/shell/deploy_checks.py and the runtime "
                          f"stage of {DOCKERFILE} to the runtime package {dev} depends on"))
    check("runtime packages are the ones the installed -dev packages depend on", probs)

    probs = []
    bl = " ".join(r for k, r in build["lines"] if k == "RUN")
    if "-DLASTMILE_TESTS=OFF" not in bl:
        probs.append(("the build does not pass -DLASTMILE_TESTS=OFF", DOCKERFILE,
                      "configure with cmake -DLASTMILE_TESTS=OFF (no Criterion in the image)"))
    if "cmake --install" not in bl:
        probs.append(("the build does not run cmake --install", DOCKERFILE,
                      "install the binaries with cmake --install (DESTDIR=/out) and copy them"))
    users = [r.strip() for k, r in runtime["lines"] if k == "USER"]
    if not users:
        probs.append(("the runtime stage has no USER", DOCKERFILE,
                      "add USER 10001:10001 (a fixed non-root uid)"))
    else:
        uid = users[-1].split(":")[0]
        if not uid.isdigit() or uid == "0":
            probs.append((f"USER {users[-1]} is not a fixed non-root numeric uid", DOCKERFILE,
                          "use a numeric uid such as USER 10001:10001 (runAsNonRoot needs it)"))
        else:
            RUN_UID = int(uid)
    copies = " ".join(r for k, r in runtime["lines"] if k == "COPY")
    for f in ("config/decisions.yaml", "config/model.json"):
        if f not in copies or "/etc/lastmile" not in copies:
            probs.append((f"the runtime stage does not copy {f} to /etc/lastmile/", DOCKERFILE,
                          f"COPY config/decisions.yaml config/model.json /etc/lastmile/"))
    if not any(k == "CMD" for k, _ in runtime["lines"]):
        probs.append(("no CMD", DOCKERFILE, 'add CMD ["lastmile", "--help"]'))
    for k, r in runtime["lines"]:
        if k == "ENV":
            for name in re.findall(r"(LASTMILE_[A-Z0-9_]+)=", r):
                b = name[:-5] if name.endswith("_FILE") else name
                if not name.startswith("LASTMILE_KAFKA_") and b not in ENV:
                    probs.append((f"ENV {name} is not in {DEF}", DOCKERFILE,
                                  f"fix the name or add it to {DEF}"))
    check("Dockerfile builds without tests, installs, runs as a fixed non-root uid", probs)

    probs = []
    di = ".dockerignore"
    if not os.path.exists(os.path.join(SRC, di)):
        probs.append(("missing", di, "add .dockerignore (at least .git and build*)"))
    else:
        pats = [l.strip().strip("/") for l in read(di).splitlines()
                if l.strip() and not l.startswith("#")]
        for need in (".git", "build"):
            if need not in pats:
                probs.append((f"{need} is not ignored", di, f"add a line: {need}"))
        for keep in ("CMakeLists.txt", "proto", "common", "workers", "cli", "config"):
            if keep in pats:
                probs.append((f"{keep} is ignored but the build needs it", di,
                              f"remove the line {keep}"))
    check(".dockerignore keeps the context small and the sources in", probs)

# ---- the config copies kustomize reads ---------------------------------------
for f in ("decisions.yaml", "model.json"):
    orig, copy = f"config/{f}", f"deploy/k8s/base/files/{f}"
    if not os.path.exists(os.path.join(SRC, orig)):
        skip(f"{copy} equals {orig}", f"{orig} does not exist yet")
        continue
    same = os.path.exists(os.path.join(SRC, copy)) and read(orig) == read(copy)
    check(f"{copy} equals {orig}", [] if same else [(
        f"the ConfigMap copy differs from {orig} (or is missing)", copy,
        f"cp {orig} {copy}")])


# ---- docker-compose ------------------------------------------------------------
def compose_env(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict((e.split("=", 1) + [None])[:2] for e in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def command_list(c):
    if c is None:
        return []
    return shlex.split(c) if isinstance(c, str) else [str(x) for x in c]


try:
    with open(COMPOSE_OUT) as fh:
        compose = yaml.safe_load(fh) or {}
except (OSError, yaml.YAMLError) as e:
    compose = {}
services = compose.get("services") or {}
CF = "docker-compose.yml"
if not services:
    skip("docker-compose checks", "the compose file did not render (see above)")
else:
    probs = []
    raw = read(CF)
    if re.search(r"^name:", raw, re.M):
        probs.append(("top-level name: (docker-compose 1.29 rejects it)", CF, "remove it"))
    kafka = services.get("kafka", {})
    if not str(kafka.get("image", "")).startswith("apache/kafka"):
        probs.append(("no kafka service on the apache/kafka image", CF,
                      "add service kafka: image apache/kafka:<version> in KRaft mode"))
    kenv = compose_env(kafka)
    if "controller" not in (kenv.get("KAFKA_PROCESS_ROLES") or ""):
        probs.append(("kafka is not in KRaft mode", f"{CF} services.kafka.environment",
                      "set KAFKA_PROCESS_ROLES: broker,controller"))
    redis = services.get("redis", {})
    rcmd = " ".join(command_list(redis.get("command")))
    if not str(redis.get("image", "")).startswith("redis:7"):
        probs.append(("no redis service on a redis:7 image", CF, "add service redis: image redis:7"))
    if "--appendonly yes" not in rcmd:
        probs.append(("redis runs without AOF", f"{CF} services.redis.command",
                      'command: ["redis-server", "--appendonly", "yes"]'))
    for name in ("kafka", "redis"):
        if not (services.get(name, {}).get("healthcheck") or {}).get("test"):
            probs.append((f"{name} has no healthcheck", f"{CF} services.{name}",
                          "add a healthcheck (workers wait for service_healthy)"))
    topics = services.get("topics", {})
    tcmd = " ".join(command_list(topics.get("entrypoint")) + command_list(topics.get("command")))
    if "kafka-topics.sh" not in tcmd or "--partitions" not in tcmd:
        probs.append(("no one-shot topics service running kafka-topics.sh --partitions", CF,
                      "add service topics running /opt/kafka/bin/kafka-topics.sh --create"))
    for t in TOPICS:
        if not re.search(r"\b" + t + r"\b", tcmd):
            probs.append((f"topic {t} is not created", f"{CF} services.topics.command",
                          f"add {t} to the topics the topics service creates"))
    if "${LASTMILE_PARTITIONS:-6}" not in raw:
        probs.append(("partitions do not come from ${LASTMILE_PARTITIONS:-6}", CF,
                      "use --partitions from ${LASTMILE_PARTITIONS:-6}"))
    if (topics.get("restart") or "no") not in ("no", False):
        probs.append(("topics restarts (it must run once and exit)", f"{CF} services.topics",
                      'restart: "no"'))
    check("compose: Kafka (KRaft), Redis (AOF), healthchecks, one-shot topics", probs)

    found = {}
    for sname, svc in services.items():
        cmd = command_list(svc.get("command"))
        if cmd and cmd[0].startswith("lastmile-"):
            found.setdefault(cmd[0][len("lastmile-"):], []).append(sname)
    for w in WORKERS:
        probs = []
        where = f"{CF} services.{w}"
        if found.get(w) != [w]:
            probs.append((f"expected one service '{w}' running lastmile-{w}, found "
                          f"{found.get(w) or 'none'}", CF,
                          f"add service {w} with command [\"lastmile-{w}\"]"))
            check(f"compose: worker {w}", probs)
            continue
        svc = services[w]
        if "container_name" in svc:
            probs.append(("container_name is set, so --scale cannot work", where,
                          "remove container_name"))
        if svc.get("ports"):
            probs.append(("fixed host ports, so --scale cannot work", where,
                          "remove ports (Prometheus scrapes the workers on the compose network)"))
        dep = svc.get("depends_on") or {}
        want = {"kafka": "service_healthy", "redis": "service_healthy",
                "topics": "service_completed_successfully"}
        for d, cond in want.items():
            got = dep.get(d, {}).get("condition") if isinstance(dep, dict) else None
            if got != cond:
                probs.append((f"depends_on {d} is {got or 'missing'}, not {cond}", where,
                              f"depends_on: {{{d}: {{condition: {cond}}}}}"))
        env = compose_env(svc)
        probs += env_problems(env, w, f"{where}.environment")
        addr = env.get("LASTMILE_METRICS_ADDR") or ""
        if not addr.endswith(":9464") or addr.startswith("127."):
            probs.append((f"LASTMILE_METRICS_ADDR is '{addr}', Prometheus expects 0.0.0.0:9464",
                          f"{where}.environment", "LASTMILE_METRICS_ADDR: 0.0.0.0:9464"))
        grace = duration_s(svc.get("stop_grace_period", "10s"))
        if grace is None or grace * 1000 <= shutdown_ms(env):
            probs.append((f"stop_grace_period {svc.get('stop_grace_period', '10s (default)')} "
                          f"is not longer than the drain ({shutdown_ms(env)} ms)", where,
                          "stop_grace_period: 30s"))
        check(f"compose: worker {w} (scalable, waits for its dependencies, env known)", probs)

    probs = []
    sim = services.get("simulator")
    if not sim:
        probs.append(("no simulator service", CF, "add service simulator (profile sim)"))
    else:
        if "sim" not in (sim.get("profiles") or []):
            probs.append(("simulator is not behind profile sim", f"{CF} services.simulator",
                          'profiles: ["sim"]'))
        if command_list(sim.get("command"))[:2] != ["lastmile", "simulate"]:
            probs.append(("simulator does not run `lastmile simulate`",
                          f"{CF} services.simulator", 'command: ["lastmile", "simulate"]'))
        probs += env_problems(compose_env(sim), "cli", f"{CF} services.simulator.environment")
        if not compose_env(sim).get("LASTMILE_BROKERS"):
            probs.append(("simulator has no LASTMILE_BROKERS", f"{CF} services.simulator",
                          "LASTMILE_BROKERS: kafka:9092"))
    for name in ("prometheus", "grafana"):
        s = services.get(name)
        if not s or "observe" not in (s.get("profiles") or []):
            probs.append((f"{name} missing or not behind profile observe", CF,
                          f"add service {name} with profiles: [\"observe\"]"))
    check("compose: simulator (profile sim), Prometheus and Grafana (profile observe)", probs)


def mounts(svc):
    out = {}
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            out[v.get("target")] = v.get("source")
        else:
            parts = str(v).split(":")
            if len(parts) >= 2:
                out[parts[1]] = parts[0]
    return out


# ---- Prometheus and Grafana ---------------------------------------------------
PROM = "deploy/prometheus/prometheus.yml"
probs = []
try:
    prom = yaml.safe_load(read(PROM)) or {}
except (OSError, yaml.YAMLError) as e:
    prom, probs = {}, [(f"cannot read: {e}", PROM, "write a valid prometheus.yml")]
targets = set()
for sc in prom.get("scrape_configs") or []:
    for d in sc.get("dns_sd_configs") or []:
        for n in d.get("names") or []:
            targets.add(f"{n}:{d.get('port')}")
    for st in sc.get("static_configs") or []:
        targets.update(st.get("targets") or [])
for w in WORKERS:
    if f"{w}:9464" not in targets:
        probs.append((f"worker {w} is not scraped at {w}:9464", PROM,
                      f"add {w} to a dns_sd_configs names list with port 9464"))
if services:
    pm = mounts(services.get("prometheus", {}))
    if not any(str(s).endswith(PROM) for s in pm.values()):
        probs.append((f"the prometheus service does not mount {PROM}", CF,
                      f"volumes: - ./{PROM}:/etc/prometheus/prometheus.yml:ro"))
check("Prometheus scrapes the compose workers by service name on :9464", probs)

probs = []
ds_uids = set()
for p in glob.glob(os.path.join(SRC, "deploy/grafana/provisioning/datasources/*.y*ml")):
    for d in (yaml.safe_load(open(p)) or {}).get("datasources") or []:
        ds_uids.add(d.get("uid"))
        host = re.sub(r"^\w+://", "", str(d.get("url", ""))).split(":")[0]
        if services and d.get("type") == "prometheus" and host not in services:
            probs.append((f"datasource url {d.get('url')} names no compose service",
                          os.path.relpath(p, SRC), "url: http://prometheus:9090"))
if not ds_uids:
    probs.append(("no datasource provisioned", "deploy/grafana/provisioning/datasources/",
                  "add a Prometheus datasource with a fixed uid"))
dash_paths = []
for p in glob.glob(os.path.join(SRC, "deploy/grafana/provisioning/dashboards/*.y*ml")):
    for pr in (yaml.safe_load(open(p)) or {}).get("providers") or []:
        dash_paths.append((pr.get("options") or {}).get("path"))
gm = mounts(services.get("grafana", {})) if services else {}
for path in dash_paths:
    if services and not str(gm.get(path, "")).endswith("deploy/grafana/dashboards"):
        probs.append((f"dashboard provider path {path} is not where compose mounts "
                      f"deploy/grafana/dashboards", CF,
                      f"mount ./deploy/grafana/dashboards:{path}:ro in the grafana service"))
if not dash_paths:
    probs.append(("no dashboard provider", "deploy/grafana/provisioning/dashboards/",
                  "add a file provider pointing at the mounted dashboards folder"))
if services and not any(str(s).endswith("deploy/grafana/provisioning") for s in gm.values()):
    probs.append(("grafana does not mount deploy/grafana/provisioning", CF,
                  "volumes: - ./deploy/grafana/provisioning:/etc/grafana/provisioning:ro"))
check("Grafana provisioning: datasource and dashboard provider match compose", probs)

DASH = "deploy/grafana/dashboards/lastmile.json"
SERIES = ["lastmile_consumed_total", "lastmile_produced_total", "lastmile_dead_lettered_total",
          "lastmile_errors_total", "lastmile_handler_seconds", "lastmile_batch_size",
          "lastmile_consumer_lag", "lastmile_redis_roundtrip_seconds", "lastmile_timers_pending",
          "lastmile_timers_fired_total", "lastmile_decisions_total", "lastmile_outcomes_total",
          "lastmile_speed_to_lead_seconds", "lastmile_cycle_time_seconds",
          "lastmile_cost_cents_total", "lastmile_revenue_cents_total",
          "lastmile_stage_oldest_waiting_seconds"]
probs = []
try:
    dash = json.loads(read(DASH))
except (OSError, ValueError) as e:
    dash, probs = {}, [(f"not valid JSON: {e}", DASH, "fix the JSON")]


def walk_panels(ps):
    for p in ps or []:
        yield p
        yield from walk_panels(p.get("panels"))


exprs = []
for p in walk_panels(dash.get("panels")):
    for t in p.get("targets") or []:
        exprs.append(t.get("expr", ""))
        uid = (t.get("datasource") or p.get("datasource") or {}).get("uid")
        if uid and uid not in ds_uids and not uid.startswith("$"):
            probs.append((f"panel '{p.get('title')}' uses datasource uid {uid}, not provisioned",
                          DASH, f"use one of {sorted(u for u in ds_uids if u)}"))
for s in SERIES:
    if not any(re.search(r"\b" + s + r"(_bucket|_sum|_count)?\b", e) for e in exprs):
        probs.append((f"no panel shows {s}", DASH, f"add a panel over {s}"))
check("Grafana dashboard is valid JSON and shows every lastmile series", probs)


# ---- Kubernetes ----------------------------------------------------------------
def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def named(docs, kind, name):
    for d in by_kind(docs, kind):
        if d["metadata"]["name"] == name:
            return d
    return None


def container_env(docs, c, where, probs):
    env = {}
    for ef in c.get("envFrom") or []:
        pre = ef.get("prefix", "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = ef.get(key)
            if not ref:
                continue
            obj = named(docs, kind, ref["name"])
            if obj is None:
                if not ref.get("optional"):
                    probs.append((f"envFrom {kind} {ref['name']} is not in the rendered "
                                  f"objects", where, f"generate {ref['name']} in the kustomization"))
                continue
            for k, v in {**(obj.get("data") or {}), **(obj.get("stringData") or {})}.items():
                env[pre + k] = str(v)
    for e in c.get("env") or []:
        env[e["name"]] = "<valueFrom>" if "valueFrom" in e else str(e.get("value", ""))
    return env


def k8s_checks(kdir, path):
    where0 = f"kubectl kustomize {kdir}"
    with open(path) as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d]
    is_base = kdir.rstrip("/").endswith("/base")
    deps, sos, pdbs = {}, {}, by_kind(docs, "PodDisruptionBudget")
    for d in by_kind(docs, "Deployment"):
        cs = d["spec"]["template"]["spec"].get("containers") or []
        cmd = (cs[0].get("command") or cs[0].get("args") or [""])[0] if cs else ""
        if cmd.startswith("lastmile-"):
            deps[cmd[len("lastmile-"):]] = d
    for so in by_kind(docs, "ScaledObject"):
        sos[(so["spec"].get("scaleTargetRef") or {}).get("name")] = so
    secret = named(docs, "Secret", "lastmile-credentials")
    wait_trigger = []
    for w in WORKERS:
        probs = []
        d = deps.get(w)
        if d is None:
            check(f"k8s {kdir}: worker {w}", [(f"no Deployment runs lastmile-{w}", where0,
                  f"add a Deployment with command [\"lastmile-{w}\"] to deploy/k8s/base")])
            continue
        name = d["metadata"]["name"]
        where = f"{where0}: Deployment {name}"
        pod = d["spec"]["template"]
        ps = pod["spec"]
        c = ps["containers"][0]
        if "replicas" in d["spec"]:
            probs.append(("spec.replicas is set: every kubectl apply would undo KEDA's scaling",
                          where, "remove spec.replicas (the ScaledObject owns the count)"))
        for probe, path_ in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            hg = (c.get(probe) or {}).get("httpGet") or {}
            if hg.get("path") != path_ or hg.get("port") not in ("metrics", 9464):
                probs.append((f"{probe} is not an httpGet of {path_} on port metrics", where,
                              f"{probe}: {{httpGet: {{path: {path_}, port: metrics}}}}"))
        if not any(p.get("name") == "metrics" and p.get("containerPort") == 9464
                   for p in c.get("ports") or []):
            probs.append(("no container port 9464 named metrics", where,
                          "ports: [{name: metrics, containerPort: 9464}]"))
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in (res.get(part) or {}):
                    probs.append((f"resources.{part}.{r} is not set", where,
                                  f"set resources.{part}.{r}"))
        psc, csc = ps.get("securityContext") or {}, c.get("securityContext") or {}
        if not (csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
            probs.append(("runAsNonRoot is not true", where,
                          "securityContext: {runAsNonRoot: true} (pod and container)"))
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        if not isinstance(uid, int) or uid == 0:
            probs.append(("runAsUser is not a fixed non-root uid", where,
                          "securityContext.runAsUser: 10001 (the image's uid)"))
        elif RUN_UID is not None and uid != RUN_UID:
            probs.append((f"runAsUser {uid} differs from the image's USER {RUN_UID}", where,
                          f"use runAsUser: {RUN_UID} or change USER in deploy/Dockerfile"))
        if csc.get("readOnlyRootFilesystem") is not True:
            probs.append(("readOnlyRootFilesystem is not true", where,
                          "container securityContext.readOnlyRootFilesystem: true"))
        if csc.get("allowPrivilegeEscalation") is not False:
            probs.append(("allowPrivilegeEscalation is not false", where,
                          "container securityContext.allowPrivilegeEscalation: false"))
        if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
            probs.append(("capabilities are not dropped", where,
                          "container securityContext.capabilities.drop: [ALL]"))
        ann = (pod.get("metadata") or {}).get("annotations") or {}
        if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != "9464":
            probs.append(("pod template lacks prometheus.io/scrape and port annotations", where,
                          'annotations: {prometheus.io/scrape: "true", prometheus.io/port: "9464"}'))

        env = container_env(docs, c, where, probs)
        probs += env_problems(env, w, f"{where} (env and envFrom)")
        addr = env.get("LASTMILE_METRICS_ADDR", "")
        if not addr.endswith(":9464") or addr.startswith("127."):
            probs.append((f"LASTMILE_METRICS_ADDR is '{addr}': probes and scraping use :9464",
                          where, "LASTMILE_METRICS_ADDR: 0.0.0.0:9464"))
        grace = ps.get("terminationGracePeriodSeconds", 30)
        if grace * 1000 <= shutdown_ms(env):
            probs.append((f"terminationGracePeriodSeconds {grace} is not longer than the drain "
                          f"({shutdown_ms(env)} ms)", where,
                          "raise terminationGracePeriodSeconds (e.g. 30)"))

        # files the environment names must be mounted: secrets and config
        vols = {v["name"]: v for v in ps.get("volumes") or []}
        vmounts = [(m["mountPath"].rstrip("/"), vols.get(m["name"], {}))
                   for m in c.get("volumeMounts") or []]
        file_vars = {k: v for k, v in env.items() if k.endswith("_FILE")}
        for k in ("LASTMILE_CONFIG", "LASTMILE_MODEL"):
            if env.get(k):
                file_vars[k] = env[k]
        for k, fpath in sorted(file_vars.items()):
            dirn, base = os.path.dirname(fpath), os.path.basename(fpath)
            vol = next((v for mp, v in vmounts if mp == dirn), None)
            if vol is None:
                probs.append((f"{k}={fpath}: no volume is mounted at {dirn}", where,
                              f"mount the volume holding {base} at {dirn}"))
                continue
            if "secret" in vol:
                items = vol["secret"].get("items")
                keys = [i["key"] for i in items if i["path"] == base] if items else [base]
                if not keys:
                    probs.append((f"{k}={fpath}: the secret volume has no item {base}", where,
                                  f"add {{key: {base}, path: {base}}} to the volume's items"))
                elif secret is not None and not set(keys) <= set(
                        list((secret.get("data") or {})) + list(secret.get("stringData") or {})):
                    probs.append((f"{k}: Secret {secret['metadata']['name']} has no key {keys[0]}",
                                  f"{where0}: Secret", f"add key {keys[0]} to the Secret"))
            elif "configMap" in vol:
                cm = named(docs, "ConfigMap", vol["configMap"]["name"])
                if cm is None:
                    probs.append((f"ConfigMap {vol['configMap']['name']} is not rendered", where,
                                  "generate it in the kustomization"))
                elif base not in (cm.get("data") or {}):
                    probs.append((f"{k}={fpath}: ConfigMap {cm['metadata']['name']} has no key "
                                  f"{base}", where,
                                  f"add files/{base} to the configMapGenerator"))

        # PodDisruptionBudget
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if not any(all(labels.get(k) == v for k, v in
                       ((p["spec"].get("selector") or {}).get("matchLabels") or {}).items())
                   and (p["spec"].get("selector") or {}).get("matchLabels")
                   for p in pdbs):
            probs.append(("no PodDisruptionBudget selects this worker's pods", where,
                          f"add a PodDisruptionBudget (maxUnavailable: 1) selecting {labels}"))

        # KEDA
        so = sos.get(name)
        sow = f"{where0}: ScaledObject for {name}"
        if so is None:
            probs.append((f"no ScaledObject targets {name}", where0,
                          f"add a keda.sh/v1alpha1 ScaledObject with scaleTargetRef.name {name}"))
        else:
            if so.get("apiVersion") != "keda.sh/v1alpha1":
                probs.append((f"apiVersion is {so.get('apiVersion')}", sow, "keda.sh/v1alpha1"))
            spec = so["spec"]
            ann = so["metadata"].get("annotations") or {}
            parts = ann.get("lastmile/topic-partitions")
            mx = spec.get("maxReplicaCount")
            if not str(parts or "").isdigit():
                probs.append(("no lastmile/topic-partitions annotation (the input topic's "
                              "partition count)", sow,
                              'annotate lastmile/topic-partitions: "<partitions>"'))
            elif not isinstance(mx, int) or mx > int(parts):
                probs.append((f"maxReplicaCount {mx} is above the topic's {parts} partitions "
                              f"(extra replicas would sit idle)", sow,
                              f"maxReplicaCount: {parts} at most, or add partitions first"))
            if w == "timing" and spec.get("minReplicaCount", 0) < 1:
                probs.append(("minReplicaCount below 1: nothing would sweep due timers", sow,
                              "minReplicaCount: 1"))
            trig = spec.get("triggers") or []
            kt = [t for t in trig if t.get("type") == "kafka"]
            prefix = env.get("LASTMILE_TOPIC_PREFIX") or ENV.get(
                "LASTMILE_TOPIC_PREFIX", {}).get("default", "lastmile.")
            if not kt:
                probs.append(("no kafka trigger", sow, "add a kafka trigger on its consumer group"))
            for t in kt:
                md = t.get("metadata") or {}
                topic = prefix + INPUTS.get(w, w)
                if md.get("topic") != topic:
                    probs.append((f"kafka trigger topic is {md.get('topic')}, the worker "
                                  f"consumes {topic}", sow, f"topic: {topic}"))
                if not str(md.get("consumerGroup", "")).endswith(w):
                    probs.append((f"kafka trigger consumerGroup is {md.get('consumerGroup')}",
                                  sow, f"consumerGroup: lastmile.{w}"))
                if not str(md.get("lagThreshold", "")).isdigit():
                    probs.append(("kafka trigger has no lagThreshold", sow, 'lagThreshold: "100"'))
                if md.get("bootstrapServers") != env.get("LASTMILE_BROKERS"):
                    probs.append((f"kafka trigger bootstrapServers {md.get('bootstrapServers')} "
                                  f"differs from the workers' LASTMILE_BROKERS "
                                  f"{env.get('LASTMILE_BROKERS')}", sow,
                                  "patch bootstrapServers in the overlay to the same brokers"))
                ar = (t.get("authenticationRef") or {}).get("name")
                ta = named(docs, "TriggerAuthentication", ar) if ar else None
                if ar and ta is None:
                    probs.append((f"authenticationRef {ar} is not rendered", sow,
                                  f"add TriggerAuthentication {ar}"))
                if ta is not None and secret is not None:
                    skeys = set(secret.get("data") or {}) | set(secret.get("stringData") or {})
                    for r in (ta["spec"].get("secretTargetRef") or []):
                        if r.get("name") == secret["metadata"]["name"] and r["key"] not in skeys:
                            probs.append((f"TriggerAuthentication {ar} reads key {r['key']} the "
                                          f"Secret lacks", f"{where0}: Secret",
                                          f"add key {r['key']} to the Secret"))
            for t in trig:
                if t.get("type") == "prometheus" and "lastmile_stage_oldest_waiting_seconds" in \
                        str((t.get("metadata") or {}).get("query")):
                    wait_trigger.append(w)
        check(f"k8s {kdir}: worker {w} (probes, resources, security, env, PDB, KEDA)", probs)
    check(f"k8s {kdir}: a prometheus trigger on lastmile_stage_oldest_waiting_seconds",
          [] if set(wait_trigger) & {"qualification", "followup"} else [(
              "neither qualification nor followup scales on waiting age", where0,
              "add a prometheus trigger with query "
              "max(lastmile_stage_oldest_waiting_seconds{stage=\"qualification\"})")])
    if not is_base:
        probs = []
        if secret is None:
            probs.append(("the overlay renders no Secret lastmile-credentials", where0,
                          "add an example Secret (placeholder values) to the overlay"))
        ns_less = [f"{d['kind']}/{d['metadata']['name']}" for d in docs
                   if d.get("kind") != "Namespace" and not d["metadata"].get("namespace")]
        if ns_less:
            probs.append((f"objects without a namespace: {', '.join(ns_less)}", where0,
                          "set namespace: in the overlay's kustomization.yaml"))
        if any(":latest" in c.get("image", "") or ":" not in c.get("image", "")
               for d in deps.values() for c in d["spec"]["template"]["spec"]["containers"]):
            probs.append(("a worker image is not pinned to a tag", where0,
                          "images: [{name: lastmile, newName: ..., newTag: <version>}]"))
        check(f"k8s {kdir}: namespace, pinned image, example Secret", probs)


for kdir, path in RENDERED:
    k8s_checks(kdir, path)
