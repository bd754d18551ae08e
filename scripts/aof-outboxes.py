#!/usr/bin/env python3
"""aof-outboxes.py — what the outboxes in a Redis AOF are made of.

    KEEP=1 VALGRIND=no scripts/redis-callgrind.sh 1000   # prints "kept: DIR"
    scripts/aof-outboxes.py DIR/redis/appendonlydir/*.incr.aof

Reads the SETs of qualification's and followup's partition fences
(lastmile.v1.internal.PartitionFence), of intake's done records (an
Outbox) and of intake's person claims (on one Redis a Claim holding the
accepted lead's Outbox: docs/DELIVERY.md, "A claim that is the done
record"; a plain lead id before), walks their protobuf by hand (no protobuf module needed) and prints
the average size of an outbox record, of a QualificationDecision in it, and
of the decision's `lead` (field 11) and `reasons` (field 5), and of intake's
LeadAccepted, and how many records are kept compacted (OutboxRecord.compacted:
the worker's outbox hooks, docs/DELIVERY.md): the parts docs/PERFORMANCE.md weighs in its proposed
reductions. A fence's inputs are compressed (PartitionFence.inputs_zstd, a
zstd frame of a FencedInputs): they are decompressed with the `zstd` program
and weighed as they were before compression, and the bytes they take
compressed are printed too. Field numbers follow proto/lastmile/v1/internal.proto and
lastmile.proto."""
import importlib.util
import os
import subprocess
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("aof_breakdown", os.path.join(_here, "aof-breakdown.py"))
_ab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_ab)


def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def fields(b):
    """(number, value, bytes on the wire) of each field of a message."""
    i, out = 0, []
    while i < len(b):
        start = i
        k, i = _varint(b, i)
        num, wire = k >> 3, k & 7
        if wire == 0:
            v, i = _varint(b, i)
        elif wire == 2:
            ln, i = _varint(b, i)
            v = b[i:i + ln]
            i += ln
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        out.append((num, v, i - start))
    return out


def unzstd(frame):
    """A zstd frame decompressed by the zstd program; exits with what to do
    when the program is missing or the frame does not decompress."""
    try:
        r = subprocess.run(["zstd", "-d", "-q", "-c"], input=frame, capture_output=True)
    except FileNotFoundError:
        sys.exit("aof-outboxes.py: a fence's inputs are compressed and the zstd program is "
                 "not installed: apt-get install zstd (scripts/install-deps.sh does)")
    if r.returncode != 0:
        sys.exit("aof-outboxes.py: a fence's compressed inputs do not decompress (zstd: %s)"
                 % r.stderr.decode(errors="replace").strip())
    return r.stdout


def fence_inputs(value, t):
    """The FencedInput messages of a PartitionFence, plain (field 2) or
    compressed (field 7: a FencedInputs, its inputs field 1)."""
    out = []
    for num, v, _ in fields(value):
        if num == 2:
            out.append(v)
            t["plain"] += len(v)
        elif num == 7:
            raw = unzstd(v)
            t["zipped"] += len(v)
            t["unzipped"] += len(raw)
            out += [v2 for n2, v2, _ in fields(raw) if n2 == 1]
    return out


def main(paths):
    data = b"".join(open(p, "rb").read() for p in paths)
    t = dict.fromkeys(("rec", "n", "dec", "nd", "lead", "reasons", "frec", "fn", "done", "drec", "dval", "dn", "qc", "dc",
                       "plain", "zipped", "unzipped", "cn", "claim", "cob", "crec", "cplain", "cnamed"), 0)
    for args, size in _ab.commands(data):
        if args[0].upper() != b"SET" or len(args) < 3:
            continue
        key = args[1]
        if b"fence}:qualification" in key or b"fence}:followup" in key:
            qual = b"qualification" in key
            for fin in fence_inputs(args[2], t):
                for num2, rec, rsz in fields(fin):
                    if num2 != 2:  # FencedInput.records
                        continue
                    if not qual:
                        t["frec"] += rsz
                        t["fn"] += 1
                        continue
                    t["rec"] += rsz
                    t["n"] += 1
                    parts = {n: v for n, v, _ in fields(rec)}
                    t["qc"] += 7 in parts  # OutboxRecord.compacted
                    if b"followup" not in parts.get(1, b""):
                        continue  # an Outcome, not a decision
                    for n4, dec, _ in fields(parts.get(5, b"")):
                        if n4 != 1:  # FollowUpEvent.decision
                            continue
                        t["dec"] += len(dec)
                        t["nd"] += 1
                        for n5, _, sz5 in fields(dec):
                            t["lead"] += sz5 if n5 == 11 else 0
                            t["reasons"] += sz5 if n5 == 5 else 0
        elif key.endswith(b"}:person"):
            parts = {}
            if args[2][:1] == b"\n":  # a Claim: holder, input_id, outbox
                try:
                    parts = {n: v for n, v, _ in fields(args[2])}
                except (ValueError, IndexError):
                    parts = {}
            if not (parts.get(1) and parts.get(2)):
                t["cplain"] += 1
                continue
            t["cn"] += 1
            t["claim"] += size
            t["cob"] += len(parts.get(3, b""))
            for num, rec, rsz in fields(parts.get(3, b"")):
                if num == 1:  # Outbox.records
                    t["crec"] += rsz
                    t["cnamed"] += any(n == 8 for n, _, _ in fields(rec))
        elif b":done:intake:" in key:
            t["done"] += size
            t["dn"] += 1
            for num, rec, rsz in fields(args[2]):
                if num == 1:  # Outbox.records
                    t["drec"] += rsz
                    t["dval"] += sum(len(v) for n, v, _ in fields(rec) if n == 5)
                    t["dc"] += any(n == 7 for n, _, _ in fields(rec))
    div = lambda a, b: a / b if b else 0.0
    print("qualification's fences: %d outbox records, %.0f B each; %d decisions, %.0f B each, "
          "of which lead %.0f B, reasons %.0f B; %d records compacted" % (
              t["n"], div(t["rec"], t["n"]), t["nd"], div(t["dec"], t["nd"]), div(t["lead"], t["nd"]),
              div(t["reasons"], t["nd"]), t["qc"]))
    print("followup's fences: %d outbox records, %.0f B each" % (t["fn"], div(t["frec"], t["fn"])))
    print("fences' inputs: %d B plain; %d B compressed, %d B decompressed (%.1fx)" % (
        t["plain"], t["zipped"], t["unzipped"], div(t["unzipped"], t["zipped"])))
    print("intake's done records: %d, %.0f B each in the AOF, outbox record %.0f B, LeadAccepted %.0f B; "
          "%d compacted" % (t["dn"], div(t["done"], t["dn"]), div(t["drec"], t["dn"]), div(t["dval"], t["dn"]),
                            t["dc"]))
    print("intake's claims: %d holding an outbox, %.0f B each in the AOF, outbox %.0f B, record %.0f B, "
          "%d named by their input; %d plain" % (t["cn"], div(t["claim"], t["cn"]), div(t["cob"], t["cn"]),
                                                 div(t["crec"], t["cn"]), t["cnamed"], t["cplain"]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write("usage: aof-outboxes.py FILE.aof [FILE.aof ...]\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
