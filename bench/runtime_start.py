"""Container start-up: wall time of `<runtime> run` of a busybox bundle running `true`.

Skiff's skiff-runtime vs runc vs crun on the same bundle, paired (each round runs all three, the
order rotating), and the medians and ratios. crun refuses this machine's hybrid cgroup layout as
installed, so it runs inside a private mount namespace in which /sys/fs/cgroup/unified is
unmounted (entered with nsenter; the cost of nsenter itself is measured and subtracted).
Also the memory (VmRSS) of a created, waiting container process: Skiff's init before exec vs
runc's `runc init`.

    .venv/bin/python bench/runtime_start.py [--runs 30]
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
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.rootfs import make_busybox_rootfs  # noqa: E402

SKIFF = str(REPO / ".venv/bin/skiff-runtime")


def make_bundle(dest: Path) -> Path:
    make_busybox_rootfs(dest / "rootfs")
    subprocess.run(["runc", "spec", "--bundle", str(dest)], check=True)
    cfg = json.loads((dest / "config.json").read_text())
    cfg["process"]["args"] = ["true"]
    cfg["process"]["terminal"] = False
    (dest / "config.json").write_text(json.dumps(cfg))
    return dest


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({p.returncode}): {p.stderr.decode().strip()}")
    return dt


def crun_namespace() -> subprocess.Popen[bytes] | None:
    """A sleeper in a private mount namespace without the cgroup2 mount, for crun to enter."""
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                          "umount -l /sys/fs/cgroup/unified && echo ok && exec sleep 100000"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert p.stdout is not None
    if p.stdout.readline().strip() != b"ok":
        p.kill()
        p.wait()
        return None
    return p


def _quantile(values: list[float], f: float) -> float:
    ordered = sorted(values)
    return ordered[round(f * (len(ordered) - 1))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def waiting_rss(cmd: list[str], root: str, bundle: Path) -> int:
    cid = f"skiff-bench-{uuid.uuid4().hex[:8]}"
    pid_file = bundle.parent / f"{cid}.pid"
    subprocess.run([*cmd, "--root", root, "create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        return rss_kib(int(pid_file.read_text()))
    finally:
        subprocess.run([*cmd, "--root", root, "delete", "--force", cid], check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    from skiff.sys.prctl import set_child_subreaper

    set_child_subreaper(True)  # the created-not-started inits are ours to reap
    work = Path(tempfile.mkdtemp(prefix="skiff-bench-"))
    ns_proc = crun_namespace()
    try:
        bundle = make_bundle(work / "bundle")
        roots = {n: str(work / f"root-{n}") for n in ("skiff", "runc", "crun")}
        runners: dict[str, Callable[[str], list[str]]] = {
            "skiff": lambda cid: [SKIFF, "--root", roots["skiff"], "run", "--bundle", str(bundle), cid],
            "runc": lambda cid: ["runc", "--root", roots["runc"], "run", "--bundle", str(bundle), cid],
        }
        nsenter: list[str] = []
        if ns_proc is not None and shutil.which("crun"):
            nsenter = ["nsenter", f"--mount=/proc/{ns_proc.pid}/ns/mnt"]
            runners["crun"] = lambda cid: [*nsenter, "crun", "--root", roots["crun"], "run", "--bundle",
                                           str(bundle), cid]
        else:
            print("crun: skipped (could not make a mount namespace without the cgroup2 mount)")
        names = list(runners)
        times: dict[str, list[float]] = {n: [] for n in names}
        overhead: list[float] = []
        for name in names:  # warm caches (page cache, bytecode, seccomp/BPF caches)
            timed(runners[name](f"skiff-bench-warm-{name}"))
        for i in range(args.runs):
            order = names[i % len(names):] + names[:i % len(names)]
            for name in order:
                times[name].append(timed(runners[name](f"skiff-bench-{i}-{name}")))
            if nsenter:
                overhead.append(timed([*nsenter, "true"]))
        med = {n: statistics.median(v) * 1000 for n, v in times.items()}
        sub = statistics.median(overhead) * 1000 if overhead else 0.0
        if "crun" in med:
            med["crun"] -= sub
        print(f"run of busybox `true`, median of {args.runs} paired runs (ms) [quartiles]:")
        for n in names:
            extra = " (nsenter cost subtracted)" if n == "crun" else ""
            cut = sub if n == "crun" else 0.0
            q1, q3 = (_quantile(times[n], f) * 1000 - cut for f in (0.25, 0.75))
            print(f"  {n:6s} {med[n]:7.1f} [{q1:6.1f} {q3:6.1f}]{extra}")
        print(f"  ratio skiff/runc = {med['skiff'] / med['runc']:.2f}" + (
            f"   skiff/crun = {med['skiff'] / med['crun']:.2f}" if "crun" in med else ""))
        pairs = [a / b for a, b in zip(times["skiff"], times["runc"], strict=True)]
        print(f"  per-round skiff/runc: median {statistics.median(pairs):.2f} "
              f"[{_quantile(pairs, 0.25):.2f} {_quantile(pairs, 0.75):.2f}], skiff faster in "
              f"{sum(r < 1 for r in pairs)} of {len(pairs)} rounds")
        skiff_rss = waiting_rss([SKIFF], roots["skiff"], bundle)
        runc_rss = waiting_rss(["runc"], roots["runc"], bundle)
        print(f"waiting (created, not started) container process RSS: skiff {skiff_rss} KiB, "
              f"runc init {runc_rss} KiB, ratio {skiff_rss / max(runc_rss, 1):.2f}")
        print("  (no runtime process stays behind after create: the waiting process is the "
              "container's own init, as with runc)")
    finally:
        if ns_proc is not None:
            ns_proc.kill()
            ns_proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
