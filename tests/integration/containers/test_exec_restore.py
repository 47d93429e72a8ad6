"""Exec instances survive a skiffd crash: after kill -9 and a restart (live restore), exec inspect
shows the exit code of an exec that finished before, or that ended while the daemon was down or
after it came back; an exec not yet started can still be started; exec records go with their
container (``docker rm``: "No such exec instance")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.daemon import DOCKER_CLI, Daemon
from tests.support.images import busybox_daemon

pytestmark = pytest.mark.root


@pytest.fixture
def lr(tmp_path: Path) -> Iterator[Daemon]:
    with busybox_daemon(tmp_path) as d:
        yield d


def _api(d: Daemon) -> docker.APIClient:
    return docker.APIClient(base_url=d.host, timeout=30)


def _exec_ids(d: Daemon, name: str) -> list[str]:
    r = d.docker("inspect", "-f", "{{json .ExecIDs}}", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) or []


def _ended(api: docker.APIClient, eid: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (info := api.exec_inspect(eid))["Running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return info


def _run(d: Daemon, name: str) -> None:
    r = d.docker("run", "-d", "--name", name, "busybox", "sleep", "600")
    assert r.returncode == 0, r.stderr


def test_finished_and_created_execs_after_kill9(lr: Daemon) -> None:
    _run(lr, "keep")
    api = _api(lr)
    done = api.exec_create("keep", ["sh", "-c", "exit 3"], user="nobody", workdir="/tmp", environment=["A=b"])["Id"]
    api.exec_start(done)
    ended = api.exec_inspect(done)
    assert ended["ExitCode"] == 3 and ended["Pid"] > 0  # moby keeps an ended exec's pid
    later = api.exec_create("keep", ["sh", "-c", "exit 4"])["Id"]
    lr.restart(kill=True)
    api = _api(lr)
    info = api.exec_inspect(done)
    assert (info["Running"], info["ExitCode"], info["Pid"]) == (False, 3, ended["Pid"])
    assert info["ProcessConfig"]["entrypoint"] == "sh" and info["ProcessConfig"]["arguments"] == ["-c", "exit 3"]
    assert (info["ProcessConfig"]["user"], info["ProcessConfig"]["workingDir"]) == ("nobody", "/tmp")
    assert info["ContainerID"] == api.inspect_container("keep")["Id"]
    assert later in _exec_ids(lr, "keep") and done not in _exec_ids(lr, "keep")
    info = api.exec_inspect(later)  # created before the crash, never started: still startable
    assert (info["Running"], info["ExitCode"]) == (False, None)
    api.exec_start(later)
    assert api.exec_inspect(later)["ExitCode"] == 4
    # what it recorded at create and start was kept: a second restart shows the same
    lr.restart(kill=True)
    api = _api(lr)
    assert [api.exec_inspect(e)["ExitCode"] for e in (done, later)] == [3, 4]


def test_detached_exec_ends_while_daemon_down(lr: Daemon) -> None:
    """docker exec -d (the CLI prints no ID: ExecIDs has it while it runs), skiffd killed, the exec
    exits meanwhile: its monitor's record gives the real exit code after the restart."""
    _run(lr, "keep")
    assert lr.docker("exec", "-d", "keep", "sh", "-c", "sleep 2; exit 7").returncode == 0
    (eid,) = _exec_ids(lr, "keep")
    lr.kill()
    time.sleep(3)
    lr.start()
    info = _ended(_api(lr), eid)
    assert (info["Running"], info["ExitCode"]) == (False, 7)
    assert _exec_ids(lr, "keep") == []


def test_detached_exec_ends_after_restart(lr: Daemon) -> None:
    """An exec still running when skiffd is back is watched again: Running true with its pid, and
    its exit code once it ends."""
    _run(lr, "keep")
    api = _api(lr)
    eid = api.exec_create("keep", ["sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 9"])["Id"]
    api.exec_start(eid, detach=True)
    pid = api.exec_inspect(eid)["Pid"]
    assert pid > 0
    lr.restart(kill=True)
    api = _api(lr)
    info = api.exec_inspect(eid)
    assert (info["Running"], info["Pid"], info["ExitCode"]) == (True, pid, None)
    assert _exec_ids(lr, "keep") == [eid]
    assert lr.docker("exec", "keep", "touch", "/tmp/go").returncode == 0
    info = _ended(api, eid)
    assert (info["Running"], info["ExitCode"]) == (False, 9)
    assert _exec_ids(lr, "keep") == []


def test_attached_exec_cut_off_by_the_crash(lr: Daemon) -> None:
    """``docker exec`` (attached) loses its daemon mid-way: the CLI fails, the exec runs on in the
    container, and after the restart its end is learnt all the same."""
    _run(lr, "keep")
    cli = subprocess.Popen([DOCKER_CLI, "exec", "keep", "sh", "-c",
                            "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 5"],
                           env=lr.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (ids := _exec_ids(lr, "keep")) and time.monotonic() < deadline:
            time.sleep(0.05)
        (eid,) = ids
        api = _api(lr)  # ExecIDs lists it once created: wait until it has started before the kill
        while not api.exec_inspect(eid)["Running"] and time.monotonic() < deadline:
            time.sleep(0.05)
        lr.kill()
        assert cli.wait(10) != 0
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(5)
    lr.start()
    api = _api(lr)
    assert api.exec_inspect(eid)["Running"] is True
    assert lr.docker("exec", "keep", "touch", "/tmp/go").returncode == 0
    info = _ended(api, eid)
    assert (info["Running"], info["ExitCode"]) == (False, 5)


def test_exit_unknown_when_monitor_is_gone(lr: Daemon) -> None:
    """Nobody can tell how an exec ended when its monitor died with skiffd (no exit record): it is
    reported ended with ExitCode null, not a made-up code."""
    _run(lr, "lost")
    api = _api(lr)
    eid = api.exec_create("lost", ["sleep", "300"])["Id"]
    api.exec_start(eid, detach=True)
    cid = api.inspect_container("lost")["Id"]
    monitor_pid = int((lr.exec_root / "containers" / cid / "monitor.pid").read_text().split()[0])
    lr.kill()
    os.kill(monitor_pid, signal.SIGKILL)  # the monitor this test's daemon started
    lr.start()
    info = _ended(_api(lr), eid)
    assert (info["Running"], info["ExitCode"]) == (False, None)


def test_exec_records_go_with_the_container(lr: Daemon) -> None:
    _run(lr, "gone")
    api = _api(lr)
    eid = api.exec_create("gone", ["true"])["Id"]
    api.exec_start(eid)
    running = api.exec_create("gone", ["sleep", "300"])["Id"]
    api.exec_start(running, detach=True)
    lr.restart(kill=True)
    api = _api(lr)
    assert api.exec_inspect(eid)["ExitCode"] == 0
    assert lr.docker("rm", "-f", "gone").returncode == 0
    for e in (eid, running):
        with pytest.raises(docker.errors.NotFound, match=f"No such exec instance: {e}"):
            api.exec_inspect(e)
    lr.restart(kill=True)
    with pytest.raises(docker.errors.NotFound, match=f"No such exec instance: {eid}"):
        _api(lr).exec_inspect(eid)
