"""Volumes used by containers (docker CLI v28 against skiffd): data outlives containers and daemon
restarts, a volume in use cannot be removed, tmpfs/bind volumes are mounted with their first user and
unmounted after the last, anonymous volumes, events, /system/df, copy-up."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import docker
import pytest

from tests.integration.volumes.conftest import _mounts_under
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def ok(r: object) -> str:
    assert r.returncode == 0, (r.stdout, r.stderr)  # type: ignore[attr-defined]
    return str(r.stdout)  # type: ignore[attr-defined]


def _mounted(d: Daemon, name: str) -> bool:
    return str(d.data_root / "volumes" / name / "_data") in _mounts_under(d.data_root / "volumes")


@pytest.mark.parametrize("kill", [False, True], ids=["stop", "kill-9"])
def test_data_survives_container_removal_and_daemon_restart(vd_own: Daemon, kill: bool) -> None:
    d = vd_own
    ok(d.docker("run", "--name", "writer", "-v", "data:/data", "busybox", "sh", "-c", "echo x > /data/f"))
    cid = ok(d.docker("inspect", "-f", "{{.Id}}", "writer")).strip()
    r = d.docker("volume", "rm", "data")
    assert r.returncode == 1
    assert r.stderr.strip() == f"Error response from daemon: remove data: volume is in use - [{cid}]"
    ok(d.docker("rm", "writer"))
    assert ok(d.docker("run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/f")) == "x\n"
    ok(d.docker("run", "--name", "holder", "-v", "data:/data", "busybox", "true"))
    d.restart(kill=kill)
    assert ok(d.docker("run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/f")) == "x\n"
    r = d.docker("volume", "rm", "data")
    assert r.returncode == 1 and "volume is in use" in r.stderr  # the reference survived the restart
    ok(d.docker("rm", "holder"))
    assert ok(d.docker("volume", "rm", "data")).strip() == "data"
    assert not (d.data_root / "volumes" / "data").exists()


def test_tmpfs_volume_mounted_with_first_user_unmounted_after_last(vd: Daemon) -> None:
    ok(vd.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m,uid=1000,gid=1000",
                 "tmpv"))
    assert not _mounted(vd, "tmpv")
    ok(vd.docker("run", "-d", "--name", "tm1", "-v", "tmpv:/t", "busybox", "sleep", "60"))
    ok(vd.docker("run", "-d", "--name", "tm2", "-v", "tmpv:/t", "busybox", "sleep", "60"))
    try:
        assert _mounted(vd, "tmpv")
        out = ok(vd.docker("exec", "tm1", "sh", "-c", "echo hi > /t/f; stat -c '%u:%g' /t; grep ' /t ' /proc/mounts"))
        lines = out.splitlines()
        assert lines[0] == "1000:1000" and lines[1].split()[2] == "tmpfs" and "size=2048k" in lines[1]
        assert ok(vd.docker("exec", "tm2", "cat", "/t/f")) == "hi\n"  # one filesystem for both
        assert (vd.data_root / "volumes" / "tmpv" / "_data" / "f").read_text() == "hi\n"
        ok(vd.docker("rm", "-f", "tm1"))
        assert _mounted(vd, "tmpv")
    finally:
        vd.docker("rm", "-f", "tm1", "tm2")
    assert not _mounted(vd, "tmpv")
    assert os.listdir(vd.data_root / "volumes" / "tmpv" / "_data") == []  # tmpfs content is gone
    ok(vd.docker("volume", "rm", "tmpv"))


def test_bind_volume_reaches_host_dir_and_removal_keeps_it(vd: Daemon, tmp_path: Path) -> None:
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "before").write_text("b")
    ok(vd.docker("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={host}", "bindv"))
    out = ok(vd.docker("run", "--rm", "-v", "bindv:/b", "busybox", "sh", "-c", "cat /b/before; echo a > /b/after"))
    assert out == "b"
    assert (host / "after").read_text() == "a\n"
    assert not _mounted(vd, "bindv")
    ok(vd.docker("volume", "rm", "bindv"))
    assert sorted(os.listdir(host)) == ["after", "before"]


def test_anonymous_volume_from_dash_v(vd: Daemon) -> None:
    ok(vd.docker("run", "--name", "anonc", "-v", "/scratch", "busybox", "sh", "-c", "echo z > /scratch/z"))
    mounts = json.loads(ok(vd.docker("inspect", "-f", "{{json .Mounts}}", "anonc")))
    name = mounts[0]["Name"]
    assert len(name) == 64 and mounts[0]["Type"] == "volume"
    v = json.loads(ok(vd.docker("volume", "inspect", name)))[0]
    assert v["Labels"] == {"com.docker.volume.anonymous": ""}
    assert (Path(v["Mountpoint"]) / "z").read_text() == "z\n"
    assert name in ok(vd.docker("volume", "ls", "-q", "--filter", "dangling=false")).split()
    ok(vd.docker("rm", "-v", "anonc"))
    assert name not in ok(vd.docker("volume", "ls", "-q")).split()


def test_volume_events(vd: Daemon) -> None:
    t0 = time.time() - 1
    ok(vd.docker("volume", "create", "evv"))
    ok(vd.docker("run", "--name", "evc", "-v", "evv:/e", "busybox", "true"))
    cid = ok(vd.docker("inspect", "-f", "{{.Id}}", "evc")).strip()
    ok(vd.docker("rm", "evc"))
    ok(vd.docker("volume", "rm", "evv"))
    out = ok(vd.docker("events", "--since", f"{t0:.3f}", "--until", f"{time.time() + 1:.3f}", "--filter",
                       "type=volume", "--filter", "volume=evv", "--format", "{{json .}}"))
    evs = [json.loads(line) for line in out.splitlines()]
    actions = [e["Action"] for e in evs]
    assert actions[0] == "create" and actions[-1] == "destroy" and "mount" in actions and "unmount" in actions
    mount = next(e for e in evs if e["Action"] == "mount")
    assert mount["Actor"]["ID"] == "evv" and mount["Actor"]["Attributes"]["container"] == cid
    assert mount["Actor"]["Attributes"]["driver"] == "local"


def test_system_df_volumes(vd: Daemon) -> None:
    ok(vd.docker("run", "--name", "dfc", "-v", "dfv:/d", "busybox", "sh", "-c", "head -c 5000 /dev/zero > /d/z"))
    try:
        c = docker.APIClient(base_url=vd.host, version="auto")
        try:
            vols = {v["Name"]: v for v in c.df()["Volumes"]}
        finally:
            c.close()
        assert vols["dfv"]["UsageData"] == {"Size": 5000, "RefCount": 1}
        out = ok(vd.docker("system", "df"))
        assert any(line.startswith("Local Volumes") for line in out.splitlines())
    finally:
        vd.docker("rm", "dfc")
        vd.docker("volume", "rm", "dfv")


def test_copy_up_of_image_content_into_new_volume(vd: Daemon) -> None:
    """Docker copies the image's directory into a new empty volume (not with nocopy)."""
    out = vd.docker("run", "--rm", "-v", "cpv:/etc", "busybox", "ls", "/etc")
    ok(out)
    try:
        listing = ok(vd.docker("run", "--rm", "-v", "cpv:/x", "busybox", "ls", "/x")).split()
        assert "passwd" in listing
        # the volume takes the image directory's mode (busybox's /tmp is 1777; a new volume is 755)
        assert ok(vd.docker("run", "--rm", "-v", "cpt:/tmp", "busybox", "stat", "-c", "%a", "/tmp")).strip() == "1777"
        assert ok(vd.docker("run", "--rm", "-v", "cpt:/y", "busybox", "stat", "-c", "%a", "/y")).strip() == "1777"
        nocopy = ok(vd.docker("run", "--rm", "--mount", "type=volume,src=cpn,dst=/etc,volume-nocopy",
                              "busybox", "true"))
        assert nocopy == ""
        # only the runtime's mount points for /etc/hosts etc. are there, nothing of the image
        assert "passwd" not in os.listdir(vd.data_root / "volumes" / "cpn" / "_data")
    finally:
        vd.docker("volume", "rm", "cpv", "cpn", "cpt")
