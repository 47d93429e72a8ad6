"""Storage fixtures: a snapshotter of each kind on a temp root, and mounts that always go away."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from skiff.storage import Mount, Overlay2Snapshotter, Snapshotter, VfsSnapshotter, mount_all, unmount_all
from skiff.storage.base import DirSnapshotter

KINDS = {"overlay2": Overlay2Snapshotter, "vfs": VfsSnapshotter}


@pytest.fixture(params=sorted(KINDS))
def snapshotter_kind(request: pytest.FixtureRequest) -> str:
    """The name of the snapshotter under test (conformance tests run once per kind)."""
    return str(request.param)


@pytest.fixture
def snapshotter(snapshotter_kind: str, tmp_path: Path) -> Iterator[DirSnapshotter]:
    """A fresh snapshotter on ``tmp_path/<kind>``, closed after the test."""
    sn = KINDS[snapshotter_kind](tmp_path / snapshotter_kind)
    try:
        yield sn
    finally:
        sn.close()


class Mounter:
    """Mounts specs on fresh dirs under ``base``; ``cleanup`` unmounts every one of them."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.targets: list[Path] = []
        base.mkdir(exist_ok=True)

    def mount(self, mounts: list[Mount]) -> Path:
        target = self.base / f"m{len(self.targets)}"
        target.mkdir()
        self.targets.append(target)
        mount_all(mounts, target)
        return target

    def unmount(self, target: Path) -> None:
        unmount_all(target)

    @contextlib.contextmanager
    def mounted(self, mounts: list[Mount]) -> Iterator[Path]:
        target = self.mount(mounts)
        try:
            yield target
        finally:
            unmount_all(target)

    def cleanup(self) -> None:
        for t in reversed(self.targets):
            try:
                unmount_all(t)
            except OSError:
                unmount_all(t, lazy=True)


@pytest.fixture
def mounter(tmp_path: Path) -> Iterator[Mounter]:
    """Mount helper whose mounts are all removed at teardown, even when the test fails."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    m = Mounter(tmp_path / "mnt")
    try:
        yield m
    finally:
        m.cleanup()


def prepare_and_fill(sn: Snapshotter, mounter: Mounter, key: str, parent: str | None,
                     files: dict[str, bytes | None]) -> None:
    """prepare ``key`` on ``parent``, write ``files`` (None = delete) through a real mount."""
    with mounter.mounted(sn.prepare(key, parent)) as root:
        for rel, data in files.items():
            p = root / rel
            if data is None:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
            else:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(data)
