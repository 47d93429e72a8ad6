"""The overlay2 snapshotter: each layer unpacked once in its own directory, shared by all children.

Layout under ``root`` (Docker's overlay2, containerd's records)::

    metadata.db                  snapshot records (SQLite WAL)
    snapshots/<id>/diff          the layer's own files; overlay whiteouts (char 0:0, opaque xattr)
    snapshots/<id>/work          overlay's workdir for active snapshots
    snapshots/<id>/link          the layer's short name
    l/<short> -> ../snapshots/<id>/diff

An active snapshot with parents mounts as ``overlay`` with ``lowerdir=`` the parents' ``l/<short>``
links (nearest first). The links keep each lower path at ~30 bytes, so a 128-layer chain still fits
the one-page mount option limit once ``mount_all`` makes the paths relative to ``root``.
A snapshot without parents is a bind mount of its diff dir; a view of one layer is a read-only bind.

Capability "rebase": a layer can be prepared without a parent, filled, then committed onto its
parent, because a diff dir's content never depends on the layers below. ``unpack_layers`` uses this
to extract all layers of an image in parallel.
"""

from __future__ import annotations

import os
import secrets
import stat
import string
import tempfile
from pathlib import Path

from skiff.storage.base import DirSnapshotter, remove_tree
from skiff.storage.metadata import Record
from skiff.storage.mount import Mount, filesystem_of, mount_all, unmount_all
from skiff.storage.snapshot import LayerDirs

__all__ = ["Overlay2Snapshotter", "overlay_supported"]

_ALPHABET = string.ascii_uppercase + string.digits
_BACKING_NAMES = {"ext2": "extfs", "ext3": "extfs", "ext4": "extfs"}  # as Docker names them
# Whatever the kernel's defaults: an upper dir must hold plain changes plus whiteouts, nothing that
# needs overlay to read (redirects, metacopy stubs) and no ties to one set of lowers (index), so
# that the upper dir *is* the layer's diff, as with Docker's overlay2 "native diff".
_FEATURES_OFF = ("index=off", "redirect_dir=off", "metacopy=off")


def overlay_supported(root: str | os.PathLike[str] | None = None) -> bool:
    """Whether overlay2 can work: the kernel knows overlayfs and, if ``root`` is given, an overlay
    with whiteouts actually mounts on ``root``'s filesystem (it does not on overlayfs itself, nor
    without root). The daemon picks vfs otherwise."""
    try:
        with open("/proc/filesystems", encoding="ascii") as f:
            if not any(line.split()[-1] == "overlay" for line in f if line.strip()):
                return False
    except OSError:
        return False
    if root is None:
        return True
    os.makedirs(root, exist_ok=True)
    probe = tempfile.mkdtemp(prefix="overlay-check-", dir=root)
    try:
        for d in ("l1", "l2", "upper", "work", "merged"):
            os.mkdir(os.path.join(probe, d))
        os.mknod(os.path.join(probe, "upper", "gone"), stat.S_IFCHR, os.makedev(0, 0))
        opts = (*_FEATURES_OFF, f"lowerdir={probe}/l1:{probe}/l2", f"upperdir={probe}/upper",
                f"workdir={probe}/work")
        mount_all([Mount("overlay", "overlay", opts)], os.path.join(probe, "merged"))
        unmount_all(os.path.join(probe, "merged"))
        return True
    except OSError:
        return False
    finally:
        try:
            unmount_all(os.path.join(probe, "merged"), lazy=True)
        except OSError:
            pass
        remove_tree(Path(probe))


class Overlay2Snapshotter(DirSnapshotter):
    """overlayfs snapshots under ``root``; see the module docstring for the layout."""

    capabilities = frozenset({"rebase"})
    name = "overlay2"

    def status(self) -> list[tuple[str, str]]:
        """What dockerd's overlay2 reports, with our fixed choices (no metacopy, native diff)."""
        fs = filesystem_of(self.root)
        backing = _BACKING_NAMES.get(fs, fs)
        return [("Backing Filesystem", backing), ("Supports d_type", "true"), ("Using metacopy", "false"),
                ("Native Overlay Diff", "true"), ("userxattr", "false")]

    def __init__(self, root: str | os.PathLike[str]) -> None:
        os.makedirs(os.path.join(root, "l"), exist_ok=True)
        self._links: dict[str, str] = {}
        super().__init__(root)

    def _short(self, id_: str) -> str:
        if id_ not in self._links:
            self._links[id_] = (self._dir(id_) / "link").read_text().strip()
        return self._links[id_]

    def _layer_dir(self, id_: str) -> Path:
        return self._dir(id_) / "diff"

    def _populate(self, id_: str, parent: Record | None) -> None:
        d = self._dir(id_)
        d.mkdir(mode=0o700)
        (d / "diff").mkdir(mode=0o755)
        (d / "work").mkdir(mode=0o700)
        while True:
            short = "".join(secrets.choice(_ALPHABET) for _ in range(12))
            try:
                os.symlink(f"../{self._DATA}/{id_}/diff", self.root / "l" / short)
                break
            except FileExistsError:
                continue
        tmp = d / "link.tmp"
        tmp.write_text(short)
        os.replace(tmp, d / "link")
        self._links[id_] = short

    def _discard(self, id_: str) -> None:
        try:
            short = self._short(id_)
            os.unlink(self.root / "l" / short)
        except OSError:
            pass
        self._links.pop(id_, None)
        remove_tree(self._dir(id_))

    def _sweep(self) -> None:
        super()._sweep()
        for entry in os.scandir(self.root / "l"):
            if not os.path.exists(entry.path):
                os.unlink(entry.path)

    def _lowers(self, parent: str | None) -> list[str]:
        if parent is None:
            return []
        return [str(self.root / "l" / self._short(r.id)) for r in self._meta.chain(parent)]

    def _active_mounts(self, rec: Record) -> list[Mount]:
        d = self._dir(rec.id)
        lowers = self._lowers(rec.info.parent)
        if not lowers:
            return [Mount("bind", str(d / "diff"), ("rbind", "rw"))]
        opts = (*_FEATURES_OFF, f"lowerdir={':'.join(lowers)}", f"upperdir={d / 'diff'}",
                f"workdir={d / 'work'}")
        return [Mount("overlay", "overlay", opts)]

    def _view_mounts(self, rec: Record) -> list[Mount]:
        lowers = self._lowers(rec.info.parent)
        if not lowers:
            return [Mount("bind", str(self._dir(rec.id) / "diff"), ("rbind", "ro"))]
        if len(lowers) == 1:  # overlay needs two lowers without an upper
            return [Mount("bind", os.path.realpath(lowers[0]), ("rbind", "ro"))]
        return [Mount("overlay", "overlay", ("ro", f"lowerdir={':'.join(lowers)}"))]

    def layer_dirs(self, key: str) -> LayerDirs:
        rec = self._meta.get(key)
        lowers = tuple(self._dir(r.id) / "diff" for r in self._meta.chain(rec.info.parent)) \
            if rec.info.parent is not None else ()
        return LayerDirs(self._dir(rec.id) / "diff", lowers, overlay=True)
