"""deploy_common.py — what deploy_checks.py's checks share: the arguments, the
workers and topics, the check/skip printers, and the environment variables the
code knows (common/runtime/lm_env_vars.def) with the rules a deployment's
environment must keep. Imported by deploy_checks.py (run by test_deploy.sh)."""
import os
import re
import sys

__all__ = ["SRC", "COMPOSE_OUT", "RENDERED", "WORKERS", "INPUTS", "TOPICS", "DEF",
           "check", "skip", "read", "ENV", "env_problems", "shutdown_ms", "duration_s"]

SRC, COMPOSE_OUT = sys.argv[1], sys.argv[2]
RENDERED = [a.split("=", 1) for a in sys.argv[3:]]  # (dir, file)
WORKERS = ["intake", "qualification", "followup", "timing", "webhook"]
# the topic a worker consumes, where it is not named after the worker
INPUTS = {"webhook": "actions"}
TOPICS = ["intake", "qualification", "followup", "actions", "timing", "outcomes", "dlq"]
DEF = "common/runtime/lm_env_vars.def"


def check(name, problems):
    """One check: passes when problems (list of (what, where, fix)) is empty."""
    if not problems:
        print(f"ok   {name}")
        return
    print(f"FAIL {name}")
    for what, where, fix in problems:
        print(f"       - {what}\n         where: {where}\n         fix:   {fix}")


def skip(name, why):
    print(f"skip {name}: {why}")


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


# ---- the environment variables the code knows -----------------------------
def parse_env_def():
    text = re.sub(r"/\*.*?\*/", "", read(DEF), flags=re.S)
    out = {}
    for m in re.finditer(
        r'LM_ENV\(\s*"([A-Za-z0-9_]+)"\s*,\s*"([^"]*)"\s*,\s*(\d+)\s*,\s*"((?:[^"\\]|\\.)*)"',
        text,
    ):
        out[m.group(1)] = {
            "who": [w for w in re.split(r"[,\s|]+", m.group(2)) if w],
            "required": m.group(3) != "0",
            "default": m.group(4),
        }
    return out


ENV = parse_env_def()
check(f"{DEF} lists variables", [] if ENV else [(
    "no LM_ENV(\"NAME\", \"who\", required, \"default\", ...) lines found",
    DEF, "keep the X-macro format the runtime reads")])


def env_problems(env, worker, where):
    """env: name -> value (None = unset). worker: a worker name or 'cli'."""
    probs = []
    set_names = {n for n, v in env.items() if v is not None and v != ""}
    for name in sorted(env):
        if name.startswith("LASTMILE_KAFKA_"):
            continue  # librdkafka passthrough
        base = name[:-5] if name.endswith("_FILE") else name
        if base not in ENV:
            probs.append((f"{name} is not a lastmile variable (the runtime refuses unknown "
                          f"LASTMILE_* variables)", where,
                          f"fix the name, or add an LM_ENV line for {base} to {DEF}"))
            continue
        who = ENV[base]["who"]
        if worker != "cli" and "all" not in who and worker not in who:
            probs.append((f"{name} is set for the {worker} worker but only {'/'.join(who)} "
                          f"reads it", where, f"remove {name} from the {worker} worker"))
        if name == base and base + "_FILE" in set_names and base in set_names:
            probs.append((f"both {base} and {base}_FILE are set (the runtime refuses that)",
                          where, f"keep one of {base} and {base}_FILE"))
    if worker != "cli":
        for base, d in sorted(ENV.items()):
            if not d["required"] or not ("all" in d["who"] or worker in d["who"]):
                continue
            if base not in set_names and base + "_FILE" not in set_names:
                probs.append((f"required variable {base} is not set for the {worker} worker",
                              where, f"set {base} (or {base}_FILE for a secret)"))
    return probs


def shutdown_ms(env):
    v = env.get("LASTMILE_SHUTDOWN_TIMEOUT_MS") or ENV.get(
        "LASTMILE_SHUTDOWN_TIMEOUT_MS", {}).get("default") or "10000"
    try:
        return int(v)
    except ValueError:
        return 10000


def duration_s(v):
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", str(v).strip())
    if not m or not any(m.groups()):
        return None
    return int(m.group(1) or 0) * 60 + float(m.group(2) or 0)
