"""Snapshots (overlay2, vfs) and layer apply/diff: where image layers and container rootfs live.

How to use it (for ``skiff.image``, ``skiff.engine``, ``skiff.build``)::

    from skiff.storage import Overlay2Snapshotter, VfsSnapshotter, overlay_supported
    root = data_root / "overlay2"
    sn = Overlay2Snapshotter(root) if overlay_supported(root) else VfsSnapshotter(data_root / "vfs")
    remove_unfinished_unpacks(sn)                        # at daemon start: what a kill -9 left
    sn.name, sn.status()                                 # docker info: Driver, DriverStatus pairs

    # pull: unpack layers (bottom first); each becomes a committed snapshot named by its chain ID
    layers = [LayerSource(diff_id, lambda p=blob_path: open(p, "rb")) for ...]
    top = unpack_layers(sn, layers, progress=on_progress)[-1].chain_id
    #   parallel on overlay2 (blob files >= 32 MiB in worker processes, so pass plain open files and
    #   take progress(i, bytes_read) rather than wrapping the stream); reuses shared layers;
    #   verifies each diff ID; refuses unsafe layers (UnsafeEntry) and leaves nothing behind

    # run: a writable snapshot over the image's shared init layer (mount points), mounted by the caller
    init = ensure_init_layer(sn, top, scratch_dir)       # "<top>-init", made once (see initlayer)
    mounts = sn.prepare(container_id, init)              # list[Mount]; the snapshotter never mounts
    mount_all(mounts, rootfs_dir) ... unmount_all(rootfs_dir); sn.remove(container_id)

    # docker diff / commit / build: the container's changes as a layer tar
    changes(sn.layer_dirs(container_id))                 # [Change(path, kind 0|1|2)]
    written = write_diff(sn.layer_dirs(container_id), out_file)   # diff_id, size (uncompressed)
    sn.commit(new_chain_id, container_id) or apply it elsewhere with apply_layer(...)

    # docker export: the merged tree of a mounted rootfs as one tar
    write_tree(rootfs_dir, out_file)                     # -> WrittenDiff(diff_id, size)

    # a single layer into a plain directory (docker import, build contexts, cp):
    apply_layer(dest_dir, stream, overlay_whiteouts=False) -> AppliedLayer(diff_id, size, compression)

The model (active / view / committed, keys vs names) is taught in ``skiff.storage.snapshot``.
Errors: ``UnsafeEntry`` and ``DiffIDMismatch`` are InvalidParameter; ``SnapshotNotFound`` is
NotFound; ``SnapshotExists``/``SnapshotHasChildren`` are Conflict.
"""

from skiff.storage.archive import (
    AppliedLayer,
    Change,
    ChangeKind,
    Compression,
    DiffIDMismatch,
    UnsafeEntry,
    WrittenDiff,
    apply_layer,
    changes,
    detect,
    write_diff,
    write_tree,
)
from skiff.storage.base import content_size
from skiff.storage.initlayer import ensure_init_layer, is_init_layer, remove_init_layer
from skiff.storage.mount import Mount, mount_all, unmount_all
from skiff.storage.overlay2 import Overlay2Snapshotter, overlay_supported
from skiff.storage.snapshot import (
    Info,
    Kind,
    LayerAccess,
    LayerDirs,
    SnapshotExists,
    SnapshotHasChildren,
    SnapshotNotFound,
    Snapshotter,
    Usage,
    WrongSnapshotKind,
)
from skiff.storage.unpack import (
    LayerSource,
    UnpackedLayer,
    chain_ids,
    remove_unfinished_unpacks,
    unpack_layers,
)
from skiff.storage.vfs import VfsSnapshotter

__all__ = [
    "AppliedLayer", "Change", "ChangeKind", "Compression", "DiffIDMismatch", "Info", "Kind",
    "LayerAccess", "LayerDirs", "LayerSource", "Mount", "Overlay2Snapshotter", "SnapshotExists",
    "SnapshotHasChildren", "SnapshotNotFound", "Snapshotter", "UnpackedLayer", "UnsafeEntry",
    "Usage", "VfsSnapshotter", "WrittenDiff", "WrongSnapshotKind", "apply_layer", "chain_ids",
    "changes", "content_size", "detect", "ensure_init_layer", "is_init_layer", "remove_init_layer", "mount_all", "overlay_supported", "remove_unfinished_unpacks", "unmount_all", "unpack_layers",
    "write_diff", "write_tree",
]
