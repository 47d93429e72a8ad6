"""The other mount forms of the issue's Volumes section, end to end with the docker CLI v28: read-only
binds, relative paths refused as Docker refuses them, --mount volume-opt/volume-label creating a volume,
tmpfs mounts with size and mode, a volume referenced from ``docker create`` on, --volumes-from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def ok(r: object) -> str:
    assert r.returncode == 0, (r.stdout, r.stderr)  # type: ignore[attr-defined]
    return str(r.stdout)  # type: ignore[attr-defined]


def test_readonly_bind_and_relative_path(vd: Daemon, tmp_path: Path) -> None:
    host = tmp_path / "h"
    host.mkdir()
    (host / "hf").write_text("hostfile\n")
    r = vd.docker("run", "--rm", "-v", f"{host}:/h:ro", "busybox", "sh", "-c", "cat /h/hf; echo w > /h/x")
    assert r.returncode == 1 and r.stdout == "hostfile\n" and "Read-only file system" in r.stderr
    assert ok(vd.docker("run", "--rm", "--mount", f"type=bind,src={host},dst=/h,readonly", "busybox",
                        "cat", "/h/hf")) == "hostfile\n"
    r = vd.docker("run", "--rm", "-v", "rel/path:/h", "busybox", "true")
    assert r.returncode == 125
    assert ('create rel/path: "rel/path" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
            ) in r.stderr


def test_mount_flag_volume_options_and_labels(vd: Daemon) -> None:
    out = ok(vd.docker("run", "--rm", "--mount", "type=volume,src=mopt,dst=/m,volume-opt=type=tmpfs,"
                       "volume-opt=device=tmpfs,volume-label=lk=lv", "busybox", "grep", " /m ", "/proc/mounts"))
    assert out.split()[2] == "tmpfs"
    v = json.loads(ok(vd.docker("volume", "inspect", "mopt")))[0]
    assert v["Labels"] == {"lk": "lv"} and v["Options"] == {"type": "tmpfs", "device": "tmpfs"}
    ok(vd.docker("volume", "rm", "mopt"))


def test_tmpfs_mounts_size_and_mode(vd: Daemon) -> None:
    out = ok(vd.docker("run", "--rm", "--tmpfs", "/tt:size=1m,mode=1700", "busybox", "sh", "-c",
                       "stat -c %a /tt; grep ' /tt ' /proc/mounts"))
    mode, line = out.splitlines()
    assert mode == "1700" and "size=1024k" in line


def test_created_container_holds_its_volume(vd: Daemon) -> None:
    cid = ok(vd.docker("create", "--name", "holdc", "-v", "crv:/c", "busybox", "true")).strip()
    try:
        assert "crv" in ok(vd.docker("volume", "ls", "-q")).split()
        r = vd.docker("volume", "rm", "crv")
        assert r.returncode == 1 and f"remove crv: volume is in use - [{cid}]" in r.stderr
    finally:
        vd.docker("rm", "holdc")
    ok(vd.docker("volume", "rm", "crv"))


def test_volumes_from(vd: Daemon) -> None:
    ok(vd.docker("run", "--name", "vfsrc", "-v", "vfv:/data", "busybox", "sh", "-c", "echo x > /data/f"))
    try:
        r = vd.docker("run", "--rm", "--volumes-from", "vfsrc", "busybox", "cat", "/data/f")
        assert r.returncode == 0, r.stderr
        assert r.stdout == "x\n"
        r = vd.docker("run", "--rm", "--volumes-from", "vfsrc:ro", "busybox", "sh", "-c", "echo z > /data/f")
        assert r.returncode != 0 and "Read-only file system" in r.stderr
    finally:
        vd.docker("rm", "vfsrc")
        vd.docker("volume", "rm", "vfv")


def test_run_rm_removes_its_anonymous_volumes(vd: Daemon) -> None:
    """``docker run --rm`` removes the container's anonymous volumes with it; named ones stay."""
    before = set(ok(vd.docker("volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous")).split())
    ok(vd.docker("run", "--rm", "-v", "/anon", "-v", "rmnamed:/n", "busybox", "true"))
    after = set(ok(vd.docker("volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous")).split())
    try:
        assert "rmnamed" in ok(vd.docker("volume", "ls", "-q")).split()
        assert not (after - before), "docker run --rm left its anonymous volumes behind"
    finally:
        for name in after - before:
            vd.docker("volume", "rm", name)
        vd.docker("volume", "rm", "rmnamed")
