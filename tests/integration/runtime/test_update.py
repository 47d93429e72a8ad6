"""``update``: flags and -r JSON change live limits and are remembered in state.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.integration.runtime.fake_container import FakeContainer, sleeper

pytestmark = [pytest.mark.root, pytest.mark.cgroupv1]
__all__ = ["sleeper"]


def _file(c: FakeContainer, ctrl: str, name: str) -> str:
    return (Path(c.cgroup.paths()[ctrl]) / name).read_text().strip()


def test_update_flags(sleeper: FakeContainer) -> None:
    c = sleeper
    r = c.runtime("update", "--memory", "128m", "--memory-reservation", "64M", "--cpu-shares", "256",
                  "--cpu-quota", "30000", "--cpu-period", "100000", "--pids-limit", "42", "--cpuset-cpus", "0",
                  c.id)
    assert r.returncode == 0, r.stderr
    assert _file(c, "memory", "memory.limit_in_bytes") == str(128 << 20)
    assert _file(c, "memory", "memory.soft_limit_in_bytes") == str(64 << 20)
    assert _file(c, "cpu", "cpu.shares") == "256"
    assert _file(c, "cpu", "cpu.cfs_quota_us") == "30000"
    assert _file(c, "pids", "pids.max") == "42"
    assert _file(c, "cpuset", "cpuset.cpus") == "0"
    saved = json.loads(c.state_file().read_text())["config"]["linux"]["resources"]
    assert saved["memory"]["limit"] == 128 << 20 and saved["pids"]["limit"] == 42


def test_update_from_json_on_stdin_merges(sleeper: FakeContainer) -> None:
    c = sleeper
    r = c.runtime("update", "-r", "-", c.id, stdin=json.dumps({"pids": {"limit": 7}}))
    assert r.returncode == 0, r.stderr
    assert _file(c, "pids", "pids.max") == "7"
    assert _file(c, "memory", "memory.limit_in_bytes") == str(64 << 20)  # untouched
    r = c.runtime("update", "--memory", "32m", "--memory-swap", "-1", c.id)
    assert r.returncode == 0, r.stderr
    assert _file(c, "memory", "memory.limit_in_bytes") == str(32 << 20)
    assert json.loads(c.state_file().read_text())["config"]["linux"]["resources"]["pids"]["limit"] == 7


def test_update_from_file(sleeper: FakeContainer, tmp_path: Path) -> None:
    f = tmp_path / "res.json"
    f.write_text(json.dumps({"memory": {"limit": 100 << 20, "swap": 200 << 20}}))
    r = sleeper.runtime("update", "--resources", str(f), sleeper.id)
    assert r.returncode == 0, r.stderr
    assert _file(sleeper, "memory", "memory.memsw.limit_in_bytes") == str(200 << 20)


@pytest.mark.parametrize(("args", "msg"), [
    (["--memory", "lots"], "invalid size"),
    (["--pids-limit", "x"], "parse error"),
    (["--memory", "100m", "--memory-swap", "50m"], "memory+swap limit should be >= memory limit"),
    (["--cpu-shares", "1"], "minimum allowed cpu-shares"),
    (["--kernel-memory", "1m"], "kernel memory"),
])
def test_update_bad_values_refused(sleeper: FakeContainer, args: list[str], msg: str) -> None:
    r = sleeper.runtime("update", *args, sleeper.id)
    assert r.returncode != 0
    assert msg in r.stderr


def _a_block_device() -> tuple[int, int] | None:
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "zram", "ram")):
            major, minor = Path(f"/sys/block/{name}/dev").read_text().strip().split(":")
            return int(major), int(minor)
    return None


def test_update_blkio_weight_and_throttle(sleeper: FakeContainer) -> None:
    c = sleeper
    blkio = Path(c.cgroup.paths()["blkio"])
    weight_file = next((f for f in ("blkio.weight", "blkio.bfq.weight") if (blkio / f).exists()), None)
    if weight_file is None:
        pytest.skip("no CFQ/BFQ weight file in this kernel's blkio controller")
    r = c.runtime("update", "--blkio-weight", "300", c.id)
    assert r.returncode == 0, r.stderr
    assert (blkio / weight_file).read_text().split()[-1] == "300"
    dev = _a_block_device()
    if dev is None:
        pytest.skip("no disk to throttle")
    res = {"blockIO": {"throttleReadBpsDevice": [{"major": dev[0], "minor": dev[1], "rate": 1048576}]}}
    r = c.runtime("update", "-r", "-", c.id, stdin=json.dumps(res))
    assert r.returncode == 0, r.stderr
    assert f"{dev[0]}:{dev[1]} 1048576" in (blkio / "blkio.throttle.read_bps_device").read_text()
