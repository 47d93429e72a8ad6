"""`<runtime> exec <id> true` in a running busybox container: skiff-runtime vs runc, paired.

Each runtime runs its own container from the same bundle (`sleep`, detached with `run -d`); each
round execs `true` in both, the order alternating. Prints medians, quartiles and the ratio.

    .venv/bin/python bench/runtime_exec.py [--runs 40]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.rootfs import make_busybox_rootfs  # noqa: E402

SKIFF = str(REPO / ".venv/bin/skiff-runtime")


def _q(values: list[float], f: float) -> float:
    s = sorted(values)
    return s[round(f * (len(s) - 1))]


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{argv} failed ({p.returncode}): {p.stderr.decode().strip()}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="skiff-bench-exec-"))
    cid = f"skiff-bench-exec-{os.getpid()}"
    cmds = {"skiff": [SKIFF, "--root", str(work / "root-skiff")],
            "runc": ["runc", "--root", str(work / "root-runc")]}
    started: list[str] = []
    try:
        bundle = work / "bundle"
        make_busybox_rootfs(bundle / "rootfs")
        subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
        cfg = json.loads((bundle / "config.json").read_text())
        cfg["process"]["args"] = ["sleep", "100000"]
        cfg["process"]["terminal"] = False
        (bundle / "config.json").write_text(json.dumps(cfg))
        for name, cmd in cmds.items():
            subprocess.run([*cmd, "run", "-d", "--bundle", str(bundle), cid], check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started.append(name)
        times: dict[str, list[float]] = {n: [] for n in cmds}
        for cmd in cmds.values():  # warm the page cache and bytecode
            timed([*cmd, "exec", cid, "true"])
        names = list(cmds)
        for i in range(args.runs):
            for name in names if i % 2 == 0 else names[::-1]:
                times[name].append(timed([*cmds[name], "exec", cid, "true"]))
        print(f"exec true, {args.runs} paired rounds; load {os.getloadavg()[0]:.1f}")
        for name in names:
            t = times[name]
            print(f"{name:6} median {statistics.median(t) * 1e3:6.1f} ms  "
                  f"q1 {_q(t, .25) * 1e3:6.1f}  q3 {_q(t, .75) * 1e3:6.1f}")
        ratios = [a / b for a, b in zip(times["skiff"], times["runc"], strict=True)]
        print(f"skiff/runc per-round ratio: median {statistics.median(ratios):.2f} "
              f"(q1 {_q(ratios, .25):.2f}, q3 {_q(ratios, .75):.2f})")
    finally:
        for name in started:
            subprocess.run([*cmds[name], "delete", "--force", cid], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
