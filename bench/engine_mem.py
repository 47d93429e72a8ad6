"""Memory each running container costs the engine: skiffd vs dockerd 20.10 (+ podman 4.3's conmon).

Each round, every engine (order rotating) measures its own processes (PSS and USS from
/proc/<pid>/smaps_rollup; USS = Private_Clean + Private_Dirty), starts N (default 20)
``run -d --network none busybox sleep 600`` containers, lets them settle, measures again, and removes them.
Counted: Skiff = skiffd + its resident forker + the per-container monitors; dockerd = dockerd +
its containerd + the containers' containerd-shim-runc-v2; podman = the containers' conmon (no
daemon). The containers' own processes (sleep) are the same everywhere and not counted.
Per container = (total after - total before) / N. PSS is the fair figure (forked monitors share
pages with the forker, Go shims share their text); USS is what removing a container would free.

    .venv/bin/python bench/engine_mem.py [-n 20] [--rounds 2] [--no-podman]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import Daemon, Engine, docker_pids, engines, loadavg, order, rollup, skiff_pids
from engine_logs import conmon_pids


def groups(e: Engine, d: Daemon, cids: list[str]) -> dict[str, list[int]]:
    if e.name == "skiffd":
        return skiff_pids(d)
    if e.name.startswith("dockerd"):
        return docker_pids(cids)
    return {"conmon": [p for c in cids for p in conmon_pids(c)]}


def measure(e: Engine, d: Daemon, cids: list[str]) -> dict[str, tuple[float, float, int]]:
    """group -> (PSS MB, USS MB, processes), median of 3 samples 0.3 s apart."""
    samples: list[dict[str, tuple[float, float, int]]] = []
    for _ in range(3):
        g = groups(e, d, cids)
        snap = {}
        for k, pids in g.items():
            rs = [rollup(p) for p in pids]
            snap[k] = (sum(r.get("Pss", 0) for r in rs) / 1024, sum(r.get("Uss", 0) for r in rs) / 1024, len(pids))
        samples.append(snap)
        time.sleep(0.3)
    keys = samples[0].keys()
    return {k: (statistics.median(s[k][0] for s in samples), statistics.median(s[k][1] for s in samples),
                samples[-1][k][2]) for k in keys}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-podman", action="store_true")
    ap.add_argument("--keep-dockerd", action="store_true")
    args = ap.parse_args()

    res: dict[str, list[tuple[dict[str, tuple[float, float, int]], dict[str, tuple[float, float, int]]]]] = {}
    loads = [loadavg()]
    with engines(podman=not args.no_podman, keep_dockerd=args.keep_dockerd) as (engs, d):
        for e in engs:  # warm-up: the first container start loads code in every engine
            e.remove([e.run("run", "-d", "--network", "none", "busybox", "sleep", "600").stdout.strip()])
        for r in range(args.rounds):
            for e in order(engs, r):
                cids: list[str] = []
                try:
                    before = measure(e, d, [])
                    for _ in range(args.n):
                        cids.append(e.run("run", "-d", "--network", "none", "busybox", "sleep", "600").stdout.strip())
                    time.sleep(2)
                    after = measure(e, d, cids)
                    res.setdefault(e.name, []).append((before, after))
                finally:
                    e.remove(cids)
            loads.append(loadavg())
    print(f"{args.n} running `run -d --network none busybox sleep 600` containers per engine, {args.rounds} rounds (order rotating); "
          f"load average: {' | '.join(loads)}")
    print("per group: PSS/USS MB before -> after (last round); per container = median over rounds of "
          "(sum after - sum before) / N")
    per: dict[str, tuple[float, float]] = {}
    for e in engs:
        pss_pc, uss_pc = [], []
        for before, after in res[e.name]:
            keys = set(before) | set(after)
            db = sum(before.get(k, (0, 0, 0))[0] for k in keys)
            da = sum(after.get(k, (0, 0, 0))[0] for k in keys)
            ub = sum(before.get(k, (0, 0, 0))[1] for k in keys)
            ua = sum(after.get(k, (0, 0, 0))[1] for k in keys)
            pss_pc.append((da - db) / args.n)
            uss_pc.append((ua - ub) / args.n)
        per[e.name] = (statistics.median(pss_pc), statistics.median(uss_pc))
        before, after = res[e.name][-1]
        detail = ", ".join(
            f"{k} {before.get(k, (0, 0, 0))[0]:.1f}/{before.get(k, (0, 0, 0))[1]:.1f} -> "
            f"{after[k][0]:.1f}/{after[k][1]:.1f} ({after[k][2]} proc)" for k in after)
        print(f"{e.name:<16} per container PSS {per[e.name][0]:6.2f} MB "
              f"[{min(pss_pc):.2f}-{max(pss_pc):.2f}]  USS {per[e.name][1]:6.2f} MB "
              f"[{min(uss_pc):.2f}-{max(uss_pc):.2f}]   {detail}")
    ref = engs[1].name
    for e in engs:
        print(f"ratio {e.name} / {ref}: PSS {per[e.name][0] / per[ref][0]:.2f}, USS {per[e.name][1] / per[ref][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
