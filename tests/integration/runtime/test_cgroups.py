"""cgroup v1 manager on the real kernel, with plain processes this test starts.

This machine is v1 hybrid: every controller below is a v1 hierarchy at /sys/fs/cgroup/<name>.
Each test's cgroup is /skiff-test-<random> and is removed (processes killed first) even on failure.
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

from skiff.runtime.cgroups import new_manager
from skiff.runtime.cgroups.v1 import V1Manager
from skiff.runtime.specconv_resources import Resources, resources_from_oci

pytestmark = [pytest.mark.root, pytest.mark.cgroupv1]
BUSYBOX = "/bin/busybox"


class Procs:
    """Processes started by one test; all killed and reaped at the end."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], **kw: object) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(argv, **kw)  # type: ignore[call-overload]
        self.started.append(p)
        return p


@pytest.fixture
def procs() -> Iterator[Procs]:
    ps = Procs()
    yield ps
    for p in ps.started:
        if p.poll() is None:
            p.kill()
        p.wait()


@pytest.fixture
def cg(procs: Procs) -> Iterator[V1Manager]:
    m = V1Manager(f"/skiff-test-{uuid.uuid4().hex[:12]}", "unused")
    try:
        yield m
    finally:
        if m.exists():
            if m.state() == "FROZEN":
                m.thaw()
            # only our own descendants are in this cgroup
            for pid in m.pids():
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            for p in procs.started:
                if p.poll() is None:
                    p.kill()
                p.wait()
        m.destroy()
        assert not m.exists()


def _held(procs: Procs, code: str) -> subprocess.Popen[bytes]:
    """A python child that waits for one byte on stdin before running ``code``, so it can be put
    into the cgroup first."""
    return procs.start([sys.executable, "-S", "-c", f"import sys; sys.stdin.read(1)\n{code}"],
                       stdin=subprocess.PIPE)


def _release(p: subprocess.Popen[bytes]) -> None:
    assert p.stdin is not None
    p.stdin.write(b"x")
    p.stdin.flush()


def test_new_manager_picks_v1_here() -> None:
    m = new_manager("", "skiff-test-pick")
    assert m.version == 1
    assert set(m.paths()) >= {"memory", "cpu", "pids", "freezer", "devices"}
    assert not m.exists()


def test_apply_set_and_destroy(cg: V1Manager, procs: Procs) -> None:
    p = procs.start(["sleep", "60"])
    cg.apply(p.pid)
    cg.set(resources_from_oci({"memory": {"limit": 64 << 20, "reservation": 32 << 20},
                               "cpu": {"shares": 512, "cpus": "0", "mems": "0"}, "pids": {"limit": 20}}))
    paths = cg.paths()
    rd = lambda c, f: Path(os.path.join(paths[c], f)).read_text().strip()  # noqa: E731
    assert rd("memory", "memory.limit_in_bytes") == str(64 << 20)
    assert rd("memory", "memory.soft_limit_in_bytes") == str(32 << 20)
    assert rd("cpu", "cpu.shares") == "512"
    assert rd("cpuset", "cpuset.cpus") == "0"
    assert rd("pids", "pids.max") == "20"
    assert cg.pids() == [p.pid]
    for path in paths.values():
        assert str(p.pid) in Path(os.path.join(path, "cgroup.procs")).read_text().split()


def test_device_rules_deny_all_then_defaults(cg: V1Manager) -> None:
    cg.apply(0)
    cg.set(resources_from_oci({"devices": [{"allow": False, "access": "rwm"}]}))
    listed = Path(os.path.join(cg.paths()["devices"], "devices.list")).read_text().split("\n")
    assert "a *:* rwm" not in listed
    assert "c 1:3 rwm" in listed and "c 136:* rwm" in listed and "c *:* m" in listed


def test_memory_limit_oom_kills(cg: V1Manager, procs: Procs) -> None:
    p = _held(procs, "b = bytearray(256 << 20)\nprint(len(b))")
    cg.apply(p.pid)
    cg.set(Resources(memory=48 << 20, memory_swap=48 << 20))
    before = cg.oom_kill_count()
    _release(p)
    assert p.wait(timeout=30) == -9
    assert cg.oom_kill_count() == before + 1
    st = cg.stats()
    assert st.oom_kills >= 1 and st.memory.limit == 48 << 20
    assert st.memory.max >= 40 << 20


def test_pids_limit_contains_fork_bomb(cg: V1Manager, procs: Procs) -> None:
    sh = _held(procs, f"import os; os.execv({BUSYBOX!r}, ['sh', '-c', "
                      "'i=0; while [ $i -lt 40 ]; do sleep 60 & i=$((i+1)); done; echo spawned; wait'])")
    cg.apply(sh.pid)
    cg.set(Resources(pids_limit=8))
    _release(sh)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and cg.stats().pids_current < 8:
        time.sleep(0.05)
    time.sleep(0.3)
    st = cg.stats()
    assert st.pids_limit == 8
    assert st.pids_current == 8  # the shell and 7 sleeps; the 8th fork failed
    assert len(cg.pids()) <= 8
    assert int(Path(os.path.join(cg.paths()["pids"], "pids.events")).read_text().split()[1]) > 0  # "max N"


def test_cpu_quota_caps_usage(cg: V1Manager, procs: Procs) -> None:
    p = _held(procs, "while True: pass")
    cg.apply(p.pid)
    cg.set(Resources(cpu_quota=20000, cpu_period=100000))
    _release(p)
    t0, u0 = time.monotonic(), cg.stats().cpu.total
    time.sleep(1.5)
    st = cg.stats()
    wall, used = time.monotonic() - t0, (st.cpu.total - u0) / 1e9
    assert used < 0.35 * wall, f"used {used:.2f}s CPU in {wall:.2f}s at a 20% quota"
    assert used > 0.02 * wall  # it did run (the box may be busy)
    assert st.cpu.throttled_periods > 0 and st.cpu.throttled_time > 0


def test_freeze_and_thaw_stop_and_resume_a_process(cg: V1Manager, procs: Procs) -> None:
    p = _held(procs, "while True: pass")
    cg.apply(p.pid)
    _release(p)
    time.sleep(0.2)
    cg.freeze()
    assert cg.state() == "FROZEN"
    u0 = cg.stats().cpu.total
    time.sleep(0.5)
    assert cg.stats().cpu.total == u0
    cg.thaw()
    assert cg.state() == "THAWED"
    time.sleep(0.3)
    assert cg.stats().cpu.total > u0


def test_stats_shape(cg: V1Manager, procs: Procs) -> None:
    p = procs.start(["sleep", "60"])
    cg.apply(p.pid)
    cg.set(Resources(pids_limit=50, memory=128 << 20))
    data = cg.stats().to_runc_json()
    assert data["pids"] == {"current": 1, "limit": 50}
    assert data["memory"]["usage"]["limit"] == 128 << 20
    assert len(data["cpu"]["usage"]["percpu"]) == os.cpu_count()


def test_destroy_twice_and_missing_is_fine(cg: V1Manager) -> None:
    cg.apply(0)
    assert cg.exists()
    cg.destroy()
    cg.destroy()
    assert not cg.exists()
