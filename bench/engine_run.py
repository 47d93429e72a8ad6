"""Container start and exec through the engine: the docker CLI v28 against skiffd and against dockerd.

Paired in one run (each round times skiffd then dockerd, the order alternating):

- ``docker run --rm --network none busybox true``
- ``docker run --rm busybox true`` (default network)
- ``docker exec <running container> true``

and prints the medians and the ratio skiffd/dockerd. dockerd is Debian's docker.io 20.10 started by
/work/shared/reference-engines/setup.sh (and stopped after with ``setup.sh stop`` unless
``--keep-dockerd``); skiffd runs on temporary roots with busybox imported (tests/support/images.py).

    .venv/bin/python bench/engine_run.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.daemon import DOCKER_CLI  # noqa: E402
from tests.support.images import busybox_daemon  # noqa: E402

SETUP = "/work/shared/reference-engines/setup.sh"


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.decode().strip()}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--keep-dockerd", action="store_true", help="leave dockerd running afterwards")
    args = ap.parse_args()

    subprocess.run([SETUP], check=True, stdout=subprocess.DEVNULL)
    ref_env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    ref_env["DOCKER_CONFIG"] = os.environ.get("A", "/tmp/reference-engines") + "/dockercfg"
    ref_version = subprocess.run([DOCKER_CLI, "version", "-f", "{{.Server.Version}}"], env=ref_env,
                                 capture_output=True, text=True).stdout.strip()
    try:
        with tempfile.TemporaryDirectory(prefix="skiff-bench-") as tmp, busybox_daemon(Path(tmp)) as d:
            engines = {"skiffd": d.env, f"dockerd {ref_version}": ref_env}
            cases: dict[str, list[str]] = {
                "run --rm --network none busybox true": ["run", "--rm", "--network", "none", "busybox", "true"],
                "run --rm busybox true": ["run", "--rm", "busybox", "true"],
            }
            execs = {}
            for name, env in engines.items():
                cid = subprocess.run([DOCKER_CLI, "run", "-d", "--network", "none", "busybox", "sleep", "3600"],
                                     env=env, capture_output=True, text=True, check=True).stdout.strip()
                execs[name] = cid
            results: dict[tuple[str, str], list[float]] = {}
            failed: dict[str, str] = {}
            names = list(engines)
            for case in [*cases, "exec true"]:
                try:
                    for name in names:  # warm-up
                        argv = ([DOCKER_CLI, *cases[case]] if case in cases
                                else [DOCKER_CLI, "exec", execs[name], "true"])
                        timed(argv, engines[name])
                    for i in range(args.runs):
                        order = names if i % 2 == 0 else list(reversed(names))
                        for name in order:
                            argv = ([DOCKER_CLI, *cases[case]] if case in cases
                                    else [DOCKER_CLI, "exec", execs[name], "true"])
                            results.setdefault((case, name), []).append(timed(argv, engines[name]))
                except RuntimeError as e:  # e.g. the host lost docker0 under dockerd: report, go on
                    failed[case] = str(e).splitlines()[0]
            for name, env in engines.items():
                subprocess.run([DOCKER_CLI, "rm", "-f", execs[name]], env=env, capture_output=True)
            print(f"median wall time over {args.runs} paired runs (docker CLI {DOCKER_CLI})")
            print(f"{'case':<42} {'skiffd':>10} {names[1]:>18} {'ratio':>8}")
            for case in [*cases, "exec true"]:
                if case in failed:
                    print(f"{case:<42} failed: {failed[case]}")
                    continue
                s = statistics.median(results[(case, names[0])]) * 1000
                r = statistics.median(results[(case, names[1])]) * 1000
                rs, rr = results[(case, names[0])], results[(case, names[1])]
                print(f"{case:<42} {s:>8.1f}ms {r:>16.1f}ms {s / r:>8.2f}   [min-max] skiffd "
                      f"{min(rs) * 1000:.0f}-{max(rs) * 1000:.0f}, dockerd {min(rr) * 1000:.0f}-{max(rr) * 1000:.0f}")
            print("load average:", " ".join(Path("/proc/loadavg").read_text().split()[:3]))
    finally:
        if not args.keep_dockerd:
            subprocess.run([SETUP, "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
