"""specconv: config.json -> Config, and the errors bad input gets."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from skiff.errors import InvalidParameter, Unimplemented
from skiff.runtime.cli.spec import default_spec
from skiff.runtime.specconv import from_spec, load_bundle, parse_mount_options
from skiff.sys import mount as m


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    (tmp_path / "rootfs").mkdir()
    return tmp_path


def spec(**changes: Any) -> dict[str, Any]:
    s = copy.deepcopy(default_spec())
    s.update(changes)
    return s


def test_default_spec_converts(bundle: Path) -> None:
    cfg = from_spec(spec(), str(bundle))
    assert cfg.root_path == str(bundle / "rootfs") and cfg.root_readonly
    assert cfg.process is not None and cfg.process.args == ("sh",)
    assert [n.type for n in cfg.namespaces] == ["pid", "network", "ipc", "uts", "mount"]
    assert cfg.process.capabilities is not None and 5 in cfg.process.capabilities.bounding  # CAP_KILL
    assert cfg.process.rlimits[0].name == "RLIMIT_NOFILE" and cfg.process.rlimits[0].resource == 7
    proc_mount = cfg.mounts[0]
    assert proc_mount.type == "proc" and proc_mount.destination == "/proc"
    sysfs = next(x for x in cfg.mounts if x.type == "sysfs")
    assert sysfs.flags & m.MS_RDONLY and sysfs.flags & m.MS_NOSUID


def test_config_is_frozen(bundle: Path) -> None:
    cfg = from_spec(spec(), str(bundle))
    with pytest.raises(AttributeError):
        cfg.hostname = "x"  # type: ignore[misc]


def test_load_bundle_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="not found"):
        load_bundle(str(tmp_path))
    (tmp_path / "config.json").write_text("{bad")
    with pytest.raises(InvalidParameter, match=r"invalid config\.json"):
        load_bundle(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps([1]))
    with pytest.raises(InvalidParameter, match="not a JSON object"):
        load_bundle(str(tmp_path))


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s["root"].update(path="missing"), "does not exist"),
    (lambda s: s["linux"]["namespaces"].append({"type": "bogus"}), "unknown namespace type"),
    (lambda s: s["linux"]["namespaces"].append({"type": "pid"}), "duplicate namespace"),
    (lambda s: s["process"].update(args=[]), "args must not be empty"),
    (lambda s: s["process"].update(cwd="rel"), "not an absolute path"),
    (lambda s: s["process"]["capabilities"]["effective"].append("CAP_BOGUS"), "unknown capability"),
    (lambda s: s["process"].update(rlimits=[{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]), "unknown rlimit"),
    (lambda s: s["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}]), "above hard"),
    (lambda s: s.update(hooks={"prestart": [{"path": "relative"}]}), "not an absolute path"),
    (lambda s: s.update(hooks={"poststop": [{"path": "/no/such/hook"}]}), "not executable"),
    (lambda s: s["linux"]["namespaces"].append({"type": "user"}), "no uid or gid mappings"),
    (lambda s: s["linux"].update(uidMappings=[{"containerID": 0, "hostID": 1, "size": 1}]),
     "user namespace isn't enabled"),
    (lambda s: s["linux"].update(namespaces=[{"type": "mount"}]), "hostname without a private UTS"),
    (lambda s: (s.pop("hostname"), s["linux"].update(sysctl={"net.ipv4.ip_forward": "1"},
                                                      namespaces=[{"type": "mount"}])), "not allowed"),
    (lambda s: s["linux"].update(rootfsPropagation="sideways"), "invalid rootfsPropagation"),
    (lambda s: s["linux"].update(timeOffsets={"monotonic": {"secs": 1}}), "time namespace"),
    (lambda s: s["linux"].update(devices=[{"path": "/etc/x", "type": "c"}]), "under /dev"),
    (lambda s: s.pop("ociVersion"), "ociVersion"),
])
def test_invalid(bundle: Path, edit: Any, message: str) -> None:
    s = spec()
    edit(s)
    with pytest.raises(InvalidParameter, match=message):
        from_spec(s, str(bundle))


def test_idmapped_mounts_refused(bundle: Path) -> None:
    s = spec()
    s["mounts"].append({"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]})
    with pytest.raises(Unimplemented, match="idmapped"):
        from_spec(s, str(bundle))


def test_mount_options() -> None:
    flags, prop, data, aset, aclr, copyup = parse_mount_options(
        ["nosuid", "ro", "rw", "noexec", "rshared", "mode=755", "size=1m", "rro", "tmpcopyup"])
    assert flags == m.MS_NOSUID | m.MS_NOEXEC
    assert prop == (m.MS_SHARED | m.MS_REC,)
    assert data == "mode=755,size=1m"
    assert aset == 1 and aclr == 0 and copyup


def test_bind_source_relative_to_bundle(bundle: Path) -> None:
    (bundle / "data").mkdir()
    s = spec()
    s["mounts"].append({"destination": "data", "type": "bind", "source": "data", "options": ["rbind"]})
    mnt = from_spec(s, str(bundle)).mounts[-1]
    assert mnt.bind and mnt.recursive and mnt.source == str(bundle / "data") and mnt.destination == "/data"
