"""The local driver on the real kernel (no daemon): tmpfs and bind volumes mounted and unmounted with
mount(2), a read-only bind (bind then remount), removal that leaves a bind's host directory alone."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from skiff.sys import mount as m
from skiff.volume.drivers.local import LocalDriver, is_mountpoint

pytestmark = pytest.mark.root


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[LocalDriver]:
    d = LocalDriver(tmp_path / "volumes")
    try:
        yield d
    finally:
        for name in d.names():
            path = d.path(name)
            while is_mountpoint(path):
                with contextlib.suppress(OSError):
                    m.umount(path, m.MNT_DETACH)


def test_tmpfs_volume_real_mount(driver: LocalDriver) -> None:
    driver.create("tv", {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1234,gid=2345,mode=0750"})
    path = driver.mount("tv")
    assert is_mountpoint(path)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 2345, 0o750)
    driver.mount("tv")  # already mounted: no second mount stacked on it
    with open("/proc/self/mountinfo") as f:
        assert sum(1 for line in f if line.split()[4] == os.path.realpath(path)) == 1
    Path(path, "f").write_text("gone with the unmount")
    driver.unmount("tv")
    assert not is_mountpoint(path) and os.listdir(path) == []
    driver.remove("tv")
    assert not os.path.exists(os.path.dirname(path))


def test_readonly_bind_volume(driver: LocalDriver, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "keep").write_text("k")
    driver.create("bv", {"type": "none", "device": str(host), "o": "bind,ro"})
    path = driver.mount("bv")
    assert Path(path, "keep").read_text() == "k"
    with pytest.raises(OSError) as e:
        Path(path, "new").write_text("x")
    assert e.value.errno == errno.EROFS
    driver.remove("bv")  # unmounts first, then deletes only the volume's own directory
    assert not is_mountpoint(path)
    assert os.listdir(host) == ["keep"]


def test_failed_mount_is_dockers_error(driver: LocalDriver) -> None:
    from skiff.errors import System

    driver.create("badfs", {"type": "nosuchfs", "device": "none"})
    data = driver.path("badfs")
    with pytest.raises(System) as e:
        driver.mount("badfs")
    # moby: "error while mounting volume '<path>': failed to mount local volume: mount <dev>:<path>: <errno>"
    assert str(e.value) == (f"error while mounting volume '{data}': failed to mount local volume: "
                            f"mount none:{data}: no such device")
    assert not is_mountpoint(driver.path("badfs"))


def test_a_create_cut_short_leaves_nothing(tmp_path: Path) -> None:
    """kill -9 between create's two mkdirs leaves an empty volume directory: the next start removes
    it (the volume was never acknowledged); a directory with anything in it is not touched."""
    root = tmp_path / "volumes"
    (root / "halfmade").mkdir(parents=True)
    (root / "notours").mkdir()
    (root / "notours" / "keep").write_text("k")
    drv = LocalDriver(root)
    assert not (root / "halfmade").exists()
    assert (root / "notours" / "keep").read_text() == "k" and "notours" not in drv.names()
