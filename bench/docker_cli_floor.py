"""The docker CLI's own share of ``docker create`` / ``docker exec``: the CLI against a server that
answers at once, beside dockerd 20.10 and skiffd, in one run.

A per-command ratio through the CLI cannot go below (CLI floor) / (reference): this prints that
bound for ``create`` so the engine figures in README can be read against it. The instant server is
a few lines of asyncio on a unix socket answering ``/_ping`` and ``POST /containers/create`` with a
canned reply (no container is made).

    .venv/bin/python bench/docker_cli_floor.py [--runs 30] [--keep-dockerd]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_common import DOCKER_CLI, Engine, engines, loadavg, order, spread

_PING = (b"HTTP/1.1 200 OK\r\nApi-Version: 1.51\r\nDocker-Experimental: false\r\nOstype: linux\r\n"
         b"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n")
_CREATE = (b'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 88\r\n\r\n'
           b'{"Id":"0123456789012345678901234567890123456789012345678901234567890123","Warnings":[]}\n')


async def _handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    while line := await r.readline():
        length = 0
        while (h := await r.readline()) not in (b"\r\n", b""):
            k, _, v = h.decode().partition(":")
            if k.lower() == "content-length":
                length = int(v)
        if length:
            await r.readexactly(length)
        if b"/_ping" in line:
            w.write(_PING if line.startswith(b"HEAD") else _PING + b"OK")
        else:
            w.write(_CREATE)
        await w.drain()
    w.close()


def _serve(path: str, ready: threading.Event, stop: threading.Event) -> None:
    async def main() -> None:
        server = await asyncio.start_unix_server(_handle, path)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        server.close()

    asyncio.run(main())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--keep-dockerd", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="skiff-clifloor-") as tmp, \
            engines(podman=False, keep_dockerd=args.keep_dockerd) as (engs, _d):
        sock = os.path.join(tmp, "instant.sock")
        ready, stop = threading.Event(), threading.Event()
        t = threading.Thread(target=_serve, args=(sock, ready, stop), daemon=True)
        t.start()
        ready.wait(10)
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_CONTEXT", "DOCKER_API_VERSION")}
        instant = Engine("instant server", [DOCKER_CLI], {**env, "DOCKER_HOST": f"unix://{sock}"})
        all_engs = [instant, *engs]
        times: dict[str, list[float]] = {e.name: [] for e in all_engs}
        version: list[float] = []
        made: dict[str, list[str]] = {e.name: [] for e in engs}
        loads = [loadavg()]
        try:
            for i in range(args.runs):
                for e in order(all_engs, i):
                    dt, out = e.timed("create", "busybox", "true")
                    times[e.name].append(dt)
                    if e is not instant:
                        made[e.name].append(out.strip())
                t0 = time.perf_counter()
                subprocess.run([DOCKER_CLI, "--version"], capture_output=True, check=True)
                version.append(time.perf_counter() - t0)
            loads.append(loadavg())
        finally:
            stop.set()
            for e in engs:
                e.remove(made[e.name])
    ref = engs[1].name
    floor = statistics.median(times[instant.name])
    print(f"`docker create busybox true`, {args.runs} rounds, order rotating; load: {' | '.join(loads)}")
    for e in all_engs:
        m = statistics.median(times[e.name])
        print(f"{e.name:<18} {m * 1000:>7.1f}ms {m / statistics.median(times[ref]):>7.2f}  {spread(times[e.name], 1000, 'ms')}")
    print(f"`docker --version` {statistics.median(version) * 1000:.1f}ms")
    print(f"lowest ratio any daemon can reach through the CLI: {floor / statistics.median(times[ref]):.2f} of {ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
