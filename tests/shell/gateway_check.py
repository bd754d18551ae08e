#!/usr/bin/env python3
# gateway_check.py — run by tests/shell/test_gateway.sh (not a test of its
# own); see that script for what is checked.
"""argv: main_url limited_url keys.json src_dir lastmile partitions metrics_url.
One line per check: "ok   ..." or "FAIL ..." with "where:" and "fix:"."""
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

import yaml

MAIN, LIMITED, KEYS_PATH, SRC, LM, PARTS, METRICS = sys.argv[1:8]
PARTS = int(PARTS)
KEYS = json.load(open(KEYS_PATH))
ORIGIN = "http://form.test"
RUN = "t%d" % int(time.time() * 1000)  # ids unique per run


def ok(what):
    print("ok   " + what, flush=True)


def fail(what, where, fix):
    print("FAIL %s\n       where: %s\n       fix:   %s" % (what, where, fix),
          flush=True)


def req(method, path, body=None, key=None, ctype="application/json",
        headers=None, base=MAIN):
    """One request; (status, headers dict (lower-case names), body text)."""
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = dict(headers or {})
    if key:
        h["Authorization"] = "Bearer " + key
    if body is not None:
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if ctype:
            h["Content-Type"] = ctype
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    text = r.read().decode("utf-8", "replace")
    hd = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hd, text


def chunked(path, chunks, key, headers=None):
    """A POST whose body comes in chunks, with no Content-Length."""
    u = urllib.parse.urlparse(MAIN)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = dict(headers or {}, Authorization="Bearer " + key)
    h["Content-Type"] = "application/json"
    h["Transfer-Encoding"] = "chunked"
    c.request("POST", path, body=iter([x.encode() for x in chunks]), headers=h,
              encode_chunked=True)
    r = c.getresponse()
    text = r.read().decode("utf-8", "replace")
    hd = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hd, text


def lead(n, **kw):
    d = {"source": "web_form", "email": "p%s-%s@example.com" % (RUN, n),
         "country": "DE", "full_name": "Ada %s" % n, "company_size": 40}
    d.update(kw)
    return d


def expect(what, got, status, ctype=None, where="gateway/gw_http.c",
           fix="answer as docs/openapi.yaml says"):
    st, hd, text = got
    ct = hd.get("content-type", "")
    if st == status and (ctype is None or ct.startswith(ctype)):
        ok("%s: %d %s" % (what, st, ct))
        return True
    fail("%s: got %d %s %s, want %d %s" % (what, st, ct, text[:300], status,
                                           ctype or ""), where, fix)
    return False


def problem(got):
    try:
        return json.loads(got[2])
    except ValueError:
        return {}


def fields_named(what, got, want):
    """400 whose errors name exactly the fields in want."""
    if not expect(what, got, 400, "application/problem+json"):
        return
    p = problem(got)
    named = {e.get("field") for e in p.get("errors", [])}
    missing = set(want) - named
    extra = named - set(want)
    hollow = [e for e in p.get("errors", []) if len(e.get("detail", "")) < 8]
    if (missing or extra or hollow or p.get("status") != 400 or
            not p.get("type", "").startswith("urn:lastmile:problem:")):
        fail("%s: errors name %s, want %s" % (what, sorted(named), sorted(want)),
             "gateway/gw_body.c", "name every bad field once, with its fix")
    else:
        ok("%s: errors name %s" % (what, ", ".join(sorted(named))))


