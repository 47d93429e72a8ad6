"""The Snapshotter protocol: copy-on-write filesystem trees handed out as mount specs.

The model (containerd's, ``core/snapshots/snapshotter.go``):

* A snapshot is a directory tree. It is **active** (writable, made by ``prepare``), a **view**
  (read-only, made by ``view``) or **committed** (read-only forever, made by ``commit``). An active
  snapshot never becomes a view and a committed snapshot never becomes active again: ``commit``
  consumes the active snapshot and creates a committed one in its place.
* Active snapshots and views are addressed by a **key**; committed snapshots by a **name**. Keys and
  names share one namespace, so a key may not equal an existing name.
* Every snapshot may have a **parent**, which must be committed. The child starts as the parent's
  content; changes to the child never reach the parent. A snapshot with children cannot be removed
  (``Conflict``): remove the children first.
* A snapshotter never mounts anything. ``prepare``/``view``/``mounts`` return a list of
  :class:`~skiff.storage.mount.Mount` specs; the caller mounts them (``mount_all``) wherever it
  wants, or passes them to a runtime.

Worked example 1, unpacking an image's layers (what ``unpack_layers`` does)::

    parent = None
    for layer in layers:                          # bottom layer first
        key = f"extract-{random} {chain_id}"
        mounts = sn.prepare(key, parent)          # empty dir, or parent content on overlay
        apply the layer tar into the mounted tree (or, for overlay2, straight into its upper dir)
        sn.commit(chain_id, key)                  # the layer now exists under its chain ID
        parent = chain_id

Worked example 2, running a container on that image::

    mounts = sn.prepare(container_id, top_chain_id)   # writable layer over the image
    mount_all(mounts, rootfs); run; unmount_all(rootfs)
    sn.remove(container_id)                           # or commit it to make a new image layer

Snapshotters with the ``"rebase"`` capability accept ``commit(name, key, parent=...)``: the active
snapshot was prepared without a parent (so several layers can be extracted in parallel, each into
its own directory) and is committed on top of ``parent``. overlay2 has it; vfs (full copies) does not.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from skiff.errors import Conflict, InvalidParameter, NotFound
from skiff.storage.mount import Mount

__all__ = [
    "Info", "Kind", "LayerAccess", "LayerDirs", "Snapshotter", "Usage",
    "SnapshotExists", "SnapshotHasChildren", "SnapshotNotFound", "WrongSnapshotKind",
]


class Kind(enum.Enum):
    """What a snapshot is; it never changes after creation (commit makes a new one)."""

    VIEW = "view"
    ACTIVE = "active"
    COMMITTED = "committed"


@dataclass(frozen=True)
class Info:
    """The record of one snapshot. ``name`` is the key (active/view) or the name (committed)."""

    kind: Kind
    name: str
    parent: str | None
    created: float
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    """Disk used by the snapshot's own layer (not its parents): bytes and inodes."""

    size: int
    inodes: int


class SnapshotNotFound(NotFound):
    def __init__(self, key: str) -> None:
        super().__init__(f"snapshot {key}: not found")


class SnapshotExists(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__(f"snapshot {key}: already exists")


class SnapshotHasChildren(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__(f"snapshot {key}: cannot remove a snapshot that has children")


class WrongSnapshotKind(InvalidParameter):
    def __init__(self, key: str, kind: Kind, wanted: str) -> None:
        super().__init__(f"snapshot {key} is {kind.value}, not {wanted}")


@runtime_checkable
class Snapshotter(Protocol):
    """Copy-on-write snapshots as mount specs; see the module docstring for the model.

    Raises (all methods): ``SnapshotNotFound`` (NotFound) for an unknown key or parent,
    ``SnapshotExists`` (Conflict) when a key/name is taken, ``SnapshotHasChildren`` (Conflict) from
    ``remove``, ``WrongSnapshotKind`` (InvalidParameter) e.g. committing a view or using an active
    snapshot as a parent.
    """

    #: "rebase" when ``commit`` accepts ``parent=``; see the module docstring.
    capabilities: frozenset[str]

    def prepare(self, key: str, parent: str | None = None,
                labels: Mapping[str, str] | None = None) -> list[Mount]:
        """Create a writable snapshot ``key`` holding ``parent``'s content; return its mounts."""
        ...

    def view(self, key: str, parent: str | None = None,
             labels: Mapping[str, str] | None = None) -> list[Mount]:
        """Create a read-only snapshot ``key`` of ``parent``; return its (read-only) mounts."""
        ...

    def mounts(self, key: str) -> list[Mount]:
        """The mounts of an existing active snapshot or view."""
        ...

    def commit(self, name: str, key: str, labels: Mapping[str, str] | None = None,
               parent: str | None = None) -> None:
        """Turn active snapshot ``key`` into committed ``name``; ``key`` ceases to exist.

        ``parent`` (only with the "rebase" capability) re-parents a snapshot prepared without one.
        """
        ...

    def remove(self, key: str) -> None:
        """Remove a snapshot of any kind and its data; refuse if it has children."""
        ...

    def stat(self, key: str) -> Info:
        """The record of one snapshot."""
        ...

    def walk(self) -> Iterator[Info]:
        """Every snapshot, in no particular order."""
        ...

    def usage(self, key: str) -> Usage:
        """Bytes and inodes of the snapshot's own layer."""
        ...

    def close(self) -> None:
        """Release the metadata store; the snapshotter is unusable afterwards."""
        ...


@dataclass(frozen=True)
class LayerDirs:
    """Where a snapshot's own layer lives on disk, for applying and diffing without mounting.

    ``upper`` is the snapshot's own directory: on overlay2 its upper (diff) dir, holding only its
    changes with overlay whiteouts (``overlay=True``); on vfs a full copy of the tree. ``lowers`` are
    the parents' directories, nearest first (vfs: just the parent's full tree).
    """

    upper: Path
    lowers: tuple[Path, ...]
    overlay: bool


@runtime_checkable
class LayerAccess(Protocol):
    """Snapshotters whose layers are plain directories (overlay2, vfs)."""

    def layer_dirs(self, key: str) -> LayerDirs:
        """The directories of snapshot ``key`` (any kind)."""
        ...
