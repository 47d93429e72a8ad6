"""Several builds at once on one daemon, and independent stages of one build in parallel."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.build_api.conftest import build, run_image, write
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def test_parallel_builds(bd: Daemon, tmp_path: Path) -> None:
    procs = []
    for i in range(4):
        ctx = write(tmp_path / f"c{i}", {"Dockerfile": (
            f"FROM busybox\nRUN echo {i} > /n && sleep 0.5\nRUN cat /n > /m\nCMD cat /m\n")})
        cli = "docker" if i % 2 else "skiff"
        cmd = ["docker"] if cli == "docker" else [str(Path(sys.executable).parent / "skiff")]
        procs.append(subprocess.Popen([*cmd, "build", "-t", f"par-{i}", str(ctx)], env=bd.env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
    for i in range(4):
        assert run_image(bd, f"par-{i}") == f"{i}\n"


def test_independent_stages_run_in_parallel(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox AS a\nRUN sleep 2 && echo a > /a\n"
        "FROM busybox AS b\nRUN sleep 2 && echo b > /b\n"
        "FROM busybox AS c\nRUN sleep 2 && echo c > /c\n"
        "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nCOPY --from=c /c /c\nCMD cat /a /b /c\n")})
    start = time.monotonic()
    r = build(bd, "docker", ctx, "-t", "stages")
    took = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert run_image(bd, "stages").split() == ["a", "b", "c"]
    steps = [line for line in r.stdout.splitlines() if line.startswith("Step ")]
    assert [s.split(" : ")[0] for s in steps] == [f"Step {n}/11" for n in range(1, 12)]  # output in order
    assert took < 5.5, took  # three 2 s stages, not 6 s in a row
