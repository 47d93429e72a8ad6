"""What overlay2 and vfs share: records in a MetaStore, one data directory per snapshot.

Subclasses only say how a snapshot's directory is filled (``_populate``), what its mounts are
(``_active_mounts``/``_view_mounts``) and where its layer lives (``layer_dirs``).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from skiff.errors import InvalidParameter, System
from skiff.storage.metadata import MetaStore, Record
from skiff.storage.mount import Mount
from skiff.storage.snapshot import Info, Kind, LayerDirs, Usage, WrongSnapshotKind

__all__ = ["DirSnapshotter", "content_size", "disk_usage", "remove_tree"]


def remove_tree(path: Path) -> None:
    """Delete a snapshot directory of any depth (containers can nest deeper than Python recurses,
    which defeats shutil.rmtree); a missing path is fine."""
    if not os.path.lexists(path):
        return
    proc = subprocess.run(["rm", "-rf", "--one-file-system", "--", os.fspath(path)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise System(f"removing {path}: {proc.stderr.strip()}")


def disk_usage(path: Path) -> Usage:
    """du-style usage: allocated bytes and inodes, each hard-linked inode counted once."""
    seen: set[tuple[int, int]] = set()
    size = 0
    stack = [os.fspath(path)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except FileNotFoundError:
            continue
        with it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                size += st.st_blocks * 512
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
    return Usage(size=size, inodes=len(seen))


def content_size(path: Path) -> int:
    """A layer's size as Docker reports it (overlay2 DiffSize): apparent sizes of everything but
    directories, each hard-linked inode counted once. Unlike disk_usage, no block rounding."""
    seen: set[int] = set()
    size = 0
    stack = [os.fspath(path)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except FileNotFoundError:
            continue
        with it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                    continue
                st = e.stat(follow_symlinks=False)
                if st.st_size == 0 or st.st_ino in seen:
                    continue
                seen.add(st.st_ino)
                size += st.st_size
    return size


class DirSnapshotter:
    """Base of the directory-backed snapshotters; see ``skiff.storage.snapshot`` for the model."""

    capabilities: frozenset[str] = frozenset()
    #: the storage driver name ``docker info`` shows ("Storage Driver: overlay2")
    name = ""
    _DATA = "snapshots"

    def status(self) -> list[tuple[str, str]]:
        """``docker info``'s DriverStatus pairs for this driver."""
        return []

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        (self.root / self._DATA).mkdir(parents=True, exist_ok=True)
        self._meta = MetaStore(self.root / "metadata.db")
        self._sweep()

    # -- hooks ---------------------------------------------------------------------------------
    def _populate(self, id_: str, parent: Record | None) -> None:
        raise NotImplementedError

    def _active_mounts(self, rec: Record) -> list[Mount]:
        raise NotImplementedError

    def _view_mounts(self, rec: Record) -> list[Mount]:
        raise NotImplementedError

    def _discard(self, id_: str) -> None:
        remove_tree(self._dir(id_))

    def layer_dirs(self, key: str) -> LayerDirs:
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------------
    def _dir(self, id_: str) -> Path:
        return self.root / self._DATA / id_

    def _layer_dir(self, id_: str) -> Path:
        """The part of a snapshot's directory that is its content (what usage counts)."""
        return self._dir(id_)

    def _sweep(self) -> None:
        """Delete data dirs a crash left without a record (created before it, or removed after)."""
        known = self._meta.ids()
        for entry in os.scandir(self.root / self._DATA):
            if entry.name not in known:
                try:
                    self._discard(entry.name)
                except System:
                    pass  # still mounted somewhere: try again at the next start

    def _create(self, key: str, parent: str | None, labels: Mapping[str, str] | None, kind: Kind) -> Record:
        if not key:
            raise InvalidParameter("snapshot key must not be empty")
        prec = self._meta.get(parent) if parent is not None else None
        if prec is not None and prec.info.kind is not Kind.COMMITTED:
            raise WrongSnapshotKind(parent or "", prec.info.kind, "committed")
        id_ = uuid.uuid4().hex
        try:
            self._populate(id_, prec if kind is Kind.ACTIVE else None)
            self._meta.create(key, id_, kind, parent, labels)
        except BaseException:
            self._discard(id_)
            raise
        return self._meta.get(key)

    def prepare(self, key: str, parent: str | None = None,
                labels: Mapping[str, str] | None = None) -> list[Mount]:
        return self._active_mounts(self._create(key, parent, labels, Kind.ACTIVE))

    def view(self, key: str, parent: str | None = None,
             labels: Mapping[str, str] | None = None) -> list[Mount]:
        return self._view_mounts(self._create(key, parent, labels, Kind.VIEW))

    def mounts(self, key: str) -> list[Mount]:
        rec = self._meta.get(key)
        if rec.info.kind is Kind.ACTIVE:
            return self._active_mounts(rec)
        if rec.info.kind is Kind.VIEW:
            return self._view_mounts(rec)
        raise WrongSnapshotKind(key, rec.info.kind, "active or view")

    def commit(self, name: str, key: str, labels: Mapping[str, str] | None = None,
               parent: str | None = None) -> None:
        rec = self._meta.get(key)
        reparent = parent is not None and parent != rec.info.parent
        if reparent and ("rebase" not in self.capabilities or rec.info.parent is not None):
            raise InvalidParameter(f"snapshot {key}: cannot commit onto a different parent {parent}")
        use = disk_usage(self._layer_dir(rec.id))
        self._meta.commit(name, key, labels, use.size, use.inodes, parent=parent, reparent=reparent)

    def remove(self, key: str) -> None:
        """Drop the record, then the data; if the data cannot go (still mounted: System), the
        record is gone anyway and the directory is swept at the next start."""
        rec = self._meta.remove(key)
        self._discard(rec.id)

    def stat(self, key: str) -> Info:
        return self._meta.get(key).info

    def walk(self) -> Iterator[Info]:
        return self._meta.walk()

    def usage(self, key: str) -> Usage:
        rec = self._meta.get(key)
        if rec.info.kind is Kind.COMMITTED and rec.size >= 0:
            return Usage(rec.size, rec.inodes)
        if rec.info.kind is Kind.VIEW:
            return Usage(0, 0)
        return disk_usage(self._layer_dir(rec.id))

    def close(self) -> None:
        self._meta.close()
