"""Container mounts: binds (-v, --mount, ro), named and anonymous volumes (copy-up, rm -v), tmpfs,
--volumes-from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def test_bind_mounts(bbd: Daemon, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("host\n")
    assert bbd.docker("run", "--rm", "-v", f"{tmp_path}:/h", "busybox", "cat", "/h/f").stdout == "host\n"
    r = bbd.docker("run", "--rm", "--mount", f"type=bind,src={tmp_path},dst=/h,readonly", "busybox", "touch", "/h/x")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    missing = bbd.docker("run", "--rm", "--mount", "type=bind,src=/nonexistent-skiff,dst=/h", "busybox", "true")
    assert missing.returncode == 125 and "bind source path does not exist" in missing.stderr


def test_named_and_anonymous_volumes(bbd: Daemon) -> None:
    bbd.docker("run", "--rm", "-v", "vt1:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert bbd.docker("run", "--rm", "-v", "vt1:/data", "busybox", "cat", "/data/f").stdout == "kept\n"
    bbd.docker("run", "--name", "anon", "-v", "/etc", "busybox", "true")
    mounts = json.loads(bbd.docker("inspect", "anon").stdout)[0]["Mounts"]
    assert mounts[0]["Type"] == "volume" and mounts[0]["Destination"] == "/etc" and len(mounts[0]["Name"]) == 64
    assert bbd.docker("run", "--rm", "-v", f"{mounts[0]['Name']}:/v", "busybox", "cat", "/v/passwd").stdout \
        .startswith("root:x:0:0")  # copied up from the image
    assert bbd.docker("rm", "-v", "anon").returncode == 0
    assert mounts[0]["Name"] not in bbd.docker("volume", "ls", "-q").stdout
    assert bbd.docker("volume", "rm", "vt1").returncode == 0


def test_tmpfs_and_volumes_from(bbd: Daemon, tmp_path: Path) -> None:
    r = bbd.docker("run", "--rm", "--tmpfs", "/scratch:size=1m", "busybox", "sh", "-c", "df /scratch | tail -1")
    assert r.stdout.startswith("tmpfs") and " 1024 " in r.stdout
    (tmp_path / "h").write_text("hb\n")
    bbd.docker("create", "--name", "vsrc", "-v", "vshared:/data", "-v", f"{tmp_path}:/hb", "busybox", "true")
    r = bbd.docker("run", "--rm", "--volumes-from", "vsrc", "busybox", "sh", "-c", "echo w > /data/w; cat /hb/h")
    assert r.stdout == "hb\n"
    r = bbd.docker("run", "--rm", "--volumes-from", "vsrc:ro", "busybox", "sh", "-c", "cat /data/w; touch /data/x")
    assert r.stdout == "w\n" and "Read-only file system" in r.stderr
    bbd.docker("rm", "vsrc")
    bbd.docker("volume", "rm", "vshared")
