"""Resources through ``skiff-runtime run`` end to end: a busybox container under memory, pids and
cpu limits, with the cgroup removed after delete."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from tests.integration.runtime.fake_container import RunHelper, make_bundle, rt

pytestmark = [pytest.mark.root, pytest.mark.cgroupv1]
__all__ = ["rt"]


def test_oom_kill_in_container(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    cid = rt.new_id()
    # a shell variable doubling until the OOM killer stops it
    script = "x=a; while true; do x=$x$x; done"
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", script],
                    {"resources": {"memory": {"limit": 32 << 20, "swap": 32 << 20}}, "cgroupsPath": f"/{cid}"})
    r = rt("run", "--bundle", str(b), cid)
    assert r.returncode == 137, (r.returncode, r.stderr)  # SIGKILL by the OOM killer
    assert not os.path.exists(f"/sys/fs/cgroup/memory/{cid}")  # run deletes the container at exit


def test_limits_visible_and_cgroup_removed(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    cid = rt.new_id()
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "60"],
                    {"resources": {"memory": {"limit": 48 << 20}, "pids": {"limit": 9},
                                   "cpu": {"quota": 20000, "period": 100000}}, "cgroupsPath": f"/{cid}"})
    r = rt.detach(b, cid)
    assert r.returncode == 0, r.stderr
    assert Path(f"/sys/fs/cgroup/memory/{cid}/memory.limit_in_bytes").read_text().strip() == str(48 << 20)
    assert Path(f"/sys/fs/cgroup/pids/{cid}/pids.max").read_text().strip() == "9"
    assert Path(f"/sys/fs/cgroup/cpu/{cid}/cpu.cfs_quota_us").read_text().strip() == "20000"
    ev = json.loads(rt("events", "--stats", cid).stdout)
    assert ev["data"]["pids"]["limit"] == 9 and ev["data"]["pids"]["current"] == 1
    assert rt("kill", cid, "KILL").returncode == 0
    deadline = time.monotonic() + 10
    while json.loads(rt("state", cid).stdout)["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rt("delete", cid).returncode == 0
    for ctrl in ("memory", "pids", "cpu", "freezer", "devices"):
        assert not os.path.exists(f"/sys/fs/cgroup/{ctrl}/{cid}")


def test_fork_bomb_contained(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    cid = rt.new_id()
    # a subshell forks sleeps until the kernel refuses (busybox sh then gives up); init stays
    script = "(i=0; while [ $i -lt 50 ]; do sleep 60 & i=$((i+1)); done) 2>/dev/null; exec sleep 60"
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", script],
                    {"resources": {"pids": {"limit": 10}}, "cgroupsPath": f"/{cid}"})
    r = rt.detach(b, cid)
    assert r.returncode == 0, r.stderr
    events = Path(f"/sys/fs/cgroup/pids/{cid}/pids.events")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and events.read_text().split() == ["max", "0"]:
        time.sleep(0.05)
    assert int(events.read_text().split()[1]) > 0  # forks were refused
    pids = json.loads(rt("ps", "--format", "json", cid).stdout)
    assert 2 <= len(pids) <= 10
    assert json.loads(rt("events", "--stats", cid).stdout)["data"]["pids"]["current"] <= 10


def test_device_rules_in_container(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    cid = rt.new_id()
    # /dev/kmsg (c 1:11) is created from linux.devices but not in the allow list: opening it fails
    script = "head -c1 /dev/kmsg >/dev/null 2>&1; echo rc=$?; echo x > /dev/null && echo null-ok"
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", script],
                    {"cgroupsPath": f"/{cid}",
                     "devices": [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o644}]})
    r = rt("run", "--bundle", str(b), cid)
    assert "rc=1" in r.stdout and "null-ok" in r.stdout, (r.stdout, r.stderr)


def _own_dir(ctrl: str) -> Path:
    """Our own cgroup directory in ``ctrl``'s hierarchy (where a relative cgroupsPath hangs)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if ctrl in ctrls.replace("name=", "").split(","):
            return Path(f"/sys/fs/cgroup/{ctrl}") / path.lstrip("/")
    raise AssertionError(f"no {ctrl} hierarchy")


def test_delete_removes_the_parents_it_created(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    """A relative cgroupsPath "<new>/<new>/<cid>": delete removes the leaf and the two parents create
    made; a parent that existed before stays, and so does one still holding another cgroup."""
    cid, cid2 = rt.new_id(), rt.new_id()
    top = f"{cid}-top"
    kept = _own_dir("pids") / f"{cid}-kept"  # made by someone else: never ours to remove
    kept.mkdir()
    try:
        b = make_bundle(tmp_path / "b", busybox_rootfs, ["sleep", "60"], {"cgroupsPath": f"{top}/mid/{cid}"})
        b2 = make_bundle(tmp_path / "b2", busybox_rootfs, ["sleep", "60"],
                         {"cgroupsPath": f"{kept.name}/sub/{cid2}"})
        for bundle, c in ((b, cid), (b2, cid2)):
            r = rt.detach(bundle, c)
            assert r.returncode == 0, r.stderr
        ctrls = ("pids", "memory", "cpu", "devices", "freezer")
        assert all((_own_dir(c) / top / "mid" / cid).is_dir() for c in ctrls)
        for c in (cid, cid2):
            r = rt("delete", "--force", c)
            assert r.returncode == 0, r.stderr
        for ctrl in ctrls:
            assert not (_own_dir(ctrl) / top).exists(), f"{ctrl}: {top} left behind"
            assert not (_own_dir(ctrl) / kept.name / "sub").exists(), f"{ctrl}: {kept.name}/sub left behind"
        assert kept.is_dir()
    finally:
        for ctrl in ("pids", "memory", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "systemd"):
            for d in (_own_dir(ctrl) / top / "mid" / cid, _own_dir(ctrl) / top / "mid", _own_dir(ctrl) / top,
                      _own_dir(ctrl) / kept.name / "sub" / cid2, _own_dir(ctrl) / kept.name / "sub"):
                if d.is_dir():
                    d.rmdir()
            if ctrl != "pids" and (_own_dir(ctrl) / kept.name).is_dir():  # made by an older runtime
                (_own_dir(ctrl) / kept.name).rmdir()
        kept.rmdir()
