"""docker diff / commit / export do not see Skiff's own mount points: they live in an init layer
between the image and the container (as dockerd's "-init" layer), on overlay2 and vfs.

Expected outputs are dockerd 20.10's for the same commands (its diff order among siblings follows
Go map iteration, so multi-line outputs are compared as sets)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import DOCKER_CLI, Daemon
from tests.support.images import busybox_daemon, busybox_tar, cleanup_containers

pytestmark = pytest.mark.root

#: what dockerd's export of a fresh busybox container holds beyond the image: (name, type, mode, link)
INIT_ENTRIES = {
    ".dockerenv": (tarfile.REGTYPE, 0o755, ""),
    "dev/console": (tarfile.REGTYPE, 0o755, ""),
    "dev/pts": (tarfile.DIRTYPE, 0o755, ""),
    "dev/shm": (tarfile.DIRTYPE, 0o755, ""),
    "etc/hostname": (tarfile.REGTYPE, 0o755, ""),
    "etc/hosts": (tarfile.REGTYPE, 0o755, ""),
    "etc/resolv.conf": (tarfile.REGTYPE, 0o755, ""),
    "etc/mtab": (tarfile.SYMTYPE, 0o777, "/proc/mounts"),
    "proc": (tarfile.DIRTYPE, 0o755, ""),
    "sys": (tarfile.DIRTYPE, 0o755, ""),
}
CHANGES_SCRIPT = "echo x > /etc/hosts; rm /.dockerenv; touch /etc/foo; rm /etc/passwd"


@pytest.fixture(scope="module", params=["overlay2", "vfs"])
def d(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp: Path = tmp_path_factory.mktemp(f"init-{request.param}")
    if request.param == "overlay2":
        with busybox_daemon(tmp) as dd:
            if dd.docker("info", "--format", "{{.Driver}}").stdout.strip() != "overlay2":
                pytest.skip("overlay2 is not usable here")
            yield dd
        return
    with busybox_daemon(tmp / "seed", ("--storage-driver", "vfs")) as dd:  # busybox goes in by import
        r = subprocess.run([DOCKER_CLI, "import", "-c", 'CMD ["sh"]', "-", "busybox:latest"], input=busybox_tar(),
                           env=dd.env, capture_output=True)
        assert r.returncode == 0, r.stderr
        assert dd.docker("info", "--format", "{{.Driver}}").stdout.strip() == "vfs"
        yield dd


def _run(d: Daemon, name: str, *cmd: str) -> None:
    r = d.docker("run", "--name", name, "busybox", *cmd)
    assert r.returncode == 0, r.stderr


def _export(d: Daemon, name: str) -> dict[str, tarfile.TarInfo]:
    r = subprocess.run([DOCKER_CLI, "export", name], env=d.env, capture_output=True)
    assert r.returncode == 0, r.stderr
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tf:
        return {m.name.removeprefix("./").rstrip("/"): m for m in tf.getmembers()}


def _settle(d: Daemon) -> None:
    """Wait for removed containers' layers to go (removed in the background after the API answers),
    so that a following rmi can take the image's layers."""
    deadline = time.monotonic() + 10
    while any((d.data_root / "containers").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)


def _rm(d: Daemon, name: str) -> None:
    assert d.docker("rm", name).returncode == 0
    _settle(d)


def _top_layer_names(d: Daemon, image: str) -> list[str] | None:
    """The file names in the image's top layer (None when the image has no layer of its own)."""
    r = subprocess.run([DOCKER_CLI, "save", image], env=d.env, capture_output=True)
    assert r.returncode == 0, r.stderr
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        layers = manifest[0]["Layers"]
        data = tf.extractfile(layers[-1]).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(data)) as lt:
        return sorted(m.name.removeprefix("./").rstrip("/") for m in lt.getmembers())


def test_fresh_container_has_no_changes(d: Daemon) -> None:
    _run(d, "fresh", "true")
    r = d.docker("diff", "fresh")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_touch_shows_only_the_file(d: Daemon) -> None:
    _run(d, "touched", "touch", "/tmp/a")
    r = d.docker("diff", "touched")
    assert r.returncode == 0 and r.stdout == "C /tmp\nA /tmp/a\n"


def test_changes_to_init_files_show_as_dockerd(d: Daemon) -> None:
    """Writing the bind-mounted /etc/hosts changes nothing; removing /.dockerenv (init layer) does."""
    _run(d, "changed", "sh", "-c", CHANGES_SCRIPT)
    r = d.docker("diff", "changed")
    assert r.returncode == 0
    assert sorted(r.stdout.splitlines()) == ["A /etc/foo", "C /etc", "D /.dockerenv", "D /etc/passwd"]


