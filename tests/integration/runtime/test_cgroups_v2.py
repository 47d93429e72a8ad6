"""cgroup v2 manager on the real kernel.

This machine is v1 hybrid: the cgroup2 hierarchy is mounted at /sys/fs/cgroup/unified, but every
controller except hugetlb is bound to a v1 hierarchy, so it offers only the core files
(cgroup.procs, cgroup.freeze, cgroup.events, cgroup.kill, cpu.stat usage) and hugetlb. The tests
drive the V2Manager there for what that offers: create/enter, freeze/thaw, cpu usage stats, pids,
hugetlb limits, controller enabling, clear errors for absent controllers, destroy. memory/pids/cpu/io
limits on v2 are covered by unit tests against a fake hierarchy only. On a pure v2 host the same
tests run against /sys/fs/cgroup.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from skiff.runtime.cgroups import is_unified
from skiff.runtime.cgroups.files import CgroupError
from skiff.runtime.cgroups.v2 import V2Manager
from skiff.runtime.specconv_resources import HugepageLimit, Resources, resources_from_oci

ROOT = "/sys/fs/cgroup" if is_unified() else "/sys/fs/cgroup/unified"
pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not os.path.exists(os.path.join(ROOT, "cgroup.controllers")),
                       reason="no cgroup2 hierarchy mounted"),
]


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait()


@pytest.fixture
def cg(procs: list[subprocess.Popen[bytes]]) -> Iterator[V2Manager]:
    """/skiff-test-<random>/ctr: a nested path, so controller enabling on the way is exercised.
    The root's subtree_control is restored to what it was."""
    top = f"skiff-test-{uuid.uuid4().hex[:12]}"
    root_ctl = Path(os.path.join(ROOT, "cgroup.subtree_control")).read_text().split()
    m = V2Manager(f"/{top}/ctr", "unused", root=ROOT)
    try:
        yield m
    finally:
        if m.exists() and m.state() == "FROZEN":
            m.thaw()
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        m.destroy()
        V2Manager("", "", root=ROOT, path=os.path.join(ROOT, top)).destroy()
        assert not os.path.exists(os.path.join(ROOT, top))
        for ctrl in set(Path(os.path.join(ROOT, "cgroup.subtree_control")).read_text().split()) - set(root_ctl):
            try:
                with open(os.path.join(ROOT, "cgroup.subtree_control"), "w") as f:
                    f.write(f"-{ctrl}")
            except OSError:
                pass  # someone else's cgroup uses it now


def _spin(procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    p = subprocess.Popen([sys.executable, "-S", "-c", "while True: pass"])
    procs.append(p)
    return p


def _own_v2(pid: int) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:].strip()
    return ""


def test_apply_moves_process_and_enables_controllers(cg: V2Manager, procs: list[subprocess.Popen[bytes]]) -> None:
    p = _spin(procs)
    cg.apply(p.pid)
    assert _own_v2(p.pid) == "/" + os.path.relpath(cg.path(), ROOT)
    assert cg.pids() == [p.pid]
    parent = os.path.dirname(cg.path())
    available = Path(os.path.join(ROOT, "cgroup.controllers")).read_text().split()
    assert set(Path(os.path.join(parent, "cgroup.subtree_control")).read_text().split()) == set(available)


def test_freeze_thaw(cg: V2Manager, procs: list[subprocess.Popen[bytes]]) -> None:
    p = _spin(procs)
    cg.apply(p.pid)
    time.sleep(0.2)
    cg.freeze()
    assert cg.state() == "FROZEN"
    assert "frozen 1" in Path(os.path.join(cg.path(), "cgroup.events")).read_text()
    u0 = cg.stats().cpu.total
    time.sleep(0.5)
    assert cg.stats().cpu.total == u0
    cg.thaw()
    assert cg.state() == "THAWED"
    time.sleep(0.3)
    assert cg.stats().cpu.total > u0


def test_stats_cpu_and_pids_from_core_files(cg: V2Manager, procs: list[subprocess.Popen[bytes]]) -> None:
    p = _spin(procs)
    cg.apply(p.pid)
    time.sleep(0.5)
    st = cg.stats()
    assert st.cpu.total > 0.02e9 and st.cpu.user + st.cpu.kernel > 0  # a loaded 2-core box: be lenient
    assert st.pids_current == 1
    data = st.to_runc_json()
    assert data["cpu"]["usage"]["total"] == st.cpu.total


@pytest.mark.skipif("hugetlb" not in Path(os.path.join(ROOT, "cgroup.controllers")).read_text().split(),
                    reason="hugetlb controller not on the v2 hierarchy")
def test_hugetlb_limit_written(cg: V2Manager) -> None:
    cg.apply(0)
    cg.set(Resources(hugepage_limits=(HugepageLimit("2MB", 4 << 20),)))
    assert Path(os.path.join(cg.path(), "hugetlb.2MB.max")).read_text().strip() == str(4 << 20)
    assert cg.stats().hugetlb["2MB"].max == 4 << 20


def test_absent_controller_is_a_clear_error(cg: V2Manager) -> None:
    cg.apply(0)
    if os.path.exists(os.path.join(cg.path(), "pids.max")):
        pytest.skip("pids is available on v2 here")
    with pytest.raises(CgroupError, match="pids controller is not available"):
        cg.set(Resources(pids_limit=5))


def test_destroy_removes_nested_children(cg: V2Manager) -> None:
    cg.apply(0)
    os.mkdir(os.path.join(cg.path(), "inner"))
    cg.destroy()
    assert not cg.exists()
    cg.destroy()


def test_device_rules_enforced_with_ebpf(cg: V2Manager, procs: list[subprocess.Popen[bytes]]) -> None:
    """The BPF_CGROUP_DEVICE program applies to tasks in this v2 cgroup, even in hybrid mode."""
    cg.apply(0)
    cg.set(resources_from_oci({"devices": [{"allow": False, "access": "rwm"},
                                           {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}]}))
    code = ("import os, sys\nsys.stdin.read(1)\nres = []\n"
            "for p, fl in (('/dev/null', os.O_RDWR), ('/dev/kmsg', os.O_RDONLY), ('/dev/kmsg', os.O_WRONLY),"
            " ('/dev/loop-control', os.O_RDONLY)):\n"
            "    try:\n        os.close(os.open(p, fl)); res.append('ok')\n"
            "    except OSError as e:\n        res.append(str(e.errno))\n"
            "print(' '.join(res))\n")
    p = subprocess.Popen([sys.executable, "-S", "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    procs.append(p)
    cg.add_pid(p.pid)
    out, _ = p.communicate(b"x", timeout=10)
    assert out.decode().split() == ["ok", "ok", "1", "1"]  # EPERM for what the rules do not allow
    # a second set replaces the program instead of stacking another
    cg.set(resources_from_oci({"devices": [{"allow": True, "access": "rwm"}]}, default_devices=False))
    from skiff.sys import bpf

    fd = os.open(cg.path(), os.O_DIRECTORY | os.O_RDONLY)
    try:
        assert len(bpf.prog_query(fd, bpf.BPF_CGROUP_DEVICE)) == 1
    finally:
        os.close(fd)
