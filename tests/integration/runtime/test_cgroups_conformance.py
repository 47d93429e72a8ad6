"""One conformance suite for every CgroupManager implementation (as containerd's snapshotter
testsuite): the same checks against v1 (this host's hierarchies) and v2 (the hybrid cgroup2 mount
at /sys/fs/cgroup/unified, or /sys/fs/cgroup on a unified host)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from skiff.runtime.cgroups import CgroupManager, from_paths, is_unified
from skiff.runtime.cgroups.v1 import V1Manager
from skiff.runtime.cgroups.v2 import V2Manager
from skiff.runtime.specconv_resources import Resources

pytestmark = pytest.mark.root
V2_ROOT = "/sys/fs/cgroup" if is_unified() else "/sys/fs/cgroup/unified"


def _v1(name: str) -> CgroupManager:
    return V1Manager(f"/{name}", name)


def _v2(name: str) -> CgroupManager:
    return V2Manager(f"/{name}", name, root=V2_ROOT)


FACTORIES = [
    pytest.param(_v1, id="v1", marks=pytest.mark.skipif(is_unified() or not os.path.isdir("/sys/fs/cgroup/memory"),
                                                         reason="no cgroup v1 hierarchies")),
    pytest.param(_v2, id="v2", marks=pytest.mark.skipif(not os.path.exists(f"{V2_ROOT}/cgroup.controllers"),
                                                         reason="no cgroup2 hierarchy")),
]


@pytest.fixture(params=FACTORIES)
def mgr(request: pytest.FixtureRequest) -> Iterator[CgroupManager]:
    factory: Callable[[str], CgroupManager] = request.param
    ctl = os.path.join(V2_ROOT, "cgroup.subtree_control")
    before = set(open(ctl).read().split()) if os.path.exists(ctl) else set()  # noqa: SIM115
    m = factory(f"skiff-test-{uuid.uuid4().hex[:12]}")
    try:
        yield m
    finally:
        if m.exists() and m.state() == "FROZEN":
            m.thaw()
        m.destroy()
        if m.version == 2:  # v2 apply enables controllers at the root: give back what we added
            for c in set(open(ctl).read().split()) - before:  # noqa: SIM115
                try:
                    with open(ctl, "w") as f:
                        f.write(f"-{c}")
                except OSError:
                    pass  # another cgroup uses it now


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    p = subprocess.Popen([sys.executable, "-S", "-c", "import time\nwhile True: time.sleep(0.01)"])
    try:
        yield p
    finally:
        p.kill()
        p.wait()


def test_not_there_until_applied(mgr: CgroupManager) -> None:
    assert not mgr.exists()
    assert mgr.state() == "THAWED"
    mgr.destroy()  # idempotent on nothing


def test_apply_enter_and_list(mgr: CgroupManager, child: subprocess.Popen[bytes]) -> None:
    mgr.apply(child.pid)
    assert mgr.exists()
    assert mgr.pids() == [child.pid]
    assert all(os.path.isdir(p) for p in mgr.paths().values())


def test_apply_zero_creates_only(mgr: CgroupManager) -> None:
    mgr.apply(0)
    assert mgr.exists() and mgr.pids() == []


def test_add_pid_joins(mgr: CgroupManager, child: subprocess.Popen[bytes]) -> None:
    mgr.apply(0)
    mgr.add_pid(child.pid)
    assert mgr.pids() == [child.pid]


def test_freeze_thaw_round_trip(mgr: CgroupManager, child: subprocess.Popen[bytes]) -> None:
    mgr.apply(child.pid)
    mgr.freeze()
    assert mgr.state() == "FROZEN"
    mgr.freeze()  # twice is fine
    mgr.thaw()
    assert mgr.state() == "THAWED"
    mgr.thaw()


def test_stats_and_oom_count(mgr: CgroupManager, child: subprocess.Popen[bytes]) -> None:
    mgr.apply(child.pid)
    time.sleep(0.05)
    st = mgr.stats()
    assert st.pids_current == 1
    assert mgr.oom_kill_count() == 0
    assert set(st.to_runc_json()) >= {"cpu", "memory", "pids", "blkio", "hugetlb"}


def test_empty_resources_set_is_a_no_op(mgr: CgroupManager) -> None:
    mgr.apply(0)
    mgr.set(Resources())


def test_from_paths_sees_the_same_cgroup(mgr: CgroupManager, child: subprocess.Popen[bytes]) -> None:
    mgr.apply(child.pid)
    again = from_paths(mgr.paths())
    assert again.version == mgr.version and again.pids() == [child.pid]
    again.freeze()
    assert mgr.state() == "FROZEN"
    again.thaw()


def test_destroy_refuses_while_tasks_remain_then_succeeds(mgr: CgroupManager,
                                                          child: subprocess.Popen[bytes]) -> None:
    mgr.apply(child.pid)
    with pytest.raises(Exception, match="Device or resource busy"):
        mgr.destroy()
    child.kill()
    child.wait()
    mgr.destroy()
    assert not mgr.exists()


def test_join_self_from_a_forked_child(mgr: CgroupManager) -> None:
    """The container-init path: dirs made by apply(0), the fresh child moves itself in."""
    mgr.apply(0)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            mgr.join_self()
            code = 0
            time.sleep(0.5)  # stay alive while the parent looks
        finally:
            os._exit(code)
    try:
        deadline = time.monotonic() + 5
        while mgr.pids() != [pid] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert mgr.pids() == [pid]
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
