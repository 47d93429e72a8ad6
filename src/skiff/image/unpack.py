"""The seam to the snapshotters: unpack an image's layers into committed snapshots by chain ID.

:class:`Unpacker` is declared here, by its user. :class:`SnapshotUnpacker` implements it with
``skiff.storage.unpack.unpack_layers`` (parallel extraction on overlay2, diff IDs verified while
extracting); :class:`DigestOnlyUnpacker` only verifies diff IDs, for stores that never run containers
(registry mirrors, tests, benchmarks).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from skiff.errors import Conflict, NotFound
from skiff.image.errors import DigestMismatch
from skiff.image.layers import DigestingReader, open_uncompressed
from skiff.oci.digest import Digest, chain_ids
from skiff.storage.base import content_size
from skiff.storage.initlayer import is_init_layer, remove_init_layer
from skiff.storage.snapshot import Kind, Snapshotter
from skiff.storage.unpack import LayerSource, unpack_layers

__all__ = ["Unpacker", "DigestOnlyUnpacker", "SnapshotUnpacker", "CountingFile", "OnBytes"]

_CHAIN = re.compile(r"^sha256:[a-f0-9]{64}$")

#: on_bytes(layer index, compressed bytes read); may be called from worker threads.
OnBytes = Callable[[int, int], None]


class Unpacker(Protocol):
    #: True if diff IDs computed while downloading (``verified``) save this unpacker a pass.
    streaming_verify: bool

    def has(self, chain_id: Digest) -> bool:
        """True if the layer stack up to ``chain_id`` is unpacked (a committed snapshot)."""
        ...

    def unpack(self, layers: Sequence[tuple[Digest, Path]], on_bytes: OnBytes | None = None,
               verified: Mapping[Path, tuple[Digest, int]] | None = None) -> list[int]:
        """Make every (diff ID, blob) of the image, bottom first, a committed snapshot named by its
        chain ID. Returns each layer's size (its content size where the unpack counts it, else its
        uncompressed tar bytes; -1 if it was already there). Blocking.
        Raises InvalidParameter/DigestMismatch for a layer whose diff ID differs; nothing partial stays."""
        ...

    def adopt(self, key: str, chain_id: Digest) -> None:
        """Commit active snapshot ``key`` (prepared on the parent layer, holding exactly this layer's
        changes) as layer ``chain_id``, instead of unpacking its tar again. If that layer exists
        already, ``key`` is removed instead. Either way ``key`` is gone afterwards."""
        ...

    def remove(self, chain_id: Digest) -> None:
        """Remove the snapshot; NotFound is ignored; Conflict if it has children."""
        ...

    def usage(self, chain_id: Digest) -> int:
        """Bytes used by this layer alone (-1 if unknown)."""
        ...

    def cleanup(self, keep: set[str] | None = None) -> list[str]:
        """Remove what interrupted unpacks left (active ``extract-`` snapshots) and, with ``keep``,
        committed layer snapshots (named ``sha256:...``) that are not in it and have no children.
        Returns the removed names."""
        ...


class CountingFile:
    """A binary file that reports bytes read (for "Extracting" progress)."""

    def __init__(self, f: BinaryIO, on_bytes: Callable[[int], None] | None) -> None:
        self._f, self._cb = f, on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        if data and self._cb:
            self._cb(len(data))
        return data

    def readinto(self, b: Any) -> int:
        n = self._f.readinto(b)  # type: ignore[attr-defined]
        if n and self._cb:
            self._cb(n)
        return int(n or 0)

    def __enter__(self) -> CountingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


class DigestOnlyUnpacker:
    """Verifies layers (diff ID) without extracting them; ``has`` remembers what was verified."""

    streaming_verify = True

    def __init__(self) -> None:
        self._known: dict[str, int] = {}

    def has(self, chain_id: Digest) -> bool:
        return chain_id in self._known

    def unpack(self, layers: Sequence[tuple[Digest, Path]], on_bytes: OnBytes | None = None,
               verified: Mapping[Path, tuple[Digest, int]] | None = None) -> list[int]:
        chains = chain_ids([d for d, _ in layers])

        def verify(i: int) -> int:
            diff_id, blob = layers[i]
            if chains[i] in self._known:
                return -1
            seen = (verified or {}).get(blob)
            if seen is not None:  # hashed while it was downloaded
                if seen[0] != diff_id:
                    raise DigestMismatch(diff_id, seen[0])
                return seen[1]
            cb = (lambda n: on_bytes(i, n)) if on_bytes else None
            with open(blob, "rb") as f:
                r = DigestingReader(open_uncompressed(CountingFile(f, cb)))  # type: ignore[arg-type]
                r.drain()
            if r.digester.digest() != diff_id:
                raise DigestMismatch(diff_id, r.digester.digest())
            return r.digester.size
        # decompression and hashing release the GIL: verify layers in parallel
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1, max(1, len(layers)))) as pool:
            sizes = list(pool.map(verify, range(len(layers))))
        for c, size in zip(chains, sizes, strict=True):
            if size >= 0:
                self._known[c] = size
        return sizes

    def adopt(self, key: str, chain_id: Digest) -> None:
        self._known[chain_id] = -1

    def remove(self, chain_id: Digest) -> None:
        self._known.pop(chain_id, None)

    def cleanup(self, keep: set[str] | None = None) -> list[str]:
        if keep is None:
            return []
        gone = [c for c in self._known if c not in keep]
        for c in gone:
            del self._known[c]
        return gone

    def usage(self, chain_id: Digest) -> int:
        return self._known.get(chain_id, -1)


class SnapshotUnpacker:
    """Unpack into a ``skiff.storage`` snapshotter (overlay2 or vfs)."""

    streaming_verify = False  # extraction verifies diff IDs itself

    def __init__(self, snapshotter: Snapshotter, max_workers: int | None = None) -> None:
        self.sn = snapshotter
        self.max_workers = max_workers

    def has(self, chain_id: Digest) -> bool:
        try:
            return self.sn.stat(str(chain_id)).kind is Kind.COMMITTED
        except NotFound:
            return False

    def unpack(self, layers: Sequence[tuple[Digest, Path]], on_bytes: OnBytes | None = None,
               verified: Mapping[Path, tuple[Digest, int]] | None = None) -> list[int]:
        def opener(i: int, path: Path) -> Callable[[], BinaryIO]:
            def open_() -> BinaryIO:
                cb = (lambda n: on_bytes(i, n)) if on_bytes else None
                return CountingFile(open(path, "rb"), cb)  # type: ignore[return-value]
            return open_
        srcs = [LayerSource(diff_id=str(d), open=opener(i, p)) for i, (d, p) in enumerate(layers)]
        done = unpack_layers(self.sn, srcs, max_workers=self.max_workers)
        # the size a layer is shown with where usage() cannot measure it (vfs): its content, as
        # dockerd's UnpackLayer counts it, not its tar bytes
        return [u.size if u.size < 0 or u.content_size < 0 else u.content_size for u in done]

    def adopt(self, key: str, chain_id: Digest) -> None:
        if self.has(chain_id):  # the same layer exists already (a rebuild): use that one
            self.sn.remove(key)
            return
        try:
            self.sn.commit(str(chain_id), key)
        except Conflict:  # committed meanwhile by another build (SnapshotExists)
            self.sn.remove(key)

    def remove(self, chain_id: Digest) -> None:
        remove_init_layer(self.sn, str(chain_id))  # its containers' shared init layer, unless one is left
        try:
            self.sn.remove(str(chain_id))
        except NotFound:
            pass

    def usage(self, chain_id: Digest) -> int:
        """The layer's size as Docker shows it: on overlay2 the content of its own diff dir
        (content_size); on vfs, where a snapshot is the whole tree, -1 (the caller keeps the
        applied size)."""
        try:
            dirs = self.sn.layer_dirs(str(chain_id)) if hasattr(self.sn, "layer_dirs") else None
            if dirs is None or not dirs.overlay:
                return -1
            return content_size(dirs.upper)
        except NotFound:
            return -1

    def cleanup(self, keep: set[str] | None = None) -> list[str]:
        removed: list[str] = []
        for info in list(self.sn.walk()):
            if info.kind is not Kind.COMMITTED and info.name.startswith("extract-"):
                with contextlib.suppress(NotFound, Conflict):
                    self.sn.remove(info.name)
                    removed.append(info.name)
        if keep is None:
            return removed
        progress = True
        while progress:  # top layers first: a parent goes once its children are gone
            progress = False
            infos = list(self.sn.walk())
            parents = {i.parent for i in infos if i.parent}
            for info in infos:
                layer = info.parent if is_init_layer(info.name) else info.name  # an init layer goes with its layer
                if (info.kind is Kind.COMMITTED and layer and _CHAIN.match(layer) and layer not in keep
                        and info.name not in parents):
                    with contextlib.suppress(NotFound, Conflict):
                        self.sn.remove(info.name)
                        removed.append(info.name)
                        progress = True
        return removed
