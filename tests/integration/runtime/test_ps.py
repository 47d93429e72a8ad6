"""``ps``: the container's processes, as json or filtered from the host's ps."""

from __future__ import annotations

import json

import pytest
from tests.integration.runtime.fake_container import FakeContainer, sleeper

from skiff.runtime.cli.ps import filter_table

pytestmark = [pytest.mark.root]
__all__ = ["sleeper"]


def test_ps_json(sleeper: FakeContainer) -> None:
    r = sleeper.runtime("ps", "--format", "json", sleeper.id)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [sleeper.proc.pid]


def test_ps_table_default_and_options(sleeper: FakeContainer) -> None:
    r = sleeper.runtime("ps", sleeper.id)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().split("\n")
    assert lines[0].split()[:2] == ["UID", "PID"]
    assert len(lines) == 2 and str(sleeper.proc.pid) in lines[1].split() and "sleep" in lines[1]
    r = sleeper.runtime("ps", sleeper.id, "-o", "pid,comm")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["PID", "COMMAND", str(sleeper.proc.pid), "sleep"]


def test_ps_bad_format(sleeper: FakeContainer) -> None:
    r = sleeper.runtime("ps", "-f", "yaml", sleeper.id)
    assert r.returncode != 0 and "invalid format option" in r.stderr


def test_filter_table_needs_pid_column() -> None:
    assert filter_table("UID PID CMD\nroot 1 init\nroot 22 sh\n", [22]) == ["UID PID CMD", "root 22 sh"]
    with pytest.raises(Exception, match="couldn't find PID field"):
        filter_table("USER CMD\n", [1])
