"""The shared init layer on each snapshotter: moby's initlayer.Setup content over an image, made
once per chain (also when two creates race), never following the image's links out of the tree,
and removable only once no container's layer sits on it."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from skiff.errors import Conflict
from skiff.storage import Kind, ensure_init_layer, is_init_layer, remove_init_layer
from skiff.storage.base import DirSnapshotter
from skiff.storage.initlayer import populate_init
from tests.integration.storage.conftest import Mounter, prepare_and_fill

pytestmark = pytest.mark.root

IMAGE = {"etc/passwd": b"root:x:0:0::/root:/bin/sh\n", "etc/hosts": b"10.0.0.1 image\n",
         "etc/mtab": b"not a link\n", "proc/keep": b"x"}


def _image(sn: DirSnapshotter, mounter: Mounter) -> str:
    prepare_and_fill(sn, mounter, "k", None, IMAGE)
    sn.commit("sha256:" + "a" * 64, "k")
    return "sha256:" + "a" * 64


def test_content_over_an_image(snapshotter: DirSnapshotter, mounter: Mounter, tmp_path: Path) -> None:
    top = _image(snapshotter, mounter)
    name = ensure_init_layer(snapshotter, top, tmp_path / "scratch")
    assert name == top + "-init" and is_init_layer(name)
    info = snapshotter.stat(name)
    assert (info.kind, info.parent) == (Kind.COMMITTED, top)
    with mounter.mounted(snapshotter.view("v", name)) as root:
        for f in (".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "dev/console"):
            st = os.lstat(root / f)
            assert stat.S_ISREG(st.st_mode) and st.st_size == 0 and stat.S_IMODE(st.st_mode) == 0o755, f
        for d in ("dev/pts", "dev/shm", "proc", "sys"):
            assert (root / d).is_dir() and not (root / d).is_symlink(), d
        assert os.readlink(root / "etc/mtab") == "/proc/mounts"
        assert (root / "etc/passwd").read_bytes() == IMAGE["etc/passwd"]
        assert (root / "proc/keep").read_bytes() == b"x"  # directories of the image stay as they are
    assert list((tmp_path / "scratch").iterdir()) == []  # its work mount is gone
    assert ensure_init_layer(snapshotter, top, tmp_path / "scratch") == name  # made once
    assert sorted(i.name for i in snapshotter.walk()) == sorted([top, name, "v"])


def test_concurrent_creates_make_one(snapshotter: DirSnapshotter, mounter: Mounter, tmp_path: Path) -> None:
    top = _image(snapshotter, mounter)
    names: list[str] = []
    barrier = threading.Barrier(4)

    def make() -> None:
        barrier.wait()
        names.append(ensure_init_layer(snapshotter, top, tmp_path / "scratch"))
    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert names == [top + "-init"] * 4
    assert sorted(i.name for i in snapshotter.walk()) == [top, top + "-init"]  # no extract-init-* left


def test_removal_waits_for_its_containers(snapshotter: DirSnapshotter, mounter: Mounter, tmp_path: Path) -> None:
    top = _image(snapshotter, mounter)
    init = ensure_init_layer(snapshotter, top, tmp_path / "scratch")
    snapshotter.prepare("ctr", init)
    with pytest.raises(Conflict):
        remove_init_layer(snapshotter, top)
    snapshotter.remove("ctr")
    remove_init_layer(snapshotter, top)
    remove_init_layer(snapshotter, top)  # gone already: fine
    assert [i.name for i in snapshotter.walk()] == [top]
    assert ensure_init_layer(snapshotter, None, tmp_path / "scratch") == "scratch-init"  # FROM scratch


def test_links_of_the_image_are_not_followed(tmp_path: Path) -> None:
    """An image whose /etc and /dev are links to host paths: they are replaced, never written through."""
    outside = tmp_path / "host"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(str(outside), root / "etc")
    os.symlink("/nonexistent-skiff-test", root / "dev")
    os.symlink(str(outside / "dockerenv"), root / ".dockerenv")
    populate_init(str(root))
    assert list(outside.iterdir()) == []
    assert (root / "etc").is_dir() and not (root / "etc").is_symlink()
    assert (root / "dev" / "pts").is_dir() and not (root / "dev").is_symlink()
    assert (root / ".dockerenv").is_file() and not (root / ".dockerenv").is_symlink()


def test_work_mount_of_a_killed_daemon_is_swept(snapshotter: DirSnapshotter, mounter: Mounter,
                                                tmp_path: Path) -> None:
    """A daemon killed while it made an init layer left its work mount (another pid in its name)."""
    from skiff.storage import Mount, mount_all, unmount_all

    scratch = tmp_path / "scratch"
    stale = scratch / "init-999999999-x"
    stale.mkdir(parents=True)
    (tmp_path / "src").mkdir()
    mount_all([Mount("bind", str(tmp_path / "src"), ("rbind", "ro"))], stale)
    try:
        top = _image(snapshotter, mounter)
        ensure_init_layer(snapshotter, top, scratch)
        assert list(scratch.iterdir()) == [] and not os.path.ismount(stale)
    finally:
        if stale.exists():
            unmount_all(stale, lazy=True)