def test_commit_has_no_mount_points(d: Daemon) -> None:
    _run(d, "c-fresh", "true")
    base = json.loads(d.docker("image", "inspect", "busybox").stdout)[0]["RootFS"]["Layers"]
    assert d.docker("commit", "c-fresh", "init-fresh:v1").returncode == 0
    img = json.loads(d.docker("image", "inspect", "init-fresh:v1").stdout)[0]
    assert img["RootFS"]["Layers"] == base  # nothing changed: no layer (dockerd skips the empty tar)
    assert d.docker("history", "--format", "{{.CreatedBy}} {{.Size}}", "init-fresh:v1").stdout.splitlines()[0] \
        == "true 0B"
    _run(d, "c-touch", "touch", "/tmp/a")
    assert d.docker("commit", "c-touch", "init-touch:v1").returncode == 0
    assert _top_layer_names(d, "init-touch:v1") == ["tmp", "tmp/a"]
    r = d.docker("run", "--rm", "init-touch:v1", "sh", "-c", "ls /tmp; cat /etc/hostname | wc -c")
    assert r.returncode == 0 and r.stdout.split() == ["a", "13"]


def test_export_has_the_init_layer(d: Daemon) -> None:
    _run(d, "exported", "true")
    entries = _export(d, "exported")
    for name, (kind, mode, link) in INIT_ENTRIES.items():
        m = entries.get(name)
        assert m is not None, name
        assert (m.type, m.mode & 0o7777, m.linkname, m.size if m.isfile() else 0) == (kind, mode, link, 0), name
        assert (m.uid, m.gid) == (0, 0), name
    assert "bin/busybox" in entries and entries["etc/passwd"].size > 0


def test_init_layer_survives_restart_and_goes_with_the_image(d: Daemon) -> None:
    """Containers keep working across a restart; removing the last image of a chain removes the
    chain's shared init layer with it (nothing left in the snapshotter)."""
    cleanup_containers(d)
    _settle(d)
    driver = d.docker("info", "--format", "{{.Driver}}").stdout.strip()
    snapshots = d.data_root / driver / "snapshots"
    before = sorted(p.name for p in snapshots.iterdir())
    _run(d, "mk", "sh", "-c", "echo v2 > /v")
    assert d.docker("commit", "mk", "init-gc:v1").returncode == 0
    _rm(d, "mk")
    assert d.docker("create", "--name", "on-v1", "init-gc:v1", "cat", "/v").returncode == 0
    d.restart()
    r = d.docker("start", "-a", "on-v1")
    assert (r.returncode, r.stdout) == (0, "v2\n"), r.stderr
    assert d.docker("diff", "on-v1").stdout == ""
    _rm(d, "on-v1")
    assert d.docker("rmi", "init-gc:v1").returncode == 0
    assert sorted(p.name for p in snapshots.iterdir()) == before


def test_container_made_before_init_layers_keeps_working(tmp_path: Path) -> None:
    """A container whose writable layer sits right on the image (made by an older skiffd) starts,
    diffs without its mount points, and is removed; then the image goes too."""
    from skiff.storage import Overlay2Snapshotter, VfsSnapshotter, overlay_supported

    with busybox_daemon(tmp_path) as d:
        assert d.docker("create", "--name", "old", "busybox", "touch", "/tmp/a").returncode == 0
        cid = d.docker("inspect", "-f", "{{.Id}}", "old").stdout.strip()
        d.stop()
        try:
            ov = d.data_root / "overlay2"
            sn = Overlay2Snapshotter(ov) if overlay_supported(ov) else VfsSnapshotter(d.data_root / "vfs")
            try:  # the old layout: the container's layer prepared on the image's top layer
                top = sn.stat(str(sn.stat(cid).parent)).parent
                sn.remove(cid)
                sn.prepare(cid, top)
            finally:
                sn.close()
        finally:
            d.start()
        r = d.docker("start", "-a", "old")
        assert r.returncode == 0, r.stderr
        assert d.docker("diff", "old").stdout == "C /tmp\nA /tmp/a\n"
        _rm(d, "old")
        r = d.docker("rmi", "busybox")
        assert r.returncode == 0, r.stderr
        snaps = d.data_root / ("overlay2" if (d.data_root / "overlay2" / "snapshots").is_dir() else "vfs") / "snapshots"
        assert list(snaps.iterdir()) == []



def test_working_dir_and_volume_mount_points_are_the_containers(d: Daemon) -> None:
    """A missing -w dir is made at start (root, 0755, as dockerd) and, like a volume's mount point,
    belongs to the container's own layer: dockerd's diff shows both."""
    r = d.docker("run", "--name", "wd", "-u", "nobody", "-v", "/data", "-w", "/wd/sub", "busybox",
                 "sh", "-c", "pwd; stat -c '%U %a' /wd /wd/sub")
    assert (r.returncode, r.stdout) == (0, "/wd/sub\nroot 755\nroot 755\n"), r.stderr
    assert sorted(d.docker("diff", "wd").stdout.splitlines()) == ["A /data", "A /wd", "A /wd/sub"]
    d.docker("rm", "-v", "wd")
    r = d.docker("run", "--rm", "-w", "/etc/passwd", "busybox", "true")
    assert r.returncode == 125 and "Cannot mkdir: /etc/passwd is not a directory" in r.stderr
