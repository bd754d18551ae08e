#!/usr/bin/env python3
"""aof-breakdown.py — what a Redis AOF holds, per lead: by command and key.

    scripts/aof-breakdown.py N FILE.aof [FILE.aof ...]

Reads the append-only files (RESP, as Redis 7 writes them in appendonlydir),
and prints, per lead (N leads), the commands and the AOF bytes of each
(command, key pattern): a lead's person hash becomes {P}, its lead id L, a
number #, a team T, an owner O, an account's domain D, so one row is one
kind of write. For HSET it also prints the
bytes of each field (name and value), the largest first, so the lead hash's
fields can be weighed one by one. MULTI/EXEC and SELECT are rows of their
own. Used by scripts/redis-callgrind.sh (AOF_BREAKDOWN=1) and
docs/PERFORMANCE.md; unit-tested by tests/shell/test_bench.sh."""
import re
import sys
from collections import defaultdict

PATTERNS = [
    (re.compile(r"\{team:[^}]*\}"), "{team:T}"),
    (re.compile(r"\{acct:[^}]*\}"), "{acct:D}"),
    (re.compile(r":open:.*$"), ":open:O"),
    (re.compile(r"[0-9a-f]{16}-[0-9a-f]{8}"), "L"),
    (re.compile(r"\{[0-9a-f]{16}\}"), "{P}"),
    (re.compile(r"\d+"), "#"),
]


def pattern(key):
    for rx, sub in PATTERNS:
        key = rx.sub(sub, key)
    return key


def commands(data):
    """Yields (args, bytes) of each RESP multi-bulk command in data."""
    i, n = 0, len(data)
    while i < n:
        if data[i:i + 1] != b"*":
            nl = data.find(b"\n", i)  # an inline line (none in an AOF)
            i = n if nl < 0 else nl + 1
            continue
        start = i
        nl = data.index(b"\r\n", i)
        argc = int(data[i + 1:nl])
        i = nl + 2
        args = []
        for _ in range(argc):
            nl = data.index(b"\r\n", i)
            ln = int(data[i + 1:nl])
            i = nl + 2
            args.append(data[i:i + ln])
            i += ln + 2
        yield args, i - start


def breakdown(blobs):
    rows = defaultdict(lambda: [0, 0])  # (cmd, key pattern) -> [count, bytes]
    fields = defaultdict(lambda: [0, 0])  # HSET field pattern -> [count, bytes]
    for data in blobs:
        for args, size in commands(data):
            cmd = args[0].decode("ascii", "replace").upper()
            key = pattern(args[1].decode("utf-8", "replace")) if len(args) > 1 else ""
            if cmd in ("MULTI", "EXEC", "SELECT"):
                key = ""
            r = rows[(cmd, key)]
            r[0] += 1
            r[1] += size
            if cmd == "HSET":
                for f in range(2, len(args) - 1, 2):
                    name = pattern(args[f].decode("utf-8", "replace"))
                    fr = fields[name]
                    fr[0] += 1
                    # each argument is "$len\r\n" + bytes + "\r\n"
                    fr[1] += sum(len(a) + len(str(len(a))) + 5 for a in args[f:f + 2])
    return rows, fields


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: aof-breakdown.py N FILE.aof [FILE.aof ...]\n")
        return 2
    try:
        n = int(argv[1])
    except ValueError:
        n = 0
    if n <= 0:
        sys.stderr.write("aof-breakdown: N is the number of leads, a whole number > 0, not '%s'\n" % argv[1])
        return 2
    blobs = []
    for path in argv[2:]:
        with open(path, "rb") as f:
            blobs.append(f.read())
    rows, fields = breakdown(blobs)
    total_c = sum(r[0] for r in rows.values())
    total_b = sum(r[1] for r in rows.values())
    print("%-10s %-56s %12s %12s %7s" % ("command", "key", "per lead", "bytes/lead", "share"))
    for (cmd, key), (c, b) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        print("%-10s %-56s %12.3f %12.1f %6.1f%%" % (cmd, key[:56], c / n, b / n, 100.0 * b / max(total_b, 1)))
    print("%-10s %-56s %12.3f %12.1f" % ("total", "", total_c / n, total_b / n))
    if fields:
        print("\nHSET fields (name and value, with RESP framing)")
        print("%-32s %12s %12s" % ("field", "per lead", "bytes/lead"))
        for name, (c, b) in sorted(fields.items(), key=lambda kv: -kv[1][1]):
            print("%-32s %12.3f %12.1f" % (name[:32], c / n, b / n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
