"""The local driver's ``o=`` parsing and mount call shape (moby/sys/mount), nfs included: skiff.sys.mount
is replaced by a recorder, so nothing is mounted (there is no NFS server here)."""

from __future__ import annotations

import pytest

from skiff.errors import System
from skiff.sys import mount as m
from skiff.volume.drivers import local
from skiff.volume.drivers.local import MountOpts, do_mount, mount_args, parse_mount_options, validate_opts


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    rec: list[tuple[object, ...]] = []
    monkeypatch.setattr(local.m, "mount", lambda *a: rec.append(a))
    return rec


def test_parse_options_flags_and_data() -> None:
    assert parse_mount_options("") == (0, "")
    assert parse_mount_options("size=64m,uid=1000,gid=1000") == (0, "size=64m,uid=1000,gid=1000")
    flags, data = parse_mount_options("ro,nosuid,noexec,nodev,mode=1777")
    assert flags == m.MS_RDONLY | m.MS_NOSUID | m.MS_NOEXEC | m.MS_NODEV and data == "mode=1777"
    assert parse_mount_options("ro,rw")[0] == 0
    assert parse_mount_options("rbind,rprivate")[0] == m.MS_BIND | m.MS_REC | m.MS_PRIVATE


def test_tmpfs_mount_call(calls: list[tuple[object, ...]]) -> None:
    do_mount("tmpfs", "/v/_data", "tmpfs", "size=1m,uid=1000,gid=1000")
    assert calls == [("tmpfs", "/v/_data", "tmpfs", 0, "size=1m,uid=1000,gid=1000")]


def test_readonly_bind_is_bind_then_remount(calls: list[tuple[object, ...]]) -> None:
    do_mount("/srv/x", "/v/_data", "none", "bind,ro")
    assert calls == [("/srv/x", "/v/_data", "none", m.MS_BIND | m.MS_RDONLY, None),
                     ("", "/v/_data", "", m.MS_BIND | m.MS_RDONLY | m.MS_REMOUNT, None)]


def test_propagation_is_a_second_call(calls: list[tuple[object, ...]]) -> None:
    do_mount("/srv/x", "/v/_data", "none", "rbind,rshared")
    assert calls == [("/srv/x", "/v/_data", "none", m.MS_BIND | m.MS_REC, None),
                     ("", "/v/_data", "", m.MS_SHARED | m.MS_REC, None)]


def test_nfs_call_shape_and_address_resolution(calls: list[tuple[object, ...]]) -> None:
    opts = validate_opts({"type": "nfs", "o": "addr=nfs.example,rw,nfsvers=4", "device": ":/export/data"})
    assert opts == MountOpts(type="nfs", o="addr=nfs.example,rw,nfsvers=4", device=":/export/data")
    device, o = mount_args(opts, resolve=lambda host: {"nfs.example": "10.1.2.3"}[host])
    assert (device, o) == (":/export/data", "addr=10.1.2.3,rw,nfsvers=4")
    do_mount(device, "/v/_data", "nfs", o)
    assert calls == [(":/export/data", "/v/_data", "nfs", 0, "addr=10.1.2.3,nfsvers=4")]
    # an IPv4 address is used as is; a name that does not resolve is Docker's error
    assert mount_args(MountOpts("nfs", "addr=10.0.0.1", ":/x"), resolve=lambda h: "bad")[1] == "addr=10.0.0.1"

    def fail(host: str) -> str:
        raise OSError("no such host")
    with pytest.raises(System, match="error resolving passed in network volume address"):
        mount_args(MountOpts("nfs", "addr=nowhere", ":/x"), resolve=fail)


def test_missing_device_refused_at_mount() -> None:
    with pytest.raises(System, match="missing device in volume options"):
        mount_args(MountOpts(type="tmpfs"))


def test_failed_mount_hides_password(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    def boom(device: str, target: str, fstype: str, options: str) -> None:
        raise OSError(f"mount {device} with {options}: permission denied")
    monkeypatch.setattr(local, "is_mountpoint", lambda p: False)
    d = local.LocalDriver(Path(str(tmp_path)) / "volumes", mounter=boom)
    d.create("smb", {"type": "cifs", "device": "//10.0.0.1/share", "o": "username=u,password=s3cret"})
    with pytest.raises(System) as e:
        d.mount("smb")
    assert "s3cret" not in str(e.value) and "password=********" in str(e.value)
    assert str(e.value).startswith(f"error while mounting volume '{d.path('smb')}': failed to mount local volume: ")
