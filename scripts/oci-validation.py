#!/usr/bin/env python3
"""Run the OCI runtime-tools validation programs against a runtime and tally them.

The suite (opencontainers/runtime-tools `validation/`) is fetched and built beside the project,
never committed: point RUNTIME_TOOLS at its checkout, where `make runtimetest
validation-executables` has been run. Usage:

    scripts/oci-validation.py --runtime /path/to/skiff-runtime [--tools DIR] [--only NAME ...]

A program passes when it exits 0 and its TAP output has no "not ok" line. Prints one line per
program and a closing "N passed, N failed" line; --json FILE writes the details.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def run_one(tools: Path, prog: Path, runtime: str, timeout: float) -> dict[str, object]:
    env = dict(os.environ, RUNTIME=runtime)
    start = time.monotonic()
    try:
        proc = subprocess.run([str(prog)], cwd=tools, env=env, capture_output=True, text=True,
                              timeout=timeout)
        out, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out, rc = f"{exc.stdout or ''}\nTIMEOUT after {timeout}s", -1
    failed = [ln for ln in out.splitlines() if ln.startswith("not ok")]
    ok = rc == 0 and not failed
    return {"name": prog.stem, "ok": ok, "rc": rc, "seconds": round(time.monotonic() - start, 2),
            "failures": failed[:10], "tail": out.strip().splitlines()[-15:]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--tools", default=os.environ.get("RUNTIME_TOOLS", "/var/cache/skiff-ext/runtime-tools"))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--json")
    args = ap.parse_args()
    tools = Path(args.tools)
    progs = sorted(tools.glob("validation/*/*.t"))
    if args.only:
        progs = [p for p in progs if p.stem in args.only]
    if not progs:
        print(f"no validation programs under {tools}/validation: build them first", file=sys.stderr)
        return 2
    results = []
    for prog in progs:
        r = run_one(tools, prog, args.runtime, args.timeout)
        results.append(r)
        print(f"{'PASS' if r['ok'] else 'FAIL'} {r['name']} ({r['seconds']}s)", flush=True)
    passed = sum(1 for r in results if r["ok"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
