"""Both managers against a fake hierarchy in a temp dir: which file gets which value."""

from __future__ import annotations

from pathlib import Path

import pytest

from skiff.runtime.cgroups.files import CgroupError
from skiff.runtime.cgroups.v1 import V1Manager, v1_paths
from skiff.runtime.cgroups.v2 import V2Manager, v2_path
from skiff.runtime.specconv_resources import DeviceRule, Resources, resources_from_oci

V2_FILES = ["cgroup.procs", "cgroup.freeze", "cgroup.events", "cpu.weight", "cpu.max", "memory.max", "memory.low",
            "memory.swap.max", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "memory.high"]


def _touch(d: Path, names: list[str]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_text("")


def test_v2_paths_like_runc() -> None:
    assert v2_path("/a/b", "id", root="/R") == "/R/a/b"
    assert v2_path("", "id", root="/R", own="/user.slice/session") == "/R/user.slice/id"
    assert v2_path("x/y", "id", root="/R", own="/") == "/R/x/y"
    with pytest.raises(Exception, match="invalid cgroupsPath"):
        v2_path("../../etc", "id", root="/R")


def test_v1_paths_like_runc() -> None:
    mounts = {"memory": ("/cg/memory", "/"), "devices": ("/cg/devices", "/"), "cpu": ("/cg/cpu", "/")}
    own = {"memory": "/outer", "devices": "/", "cpu": "/"}
    assert v1_paths("/abs", "id", mounts, own)["memory"] == "/cg/memory/abs"
    p = v1_paths("", "id", mounts, own)
    assert p == {"memory": "/cg/memory/outer/id", "devices": "/cg/devices/id", "cpu": "/cg/cpu/id"}
    with pytest.raises(CgroupError, match="devices"):
        v1_paths("", "id", {"memory": ("/cg/memory", "/")}, own)


def test_v2_set_writes_converted_values(tmp_path: Path) -> None:
    cg = tmp_path / "ctr"
    _touch(cg, V2_FILES)
    m = V2Manager("", "", root=str(tmp_path), path=str(cg))
    m.set(Resources(memory=100 << 20, memory_swap=300 << 20, memory_reservation=50 << 20, cpu_shares=1024,
                    cpu_quota=50000, cpu_period=100000, pids_limit=-1, blkio_weight=500,
                    unified=(("memory.high", "90000000"),)))
    got = {n: (cg / n).read_text() for n in V2_FILES}
    assert got["memory.max"] == str(100 << 20)
    assert got["memory.swap.max"] == str(200 << 20)
    assert got["memory.low"] == str(50 << 20)
    assert got["cpu.weight"] == "39"
    assert got["cpu.max"] == "50000 100000"
    assert got["pids.max"] == "max"
    assert got["io.weight"] == "default 4950"
    assert got["memory.high"] == "90000000"


def test_v2_missing_controller_is_a_clear_error(tmp_path: Path) -> None:
    cg = tmp_path / "ctr"
    _touch(cg, ["cgroup.procs"])
    (cg / "cgroup.controllers").write_text("hugetlb\n")
    m = V2Manager("", "", root=str(tmp_path), path=str(cg))
    with pytest.raises(CgroupError, match=r"pids controller is not available.*enabled here: hugetlb"):
        m.set(Resources(pids_limit=5))


def test_v2_unified_unknown_file_refused(tmp_path: Path) -> None:
    cg = tmp_path / "ctr"
    _touch(cg, ["cgroup.procs"])
    with pytest.raises(CgroupError, match=r"memory\.nope"):
        V2Manager("", "", root=str(tmp_path), path=str(cg)).set(Resources(unified=(("memory.nope", "1"),)))


def test_v2_stats_from_files(tmp_path: Path) -> None:
    cg = tmp_path / "ctr"
    _touch(cg, [])
    (cg / "cgroup.procs").write_text("1\n2\n")
    (cg / "cpu.stat").write_text("usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\nnr_throttled 1\n"
                                 "throttled_usec 7\n")
    (cg / "memory.current").write_text("4096\n")
    (cg / "memory.max").write_text("max\n")
    (cg / "memory.stat").write_text("anon 1\nfile 2048\n")
    (cg / "memory.events").write_text("low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\n")
    (cg / "pids.current").write_text("2\n")
    (cg / "pids.max").write_text("10\n")
    (cg / "io.stat").write_text("8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n")
    (cg / "hugetlb.2MB.current").write_text("0\n")
    (cg / "hugetlb.2MB.max").write_text("max\n")
    (cg / "hugetlb.2MB.events").write_text("max 3\n")
    m = V2Manager("", "", root=str(tmp_path), path=str(cg))
    st = m.stats()
    assert (st.cpu.total, st.cpu.user, st.cpu.kernel, st.cpu.throttled_time) == (10000, 6000, 4000, 7000)
    assert st.memory.usage == 4096 and st.memory.limit == 2**64 - 1 and st.memory_cache == 2048
    assert st.oom_kills == 1 and m.oom_kill_count() == 1
    assert (st.pids_current, st.pids_limit) == (2, 10)
    assert [(e.op, e.value) for e in st.io_service_bytes] == [("Read", 100), ("Write", 200)]
    assert st.hugetlb["2MB"].failcnt == 3
    assert m.pids() == [1, 2]
    data = st.to_runc_json()
    assert data["cpu"]["usage"]["total"] == 10000
    assert data["pids"] == {"current": 2, "limit": 10}
    assert data["blkio"]["ioServiceBytesRecursive"][0] == {"major": 8, "op": "Read", "value": 100}


def _v1_tree(tmp_path: Path) -> dict[str, str]:
    files = {
        "memory": ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
                   "memory.swappiness", "memory.oom_control"],
        "cpu": ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"],
        "pids": ["pids.max"],
        "devices": ["devices.allow", "devices.deny"],
        "blkio": ["blkio.throttle.read_bps_device"],
    }
    paths = {}
    for ctrl, names in files.items():
        _touch(tmp_path / ctrl / "ctr", [*names, "cgroup.procs"])
        paths[ctrl] = str(tmp_path / ctrl / "ctr")
    return paths


