"""Make images locally: ``docker import`` (a rootfs tarball -> a one-layer image) and the shared
step the engine's commit and the builder use (layer tars + a config -> a stored image).

Each layer tar is read once: hashed uncompressed (diff ID) and gzip-compressed (isal) into the
content store (blob digest). A Docker schema2 manifest is written too, so the image can be pushed
and saved like a pulled one.
"""

from __future__ import annotations

import datetime
import io
import os
import tarfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, cast

import zstandard
from isal import igzip

from skiff.image.content import ContentStore
from skiff.image.layers import detect_compression
from skiff.image.store import ImageRecord, ImageStore, LayerRecord
from skiff.image.unpack import Unpacker
from skiff.oci import mediatypes as mt
from skiff.oci.digest import Digest, chain_ids
from skiff.oci.image_spec import Descriptor, History, ImageConfig, Manifest
from skiff.storage.archive.tarstream import TarReader

__all__ = ["ingest_layer", "store_image", "now_rfc3339", "import_config", "export_rootfs"]

_CHUNK = 1 << 20


def now_rfc3339() -> str:
    """RFC 3339 with nanoseconds, UTC, as Go writes time.Time in JSON."""
    t = datetime.datetime.now(datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


class _Tee(io.RawIOBase):
    """A write-only sink that hashes compressed bytes into a content writer."""

    def __init__(self, write: object) -> None:
        self._write = write

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._write(bytes(b))  # type: ignore[operator]
        return len(b)


def ingest_layer(content: ContentStore, tar: BinaryIO) -> tuple[Descriptor, Digest, int]:
    """Store ``tar`` (plain, gzip or zstd) as a gzip layer blob.

    Returns (blob descriptor, diff ID, content size). The content size is what Docker reports for
    a layer it applied (the sum of its entries' sizes, moby's UnpackLayer): 0 for a layer with no
    file data, where the tar itself is at least its 1024-byte end blocks. Blocking.
    """
    head = tar.read(4)
    kind = detect_compression(head)
    raw: Any = io.BufferedReader(_Prefixed(head, tar))
    if kind == "gzip":
        raw = igzip.IGzipFile(fileobj=raw, mode="rb")
    elif kind == "zstd":
        raw = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    with content.writer() as w:
        z = igzip.IGzipFile(fileobj=_Tee(w.write), mode="wb", compresslevel=1, mtime=0)
        reader = TarReader(cast(BinaryIO, _Copying(raw, z.write)), _CHUNK)  # parsed and stored in one pass
        data = 0
        try:
            for h in reader:
                data += h.realsize if h.sparse is not None else h.size
            reader.finish()
        finally:
            reader.close()
        z.close()
        digest = w.commit()
        size = w.offset
    diff_id = Digest.parse("sha256:" + reader.sha256.hexdigest())
    return Descriptor(media_type=mt.DOCKER_LAYER_GZIP, digest=digest, size=size), diff_id, data


class _Copying(io.RawIOBase):
    """Reads ``src`` and hands every byte read to ``sink`` as well."""

    def __init__(self, src: Any, sink: Any) -> None:
        self._src, self._sink = src, sink

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._src.read(len(b))
        if not data:
            return 0
        n = len(data)
        b[:n] = data
        self._sink(data)
        return n


class _Prefixed(io.RawIOBase):
    """Re-attach the magic bytes read for detection to the front of a stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[:len(data)] = data
        return len(data)


def store_image(content: ContentStore, images: ImageStore, unpacker: Unpacker, config: ImageConfig,
                layers: Sequence[tuple[Descriptor, Digest, int]], refs: Sequence[str] = (),
                snapshot_key: str = "") -> ImageRecord:
    """Record an image whose layer blobs (all of them, bottom first) are already in ``content``;
    ``config.diff_ids`` is set from them. Unpacks, writes config and manifest. Blocking.

    ``snapshot_key``: an active snapshot (on the second-to-last layer) that already holds the last
    layer's files, e.g. a build step's workspace; it is committed as that layer instead of
    extracting the tar again."""
    leased = [desc.digest for desc, _, _ in layers]
    for d in leased:
        content.lease(d)
    try:
        return _store_image(content, images, unpacker, config, layers, refs, leased, snapshot_key)
    finally:
        for d in leased:
            content.release(d)


def _store_image(content: ContentStore, images: ImageStore, unpacker: Unpacker, config: ImageConfig,
                 layers: Sequence[tuple[Descriptor, Digest, int]], refs: Sequence[str],
                 leased: list[Digest], snapshot_key: str) -> ImageRecord:
    diff_ids = tuple(d for _, d, _ in layers)
    # The parent is the record's, not the config's: dockerd's builder and commit keep it in
    # metadata beside the config, so the image ID (and what a push sends) does not depend on it.
    parent = config.parent
    cfg = config.with_changes(diff_ids=diff_ids, parent="")
    cfg_bytes = cfg.to_json()
    cfg_digest = content.put(cfg_bytes)
    content.lease(cfg_digest)
    leased.append(cfg_digest)
    manifest = Manifest(media_type=mt.DOCKER_MANIFEST,
                        config=Descriptor(media_type=mt.DOCKER_CONFIG, digest=cfg_digest, size=len(cfg_bytes)),
                        layers=tuple(d for d, _, _ in layers))
    mbytes = manifest.to_json()
    mdigest = content.put(mbytes)
    content.lease(mdigest)
    leased.append(mdigest)
    chains = chain_ids(list(diff_ids))
    if snapshot_key and layers:
        unpacker.unpack([(d, content.path(desc.digest)) for desc, d, _ in layers[:-1]])
        unpacker.adopt(snapshot_key, chains[-1])
    else:
        unpacker.unpack([(d, content.path(desc.digest)) for desc, d, _ in layers])
    # the same measure as a pull (transports/local.py): Docker's content size where the
    # snapshotter gives it, else the uncompressed tar size
    sizes = [unpacker.usage(chains[i]) for i in range(len(layers))]
    recs = tuple(LayerRecord(diff_id=d, chain_id=chains[i], blob=desc.digest, media_type=desc.media_type,
                             blob_size=desc.size, size=sizes[i] if sizes[i] >= 0 else usize)
                 for i, (desc, d, usize) in enumerate(layers))
    rec = ImageRecord(id=cfg_digest, layers=recs, manifest_digest=mdigest, manifest_media_type=mt.DOCKER_MANIFEST,
                      created=cfg.created, size=sum(max(s, 0) for s in (x.size for x in recs)),
                      parent=parent)
    images.put(rec, refs)
    return rec


def import_config(config: ImageConfig | None, *, message: str = "", source: str = "-",
                  platform: tuple[str, str, str] = ("linux", "amd64", "")) -> ImageConfig:
    """The config of an imported image: the caller's parsed changes, a history entry like Docker's."""
    created = now_rfc3339()
    base = config or ImageConfig()
    os_, arch, variant = platform
    hist = History(created=created, created_by="", comment=message or f"Imported from {source}")
    return replace(base, raw=b"", created=created, os=os_, architecture=arch, variant=variant,
                   history=(hist,), comment=message, diff_ids=())


def export_rootfs(root: Path, out: BinaryIO, exclude: Sequence[str] = ("proc", "sys", "dev")) -> None:
    """docker export: tar a (mounted) container root filesystem into ``out``, owners numeric, the
    contents of ``exclude`` (pseudo filesystems) left out but the directories kept. Blocking."""
    skip = {str(root / x) for x in exclude}

    def keep(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        ti.uname = ti.gname = ""
        return ti
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            if rel != ".":
                tf.add(dirpath, arcname=rel, recursive=False, filter=keep)
            if dirpath in skip:
                dirnames.clear()
                continue
            for name in sorted(filenames) + sorted(d for d in dirnames if os.path.islink(os.path.join(dirpath, d))):
                full = os.path.join(dirpath, name)
                tf.add(full, arcname=name if rel == "." else f"{rel}/{name}", recursive=False, filter=keep)
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
