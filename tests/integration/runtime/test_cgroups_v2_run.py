"""The v2 manager through ``skiff-runtime`` end to end. On this hybrid host it is forced with
SKIFF_CGROUP_MANAGER=v2 onto the cgroup2 mount at /sys/fs/cgroup/unified, which offers the freezer,
the eBPF device filter, cpu usage and hugetlb (memory/pids/cpu limits live on v1 here)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.runtime.fake_container import RunHelper, make_bundle, rt

from skiff.runtime.cgroups import is_unified

ROOT = Path("/sys/fs/cgroup" if is_unified() else "/sys/fs/cgroup/unified")
pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not (ROOT / "cgroup.controllers").exists(), reason="no cgroup2 hierarchy")]
__all__ = ["rt"]


@pytest.fixture
def v2(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Force the v2 manager; give a cgroupsPath; restore the root's subtree_control afterwards."""
    monkeypatch.setenv("SKIFF_CGROUP_MANAGER", "v2")
    before = set((ROOT / "cgroup.subtree_control").read_text().split())
    path = f"/skiff-test-{uuid.uuid4().hex[:10]}"
    yield path
    assert not (ROOT / path.lstrip("/")).exists()
    for ctrl in set((ROOT / "cgroup.subtree_control").read_text().split()) - before:
        try:
            (ROOT / "cgroup.subtree_control").write_text(f"-{ctrl}")
        except OSError:
            pass


def _status(rt: RunHelper, cid: str) -> str:
    return str(json.loads(rt("state", cid).stdout)["status"])


def test_v2_container_lifecycle(v2: str, rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    cid = rt.new_id()
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", "while :; do :; done"], {"cgroupsPath": v2})
    r = rt.detach(b, cid)
    assert r.returncode == 0, r.stderr
    cg = ROOT / v2.lstrip("/")
    pid = json.loads(rt("state", cid).stdout)["pid"]
    assert f"0::{v2}\n" in Path(f"/proc/{pid}/cgroup").read_text()
    assert rt("pause", cid).returncode == 0
    assert (cg / "cgroup.freeze").read_text().strip() == "1" and _status(rt, cid) == "paused"
    ev = json.loads(rt("events", "--stats", cid).stdout)
    u0 = ev["data"]["cpu"]["usage"]["total"]
    assert ev["data"]["pids"]["current"] == 1
    time.sleep(0.3)
    assert json.loads(rt("events", "--stats", cid).stdout)["data"]["cpu"]["usage"]["total"] == u0
    assert rt("resume", cid).returncode == 0 and _status(rt, cid) == "running"
    assert json.loads(rt("ps", "-f", "json", cid).stdout) == [pid]
    r = rt("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert not cg.exists()


def test_v2_device_filter_in_container(v2: str, rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    """The spec's deny-all + runc's defaults as an eBPF program: /dev/null works, /dev/kmsg (made
    from linux.devices, not allowed) does not. The v1 devices cgroup is not used here."""
    script = "head -c1 /dev/kmsg >/dev/null 2>&1; echo kmsg=$?; echo x >/dev/null && echo null-ok"
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", script],
                    {"cgroupsPath": v2,
                     "devices": [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o644}]})
    r = rt("run", "--bundle", str(b), rt.new_id())
    assert "kmsg=1" in r.stdout and "null-ok" in r.stdout, (r.stdout, r.stderr)


def test_v2_missing_controller_fails_create_cleanly(v2: str, rt: RunHelper, busybox_rootfs: Path,
                                                   tmp_path: Path) -> None:
    if (ROOT / "cgroup.controllers").read_text().split().count("pids"):
        pytest.skip("pids is available on this v2 hierarchy")
    cid = rt.new_id()
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["true"], {"cgroupsPath": v2, "resources": {"pids": {"limit": 5}}})
    r = rt("run", "--bundle", str(b), cid)
    assert r.returncode != 0 and "pids controller is not available" in r.stderr
    assert rt("state", cid).returncode != 0