def test_v1_set_writes_files(tmp_path: Path) -> None:
    paths = _v1_tree(tmp_path)
    m = V1Manager("", "", paths=paths)
    # the fake cpu.shares reads back what was written, as a real kernel within range does
    m.set(resources_from_oci({"memory": {"limit": 1 << 20, "swap": 2 << 20, "reservation": 1 << 19},
                              "cpu": {"shares": 512, "quota": 1000, "period": 10000}, "pids": {"limit": 7},
                              "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}}))
    rd = lambda c, f: (tmp_path / c / "ctr" / f).read_text()  # noqa: E731
    assert rd("memory", "memory.limit_in_bytes") == str(1 << 20)
    assert rd("memory", "memory.memsw.limit_in_bytes") == str(2 << 20)
    assert rd("memory", "memory.soft_limit_in_bytes") == str(1 << 19)
    assert (rd("cpu", "cpu.shares"), rd("cpu", "cpu.cfs_quota_us"), rd("cpu", "cpu.cfs_period_us")) == \
        ("512", "1000", "10000")
    assert rd("pids", "pids.max") == "7"
    assert rd("blkio", "blkio.throttle.read_bps_device") == "8:0 1"
    # last write to devices.allow wins in a plain file: the default list ends with /dev/net/tun
    assert rd("devices", "devices.allow") == "c 10:200 rwm"


def test_v1_refuses_unified_and_unmounted_controllers(tmp_path: Path) -> None:
    m = V1Manager("", "", paths=_v1_tree(tmp_path))
    with pytest.raises(Exception, match="cannot use unified on cgroup v1"):
        m.set(Resources(unified=(("memory.high", "1"),)))
    with pytest.raises(CgroupError, match="hugetlb controller is not mounted"):
        m.set(resources_from_oci({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}))


def test_v1_swap_without_accounting_refused(tmp_path: Path) -> None:
    paths = _v1_tree(tmp_path)
    (Path(paths["memory"]) / "memory.memsw.limit_in_bytes").unlink()
    with pytest.raises(CgroupError, match="swap accounting"):
        V1Manager("", "", paths=paths).set(Resources(memory=10, memory_swap=20))
    V1Manager("", "", paths=paths).set(Resources(memory=10, memory_swap=-1))  # unlimited is fine


def test_destroy_is_idempotent(tmp_path: Path) -> None:
    d = tmp_path / "gone"
    m = V2Manager("", "", root=str(tmp_path), path=str(d))
    m.destroy()
    d.mkdir()
    (d / "child").mkdir()
    m.destroy()
    assert not d.exists()
    m.destroy()


def test_device_rules_kept_in_order() -> None:
    r = resources_from_oci({"devices": [{"allow": False, "access": "rwm"}]})
    assert r.devices is not None and r.devices[0] == DeviceRule(False, "a", -1, -1, "rwm")


def test_from_paths_rebuilds_the_right_manager() -> None:
    from skiff.runtime.cgroups import from_paths

    v2 = from_paths({"": "/sys/fs/cgroup/x"})
    assert v2.version == 2 and v2.paths() == {"": "/sys/fs/cgroup/x"}
    v1 = from_paths({"memory": "/m/x", "devices": "/d/x"})
    assert v1.version == 1 and v1.paths()["memory"] == "/m/x"


def test_new_manager_follows_unified_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    import skiff.runtime.cgroups as cg

    monkeypatch.setattr(cg, "is_unified", lambda root="": True)
    m = cg.new_manager("/skiff-test-x", "id")
    assert m.version == 2 and m.paths() == {"": "/sys/fs/cgroup/skiff-test-x"}


def test_network_limits_refused_where_no_controller(tmp_path: Path) -> None:
    with pytest.raises(CgroupError, match="net_cls controller is not mounted"):
        V1Manager("", "", paths=_v1_tree(tmp_path)).set(Resources(net_cls_classid=5))
    cg = tmp_path / "v2"
    _touch(cg, ["cgroup.procs"])
    with pytest.raises(CgroupError, match="cgroup v2 does not have"):
        V2Manager("", "", root=str(tmp_path), path=str(cg)).set(Resources(net_cls_classid=5))
