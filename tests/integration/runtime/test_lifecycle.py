"""``start``, ``state``, ``kill``, ``delete``, ``list``: the state machine through the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest
from tests.integration.runtime.conftest import Runtime
from tests.support.bundle import edit_config

pytestmark = pytest.mark.root


def _status(rt: Runtime, cid: str) -> str:
    return str(json.loads(rt.ok("state", cid).out)["status"])


def _wait_status(rt: Runtime, cid: str, want: str) -> None:
    for _ in range(500):
        if _status(rt, cid) == want:
            return
        time.sleep(0.01)
    raise AssertionError(f"{cid} never became {want}: {_status(rt, cid)}")


@pytest.fixture
def sleeper(bundle: Path) -> Path:
    edit_config(bundle, lambda c: (c["process"].update(args=["sleep", "60"]),
                                   c.update(annotations={"org.skiff.test": "yes"})))
    return bundle


def test_state_fields(rt: Runtime, sleeper: Path, cid: str) -> None:
    rt.ok("create", "-b", str(sleeper), cid)
    st = json.loads(rt.ok("state", cid).out)
    assert st["ociVersion"] and st["id"] == cid and st["status"] == "created"
    assert st["bundle"] == str(sleeper) and st["pid"] > 0
    assert st["annotations"] == {"org.skiff.test": "yes"}
    assert st["created"].endswith("Z") and "owner" in st


def test_start_twice_is_a_conflict(rt: Runtime, sleeper: Path, cid: str) -> None:
    rt.ok("create", "-b", str(sleeper), cid)
    rt.ok("start", cid)
    assert _status(rt, cid) == "running"
    r = rt("start", cid)
    assert r.rc == 1 and "cannot start an already running container" in r.err


def test_kill_by_name_and_number(rt: Runtime, sleeper: Path, cid: str) -> None:
    rt.ok("run", "-d", "-b", str(sleeper), cid)
    rt.ok("kill", cid, "KILL")
    _wait_status(rt, cid, "stopped")
    r = rt("kill", cid, "9")
    assert r.rc == 1 and "container not running" in r.err


def test_kill_default_sigterm_created(rt: Runtime, sleeper: Path, cid: str) -> None:
    rt.ok("create", "-b", str(sleeper), cid)
    rt.ok("kill", cid)
    _wait_status(rt, cid, "stopped")


def test_kill_unknown_signal(rt: Runtime, sleeper: Path, cid: str) -> None:
    rt.ok("create", "-b", str(sleeper), cid)
    r = rt("kill", cid, "SIGNOPE")
    assert r.rc == 1 and "unknown signal" in r.err


def test_kill_all(rt: Runtime, sleeper: Path, cid: str) -> None:
    edit_config(sleeper, lambda c: c["process"].update(args=["sh", "-c", "sleep 60 & sleep 60"]))
    rt.ok("run", "-d", "-b", str(sleeper), cid)
    rt.ok("kill", "--all", cid, "SIGKILL")
    _wait_status(rt, cid, "stopped")


def test_delete_running_needs_force(rt: Runtime, sleeper: Path, cid: str) -> None:
    rt.ok("run", "-d", "-b", str(sleeper), cid)
    r = rt("delete", cid)
    assert r.rc == 1 and "not stopped" in r.err
    rt.ok("delete", "--force", cid)
    assert not (rt.root / cid).exists()
    assert rt("state", cid).rc == 1


def test_delete_created_is_refused_then_forced(rt: Runtime, sleeper: Path, cid: str) -> None:
    rt.ok("create", "-b", str(sleeper), cid)
    pid = json.loads(rt.ok("state", cid).out)["pid"]
    r = rt("delete", cid)  # the spec: deleting a container that is not stopped is an error
    assert r.rc == 1 and "not stopped: created" in r.err
    rt.ok("delete", "--force", cid)
    assert not (rt.root / cid).exists()
    time.sleep(0.05)
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "zombie" in status.read_text()


def test_state_of_unknown(rt: Runtime) -> None:
    r = rt("state", "skiff-none")
    assert r.rc == 1 and "container does not exist" in r.err


def test_list(rt: Runtime, sleeper: Path, cid: str) -> None:
    rt.ok("create", "-b", str(sleeper), cid)
    table = rt.ok("list").out.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert table[1].split()[0] == cid and table[1].split()[2] == "created"
    js = json.loads(rt.ok("list", "--format", "json").out)
    assert [c["id"] for c in js] == [cid] and js[0]["status"] == "created"
    assert rt.ok("list", "-q").out == cid + "\n"


def test_list_empty_root(rt: Runtime) -> None:
    assert rt.ok("list", "-q").out == ""
    assert json.loads(rt.ok("list", "--format", "json").out) == []


def test_created_init_leaves_when_its_state_dir_is_removed(rt: Runtime, sleeper: Path, cid: str) -> None:
    """Nobody can start a container whose state dir is gone: its waiting init must not stay forever."""
    import shutil

    rt.ok("create", "-b", str(sleeper), cid)
    pid = json.loads(rt.ok("state", cid).out)["pid"]
    cgroups = json.loads((rt.root / cid / "state.json").read_text())["cgroup_paths"]
    shutil.rmtree(rt.root / cid)
    try:
        for _ in range(300):
            status = Path(f"/proc/{pid}/status")
            if not status.exists() or "zombie" in status.read_text():
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the init is still waiting")
    finally:  # with its state gone, delete cannot remove the cgroup: the test does
        status = Path(f"/proc/{pid}/status")
        with contextlib.suppress(OSError):  # a failed test: the init (ours) must not keep its cgroup busy
            if "zombie" not in status.read_text():
                os.kill(pid, signal.SIGKILL)
        for path in set(cgroups.values()):
            for _ in range(100):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # busy until the init has exited
                    time.sleep(0.02)
