"""The vfs snapshotter: every active snapshot is a full copy of its parent. For hosts without overlay.

Copies use GNU ``cp -a`` (``--preserve=all``: modes, owners, timestamps, xattrs incl. trusted.* as
root, hard links, device nodes, sparse files): it is what Docker's vfs driver amounts to and is far
faster than a Python walk. Views are read-only bind mounts of the parent's tree: nothing to copy.
"""

from __future__ import annotations

import subprocess

from skiff.errors import System
from skiff.storage.base import DirSnapshotter
from skiff.storage.metadata import Record
from skiff.storage.mount import Mount
from skiff.storage.snapshot import Kind, LayerDirs

__all__ = ["VfsSnapshotter"]


class VfsSnapshotter(DirSnapshotter):
    """Full-copy snapshots under ``root/snapshots/<id>``; records in ``root/metadata.db``."""

    capabilities = frozenset[str]()
    name = "vfs"

    def _populate(self, id_: str, parent: Record | None) -> None:
        d = self._dir(id_)
        d.mkdir(mode=0o755)
        if parent is None:
            return
        src = self._dir(parent.id)
        proc = subprocess.run(["cp", "-a", "--", f"{src}/.", f"{d}/"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise System(f"copying snapshot {parent.info.name}: {proc.stderr.strip()}")

    def _active_mounts(self, rec: Record) -> list[Mount]:
        return [Mount("bind", str(self._dir(rec.id)), ("rbind", "rw"))]

    def _view_mounts(self, rec: Record) -> list[Mount]:
        src = self._dir(rec.id)
        if rec.info.parent is not None:
            src = self._dir(self._meta.get(rec.info.parent).id)
        return [Mount("bind", str(src), ("rbind", "ro"))]

    def layer_dirs(self, key: str) -> LayerDirs:
        rec = self._meta.get(key)
        parent = self._meta.get(rec.info.parent) if rec.info.parent is not None else None
        lowers = (self._dir(parent.id),) if parent is not None else ()
        if rec.info.kind is Kind.VIEW:
            return LayerDirs(lowers[0] if lowers else self._dir(rec.id), lowers, overlay=False)
        return LayerDirs(self._dir(rec.id), lowers, overlay=False)
