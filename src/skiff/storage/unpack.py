"""Unpack an image's layers into a snapshotter: the entry point for ``skiff.image``.

Each layer becomes a committed snapshot named by its chain ID (OCI image-spec: ``chain(L0) =
diff_id(L0)``, ``chain(Ln) = sha256(chain(Ln-1) + " " + diff_id(Ln))``), so layers shared between
images are unpacked once. Layers already present are reused.

With a "rebase" snapshotter (overlay2) every missing layer is prepared without a parent and extracted
concurrently into its own directory (a child process per blob file, else a thread), then the layers
are committed bottom-up onto their parents. Other snapshotters (vfs) need the parent's content first
and go one by one.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from skiff.errors import NotFound, Unimplemented
from skiff.storage.archive.apply import AppliedLayer, apply_layer
from skiff.storage.archive.safedir import UnsafeEntry
from skiff.storage.archive.worker import apply_in_subprocess, is_regular_file
from skiff.storage.snapshot import Kind, LayerAccess, SnapshotExists, Snapshotter
from skiff.sys.syncfs import syncfs

__all__ = ["LayerSource", "UnpackedLayer", "chain_ids", "remove_unfinished_unpacks", "unpack_layers"]

EXTRACT_PREFIX = "extract-"

#: smaller blobs are not worth a child process (~70-100 ms to start Python and import us)
PROCESS_MIN_BYTES = 32 << 20


@dataclass(frozen=True)
class LayerSource:
    """One layer to unpack: its diff ID (from the image config) and how to open its blob.

    ``open`` returns a fresh binary stream of the blob as stored (gzip, zstd or plain tar); it is
    called once, from a worker thread, and the stream is closed after use.
    """

    diff_id: str
    open: Callable[[], BinaryIO]


@dataclass(frozen=True)
class UnpackedLayer:
    chain_id: str
    diff_id: str
    size: int       # uncompressed tar bytes; -1 when the layer was already there
    reused: bool
    content_size: int = -1  # the sum of its entries' sizes (AppliedLayer.content_size)


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The chain ID of each layer prefix (OCI image-spec config.md)."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def _exists(sn: Snapshotter, name: str) -> bool:
    try:
        sn.stat(name)
        return True
    except NotFound:
        return False


class _Counting(io.RawIOBase):
    """Reports the blob bytes read so far to a progress callback (thread path)."""

    def __init__(self, inner: BinaryIO, report: Callable[[int], None]) -> None:
        self.inner, self.report, self.seen = inner, report, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self.inner.readinto(b) if hasattr(self.inner, "readinto") else self._read_into(b)
        self.seen += n or 0
        self.report(self.seen)
        return int(n or 0)

    def _read_into(self, b: Any) -> int:
        data = self.inner.read(len(b))
        b[:len(data)] = data
        return len(data)


def _apply(sn: LayerAccess, key: str, layer: LayerSource, processes: bool,
           report: Callable[[int], None] | None) -> AppliedLayer:
    dirs = sn.layer_dirs(key)
    with layer.open() as stream:
        if processes and is_regular_file(stream, PROCESS_MIN_BYTES):
            return apply_in_subprocess(dirs.upper, stream, overlay_whiteouts=dirs.overlay,
                                       expected_diff_id=layer.diff_id, progress=report)
        src = cast(BinaryIO, _Counting(stream, report)) if report is not None else stream
        return apply_layer(dirs.upper, src, overlay_whiteouts=dirs.overlay,
                           expected_diff_id=layer.diff_id)


def _lstat_in(layer: Path, rel: str) -> os.stat_result | None:
    """lstat of ``rel`` inside one layer dir, or None if a parent there is missing or not a dir."""
    path = layer
    parts = rel.split("/")
    for i, part in enumerate(parts):
        path = path / part
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            return None
    return st


def _refuse_lower_symlinks(implicit_dirs: Sequence[str], lowers: Sequence[Path]) -> None:
    """A directory a layer only implied (``bin`` for ``bin/app``) must not be a symlink in the
    nearest lower layer that has the path: the layer would be writing through it (merged /usr)."""
    for rel in implicit_dirs:
        for low in lowers:
            st = _lstat_in(low, rel)
            if st is None:
                continue
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeEntry(rel + "/", f"{rel} is a symlink in a lower layer; writing through it "
                                             "is refused")
            break


def _reporter(progress: Callable[[int, int], None] | None, i: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    return lambda n: progress(i, n)


def _commit(sn: Snapshotter, name: str, key: str, parent: str | None, rebase: bool) -> None:
    try:
        if rebase:
            sn.commit(name, key, parent=parent)
        else:
            sn.commit(name, key)
    except SnapshotExists:  # another unpack of the same layer won the race: use theirs
        sn.remove(key)


def unpack_layers(sn: Snapshotter, layers: Sequence[LayerSource], *,
                  max_workers: int | None = None, processes: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> list[UnpackedLayer]:
    """Make sure every layer of ``layers`` (bottom first) is a committed snapshot; return them.

    With ``processes`` (default), a layer whose stream is a plain open file (a content-store blob)
    of 32 MiB or more is extracted by a child process (``archive.worker``): true parallelism, and
    the daemon's GIL stays free; other streams are extracted in threads. ``progress(index in
    layers, blob bytes read so far)`` reports extraction progress, from worker threads (use it
    rather than a wrapping stream: a wrapper object forces the thread path).

    The top layer's chain ID is the parent to ``prepare`` a container from. Raises
    ``DiffIDMismatch``/``UnsafeEntry`` (InvalidParameter) for a bad layer; nothing of a failed
    unpack is left behind (layers committed below the failing one stay: they are valid).
    """
    if not isinstance(sn, LayerAccess):
        raise Unimplemented(f"snapshotter {type(sn).__name__} cannot unpack layers")
    chains = chain_ids([layer.diff_id for layer in layers])
    first = len(layers)
    for i in range(len(layers) - 1, -1, -1):
        if _exists(sn, chains[i]):
            break
        first = i
    result = [UnpackedLayer(chains[i], layers[i].diff_id, -1, True) for i in range(first)]
    todo = range(first, len(layers))
    if not todo:
        return result
    tag = uuid.uuid4().hex[:12]
    keys = {i: f"{EXTRACT_PREFIX}{tag}-{i} {chains[i]}" for i in todo}
    pending = set(todo)
    rebase = "rebase" in sn.capabilities
    try:
        if rebase:
            for i in todo:
                sn.prepare(keys[i])
            workers = max_workers or min(4, os.cpu_count() or 1)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="unpack") as pool:
                futures = {i: pool.submit(_apply, sn, keys[i], layers[i], processes,
                                          _reporter(progress, i)) for i in todo}
                applied = {i: f.result() for i, f in futures.items()}
            base = sn.layer_dirs(chains[first - 1]) if first else None
            below = [base.upper, *base.lowers] if base is not None else []
            for i in todo:  # bottom up: each layer's implicit dirs against everything under it
                _refuse_lower_symlinks(applied[i].implicit_dirs, below)
                below.insert(0, sn.layer_dirs(keys[i]).upper)
            syncfs(sn.layer_dirs(keys[first]).upper)  # data on disk before the records say it exists
            for i in todo:
                _commit(sn, chains[i], keys[i], chains[i - 1] if i else None, rebase=True)
                pending.discard(i)
        else:
            applied = {}
            for i in todo:
                sn.prepare(keys[i], chains[i - 1] if i else None)
                applied[i] = _apply(sn, keys[i], layers[i], processes, _reporter(progress, i))
                syncfs(sn.layer_dirs(keys[i]).upper)
                _commit(sn, chains[i], keys[i], None, rebase=False)
                pending.discard(i)
    finally:
        for i in pending:
            try:
                sn.remove(keys[i])
            except NotFound:
                pass
    result += [UnpackedLayer(chains[i], applied[i].diff_id, applied[i].size, False, applied[i].content_size)
               for i in todo]
    return result


def remove_unfinished_unpacks(sn: Snapshotter) -> list[str]:
    """Remove the active ``extract-*`` snapshots a killed unpack left behind; return their keys.

    Call it once when the daemon starts, before any pull: an unpack in progress would lose its work.
    """
    stale = [i.name for i in sn.walk() if i.kind is Kind.ACTIVE and i.name.startswith(EXTRACT_PREFIX)]
    for key in stale:
        try:
            sn.remove(key)
        except NotFound:
            pass
    return stale
