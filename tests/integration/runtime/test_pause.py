"""``pause`` / ``resume`` through the skiff-runtime command line, on a real cgroup."""

from __future__ import annotations

import json
import time

import pytest
from tests.integration.runtime.fake_container import FakeContainer, spinner

pytestmark = pytest.mark.root
__all__ = ["spinner"]


def _status(c: FakeContainer) -> str:
    out = c.runtime("state", c.id)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["status"])


def test_pause_freezes_and_resume_thaws(spinner: FakeContainer) -> None:
    c = spinner
    r = c.runtime("pause", c.id)
    assert r.returncode == 0, r.stderr
    assert c.cgroup.state() == "FROZEN"
    assert _status(c) == "paused"
    u0 = c.cgroup.stats().cpu.total
    time.sleep(0.4)
    assert c.cgroup.stats().cpu.total == u0
    r = c.runtime("resume", c.id)
    assert r.returncode == 0, r.stderr
    assert c.cgroup.state() == "THAWED"
    assert _status(c) == "running"
    time.sleep(0.3)
    assert c.cgroup.stats().cpu.total > u0


def test_pause_twice_and_resume_running_are_refused(spinner: FakeContainer) -> None:
    c = spinner
    r = c.runtime("resume", c.id)
    assert r.returncode != 0 and "not paused" in r.stderr
    assert c.runtime("pause", c.id).returncode == 0
    r = c.runtime("pause", c.id)
    assert r.returncode != 0 and "paused" in r.stderr
    assert c.runtime("resume", c.id).returncode == 0


def test_pause_unknown_container(spinner: FakeContainer) -> None:
    r = spinner.runtime("pause", "skiff-test-nope")
    assert r.returncode != 0 and "container does not exist" in r.stderr
