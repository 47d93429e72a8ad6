"""docker exec: exit codes, -u/-w/-e, -i stdin, -d, inspect, errors."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def box(bbd: Daemon) -> str:
    assert bbd.docker("run", "-d", "--name", "box", "busybox", "sleep", "600").returncode == 0
    return "box"


def test_exec_basic(bbd: Daemon, box: str) -> None:
    r = bbd.docker("exec", box, "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n")
    assert bbd.docker("exec", box, "sh", "-c", "exit 5").returncode == 5


def test_exec_options(bbd: Daemon, box: str) -> None:
    r = bbd.docker("exec", "-u", "nobody", "-w", "/tmp", "-e", "FOO=bar", box, "sh", "-c", "id -u; pwd; echo $FOO")
    assert r.stdout.split() == ["65534", "/tmp", "bar"], r.stderr


def test_exec_stdin(bbd: Daemon, box: str) -> None:
    r = bbd.docker("exec", "-i", box, "cat", input="abc\n")
    assert r.stdout == "abc\n"


def test_exec_missing_command(bbd: Daemon, box: str) -> None:
    r = bbd.docker("exec", box, "nosuch")
    assert r.returncode == 127 and "executable file not found" in r.stdout + r.stderr


def test_exec_detached(bbd: Daemon, box: str) -> None:
    assert bbd.docker("exec", "-d", box, "sh", "-c", "echo x > /tmp/detached").returncode == 0
    time.sleep(0.5)
    assert bbd.docker("exec", box, "cat", "/tmp/detached").stdout == "x\n"


def test_exec_ids_lists_execs_not_ended(bbd: Daemon, box: str) -> None:
    """Container inspect's ExecIDs, as moby's: the execs that have not ended (created or running);
    an exec leaves the list when it exits."""
    import docker

    api = docker.APIClient(base_url=bbd.host)
    done = api.exec_create(box, ["true"])["Id"]
    api.exec_start(done)
    eid = api.exec_create(box, ["sh", "-c", "sleep 1"])["Id"]
    api.exec_start(eid, detach=True)
    ids = json.loads(bbd.docker("inspect", box).stdout)[0]["ExecIDs"]
    assert eid in ids and done not in ids
    deadline = time.monotonic() + 10
    while api.exec_inspect(eid)["Running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert eid not in (json.loads(bbd.docker("inspect", box).stdout)[0]["ExecIDs"] or [])


def test_exec_not_running(bbd: Daemon) -> None:
    bbd.docker("create", "--name", "idle", "busybox", "true")
    r = bbd.docker("exec", "idle", "true")
    assert r.returncode != 0 and "is not running" in r.stderr


def test_detached_exec_exit_in_inspect(bbd: Daemon, box: str) -> None:
    """A detached exec's end is learnt from its monitor as it happens (no 0.2 s polling): inspect
    shows it stopped, with its exit code, soon after it exits."""
    import docker

    api = docker.APIClient(base_url=bbd.host)
    eid = api.exec_create(box, ["sh", "-c", "sleep 0.2; exit 3"])["Id"]
    api.exec_start(eid, detach=True)
    assert api.exec_inspect(eid)["Running"] is True
    deadline = time.monotonic() + 10
    while (info := api.exec_inspect(eid))["Running"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (info["Running"], info["ExitCode"]) == (False, 3)


def test_exec_tty(bbd: Daemon, box: str) -> None:
    """A TTY exec: the runtime (run by the monitor) hands the pty over its console socket."""
    import docker

    api = docker.APIClient(base_url=bbd.host)
    eid = api.exec_create(box, ["sh", "-c", "test -t 1 && echo tty-ok; exit 2"], tty=True)["Id"]
    out = api.exec_start(eid, tty=True)
    assert b"tty-ok" in out
    assert api.exec_inspect(eid)["ExitCode"] == 2


def test_exec_start_error_on_stdout(bbd: Daemon, box: str) -> None:
    """moby's router writes an exec's start error into the stream's stdout: docker exec prints it there."""
    r = bbd.docker("exec", box, "nosuch")
    assert r.returncode == 127 and r.stderr == ""
    assert r.stdout.startswith("OCI runtime exec failed: ") and "executable file not found" in r.stdout


def test_exec_user_as_docker(bbd: Daemon, box: str) -> None:
    """exec -u: the primary group among the groups; an unknown user fails the start: its text on
    stdout and exit 126 (moby's code for an exec that did not start), not 0."""
    r = bbd.docker("exec", "-u", "nobody", box, "id")
    assert r.stdout == "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)\n"
    r = bbd.docker("exec", "-u", "nosuchuser", box, "id")
    assert (r.returncode, r.stdout, r.stderr) == (
        126, "unable to find user nosuchuser: no matching entries in passwd file\n", "")


def test_exec_in_paused_container_names_it_as_given(bbd: Daemon) -> None:
    """moby's getActiveContainer: the paused container is named as the client named it."""
    bbd.docker("run", "-d", "--name", "xpaused", "busybox", "sleep", "100")
    try:
        assert bbd.docker("pause", "xpaused").returncode == 0
        r = bbd.docker("exec", "xpaused", "true")
        assert (r.returncode, r.stderr) == (
            1, "Error response from daemon: Container xpaused is paused, unpause the container before exec\n")
    finally:
        bbd.docker("rm", "-f", "xpaused")


def test_exec_inspect_can_remove_as_docker(bbd: Daemon, box: str) -> None:
    """CanRemove stays false once an exec ended: moby's exec GC sets it (minutes later), not the exit."""
    import docker

    api = docker.APIClient(base_url=bbd.host)
    try:
        eid = api.exec_create(box, ["true"])["Id"]
        assert api.exec_inspect(eid)["CanRemove"] is False
        api.exec_start(eid)
        info = api.exec_inspect(eid)
        assert (info["Running"], info["ExitCode"], info["CanRemove"]) == (False, 0, False)
    finally:
        api.close()
