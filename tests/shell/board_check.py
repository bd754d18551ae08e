#!/usr/bin/env python3
# board_check.py — run by tests/shell/test_board.sh (not a test of its
# own); its arguments are named in the docstring below.
"""Compares the rendered board (argv: dom.html report.json board.json
sim.json sim2.json live.jsonl csp.txt redis_url waiting.json) with the report,
with the lead rows in Redis, with the leads qualification has not taken (as
`lastmile waiting --json` reads them from Kafka) and with the market. One line per check: "ok   ..." or "FAIL ..."
with "where:" and "fix:" lines."""
import json
import math
import socket
import sys
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from urllib.parse import urlparse

(dom_path, rep_path, board_path, sim_path, sim2_path, live_path, csp_path,
 redis_url, waiting_path) = sys.argv[1:10]


def ok(what):
    print("ok   " + what)


def fail(what, where, fix):
    print("FAIL %s\n       where: %s\n       fix:   %s" % (what, where, fix))


# ---- the DOM, as a small tree ------------------------------------------------
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text_parts = [], []

    def text(self):
        return "".join(p if isinstance(p, str) else p.text()
                       for p in self.text_parts)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


class Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        self.cur.text_parts.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text_parts.append(data)


t = Tree()
with open(dom_path, encoding="utf-8") as f:
    t.feed(f.read())
nodes = list(t.root.walk())
by_id = {n.attrs.get("id"): n for n in nodes if n.attrs.get("id")}
with open(rep_path) as f:
    report = json.load(f)
with open(board_path) as f:
    board = json.load(f)
sim = {}
for p in (sim_path, sim2_path):  # the market, and the late leads
    with open(p) as f:
        for k, v in json.load(f).items():
            sim[k] = sim.get(k, 0) + v

# ---- the page's formatting, as its script does it (JS semantics) -------------


def to_fixed(v, digits):  # Number.prototype.toFixed: exact value, half up
    q = Decimal(1).scaleb(-digits)
    return str(Decimal(v).quantize(q, rounding=ROUND_HALF_UP))


def js_round(v):  # Math.round
    return math.floor(v + 0.5)


