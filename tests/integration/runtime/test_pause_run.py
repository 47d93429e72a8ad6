"""pause/resume/update/ps/events on a container started by ``skiff-runtime run --detach``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.integration.runtime.fake_container import RunHelper, make_bundle, rt

pytestmark = [pytest.mark.root]
__all__ = ["rt"]


def _cpu(rt: RunHelper, cid: str) -> int:
    r = rt("events", "--stats", cid)
    assert r.returncode == 0, r.stderr
    return int(json.loads(r.stdout)["data"]["cpu"]["usage"].get("total", 0))


def _status(rt: RunHelper, cid: str) -> str:
    return str(json.loads(rt("state", cid).stdout)["status"])


def test_pause_resume_running_container(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    cid = rt.new_id()
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", "while :; do :; done"])
    r = rt.detach(b, cid)
    assert r.returncode == 0, r.stderr
    time.sleep(0.2)
    assert rt("pause", cid).returncode == 0
    assert _status(rt, cid) == "paused"
    u0 = _cpu(rt, cid)
    time.sleep(0.4)
    assert _cpu(rt, cid) == u0
    assert rt("resume", cid).returncode == 0
    assert _status(rt, cid) == "running"
    time.sleep(0.2)
    assert _cpu(rt, cid) > u0
    assert rt("kill", cid, "KILL").returncode == 0
    deadline = time.monotonic() + 10
    while _status(rt, cid) != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _status(rt, cid) == "stopped"


def test_delete_force_of_paused_container(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    cid = rt.new_id()
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "60"], {"cgroupsPath": f"/{cid}"})
    assert rt.detach(b, cid).returncode == 0
    assert rt("pause", cid).returncode == 0
    r = rt("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert not Path(f"/sys/fs/cgroup/freezer/{cid}").exists()


def test_update_and_ps_on_running_container(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    cid = rt.new_id()
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "60"],
                    {"cgroupsPath": f"/{cid}", "resources": {"pids": {"limit": 5}}})
    assert rt.detach(b, cid).returncode == 0
    if Path(f"/sys/fs/cgroup/pids/{cid}").exists():
        r = rt("update", "--pids-limit", "50", "--memory", "64m", cid)
        assert r.returncode == 0, r.stderr
        assert Path(f"/sys/fs/cgroup/pids/{cid}/pids.max").read_text().strip() == "50"
    pid = json.loads(rt("state", cid).stdout)["pid"]
    assert json.loads(rt("ps", "-f", "json", cid).stdout) == [pid]
    table = rt("ps", cid, "-o", "pid,comm").stdout.split()
    assert table == ["PID", "COMMAND", str(pid), "sleep"]
