"""`docker cp` of a small file, out and in, rootfs and volume, running and stopped: skiffd vs dockerd.

skiffd runs on temporary roots (as the other engine_* benches); dockerd is the one already running
at /var/run/docker.sock (setup.sh's): this bench never starts, stops or restarts it, and is
skipped for it when it does not answer. Each engine gets its own containers (``--network none``)
and named volume; each round runs every case on both, the order rotated. Prints medians
[min-max] and the ratio skiffd/dockerd. Removes only what it created (by ID / name).

    .venv/bin/python bench/engine_cp.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from engine_common import DOCKER_CLI, Engine, busybox_daemon, loadavg, order, ref_env, spread


def _cases(tmp: Path) -> dict[str, list[str]]:
    small = str(tmp / "small.txt")
    return {
        "out, running, rootfs": ["cp", "{run}:/etc/passwd", str(tmp / "o1")],
        "in, running, rootfs": ["cp", small, "{run}:/tmp/"],
        "in, running, volume": ["cp", small, "{run}:/vol/"],
        "out, exited, volume": ["cp", "{exited}:/vol/seed.txt", str(tmp / "o2")],
        "in, exited, volume": ["cp", small, "{exited}:/vol/"],
        "in, created, rootfs": ["cp", small, "{created}:/tmp/"],
    }


def _setup(e: Engine, vol: str) -> dict[str, str]:
    run = e.run("run", "-d", "--network", "none", "-v", f"{vol}:/vol", "busybox", "sleep", "600").stdout.strip()
    exited = e.run("create", "--network", "none", "-v", f"{vol}:/vol", "busybox", "sh", "-c",
                   "echo seed > /vol/seed.txt").stdout.strip()
    e.run("start", "-a", exited)
    created = e.run("create", "--network", "none", "busybox", "true").stdout.strip()
    return {"run": run, "exited": exited, "created": created}


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    vol = f"skiff-bench-cp-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="skiff-bench-cp-") as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "small.txt").write_text("a small file\n")
        with busybox_daemon(tmp / "skiffd") as d:
            env = dict(d.env)
            env.pop("SKIFF_HOST", None)
            found = [Engine("skiffd", [DOCKER_CLI], env)]
            ref = Engine("dockerd", [DOCKER_CLI], ref_env())
            if ref.run("version", "-f", "{{.Server.Version}}", check=False).returncode == 0:
                found.append(ref)
            ids: dict[str, dict[str, str]] = {}
            try:
                for e in found:
                    ids[e.name] = _setup(e, vol)
                cases = _cases(tmp)
                times: dict[tuple[str, str], list[float]] = {(c, e.name): [] for c in cases for e in found}
                loads = []
                for i in range(args.runs):
                    for case, argv in cases.items():
                        for e in order(found, i):
                            t0 = time.perf_counter()
                            e.run(*(a.format(**ids[e.name]) for a in argv))
                            times[(case, e.name)].append(time.perf_counter() - t0)
                    loads.append(loadavg().split()[0])
                print(f"docker cp, {args.runs} rounds, load {min(loads)}-{max(loads)}")
                for case in cases:
                    line = f"{case:24s}" + "".join(f"  {e.name} {spread(times[(case, e.name)], 1000, ' ms')}"
                                                   for e in found)
                    if len(found) > 1:
                        ratio = statistics.median(times[(case, "skiffd")]) / statistics.median(times[(case, "dockerd")])
                        line += f"  skiffd/dockerd {ratio:.2f}"
                    print(line)
            finally:
                for e in found:
                    if e.name in ids:
                        e.run("rm", "-f", *ids[e.name].values(), check=False)
                    e.run("volume", "rm", vol, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
