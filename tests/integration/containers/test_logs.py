"""docker logs: stdout/stderr framing, --tail, -t, --since/--until, -f that ends with the container."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.support.daemon import DOCKER_CLI, Daemon

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def logged(bbd: Daemon) -> str:
    r = bbd.docker("run", "--name", "lg", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done")
    assert r.returncode == 0
    return "lg"


def test_logs_streams(bbd: Daemon, logged: str) -> None:
    r = bbd.docker("logs", logged)
    assert r.stdout.split() == [f"out{i}" for i in range(1, 6)]
    assert r.stderr.split() == [f"err{i}" for i in range(1, 6)]


def test_logs_tail_timestamps(bbd: Daemon, logged: str) -> None:
    r = bbd.docker("logs", "--tail", "2", "-t", logged)
    lines = r.stdout.splitlines() + r.stderr.splitlines()
    assert len(lines) == 2
    for line in lines:
        ts, _, msg = line.partition(" ")
        assert ts.endswith("Z") and "T" in ts and msg in ("out5", "err5", "out4", "err4")


def test_logs_since_until(bbd: Daemon, logged: str) -> None:
    future = str(int(time.time()) + 3600)
    assert bbd.docker("logs", "--since", future, logged).stdout == ""
    assert bbd.docker("logs", "--until", "1", logged).stdout == ""


def test_logs_follow_ends_with_container(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "fl", "busybox", "sh", "-c", "for i in 1 2 3; do echo n$i; sleep 0.3; done")
    p = subprocess.run([DOCKER_CLI, "logs", "-f", "fl"], env=bbd.env, capture_output=True, text=True, timeout=20)
    assert p.stdout.split() == ["n1", "n2", "n3"]


def test_logs_tty_raw(bbd: Daemon) -> None:
    bbd.docker("run", "-t", "--name", "tl", "busybox", "echo", "tty-line")
    # the pty's bytes as they are (ONLCR on, as dockerd logs them: "tty-line\r\n"), not text-mode "\n"
    raw = subprocess.run([DOCKER_CLI, "logs", "tl"], env=bbd.env, capture_output=True, timeout=20).stdout
    assert raw == b"tty-line\r\n"


def test_log_drivers_and_rotation(bbd: Daemon) -> None:
    bbd.docker("run", "--name", "lrot", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
               "for i in $(seq 200); do echo line-$i; done")
    lines = bbd.docker("logs", "lrot").stdout.split()
    assert 10 < len(lines) < 60 and lines[-1] == "line-200"
    bbd.docker("run", "--name", "lloc", "--log-driver", "local", "busybox", "echo", "local-line")
    assert bbd.docker("logs", "lloc").stdout == "local-line\n"
    bbd.docker("run", "--name", "lnone", "--log-driver", "none", "busybox", "echo", "x")
    r = bbd.docker("logs", "lnone")
    assert r.returncode == 1 and "configured logging driver does not support reading" in r.stderr
    bad = bbd.docker("run", "--rm", "--log-opt", "max-size=bad", "busybox", "true")
    assert bad.returncode == 125 and "invalid size: 'bad'" in bad.stderr


def test_logs_details(bbd: Daemon) -> None:
    bbd.docker("run", "--name", "ldet", "-l", "team=a", "--log-opt", "labels=team", "-e", "FOO=1",
               "--log-opt", "env=FOO", "busybox", "echo", "hello")
    assert bbd.docker("logs", "--details", "ldet").stdout == "FOO=1,team=a hello\n"
