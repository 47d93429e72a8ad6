"""Live restore: kill -9 skiffd while containers run; after a restart they still run and ps, logs -f,
attach, exec, stats, stop work; a container that exited meanwhile has its exit code; restart policies resume."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import DOCKER_CLI, Daemon
from tests.support.images import busybox_daemon

pytestmark = pytest.mark.root


@pytest.fixture
def lr(tmp_path: Path) -> Iterator[Daemon]:
    with busybox_daemon(tmp_path) as d:
        yield d


def test_kill9_and_restart(lr: Daemon) -> None:
    lr.docker("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.2; done")
    lr.docker("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 1.5; exit 7")
    lr.docker("run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "300")
    pid_before = json.loads(lr.docker("inspect", "ticker").stdout)[0]["State"]["Pid"]
    lr.restart(kill=True)
    time.sleep(2)
    ps = lr.docker("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout
    assert "ticker Up" in ps and "always Up" in ps
    st = json.loads(lr.docker("inspect", "ticker").stdout)[0]["State"]
    assert st["Pid"] == pid_before and st["Running"]
    assert json.loads(lr.docker("inspect", "short").stdout)[0]["State"]["ExitCode"] == 7
    assert lr.docker("exec", "ticker", "echo", "still").stdout == "still\n"
    p = subprocess.Popen([DOCKER_CLI, "logs", "-f", "--tail", "1", "ticker"], env=lr.env, stdout=subprocess.PIPE)
    time.sleep(1)
    p.terminate()
    out, _ = p.communicate(timeout=5)
    assert out.count(b"tick") >= 2
    assert lr.docker("stats", "--no-stream", "ticker").returncode == 0
    assert lr.docker("stop", "-t", "1", "ticker").returncode == 0
    assert json.loads(lr.docker("inspect", "ticker").stdout)[0]["State"]["Status"] == "exited"


def test_exit_while_daemon_down(lr: Daemon) -> None:
    lr.docker("run", "-d", "--name", "quick", "busybox", "sh", "-c", "sleep 1; exit 5")
    lr.kill()
    time.sleep(2)
    lr.start()
    st = json.loads(lr.docker("inspect", "quick").stdout)[0]["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 5
    assert lr.docker("wait", "quick").stdout.strip() == "5"


def test_restart_policies_after_daemon_restart(lr: Daemon) -> None:
    lr.docker("run", "-d", "--name", "alw", "--restart", "always", "busybox", "sleep", "300")
    lr.docker("run", "-d", "--name", "uls", "--restart", "unless-stopped", "busybox", "sleep", "300")
    lr.docker("stop", "-t", "0", "alw", "uls")
    lr.restart()
    time.sleep(1.5)
    st = {n: json.loads(lr.docker("inspect", n).stdout)[0]["State"]["Status"] for n in ("alw", "uls")}
    assert st == {"alw": "running", "uls": "exited"}


def test_attach_after_kill9(lr: Daemon) -> None:
    """The monitor holds stdio across the daemon's death: attach (output and input) works after."""
    import docker

    lr.docker("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.2; done")
    lr.docker("run", "-d", "-i", "--name", "echoer", "busybox", "cat")
    lr.restart(kill=True)
    p = subprocess.Popen([DOCKER_CLI, "attach", "--no-stdin", "--sig-proxy=false", "ticker"], env=lr.env,
                         stdout=subprocess.PIPE)
    time.sleep(1.2)
    p.kill()
    out, _ = p.communicate(timeout=5)
    assert out.count(b"tick") >= 2
    client = docker.DockerClient(base_url=lr.host)
    try:
        sock = client.api.attach_socket("echoer", params={"stdin": 1, "stdout": 1, "stream": 1})
        raw = sock._sock
        raw.settimeout(5)
        raw.sendall(b"after restart\n")
        got = b""
        deadline = time.monotonic() + 5
        while b"after restart" not in got and time.monotonic() < deadline:
            got += raw.recv(4096)
        raw.close()
        assert b"after restart\n" in got  # behind the 8-byte stdout frame header
    finally:
        client.close()
    assert lr.docker("inspect", "-f", "{{.State.Running}}", "echoer").stdout.strip() == "true"


def test_image_in_use_after_kill9(lr: Daemon) -> None:
    """A stopped container still holds its image after skiffd is killed and restarted."""
    lr.docker("create", "--name", "holder", "busybox", "true")
    lr.restart(kill=True)
    r = lr.docker("rmi", "busybox")
    assert r.returncode == 1
    assert 'conflict: unable to remove repository reference "busybox" (must force) - container' in r.stderr
    lr.docker("rm", "holder")
    assert lr.docker("rmi", "busybox").returncode == 0
