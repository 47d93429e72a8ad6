"""50 ``run -d busybox sleep 600`` back to back: skiffd vs dockerd 20.10 (vs podman 4.3).

Each round, every engine (order rotating) starts N detached containers one after another on its
default network (docker CLI v28 against skiffd and dockerd; ``podman run -d``), total wall time
timed; then they are removed (``rm -f``, timed too) before the next round. Prints the median total
over --rounds, the spread, and the ratios to dockerd. Issue 4's reference: dockerd 11.6 s for 50.

    .venv/bin/python bench/engine_run_detached.py [-n 50] [--rounds 3] [--no-podman]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import engines, loadavg, order, spread, start_reference


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-podman", action="store_true")
    ap.add_argument("--keep-dockerd", action="store_true")
    args = ap.parse_args()

    with engines(podman=not args.no_podman, keep_dockerd=args.keep_dockerd) as (engs, _d):
        totals: dict[str, list[float]] = {e.name: [] for e in engs}
        each: dict[str, list[float]] = {e.name: [] for e in engs}
        removal: dict[str, list[float]] = {e.name: [] for e in engs}
        loads = [loadavg()]
        retried: list[str] = []
        for e in engs:  # warm-up
            e.remove([e.run("run", "-d", "busybox", "sleep", "600").stdout.strip()])
        for r in range(args.rounds):
            for e in order(engs, r):
                for attempt in range(3):
                    ids: list[str] = []
                    times: list[float] = []
                    try:
                        t0 = time.perf_counter()
                        for _ in range(args.n):
                            dt, out = e.timed("run", "-d", "busybox", "sleep", "600")
                            ids.append(out.strip())
                            times.append(dt)
                        totals[e.name].append(time.perf_counter() - t0)
                        each[e.name].extend(times)
                        break
                    except RuntimeError as err:  # docker0 deleted under dockerd by other work: redo the batch
                        if "docker0" not in str(err) or attempt == 2:
                            raise
                        retried.append(f"round {r} {e.name}: docker0 vanished, dockerd restarted, batch redone")
                        e.remove(ids)
                        ids = []
                        start_reference()
                    finally:
                        t1 = time.perf_counter()
                        e.remove(ids)
                        if ids:
                            removal[e.name].append(time.perf_counter() - t1)
            loads.append(loadavg())
    ref = engs[1].name
    for line in retried:
        print(line)
    print(f"{args.n} `run -d busybox sleep 600` back to back, {args.rounds} rounds (order rotating); "
          f"load average: {' | '.join(loads)}")
    print(f"{'engine':<16} {'total median':>12} {'ratio':>7}  {'total s [min-max]':<22} "
          f"{'per run ms: median [min-max]':<32} rm -f of all, s")
    for e in engs:
        m = statistics.median(totals[e.name])
        print(f"{e.name:<16} {m:>11.2f}s {m / statistics.median(totals[ref]):>7.2f}  {spread(totals[e.name]):<22} "
              f"{spread(each[e.name], 1000):<32} {spread(removal[e.name])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