def fmt_dur(v):
    if v < 60:
        return to_fixed(v, 2 if v < 10 else 1) + "s"
    t = js_round(v)
    if t < 3600:
        return "%dm %02ds" % (t // 60, t % 60)
    if t < 86400:
        return "%dh %02dm" % (t // 3600, t % 3600 // 60)
    return "%dd %02dh" % (t // 86400, t % 86400 // 3600)


FMT = {
    "count": lambda v: "{:,}".format(js_round(v)),
    "rate": lambda v: to_fixed(v, 2 if v < 10 else 1) + "/s",
    "pct": lambda v: to_fixed(v * 100, 1) + "%",
    "money": lambda v: "{:,}".format(
        Decimal(v / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
    "ms": lambda v: ("%d ms" % js_round(v)) if v < 1000 else fmt_dur(v / 1000),
    "dur": fmt_dur,
    # the lift's state_code (docs/REPORT.md)
    "state": lambda v: {1: "proven better", 0: "not proven yet",
                        -1: "harmful"}[int(v)],
}

MISSING = object()


def get(obj, path):
    for k in path.split("."):
        if isinstance(obj, list) and k.isdigit() and int(k) < len(obj):
            obj = obj[int(k)]
        elif isinstance(obj, dict) and k in obj:
            obj = obj[k]
        else:
            return MISSING
    return obj


def shown(node):
    """(raw value or None, text) of a figure on the page."""
    raw = node.attrs.get("data-value", "")
    return (float(raw) if raw != "" else None), node.text().strip()


def same(a, b):
    return a == b or (a is not None and b is not None and
                      math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9))


def check_figure(node, expect, what, where):
    raw, text = shown(node)
    if expect is None or (isinstance(expect, float) and not math.isfinite(expect)):
        if raw is None and text == "n/a":
            ok("%s: n/a on the page and in %s" % (what, where))
        else:
            fail("%s: the page shows %r (raw %r); %s has none" %
                 (what, text, raw, where), dom_path,
                 "render null as n/a with data-value=\"\"")
        return
    want_text = FMT.get(node.attrs.get("data-fmt"), str)(expect)
    if same(raw, float(expect)) and text == want_text:
        ok("%s = %s (%r) on the page and in %s" % (what, text, expect, where))
    else:
        fail("%s: the page shows %r (raw %r), %s has %r (%r)" %
             (what, text, raw, where, expect, want_text), dom_path,
             "the page must render %s's figure as it is" % where)


# ---- the page is live and self-contained ---------------------------------------
body = next((n for n in nodes if n.tag == "body"), None)
status = by_id.get("board-status")
if body is not None and int(body.attrs.get("data-refreshes", "0")) >= 1 and \
        status is not None and status.attrs.get("data-state") == "live":
    ok("the page rendered %s refresh(es) and says %r" %
       (body.attrs.get("data-refreshes"), status.text().strip()))
else:
    fail("the page did not render a snapshot (status %r, errors %r)" %
         (status.text().strip() if status else None,
          by_id["board-errors"].text() if "board-errors" in by_id else None),
         dom_path, "see the board's log and /api/board")
external = [(n.tag, a, v) for n in nodes for a, v in n.attrs.items()
            if a in ("src", "href", "action", "data") and v]
if not external:
    ok("the page references nothing to load (no src/href)")
else:
    fail("the page loads %r" % external[:3], dom_path,
         "inline everything: nothing fetched from elsewhere")
with open(csp_path) as f:
    csp = f.read()
if "default-src 'none'" in csp and "connect-src 'self'" in csp:
    ok("the page is served with a Content-Security-Policy: %s" % csp)
else:
    fail("no strict Content-Security-Policy on the page: %r" % csp, "cli/board_http.c",
         "send default-src 'none'; connect-src 'self'")

# ---- every report figure on the page equals `lastmile report --json` ---------
figures = [n for n in nodes if "data-metric" in n.attrs]
report_figs = [n for n in figures
               if not n.attrs["data-metric"].startswith("stages.")]
seen = set()
for n in report_figs:
    path = n.attrs["data-metric"]
    seen.add(path)
    expect = get(report, path)
    if expect is MISSING:
        fail("the page shows %s, which `lastmile report --json` does not have"
             % path, dom_path, "use the report's key paths in data-metric")
        continue
    check_figure(n, expect, path, "the report")
must = ["funnel." + k for k in report["funnel"]] + [
    "speed_to_lead_s.p50", "speed_to_lead_s.p90", "speed_to_lead_s.p99",
    "cycle_time_s.p50", "cycle_time_s.p90", "cost.per_responder_cents",
    "cost.per_buyer_cents",
    "revenue.per_accepted_lead_cents", "timing_arms.lift.value",
    "timing_arms.lift.ci95.0", "timing_arms.lift.ci95.1",
    "timing_arms.lift.state_code", "timing_arms.lift.more_needed.adaptive",
    "timing_arms.lift.more_needed.fixed", "timing_arms.adaptive.rate",
    "timing_arms.fixed.rate", "timing_arms.holdout.touched",
    "timing_arms.per_step.0.lift.value",
    "timing_arms.per_step.0.lift.state_code"]
absent = [m for m in must if m not in seen]
if absent:
    fail("the page lacks %s" % ", ".join(absent), dom_path,
         "render them with data-metric")
else:
    ok("the page has all %d figures it must show" % len(must))
def without_now(rep):
    """The report but its reading time and what depends on it (an owner
    step becomes overdue as the clock runs between the two reads)."""
    out = {k: v for k, v in rep.items() if k != "now_ms"}
    if isinstance(out.get("owners"), dict):
        out["owners"] = {k: v for k, v in out["owners"].items()
                         if k != "steps_overdue"}
    return out


rep_no_now = without_now(report)
api_no_now = without_now(board.get("report") or {})
if rep_no_now == api_no_now:
    ok("/api/board's report equals `lastmile report --json` (but for now_ms "
       "and the owner steps overdue by then)")
else:
    diff = [k for k in set(rep_no_now) | set(api_no_now)
            if rep_no_now.get(k) != api_no_now.get(k)]
    fail("/api/board's report differs from the report in %s" % diff,
         "/api/board", "compute it with lm_report_scan/lm_report_finish")

# ---- the funnel against what the market published ----------------------------
f = report["funnel"]
if f["submitted"] == sim["published"] and f["invalid"] == sim["invalid"] and \
        f["merged"] == sim["repeats"]:
    ok("funnel: %d submitted, %d invalid, %d merged, as the market published"
       % (f["submitted"], f["invalid"], f["merged"]))
else:
    fail("funnel %r vs market %r" % (f, sim), "lastmile report",
         "every submission is accepted, merged or dead-lettered")

# ---- the stages against the lead rows, read with our own Redis client --------


def redis_conn(url):
    u = urlparse(url)
    s = socket.create_connection((u.hostname, u.port or 6379), timeout=10)
    rf = s.makefile("rb")

    def call(*args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        return read()

    def read():
        line = rf.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = rf.read(n + 2)[:-2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    if u.password:
        call("AUTH", *([u.username] if u.username else []), u.password)
    db = (u.path or "/0").strip("/") or "0"
    call("SELECT", db)
    return call


FIELDS = ["stage", "status", "accepted_at", "submitted_at", "decided_at",
          "last_action_at", "next_due_at", "owner"]
rows = {}
try:
    call = redis_conn(redis_url)
    cursor = "0"
    while True:
        cursor, keys = call("SCAN", cursor, "MATCH", "lm:{*}:lead:*",
                            "COUNT", 1000)
        cursor = cursor.decode()
        for k in keys:
            v = call("HMGET", k, *FIELDS)
            if isinstance(v, list) and (v[1] is not None or v[2] is not None):
                rows[k.decode().split(":lead:", 1)[1]] = {
                    f: (x.decode() if x is not None else None)
                    for f, x in zip(FIELDS, v)}
        if cursor == "0":
            break
except Exception as e:  # noqa: BLE001 - reported as a failure
    fail("reading the lead rows from Redis: %s" % e, redis_url,
         "is redis-server still up?")

now_node = by_id.get("board-now")
now_ms = int(float(now_node.attrs.get("data-value", "0"))) if now_node else 0


def num(x):
    try:
        return int(x)
    except (TypeError, ValueError):
        return 0


def waits(r):
    """(stage, since_ms) by the definitions in cli/board.h, or None."""
    # an undecided lead waits on qualification's topic, not in Redis
    if r["stage"] in (None, "qualification") or r["status"] == "closed":
        return None
    if r["stage"] == "followup":
        since = num(r["next_due_at"]) if num(r["last_action_at"]) and \
            num(r["next_due_at"]) else num(r["decided_at"])
        return ("followup", since) if since else None
    # past its window, not at its end: lm_report_waiting_stage's rule
    # (now > next_due_at)
    if r["stage"] == "waiting" and 0 < num(r["next_due_at"]) < now_ms:
        return ("timing", num(r["next_due_at"]))
    return None


waiting = {}
for lid, r in rows.items():
    w = waits(r)
    if w:
        waiting[lid] = w
if rows:
    ok("read %d lead rows from Redis with this script's own client" % len(rows))
# the qualification stage: leads on its topic it has not taken (Kafka)
try:
    with open(waiting_path) as f:
        pending = json.load(f)
    for lead in pending.get("leads", []):
        if lead.get("stage") == "qualification":
            waiting[lead["lead_id"]] = ("qualification", lead["since_ms"])
    if pending["by_stage"]["qualification"]["count"] != sum(
            1 for (st, _) in waiting.values() if st == "qualification"):
        fail("lastmile waiting listed %d of its %d undecided leads" %
             (sum(1 for (st, _) in waiting.values()
                  if st == "qualification"),
              pending["by_stage"]["qualification"]["count"]),
             waiting_path, "run it with a --limit above the count")
except (OSError, ValueError, KeyError, TypeError) as e:
    fail("reading lastmile waiting --json: %s" % e, waiting_path,
         "see waiting.log beside it")
stage_fig = {n.attrs["data-metric"]: n for n in figures
             if n.attrs["data-metric"].startswith("stages.")}
for st in ("qualification", "followup", "timing"):
    sinces = [s for (stage, s) in waiting.values() if stage == st]
    node = stage_fig.get("stages.%s.waiting" % st)
    if node is None:
        fail("no stages.%s.waiting on the page" % st, dom_path, "render it")
    else:
        check_figure(node, float(len(sinces)), "stages.%s.waiting" % st,
                     "Kafka" if st == "qualification" else "Redis")
    node = stage_fig.get("stages.%s.oldest_waiting_s" % st)
    expect = (now_ms - min(sinces)) / 1000.0 if sinces else None
    if expect is not None and expect < 0:
        expect = 0.0
    if node is None:
        fail("no stages.%s.oldest_waiting_s on the page" % st, dom_path,
             "render it")
    else:
        check_figure(node, expect, "stages.%s.oldest_waiting_s" % st,
                     "Kafka" if st == "qualification" else "Redis")
timing_waiting = sum(1 for (stage, _) in waiting.values() if stage == "timing")
if timing_waiting > 0:
    ok("with the timing worker stopped, %d lead(s) wait past their response "
       "window" % timing_waiting)
else:
    fail("no lead waits in the timing stage although the timing worker is "
         "stopped", "the test's market", "run the market longer, or stop "
         "timing earlier")
# a lead waiting for a stopped qualification worker has exactly one
# message waiting on its topic (which lastmile waiting read, not the
# board's lag); one waiting for followup has one too, and
# followup's topic may also hold decisions made again for leads that wait
# elsewhere (sla_breach: an owner let a deadline pass; slot_freed)
api_stages = {s["name"]: s for s in board.get("stages", [])}
for st in ("qualification", "followup"):
    n = sum(1 for (stage, _) in waiting.values() if stage == st)
    lag = api_stages.get(st, {}).get("lag")
    if n > 0 and lag is not None and (lag == n or (st == "followup" and
                                                    lag > n)):
        ok("%s: %d lead(s) wait, %d message(s) wait on its topic"
           % (st, n, lag))
    else:
        fail("%s: %d lead(s) wait, lag %r" % (st, n, lag),
             "/api/board and the lead rows", "the stopped worker's input "
             "must show as both (see the stop order in this test)")

# the leads waiting longest: the same leads, in the same order
# (of the leads with a record: an undecided lead shows in its stage's row)
expect_top = sorted((kv for kv in waiting.items()
                     if kv[1][0] != "qualification"),
                    key=lambda kv: (kv[1][1], kv[0]))[:10]
rows_on_page = sorted((n for n in nodes if n.tag == "tr" and
                       "data-rank" in n.attrs),
                      key=lambda n: int(n.attrs["data-rank"]))
got = [(n.attrs.get("data-lead-id"),
        [c.text().strip() for c in n.children if c.tag == "td"])
       for n in rows_on_page]
want = [lid for lid, _ in expect_top]
if [g[0] for g in got] == want and all(
        g[1][1] == (rows[g[0]]["owner"] or "(unassigned)") and
        g[1][2] == waiting[g[0]][0] and g[1][4] for g in got):
    ok("the %d leads waiting longest, their owners and stages, as in Redis"
       % len(got))
else:
    fail("leads waiting longest on the page %r, expected %r" %
         ([g[0] for g in got], want), dom_path,
         "order open leads by how long they wait (board.h)")
for n in rows_on_page:
    lid = n.attrs.get("data-lead-id")
    cells = [c for c in n.children if c.tag == "td"]
    if lid in waiting and len(cells) >= 4:
        expect = max(0.0, (now_ms - waiting[lid][1]) / 1000.0)
        raw, text = shown(cells[3])
        if not (same(raw, expect) and text == fmt_dur(expect)):
            fail("age of %s: page %r (%r), expected %r" %
                 (lid, text, raw, expect), dom_path, "age = now - since")
            break
else:
    if rows_on_page:
        ok("the ages of the leads waiting longest are now - since")

# lag and throughput with every worker stopped
node = stage_fig.get("stages.intake.lag")
if node is not None:
    check_figure(node, 0.0, "stages.intake.lag", "a drained topic")
for st in ("intake", "qualification", "followup", "timing"):
    s = api_stages.get(st, {})
    if s.get("lag") is not None and s.get("end") is not None and \
            s["lag"] == max(0, s["end"] - s["committed"]) and \
            s.get("throughput_per_s") == 0:
        ok("%s: lag %d = end %d - committed %d; throughput 0 with the "
           "workers stopped" % (st, s["lag"], s["end"], s["committed"]))
    else:
        fail("%s stage figures %r" % (st, s), "/api/board",
             "lag = high watermark - committed; throughput from committed "
             "offsets between refreshes")

# ---- live, during the run ---------------------------------------------------------
live = []
with open(live_path) as f:
    for line in f:
        try:
            live.append(json.loads(line))
        except ValueError:
            pass
bad = [x for x in live if x.get("fetch_error") or x.get("errors")]
moving = {st: max((x.get("throughput", {}).get(st) or 0) for x in live)
          if live else 0 for st in ("intake", "qualification", "followup",
                                    "timing")}
if live and not bad:
    ok("/api/board answered %d times during the run, without errors"
       % len(live))
else:
    fail("/api/board during the run: %d fetches, problems %r" %
         (len(live), bad[:2]), "/api/board", "see the board's log")
if all(v > 0 for v in moving.values()):
    ok("throughput seen in every stage during the run: %s" %
       ", ".join("%s %.1f/s" % kv for kv in moving.items()))
else:
    fail("no throughput seen in some stage during the run: %r" % moving,
         "/api/board", "throughput = change of committed offsets / time")
