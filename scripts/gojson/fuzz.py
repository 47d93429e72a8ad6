"""Random bodies decoded by Go (the oracle) and by skiff.api.gojson; prints any difference.

usage: .venv/bin/python scripts/gojson/fuzz.py N SEED [CASES.jsonl]   (ORACLE=path of the built oracle)
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

from skiff.api import gotypes as G
from skiff.api.gojson import GoType, go_error

SCHEMAS = {"create": G.CONTAINER_CREATE_REQUEST, "update": G.CONTAINER_UPDATE_CONFIG,
           "exec": G.CONTAINER_EXEC_OPTIONS, "execstart": G.CONTAINER_EXEC_START_OPTIONS,
           "volume": G.VOLUME_CREATE_OPTIONS, "network": G.NETWORK_CREATE_REQUEST,
           "connect": G.NETWORK_CONNECT_OPTIONS, "disconnect": G.NETWORK_DISCONNECT_OPTIONS}
NUMS = ["1", "-1", "0", "-0", "1.5", "1e3", "1E3", "1.0", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "65535", "65536", "70000", "18446744073709551615",
        "18446744073709551616", "4294967296", "2147483648", "-2.5e-3"]
STRSLICES = ['"sh"', '["a","b"]', '["a",null]', "null", '["a",1]', "5", "{}", '[["a"]]', "true"]
rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)


def scalar() -> str:
    """Any JSON value, mostly of a wrong type."""
    c = rnd.randrange(7)
    if c == 0:
        return json.dumps(rnd.choice(["a", "abc", "", "1"]))
    if c == 1:
        return rnd.choice(NUMS)
    if c == 2:
        return rnd.choice(["true", "false"])
    if c == 3:
        return "null"
    if c == 4:
        return "[" + ",".join(scalar() for _ in range(rnd.randrange(3))) + "]"
    if c == 5:
        keys = rnd.sample(["a", "b", "Name", "Soft"], rnd.randrange(3))
        return "{" + ",".join(f'"{k}":{scalar()}' for k in keys) + "}"
    return json.dumps(rnd.choice(["x", "y"]))


def key(k: str) -> str:
    r = rnd.random()
    return k.lower() if r < 0.1 else k.upper() if r < 0.15 else k


def shaped(t: GoType, depth: int) -> str:
    """A value of the right shape, sometimes wrong inside."""
    if rnd.random() < 0.25 or depth > 5:
        return scalar()
    if t.kind == "struct":
        fs = rnd.sample(t.fields, min(len(t.fields), rnd.randrange(4)))
        parts = [f"{json.dumps(key(f.name))}:{shaped(f.type, depth + 1)}" for f in fs]
        if rnd.random() < 0.2:
            parts.append('"Unknown":[1,{"x":2}]')
        rnd.shuffle(parts)
        return "{" + ",".join(parts) + "}"
    assert t.kind not in ("map", "slice", "array") or t.elem is not None
    if t.kind == "map" and t.elem is not None:
        return "{" + ",".join(f'"k{i}":{shaped(t.elem, depth + 1)}' for i in range(rnd.randrange(3))) + "}"
    if t.kind in ("slice", "array") and t.elem is not None:
        elem = t.elem
        return "[" + ",".join(shaped(elem, depth + 1) for _ in range(rnd.randrange(4))) + "]"
    if t.kind == "strslice":
        return rnd.choice(STRSLICES)
    if t.kind == "string":
        return json.dumps("s")
    if t.kind == "bool":
        return rnd.choice(["true", "false"])
    if t.kind in ("int", "uint"):
        return rnd.choice([*NUMS, "7", "42"])
    return scalar()


def main() -> None:
    n = int(sys.argv[1])
    cases = []
    for _ in range(n):
        kind = rnd.choice(list(SCHEMAS))
        cases.append((kind, shaped(SCHEMAS[kind], 0)))
    # the raw bodies are spliced in as they are (repeated keys, number literals)
    inp = "".join(f'{{"Kind":"{k}","Body":{b}}}\n' for k, b in cases)
    oracle = os.environ.get("ORACLE", "/tmp/gjoracle/oracle")
    out = subprocess.run([oracle], input=inp, capture_output=True, text=True, check=True).stdout.splitlines()
    bad = errs = 0
    for (kind, body), line in zip(cases, out, strict=True):
        want = json.loads(line).get("v124")
        got = go_error(body, SCHEMAS[kind])
        errs += want is not None
        if want != got:
            bad += 1
            if bad <= 10:
                print("MISMATCH", kind, body, "\n  want", want, "\n  got ", got)
    print(f"{n} cases, {errs} with errors, {bad} mismatches")
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w") as fh:
            for (kind, body), line in zip(cases, out, strict=True):
                fh.write(json.dumps({"kind": kind, "body": body, "go": json.loads(line).get("v124")}) + "\n")


if __name__ == "__main__":
    main()
