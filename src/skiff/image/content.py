"""Content-addressed blob store: bytes by digest and nothing more (containerd's local store).

Layout under ``root``: ``blobs/<alg>/<hex>`` (committed, read-only) and ``ingest/<random>`` (in
progress). A write goes to ingest, is fsync'd, has its size and digest checked, then is renamed
into place, so a reader never sees a half written or unverified blob, and a crash leaves only
ingest files, which :meth:`ContentStore.clean_ingest` removes at start. Committing a digest that is
already there is success. Concurrent fetches of one digest in the same process share one download
(:meth:`ContentStore.fetch_once`).

Example::

    with store.writer(expected=desc.digest, size=desc.size) as w:
        for chunk in chunks:
            w.write(chunk)
        w.commit()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from skiff.image.errors import BlobNotFound, DigestMismatch, SizeMismatch
from skiff.oci.digest import Digest, Digester

__all__ = ["ContentStore", "Writer"]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Writer:
    """One ingest: write chunks, then commit (verify + rename) or abort. Aborts on an exception."""

    def __init__(self, store: ContentStore, expected: Digest | None, size: int | None) -> None:
        self._store = store
        self.expected = expected
        self.expected_size = size if size is not None and size >= 0 else None
        self.path = store.root / "ingest" / secrets.token_hex(16)
        self._f: BinaryIO | None = open(self.path, "xb")  # noqa: SIM115 - closed by commit/abort
        self._digester = Digester(expected.algorithm if expected else "sha256")
        self.digest: Digest | None = None

    @property
    def offset(self) -> int:
        return self._digester.size

    def write(self, data: bytes | memoryview) -> None:
        assert self._f is not None, "writer closed"
        self._f.write(data)
        self._digester.update(data)
        if self.expected_size is not None and self._digester.size > self.expected_size:
            self.abort()
            raise SizeMismatch(str(self.expected), self.expected_size, self.offset)

    def commit(self) -> Digest:
        """fsync, verify size and digest, rename into blobs/. Raises DigestMismatch/SizeMismatch."""
        assert self._f is not None, "writer closed"
        size, actual = self._digester.size, self._digester.digest()
        try:
            if self.expected_size is not None and size != self.expected_size:
                raise SizeMismatch(str(self.expected or actual), self.expected_size, size)
            if self.expected is not None and actual != self.expected:
                raise DigestMismatch(self.expected, actual)
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None
            target = self._store.path(actual)
            if target.exists():  # already there: success, drop ours
                self.path.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(self.path, 0o444)
                os.rename(self.path, target)
                _fsync_dir(target.parent)
        except BaseException:
            self.abort()
            raise
        self.digest = actual
        return actual

    def abort(self) -> None:
        if self._f is not None:
            with contextlib.suppress(OSError):
                self._f.close()
            self._f = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._f is not None:
            self.abort()


class ContentStore:
    """Blobs by digest under ``root``; see the module docstring for the model."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "ingest").mkdir(parents=True, exist_ok=True)
        self._inflight: dict[Digest, asyncio.Future[None]] = {}
        self._leases: Counter[str] = Counter()
        self._lease_lock = threading.Lock()

    # Leases keep blobs an operation is still assembling (a pull before its image is recorded) safe
    # from garbage collection, like containerd's leases.
    def lease(self, digest: Digest) -> None:
        with self._lease_lock:
            self._leases[digest] += 1

    def release(self, digest: Digest) -> None:
        with self._lease_lock:
            self._leases[digest] -= 1
            if self._leases[digest] <= 0:
                del self._leases[digest]

    def leased(self, digest: Digest) -> bool:
        with self._lease_lock:
            return self._leases.get(digest, 0) > 0

    def path(self, digest: Digest) -> Path:
        d = Digest.parse(digest)
        return self.root / "blobs" / d.algorithm / d.hex

    def has(self, digest: Digest) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: Digest) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def read(self, digest: Digest) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def open(self, digest: Digest) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def writer(self, expected: Digest | None = None, size: int | None = None) -> Writer:
        return Writer(self, expected, size)

    def put(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Store ``data`` (verified against ``expected`` if given); returns its digest."""
        d = expected or Digest.of(data)
        if self.has(d):
            if expected is not None and Digest.of(data) != expected:
                raise DigestMismatch(expected, Digest.of(data))
            return d
        with self.writer(expected, len(data)) as w:
            w.write(data)
            return w.commit()

    def ingest_file(self, src: Path, expected: Digest | None = None) -> Digest:
        """Copy a file in (e.g. a layer from an archive), verifying as it goes."""
        with self.writer(expected) as w, open(src, "rb") as f:
            while chunk := f.read(1 << 20):
                w.write(chunk)
            return w.commit()

    async def fetch_once(self, digest: Digest, fill: Callable[[], Awaitable[None]]) -> bool:
        """Run ``fill`` (which must commit ``digest``) unless the blob exists or another task is
        already fetching it, in which case wait for that one. Returns True if this call fetched."""
        if self.has(digest):
            return False
        running = self._inflight.get(digest)
        if running is not None:
            await asyncio.shield(running)
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = fut
        try:
            await fill()
            fut.set_result(None)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            del self._inflight[digest]
        return True

    def delete(self, digest: Digest) -> bool:
        try:
            self.path(digest).unlink()
            return True
        except FileNotFoundError:
            return False

    def walk(self) -> Iterator[Digest]:
        for alg_dir in (self.root / "blobs").iterdir():
            for f in alg_dir.iterdir():
                with contextlib.suppress(ValueError):
                    yield Digest.parse(f"{alg_dir.name}:{f.name}")

    def clean_ingest(self) -> int:
        """Remove leftovers of interrupted writes (call at start, before any writer exists)."""
        n = 0
        for f in (self.root / "ingest").iterdir():
            f.unlink(missing_ok=True)
            n += 1
        return n
