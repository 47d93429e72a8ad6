"""200 MB of container stdout through the daemon: skiffd vs dockerd 20.10 vs podman 4.3, json-file.

Each round, every engine (order rotating) creates one busybox container (``--network none``) running
``yes <99 x a> | head -c SIZE`` (100-byte lines), then times ``start`` until ``wait`` returns (docker
CLI v28 against skiffd and dockerd; podman's own CLI, its default k8s-file log under conmon) and
reports MB/s. While it runs, the resident memory (VmRSS, every 0.1 s) is sampled of the daemon
(skiffd; dockerd + its containerd) and of the per-container helper that writes the log (Skiff's
monitor; containerd-shim-runc-v2; conmon): baseline before start, peak during, and after wait.
The log file's size is checked afterwards (the bytes actually landed), then the container is removed.
bench/logs.py measures the monitor alone; this one goes through the engine end to end.

    .venv/bin/python bench/engine_logs.py [--size-mb 200] [--rounds 3] [--no-podman]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import Daemon, Engine, all_pids, cmdline, docker_pids, engines, loadavg, order, read_pid


def vmrss(pid: int) -> int:
    """kB, 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def conmon_pids(cid: str) -> list[int]:
    return [p for p in all_pids() if "conmon" in cmdline(p).split(" ")[0] and cid in cmdline(p)]


def pid_sets(e: Engine, d: Daemon, cid: str) -> tuple[list[int], list[int]]:
    """(daemon pids, helper pids) of this engine for container cid."""
    if e.name == "skiffd":
        mon = [p for f in d.exec_root.glob(f"containers/{cid}*/monitor.pid") if (p := read_pid(f))]
        return [d.pid], mon
    if e.name.startswith("dockerd"):
        dp = docker_pids([cid])
        return dp["daemon"] + dp["containerd"], dp["shims"]
    return [], conmon_pids(cid)


class Sampler(threading.Thread):
    def __init__(self, e: Engine, d: Daemon, cid: str) -> None:
        super().__init__(daemon=True)
        self.e, self.d, self.cid = e, d, cid
        self.stop = threading.Event()
        self.daemon_kb: list[int] = []
        self.helper_kb: list[int] = []

    def run(self) -> None:
        n = 0
        dpids, hpids = pid_sets(self.e, self.d, self.cid)
        while not self.stop.is_set():
            if n % 10 == 0 or not hpids:  # the helper appears after start
                dpids, hpids = pid_sets(self.e, self.d, self.cid)
            self.daemon_kb.append(sum(vmrss(p) for p in dpids))
            hk = sum(vmrss(p) for p in hpids)
            if hk:
                self.helper_kb.append(hk)
            n += 1
            self.stop.wait(0.1)


def log_size(e: Engine, cid: str) -> int:
    fmt = "{{.LogPath}}" if e.cli[0].endswith("docker") else "{{.HostConfig.LogConfig.Path}}"
    path = e.run("inspect", "-f", fmt, cid, check=False).stdout.strip()
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-podman", action="store_true")
    ap.add_argument("--keep-dockerd", action="store_true")
    args = ap.parse_args()
    size = args.size_mb * 1_000_000
    script = f"yes {'a' * 99} | head -c {size}"

    rows: dict[str, list[dict[str, float]]] = {}
    loads = [loadavg()]
    with engines(podman=not args.no_podman, keep_dockerd=args.keep_dockerd) as (engs, d):
        for r in range(args.rounds):
            for e in order(engs, r):
                cid = e.run("create", "--network", "none", "busybox", "sh", "-c", script).stdout.strip()
                try:
                    base_d = sum(vmrss(p) for p in pid_sets(e, d, cid)[0])
                    s = Sampler(e, d, cid)
                    s.start()
                    t0 = time.perf_counter()
                    e.run("start", cid)
                    code = e.run("wait", cid).stdout.strip()
                    dt = time.perf_counter() - t0
                    time.sleep(0.3)
                    s.stop.set()
                    s.join()
                    after_d = sum(vmrss(p) for p in pid_sets(e, d, cid)[0])
                    rows.setdefault(e.name, []).append({
                        "s": dt, "mbps": size / 1e6 / dt, "exit": float(code or -1),
                        "base": base_d / 1024, "peak": max(s.daemon_kb or [0]) / 1024, "after": after_d / 1024,
                        "helper": max(s.helper_kb or [0]) / 1024, "log": log_size(e, cid) / 1e6})
                finally:
                    e.remove([cid])
            loads.append(loadavg())
    ref = engs[1].name
    print(f"{args.size_mb} MB to stdout (`sh -c 'yes <99 a> | head -c {size}'`), start..wait, "
          f"{args.rounds} rounds (order rotating); load average: {' | '.join(loads)}")
    print(f"{'engine':<16} {'MB/s median':>11} {'[min-max]':>15} {'ratio':>6} {'s':>6}  "
          f"{'daemon RSS MB base->peak->after (worst round)':<46} {'helper peak MB':>14} {'log file MB':>11}")
    refm = statistics.median(x["mbps"] for x in rows[ref])
    for e in engs:
        xs = rows[e.name]
        mb = [x["mbps"] for x in xs]
        worst = max(xs, key=lambda x: x["peak"] - x["base"])
        mem = f"{worst['base']:.1f} -> {worst['peak']:.1f} -> {worst['after']:.1f}"
        rng = f"[{min(mb):.1f}-{max(mb):.1f}]"
        print(f"{e.name:<16} {statistics.median(mb):>11.1f} {rng:>15} "
              f"{statistics.median(mb) / refm:>6.2f} {statistics.median(x['s'] for x in xs):>6.2f}  "
              f"{mem:<46} "
              f"{max(x['helper'] for x in xs):>14.1f} {statistics.median(x['log'] for x in xs):>11.1f}"
              + ("" if all(x["exit"] == 0 for x in xs) else "  (non-zero exit!)"))
    print("daemon = skiffd | dockerd + containerd (podman has none); helper = Skiff monitor | "
          "containerd-shim-runc-v2 | conmon")
    return 0


if __name__ == "__main__":
    sys.exit(main())
