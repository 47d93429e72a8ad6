"""The local image store as a transport: content store + metadata + unpacked snapshots.

Writing (pull, load): blobs go through the content store (verified); ``commit`` unpacks missing
layers in order (diff IDs checked against the config) and only then records the image and its
references in one transaction, so an interrupted pull never leaves a visible partial image.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from skiff.image.content import ContentStore, Writer
from skiff.image.layers import StreamingDiffID
from skiff.image.store import ImageRecord, ImageStore, LayerRecord
from skiff.image.transports.base import CopiedImage, ImageSource, LayerCallbacks, Sink
from skiff.image.unpack import Unpacker
from skiff.oci.digest import Digest, chain_ids
from skiff.oci.image_spec import Descriptor
from skiff.oci.mediatypes import is_layer

__all__ = ["LocalSource", "LocalDestination"]

_CHUNK = 1 << 20


class LocalSource:
    """One stored image (its manifest and blobs)."""

    def __init__(self, content: ContentStore, record: ImageRecord, name: str = "local") -> None:
        if record.manifest_digest is None:
            raise ValueError(f"image {record.id} has no manifest")
        self.content, self.record, self.name = content, record, name

    async def manifest(self, instance: Digest | None = None) -> tuple[bytes, str]:
        assert self.record.manifest_digest is not None
        return self.content.read(instance or self.record.manifest_digest), self.record.manifest_media_type

    async def blob(self, desc: Descriptor, sink: Sink, restart: Callable[[], None]) -> None:
        with self.content.open(desc.digest) as f:
            while chunk := f.read(_CHUNK):
                r = sink(chunk)
                if r is not None:
                    await r

    def local_blob(self, desc: Descriptor) -> Path | None:
        p = self.content.path(desc.digest)
        return p if p.is_file() else None

    async def close(self) -> None:
        return None


class _WriterThread:
    """Hash and write a blob in its own thread (both release the GIL) while the event loop keeps
    receiving. Chunks go through a bounded queue, so memory stays small when the disk is slow; the
    producer waits on an asyncio event, never on a pool thread, so no executor can be exhausted."""

    def __init__(self, w: Writer, diff: StreamingDiffID | None = None) -> None:
        self._w = w
        self.diff = diff
        self._loop = asyncio.get_running_loop()
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self._error: BaseException | None = None
        self._cancelled = False
        self._waiting = False
        self._space = asyncio.Event()
        self._done: asyncio.Future[None] = self._loop.create_future()
        threading.Thread(target=self._run, name="skiff-blob-writer", daemon=True).start()

    def _signal(self, fn: Callable[[], object]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone (interpreter exit)
            self._loop.call_soon_threadsafe(fn)

    def _run(self) -> None:
        try:
            while (chunk := self._q.get()) is not None:
                if self._waiting:
                    self._waiting = False
                    self._signal(self._space.set)
                if self._error is None and not self._cancelled:
                    try:
                        self._w.write(chunk)
                        if self.diff is not None:
                            self.diff.feed(chunk)
                    except BaseException as exc:  # reported by finish()
                        self._error = exc
        finally:
            self._signal(self._mark_done)

    def _mark_done(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    async def _put(self, item: bytes | None) -> None:
        while True:
            try:
                self._q.put_nowait(item)
                return
            except queue.Full:
                self._space.clear()
                self._waiting = True
                try:  # the writer may have taken one between the two tries
                    self._q.put_nowait(item)
                    self._waiting = False
                    return
                except queue.Full:
                    await self._space.wait()

    async def put(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        await self._put(chunk)

    async def finish(self) -> None:
        await self._put(None)
        await self._done
        if self._error is not None:
            raise self._error

    def cancel(self) -> None:
        if self._done.done():
            return
        self._cancelled = True
        while True:  # make room for the end marker; the worker skips what is left anyway
            try:
                self._q.put_nowait(None)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._q.get_nowait()


class LocalDestination:
    """Write into the local store; ``refs`` (full reference strings) point at the image on commit."""

    def __init__(self, content: ContentStore, images: ImageStore, unpacker: Unpacker,
                 refs: Sequence[str] = (), name: str = "local") -> None:
        self.content, self.images, self.unpacker = content, images, unpacker
        self.refs = list(refs)
        self.name = name
        self.record: ImageRecord | None = None
        self.verified: dict[Path, tuple[Digest, int]] = {}  # blob path -> diff ID seen while downloading
        self._leased: list[Digest] = []

    def _lease(self, digest: Digest) -> None:
        self.content.lease(digest)
        self._leased.append(digest)

    async def has_image(self, image_id: Digest) -> bool:
        rec = self.images.get(image_id)
        return rec is not None and rec.manifest_digest is not None and all(
            self.content.has(x.blob) for x in rec.layers if x.blob) and all(
            self.unpacker.has(x.chain_id) for x in rec.layers)

    async def reuse_blob(self, desc: Descriptor) -> str | None:
        self._lease(desc.digest)
        return "Already exists" if self.content.has(desc.digest) else None

    async def put_blob(self, desc: Descriptor, src: ImageSource, cb: LayerCallbacks) -> None:
        self._lease(desc.digest)

        async def fill() -> None:
            path = src.local_blob(desc)
            if path is not None:
                await asyncio.to_thread(self._copy_file, path, desc, cb.on_bytes)
                return
            w: Writer = self.content.writer(desc.digest, desc.size if desc.size > 0 else None)
            stream_verify = self.unpacker.streaming_verify and is_layer(desc.media_type)
            pump = _WriterThread(w, StreamingDiffID() if stream_verify else None)

            async def sink(b: bytes) -> None:
                await pump.put(b)
                cb.on_bytes(len(b))

            def restart() -> None:
                nonlocal w, pump
                pump.cancel()
                w.abort()
                w = self.content.writer(desc.digest, desc.size if desc.size > 0 else None)
                pump = _WriterThread(w, StreamingDiffID() if stream_verify else None)
            try:
                await src.blob(desc, sink, restart)
                await pump.finish()
                await asyncio.to_thread(w.commit)
                seen = pump.diff.result() if pump.diff is not None else None
                if seen is not None:
                    self.verified[self.content.path(desc.digest)] = seen
            finally:
                pump.cancel()
                w.abort()  # no-op after a commit
        await self.content.fetch_once(desc.digest, fill)

    def _copy_file(self, path: Path, desc: Descriptor, on_bytes: Callable[[int], None]) -> None:
        with self.content.writer(desc.digest, desc.size if desc.size > 0 else None) as w, open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                w.write(chunk)
                on_bytes(len(chunk))
            w.commit()

    async def commit(self, image: CopiedImage, layer_cbs: list[LayerCallbacks]) -> Digest:
        self._lease(Digest.of(image.manifest_bytes))
        if image.index_digest is not None:
            self._lease(image.index_digest)
        mdigest = self.content.put(image.manifest_bytes)
        if image.index_digest is not None:
            self.content.put(image.index_bytes, image.index_digest)
        self.content.put(image.config.bytes, image.manifest.config.digest)
        chains = chain_ids(image.config.diff_ids)
        blobs = [(image.config.diff_ids[i], self.content.path(d.digest)) for i, d in enumerate(image.manifest.layers)]
        loop = asyncio.get_running_loop()
        moved = [0] * len(blobs)

        def on_bytes(i: int, n: int) -> None:  # from unpack worker threads
            moved[i] += n
            cb = layer_cbs[i] if i < len(layer_cbs) else None
            if cb is not None and cb.on_extract is not None:
                loop.call_soon_threadsafe(cb.on_extract, moved[i], image.manifest.layers[i].size)
        sizes = await asyncio.to_thread(self.unpacker.unpack, blobs, on_bytes, self.verified)
        layers: list[LayerRecord] = []
        total = 0
        for i, desc in enumerate(image.manifest.layers):
            size = sizes[i]
            done = layer_cbs[i].on_done if i < len(layer_cbs) else None
            if size >= 0 and done is not None:
                done()
            # One measure whether the layer was just unpacked or already there: Docker's content
            # size where the snapshotter can give it, else the uncompressed tar size.
            measured = await asyncio.to_thread(self.unpacker.usage, chains[i])
            if measured >= 0:
                size = measured
            total += max(size, 0)
            layers.append(LayerRecord(diff_id=image.config.diff_ids[i], chain_id=chains[i], blob=desc.digest,
                                      media_type=desc.media_type, blob_size=desc.size, size=size))
        # No parent link for a pulled or loaded image, as dockerd (only its builder and commit link
        # parents, in metadata beside the config): rmi of the other image and history behave as
        # there. An image already here (built, then loaded again) keeps its link.
        old = self.images.get(str(image.manifest.config.digest))
        rec = ImageRecord(id=image.manifest.config.digest, layers=tuple(layers), manifest_digest=mdigest,
                          manifest_media_type=image.manifest.media_type, index_digest=image.index_digest,
                          created=image.config.created, size=total, parent=old.parent if old else "")
        await asyncio.to_thread(self.images.put, rec, self.refs)
        self.record = rec
        return mdigest

    async def close(self) -> None:
        """Release the leases taken while copying (the image, if committed, now holds its blobs)."""
        for d in self._leased:
            self.content.release(d)
        self._leased.clear()


