"""500 ``create`` and ``ps -a`` with 500 containers: skiffd vs dockerd 20.10 vs podman 4.3.

Each engine creates N (default 500) ``busybox true`` containers one after another through its CLI
(docker CLI v28 against skiffd and dockerd, ``podman create``), in rounds of N/rounds: every round
does one batch per engine, the order rotating, so machine load is shared out. Prints the total wall
time per engine, the spread of per-round batches, then ``ps -a`` (``podman ps -a``) median wall time
with those containers present, and the ratios to dockerd. Only the containers created here are
removed afterwards (by ID). Issue 4's reference: create dockerd 13.0 s, podman 26.9 s; ps -a dockerd
71 ms, podman 261 ms; targets: create <= 0.5x dockerd, ps -a < dockerd.

The docker CLI's own start-up is most of each ``docker create`` (see results/docker_cli_floor.txt),
so the daemons' share is also measured without it: ``--api-runs`` creates straight through the API
(``POST /v1.41/containers/create`` on each daemon's socket, one connection each, like the CLI),
paired and rotating, then removed.

    .venv/bin/python bench/engine_create.py [-n 500] [--rounds 5] [--ps-runs 20] [--api-runs 200] [--no-podman]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import Engine, engines, loadavg, order, spread


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--ps-runs", type=int, default=20)
    ap.add_argument("--api-runs", type=int, default=200)
    ap.add_argument("--no-podman", action="store_true")
    ap.add_argument("--keep-dockerd", action="store_true")
    args = ap.parse_args()
    per_round = args.n // args.rounds

    with engines(podman=not args.no_podman, keep_dockerd=args.keep_dockerd) as (engs, _d):
        created: dict[str, list[str]] = {e.name: [] for e in engs}
        batches: dict[str, list[float]] = {e.name: [] for e in engs}
        each: dict[str, list[float]] = {e.name: [] for e in engs}
        before = {e.name: len(e.run("ps", "-aq").stdout.split()) for e in engs}
        loads = [loadavg()]
        try:
            for e in engs:  # warm-up (removed at once)
                e.remove([e.run("create", "busybox", "true").stdout.strip()])
            for r in range(args.rounds):
                for e in order(engs, r):
                    t0 = time.perf_counter()
                    for _ in range(per_round):
                        dt, out = e.timed("create", "busybox", "true")
                        created[e.name].append(out.strip())
                        each[e.name].append(dt)
                    batches[e.name].append(time.perf_counter() - t0)
                loads.append(loadavg())
            ps: dict[str, list[float]] = {e.name: [] for e in engs}
            counts = {e.name: len(e.run("ps", "-aq").stdout.split()) for e in engs}
            for e in engs:
                e.run("ps", "-a")  # warm-up
            for i in range(args.ps_runs):
                for e in order(engs, i):
                    ps[e.name].append(e.timed("ps", "-a")[0])
            loads.append(loadavg())
            api: dict[str, list[float]] = {e.name: [] for e in engs[:2]}
            for i in range(args.api_runs):
                for e in order(engs[:2], i):
                    dt, cid = _api_create(e)
                    api[e.name].append(dt)
                    created[e.name].append(cid)
            loads.append(loadavg())
        finally:
            for e in engs:
                _remove_timed(e, created[e.name])
    n = per_round * args.rounds
    ref = engs[1].name
    print(f"{n} sequential `create busybox true` per engine, {args.rounds} rounds of {per_round} "
          f"(order rotating); load average during the run: {' | '.join(loads)}")
    print(f"{'engine':<18} {'total':>9} {'ratio':>7}  {'per create ms: median [min-max]':<34} round s: median [min-max]")
    tot = {k: sum(v) for k, v in batches.items()}
    for e in engs:
        print(f"{e.name:<18} {tot[e.name]:>8.1f}s {tot[e.name] / tot[ref]:>7.2f}  "
              f"{spread(each[e.name], 1000):<34} {spread(batches[e.name])}")
    print(f"\n`ps -a` with the {n} containers (+ pre-existing: "
          + ", ".join(f"{k} {v}" for k, v in before.items()) + f"), {args.ps_runs} rounds, order rotating")
    for e in engs:
        m = statistics.median(ps[e.name])
        print(f"{e.name:<18} {m * 1000:>7.1f}ms {m / statistics.median(ps[ref]):>7.2f}  "
              f"{spread(ps[e.name], 1000, 'ms'):<34} rows listed {counts[e.name]}")
    if args.api_runs:
        print(f"\nthe daemons alone: POST /v1.41/containers/create (busybox true), {args.api_runs} paired rounds, "
              "order rotating, no CLI")
        for e in engs[:2]:
            m = statistics.median(api[e.name])
            print(f"{e.name:<18} {m * 1000:>7.2f}ms {m / statistics.median(api[ref]):>7.2f}  "
                  f"{spread(api[e.name], 1000, 'ms')}")
    return 0


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.unix_path)


def _api_create(e: Engine) -> tuple[float, str]:
    """One create through the API on a fresh connection: (seconds, container id)."""
    host = e.env.get("DOCKER_HOST") or "unix:///run/docker.sock"
    body = json.dumps({"Image": "busybox", "Cmd": ["true"]})
    conn = _UnixHTTP(host.removeprefix("unix://"))
    t0 = time.perf_counter()
    conn.request("POST", "/v1.41/containers/create", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    dt = time.perf_counter() - t0
    conn.close()
    if resp.status != 201:
        raise RuntimeError(f"{e.name}: API create failed ({resp.status}): {data[:200]!r}")
    return dt, str(json.loads(data)["Id"])


def _remove_timed(e: Engine, ids: list[str]) -> None:
    t0 = time.perf_counter()
    e.remove(ids)
    print(f"removed {len(ids)} containers from {e.name} in {time.perf_counter() - t0:.1f}s (rm -f, 100 per call)",
          file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