# ---- error paths ---------------------------------------------------------
def errors():
    good = lead(0)
    got = req("POST", "/v1/leads", good)
    if expect("no key", got, 401, "application/problem+json"):
        if "bearer" not in got[1].get("www-authenticate", "").lower():
            fail("401 without WWW-Authenticate: Bearer", "gateway/gw_http.c",
                 "add the header")
    expect("unknown key", req("POST", "/v1/leads", good, key="lmk_nope"), 401,
           "application/problem+json")
    got = req("POST", "/v1/responses", {"lead_id": "L"}, key=KEYS["web"])
    expect("web key on /v1/responses (scope)", got, 403,
           "application/problem+json")
    if "responses" not in problem(got).get("detail", ""):
        fail("403 scope does not name the scope", "gateway/gw_http.c",
             "say which scope is missing")
    expect("crm key from a browser origin it does not list",
           req("POST", "/v1/activities", {}, key=KEYS["crm"],
               headers={"Origin": ORIGIN}), 403, "application/problem+json")
    expect("web key from another origin",
           req("POST", "/v1/leads", good, key=KEYS["web"],
               headers={"Origin": "http://evil.test"}), 403,
           "application/problem+json")
    bad = {"source": "", "email": "not-an-email", "country": "XX",
           "company_size": "many", "timezone": "Mars/Base", "colour": "red",
           "submitted_at_ms": 5, "attributes": {"pages": 7}}
    fields_named("a lead with every kind of bad field",
                 req("POST", "/v1/leads", bad, key=KEYS["web"],
                     headers={"Idempotency-Key": RUN + "-bad"}),
                 {"source", "email", "country", "company_size", "colour", "timezone",
                  "submitted_at_ms"})
    fields_named("a lead without event_id or Idempotency-Key",
                 req("POST", "/v1/leads", lead(1), key=KEYS["web"]),
                 {"event_id"})
    fields_named("an array with a bad second item and a non-object",
                 req("POST", "/v1/leads", [lead(2), lead(3, email="x"), 7],
                     key=KEYS["web"], headers={"Idempotency-Key": RUN + "-a"}),
                 {"[1].email", "[2]"})
    fields_named("not JSON", req("POST", "/v1/leads", "{nope", key=KEYS["web"]),
                 {"body"})
    fields_named("a form with a bad email and a bad %-escape",
                 req("POST", "/v1/leads", "email=%zz", key=KEYS["web"],
                     ctype="application/x-www-form-urlencoded"), {"body"})
    fields_named("a form missing country, bad company_size",
                 req("POST", "/v1/leads",
                     "source=web&email=f%40example.com&company_size=lots",
                     key=KEYS["web"], ctype="application/x-www-form-urlencoded",
                     headers={"Idempotency-Key": RUN + "-f0"}),
                 {"company_size", "country"})
    fields_named("an answer missing lead_id and kind",
                 req("POST", "/v1/responses", {"event_id": RUN + "-r0"},
                     key=KEYS["crm"]), {"lead_id", "kind"})
    fields_named("an answer with an unknown kind",
                 req("POST", "/v1/responses", {"lead_id": "L", "kind": "MAYBE"},
                     key=KEYS["crm"], headers={"Idempotency-Key": RUN + "-r1"}),
                 {"kind"})
    fields_named("an activity missing everything",
                 req("POST", "/v1/activities", {}, key=KEYS["crm"]),
                 {"event_id", "action_id", "lead_id", "owner", "kind"})
    fields_named("an owner status missing status",
                 req("POST", "/v1/owner-status", {"owner": "ana"},
                     key=KEYS["crm"], headers={"Idempotency-Key": RUN + "-o0"}),
                 {"status"})
    expect("a body over LASTMILE_GATEWAY_MAX_BODY",
           req("POST", "/v1/leads", lead(4, full_name="x" * 5000),
               key=KEYS["web"]), 413, "application/problem+json")
    big = json.dumps(lead(5, full_name="y" * 5000))
    expect("a chunked body (no Content-Length) over the limit",
           chunked("/v1/leads", [big[i:i + 500] for i in range(0, len(big), 500)],
                   KEYS["web"], {"Idempotency-Key": RUN + "-big"}), 413,
           "application/problem+json")
    small = json.dumps(lead(6))
    expect("a chunked body within the limit",
           chunked("/v1/leads", [small[:10], small[10:40], small[40:]], KEYS["web"],
                   {"Idempotency-Key": RUN + "-chunked"}), 202, "application/json")
    expect("an array over LASTMILE_GATEWAY_BATCH_MAX",
           req("POST", "/v1/leads", [lead(i) for i in range(4)],
               key=KEYS["web"]), 413, "application/problem+json")
    expect("text/plain", req("POST", "/v1/leads", "hello", key=KEYS["web"],
                             ctype="text/plain"), 415, "application/problem+json")
    expect("a form to /v1/responses",
           req("POST", "/v1/responses", "lead_id=L", key=KEYS["crm"],
               ctype="application/x-www-form-urlencoded"), 415,
           "application/problem+json")
    expect("an unknown path", req("GET", "/v1/nope"), 404)
    got = req("GET", "/v1/leads")
    if expect("GET /v1/leads", got, 405):
        if got[1].get("allow") != "POST, OPTIONS":
            fail("405 Allow is %r" % got[1].get("allow"), "common/runtime/lm_http.c",
                 "Allow: POST, OPTIONS")
    codes = [req("POST", "/v1/leads", lead(9), key=KEYS["all"], base=LIMITED,
                 headers={"Idempotency-Key": "%s-rl%d" % (RUN, i)})
             for i in range(3)]
    st = [c[0] for c in codes]
    ra = codes[-1][1].get("retry-after", "")
    if st == [202, 202, 429] and ra.isdigit() and int(ra) >= 1:
        ok("rate limit: burst of 2 then 429 with Retry-After: %s" % ra)
    else:
        fail("rate limit: statuses %s, Retry-After %r" % (st, ra),
             "gateway/gw_keys.c gw_key_take", "a token bucket per key")
    got = req("OPTIONS", "/v1/leads", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    h = got[1]
    if (got[0] == 204 and h.get("access-control-allow-origin") == ORIGIN and
            "POST" in h.get("access-control-allow-methods", "") and
            "Authorization" in h.get("access-control-allow-headers", "")):
        ok("preflight from a listed origin: 204 with the CORS headers")
    else:
        fail("preflight from %s: %d %s" % (ORIGIN, got[0], h), "gateway/gw_http.c",
             "answer 204 with Access-Control-Allow-*")
    got = req("OPTIONS", "/v1/leads", headers={"Origin": "http://evil.test"})
    if got[0] == 403 and "access-control-allow-origin" not in got[1]:
        ok("preflight from an unlisted origin: 403, no Access-Control-Allow-Origin")
    else:
        fail("preflight from an unlisted origin: %d %s" % (got[0], got[1]),
             "gateway/gw_http.c", "refuse it")


# ---- happy paths ---------------------------------------------------------
def murmur2(data):
    m, h = 0x5bd1e995, (0x9747b28c ^ len(data)) & 0xffffffff
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xffffffff
        k ^= k >> 24
        k = (k * m) & 0xffffffff
        h = ((h * m) & 0xffffffff) ^ k
    rest = data[4 * n4:]
    if len(rest) >= 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if len(rest) >= 1:
        h ^= rest[0]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h


def tail(topic):
    r = subprocess.run([LM, "tail", topic, "--from-beginning", "--timeout-ms",
                        "1500"], capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def happy():
    got = req("POST", "/v1/leads",
              lead(10, attributes={"pages_viewed": 7, "score": 2.5,
                                   "demo": True}),
              key=KEYS["web"], headers={"Idempotency-Key": RUN + "-j",
                                        "Origin": ORIGIN})
    if expect("one lead as JSON", got, 202, "application/json"):
        if json.loads(got[2]) != {"event_id": RUN + "-j"}:
            fail("202 body %s" % got[2], "gateway/gw_http.c",
                 "{\"event_id\": the Idempotency-Key}")
        if got[1].get("access-control-allow-origin") != ORIGIN:
            fail("202 to a listed origin without Access-Control-Allow-Origin",
                 "gateway/gw_http.c", "add it")
    got = req("POST", "/v1/leads",
              "source=web_form&email=Form-%s%%40Example.com&country=GB&"
              "company_size=12&attributes.pages_viewed=3&full_name=Bo+Form" % RUN,
              key=KEYS["web"], ctype="application/x-www-form-urlencoded",
              headers={"Idempotency-Key": RUN + "-form"})
    expect("one lead as a form post", got, 202, "application/json")
    got = req("POST", "/v1/leads", [lead(11), lead(12, event_id=RUN + "-own"),
                                    lead(13)],
              key=KEYS["web"], headers={"Idempotency-Key": RUN + "-arr"})
    want = [RUN + "-arr:0", RUN + "-own", RUN + "-arr:2"]
    if expect("an array of 3 leads", got, 202, "application/json"):
        if json.loads(got[2]) != {"event_ids": want}:
            fail("array 202 body %s, want ids %s" % (got[2], want),
                 "gateway/gw_body.c", "<Idempotency-Key>:<n> unless the item has one")
    lid = "L-%s" % RUN
    expect("an answer", req("POST", "/v1/responses",
                            {"lead_id": lid, "kind": "REPLIED"}, key=KEYS["crm"],
                            headers={"Idempotency-Key": RUN + "-resp"}),
           202, "application/json")
    expect("an owner activity", req(
        "POST", "/v1/activities",
        {"event_id": RUN + "-act", "action_id": lid + ":a:0", "lead_id": lid,
         "owner": "ana", "kind": "DONE"}, key=KEYS["crm"]), 202,
        "application/json")
    expect("an owner status", req(
        "POST", "/v1/owner-status", {"owner": "ana", "status": "AWAY"},
        key=KEYS["all"], headers={"Idempotency-Key": RUN + "-st"}), 202,
        "application/json")
    # what reached the topics, right after the 202s
    intake = {m["value"]["event_id"]: m for m in tail("intake")}
    for eid in [RUN + "-j", RUN + "-form"] + want:
        if eid not in intake:
            fail("lead %s answered 202 but is not on the intake topic" % eid,
                 "gateway/gw_kafka.c", "answer 202 only once acknowledged")
    m = intake.get(RUN + "-j")
    if m and m["value"]["attributes"] == {"pages_viewed": "7", "score": "2.5",
                                          "demo": "true"} and \
            m["key"] == "p%s-10@example.com" % RUN:
        ok("JSON numbers became attribute strings; keyed by the email")
    elif m:
        fail("intake message %s" % m, "gateway/gw_body.c",
             "attribute numbers as strings, key = lowercased email")
    m = intake.get(RUN + "-form")
    if m and m["value"]["company_size"] == 12 and \
            m["value"]["attributes"] == {"pages_viewed": "3"} and \
            m["value"]["full_name"] == "Bo Form" and \
            m["key"] == "form-%s@example.com" % RUN:
        ok("the form post: numbers read, attributes.NAME, + as space, "
           "key lowercased")
    elif m:
        fail("form intake message %s" % m, "gateway/gw_body.c",
             "decode the form as documented")
    timing = {}
    for m in tail("timing"):
        v = m["value"]
        ev = v.get("response") or v.get("owner_activity") or v.get("owner_status")
        if ev:
            timing[ev["event_id"]] = m
    for eid, key in ((RUN + "-resp", lid), (RUN + "-act", lid),
                     (RUN + "-st", "ana")):
        m = timing.get(eid)
        part = (murmur2(key.encode()) & 0x7fffffff) % PARTS
        if m and m["key"] == key and m["partition"] == part:
            ok("%s on timing, key %s, partition %d = murmur2" % (eid, key, part))
        else:
            fail("%s on timing: %s (want key %s, partition %d)" % (eid, m, key, part),
                 "gateway/gw_kafka.c", "partitioner=murmur2_random, keyed as documented")


# ---- docs/openapi.yaml against the server --------------------------------
BODIES = {
    "/v1/leads": lambda n: lead(100 + n),
    "/v1/responses": lambda n: {"lead_id": "L-oa", "kind": "REPLIED"},
    "/v1/activities": lambda n: {"action_id": "A", "lead_id": "L-oa",
                                 "owner": "ana", "kind": "DONE"},
    "/v1/owner-status": lambda n: {"owner": "ana", "status": "BACK"},
}
WRONG_SCOPE = {"/v1/leads": "crm", "/v1/responses": "web",
               "/v1/activities": "web", "/v1/owner-status": "web"}


def recipe(path, method, status, n):
    """A request that should get `status`; None for the broker-down ones."""
    idem = {"Idempotency-Key": "%s-oa-%d" % (RUN, n)}
    if method == "get":
        return None if status == "503" else ("GET", path, None, None, None, {},
                                             MAIN)
    if method == "options":
        origin = ORIGIN if status == "204" else "http://evil.test"
        return ("OPTIONS", path, None, None, None, {"Origin": origin}, MAIN)
    body = BODIES[path](n)
    table = {
        "202": (body, "all", "application/json", idem, MAIN),
        "400": ({"nope": 1}, "all", "application/json", idem, MAIN),
        "401": (body, None, "application/json", idem, MAIN),
        "403": (body, WRONG_SCOPE[path], "application/json", idem, MAIN),
        "413": ([body] * 4, "all", "application/json", idem, MAIN),
        "415": ("x", "all", "text/plain", idem, MAIN),
    }
    if status not in table:
        return None
    b, k, ct, h, base = table[status]
    return ("POST", path, b, KEYS[k] if k else None, ct, h, base)


def resolve(spec, obj):
    """obj with its $ref (a local "#/a/b" pointer) followed."""
    while isinstance(obj, dict) and "$ref" in obj:
        node = spec
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def conforms(what, got, status, r):
    """got against the documented response r: status, content type, the
    documented headers, and the body's required members."""
    content = r.get("content") or {}
    want = next(iter(content), None)
    if not expect(what, got, status, want, where="docs/openapi.yaml",
                  fix="make the server and the document agree"):
        return
    probs = ["header %s missing" % h for h in (r.get("headers") or {})
             if h.lower() not in got[1]]
    if want and want.endswith("json"):
        try:
            body = json.loads(got[2])
        except ValueError:
            body = None
        if want == "application/problem+json":
            if not isinstance(body, dict) or body.get("status") != status or \
                    not all(k in body for k in ("type", "title", "detail")):
                probs.append("not a problem with type, title, status, detail")
        elif not isinstance(body, dict) or not ({"event_id", "event_ids"} & set(body)):
            probs.append("no event_id or event_ids")
    if probs:
        fail("%s: %s" % (what, "; ".join(probs)), "docs/openapi.yaml",
             "make the server and the document agree")


def openapi(spec):
    later = []
    n = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status, r in op["responses"].items():
                n += 1
                r = resolve(spec, r)
                rc = recipe(path, method, status, n)
                if rc is None or (method == "post" and status in ("429", "503")):
                    later.append((path, method, status, r))
                    continue
                m, p, b, k, ct, h, base = rc
                conforms("openapi %s %s %s" % (method.upper(), path, status),
                         req(m, p, b, key=k, ctype=ct, headers=h, base=base),
                         int(status), r)
    src = open(os.path.join(SRC, "gateway/gw_http.c")).read()
    routes = set(re.findall(r'\{"(GET|POST|OPTIONS|HEAD|PUT|DELETE)", "(/[^"]*)"', src))
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    if routes and routes <= documented:
        ok("every route of gateway/gw_http.c (%d) is in docs/openapi.yaml" % len(routes))
    else:
        fail("routes not documented: %s" % sorted(routes - documented),
             "docs/openapi.yaml", "document them")
    return later


def rate_limited(later):
    for path, method, status, r in later:
        if status != "429":
            continue
        got = None
        for i in range(4):
            got = req("POST", path, BODIES[path](i), key=KEYS["all"],
                      base=LIMITED, headers={"Idempotency-Key": "%s-rl-%s-%d" % (
                          RUN, path, i)})
            if got[0] == 429:
                break
        conforms("openapi POST %s 429" % path, got, 429, r)


def wait_ready(want, limit_s):
    end = time.time() + limit_s
    got = None
    while time.time() < end:
        got = req("GET", "/readyz")
        if got[0] == want:
            return got
        time.sleep(0.2)
    return got


def broker_down(later):
    subprocess.run([LM, "dev", "fault", "broker-down", "12"], check=False,
                   capture_output=True, timeout=30)
    t0 = time.time()
    for path, method, status, r in later:
        if status == "503" and method == "get":
            conforms("openapi GET %s 503 (broker down)" % path, wait_ready(503, 7),
                     503, r)
    for path, method, status, r in later:
        if status != "503" or method != "post":
            continue
        got = req("POST", path, BODIES[path](0), key=KEYS["all"],
                  headers={"Idempotency-Key": "%s-down-%s" % (RUN, path)})
        conforms("openapi POST %s 503 (broker down: no 202 without an ack)" % path,
                 got, 503, r)
    time.sleep(max(0, 12.5 - (time.time() - t0)))
    expect("/readyz 200 once the broker is back", wait_ready(200, 20), 200,
           "text/plain")
    got = None
    for _ in range(20):  # the producer reconnects within a few seconds
        got = req("POST", "/v1/leads", BODIES["/v1/leads"](0), key=KEYS["all"],
                  headers={"Idempotency-Key": "%s-down-/v1/leads" % RUN})
        if got[0] == 202:
            break
        time.sleep(0.5)
    expect("the same lead again, same Idempotency-Key, broker back", got, 202,
           "application/json")


def metrics():
    """The metrics port: the requests counted, health and readiness."""
    for path, status in (("/healthz", 200), ("/readyz", 200)):
        expect("metrics port GET %s" % path, req("GET", path, base=METRICS),
               status, "text/plain", where="gateway/main.c",
               fix="serve the metrics server on LASTMILE_METRICS_ADDR")
    got = req("GET", "/metrics", base=METRICS)
    counts = {}
    for m in re.finditer(r'^lastmile_gateway_requests_total\{path="([^"]+)",'
                         r'status="(\d+)"\} (\d+)', got[2], re.M):
        counts[(m.group(1), m.group(2))] = int(m.group(3))
    want = [("/v1/leads", "202"), ("/v1/leads", "400"), ("/v1/leads", "401"),
            ("/v1/leads", "413"), ("/v1/leads", "415"), ("/v1/leads", "204"),
            ("/v1/responses", "403"), ("/v1/leads", "503")]
    missing = [w for w in want if counts.get(w, 0) < 1]
    if got[0] == 200 and not missing and \
            "lastmile_gateway_request_seconds_bucket" in got[2]:
        ok("/metrics counts requests by path and status (%d series)" % len(counts))
    else:
        fail("/metrics: %d, missing %s" % (got[0], missing), "gateway/gw_http.c count()",
             "count every answer")


def main():
    spec = yaml.safe_load(open(os.path.join(SRC, "docs/openapi.yaml")))
    errors()
    happy()
    later = openapi(spec)
    rate_limited(later)
    broker_down(later)
    metrics()


main()
