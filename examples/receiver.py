#!/usr/bin/env python3
"""receiver.py - a small receiver for lastmile-webhook (Python 3, stdlib only).

It verifies each POST's Lastmile-Signature header
    Lastmile-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
with the shared secret (a constant-time compare, and the timestamp within
--tolerance seconds of now, so a captured request cannot be replayed
later), answers 401 to a request that fails, and prints each action.

Deliveries are at least once: after a crash the webhook may POST an action
again, always with the same Idempotency-Key header (the action_id, or
"<action_id>:cancel" for a CANCEL). A real receiver performs each key once;
this one prints "(repeat)" for a key it has seen.

    python3 examples/receiver.py --secret-file webhook.secret --port 8090

--answer plays a flaky receiver, for trying retries: a comma list of what
to answer to the 1st, 2nd, ... POST of each key (an HTTP status, or "hang"
to answer nothing for --hang-s seconds); the last one repeats. E.g.
--answer 503,hang,200. --log FILE appends one JSON line per request.
"""
import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret: bytes, header: str, body: bytes, tolerance: int, now=None):
    """True when header signs body with secret, made within tolerance s."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
        sig = parts["v1"]
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - t) > tolerance:
        return False
    mac = hmac.new(secret, b"%d." % t + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, sig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090, help="0: a free one")
    ap.add_argument("--tolerance", type=int, default=300, help="seconds")
    ap.add_argument("--answer", default="200", help="e.g. 503,hang,200")
    ap.add_argument("--hang-s", type=float, default=30.0)
    ap.add_argument("--log", help="append one JSON line per request")
    a = ap.parse_args()
    with open(a.secret_file, "rb") as f:
        secret = f.read().rstrip(b"\r\n")
    answers = a.answer.split(",")
    for x in answers:
        if x != "hang" and not (x.isdigit() and 100 <= int(x) <= 599):
            ap.error("--answer: %r is neither an HTTP status nor hang" % x)
    seen = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            key = self.headers.get("Idempotency-Key", "")
            ok = verify(secret, self.headers.get("Lastmile-Signature", ""),
                        body, a.tolerance)
            with lock:
                nth = seen.get(key, 0)
                seen[key] = nth + 1
            plan = answers[min(nth, len(answers) - 1)] if ok else "401"
            rec = {"key": key, "nth": nth + 1, "verified": ok,
                   "answer": plan, "at_ms": int(time.time() * 1000)}
            try:
                rec["action"] = json.loads(body)
            except ValueError:
                rec["action"] = None
            if a.log:
                with lock, open(a.log, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            if plan == "hang":
                time.sleep(a.hang_s)
                return
            status = int(plan)
            if ok and 200 <= status < 300:
                act = rec["action"] or {}
                print("%s %s %s %s%s" % (
                    act.get("kind", "?"), act.get("channel", "?"),
                    act.get("lead_id", "?"), key,
                    " (repeat)" if nth else ""), flush=True)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok\n" if status < 300 else b"not now\n")

        def log_message(self, fmt, *args):
            pass

    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    srv.daemon_threads = True
    print("listening on http://%s:%d/" % (a.host, srv.server_address[1]),
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
