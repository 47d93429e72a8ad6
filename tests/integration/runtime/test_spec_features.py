"""``spec`` and ``features``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.runtime.conftest import Runtime


def test_spec_writes_runc_default(rt: Runtime, tmp_path: Path) -> None:
    rt.ok("spec", "--bundle", str(tmp_path))
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["process"]["args"] == ["sh"] and cfg["root"] == {"path": "rootfs", "readonly": True}
    assert [n["type"] for n in cfg["linux"]["namespaces"]] == ["pid", "network", "ipc", "uts", "mount"]
    assert "/proc/kcore" in cfg["linux"]["maskedPaths"]
    r = rt("spec", "--bundle", str(tmp_path))
    assert r.rc == 1 and "already exists" in r.err


def test_spec_rootless(rt: Runtime, tmp_path: Path) -> None:
    rt.ok("spec", "--rootless", "-b", str(tmp_path))
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert {"type": "user"} in cfg["linux"]["namespaces"]
    assert cfg["linux"]["uidMappings"][0]["size"] == 1


def test_features(rt: Runtime) -> None:
    f = json.loads(rt.ok("features").out)
    assert f["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    assert "rbind" in f["mountOptions"] and "rro" in f["mountOptions"]
    assert set(f["linux"]["namespaces"]) >= {"user", "cgroup", "time", "pid", "mount"}
    assert "CAP_SYS_ADMIN" in f["linux"]["capabilities"]


def test_systemd_cgroup_refused(rt: Runtime) -> None:
    r = rt("--systemd-cgroup", "list")
    assert r.rc == 1 and "systemd-cgroup" in r.err


def test_unknown_command_and_flag(rt: Runtime) -> None:
    assert rt("frobnicate").rc == 1
    r = rt("list", "--nope")
    assert r.rc == 1 and "flag provided but not defined" in r.err


def test_version_and_help(rt: Runtime) -> None:
    assert "skiff-runtime" in rt.ok("--version").out
    assert "create" in rt.ok("--help").out
