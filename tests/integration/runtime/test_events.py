"""``events``: runc's JSON stats event, and OOM notices."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.runtime.fake_container import RUNTIME, FakeContainer, make_fake_container, sleeper

pytestmark = [pytest.mark.root]
__all__ = ["sleeper"]


def test_events_stats_once(sleeper: FakeContainer) -> None:
    r = sleeper.runtime("events", "--stats", sleeper.id)
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev["type"] == "stats" and ev["id"] == sleeper.id
    data = ev["data"]
    assert set(data) >= {"cpu", "memory", "pids", "blkio", "hugetlb"}
    assert data["pids"] == {"current": 1, "limit": 20}
    assert data["memory"]["usage"]["limit"] == 64 << 20
    assert "usage" in data["cpu"]


def test_events_stream_at_interval(sleeper: FakeContainer) -> None:
    p = subprocess.Popen([RUNTIME, "--root", sleeper.root, "events", "--interval", "200ms", sleeper.id],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        lines = [p.stdout.readline() for _ in range(3)]
        assert all(json.loads(line)["type"] == "stats" for line in lines)
        sleeper.proc.kill()  # the stream ends with the container
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()


@pytest.fixture
def hog(tmp_path: Path) -> Iterator[FakeContainer]:
    """A shell that starts 60MB allocations, one every 0.5s, under a 32MB limit: each is OOM-killed."""
    code = "import subprocess, sys, time\nwhile True:\n    subprocess.Popen([sys.executable, '-S', '-c', " \
           "'bytearray(60 << 20)']).wait()\n    time.sleep(0.5)\n"
    yield from make_fake_container(tmp_path, [sys.executable, "-S", "-c", code],
                                   {"memory": {"limit": 32 << 20, "swap": 32 << 20}})


@pytest.mark.cgroupv1
def test_events_reports_oom(hog: FakeContainer) -> None:
    p = subprocess.Popen([RUNTIME, "--root", hog.root, "events", "--interval", "10s", hog.id],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        deadline = time.monotonic() + 20
        types = []
        while time.monotonic() < deadline and "oom" not in types:
            types.append(json.loads(p.stdout.readline())["type"])
        assert "oom" in types
    finally:
        p.kill()
        p.wait()


def test_events_bad_interval(sleeper: FakeContainer) -> None:
    r = sleeper.runtime("events", "--interval", "soon", sleeper.id)
    assert r.returncode != 0 and "parse error" in r.stderr
