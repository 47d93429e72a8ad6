"""Layer blobs: compression by magic bytes, decompressing readers that compute the diff ID.

Docker decides a layer's compression from its first bytes, not its media type, so gzip layers
labelled as plain tar (and the reverse) still work. isal's igzip and zstandard do the work.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import zstandard
from isal import igzip, isal_zlib

from skiff.oci.digest import Digest, Digester

__all__ = ["detect_compression", "open_uncompressed", "DigestingReader", "diff_id_of", "gzip_file",
           "StreamingDiffID"]

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


def detect_compression(head: bytes) -> str:
    """'gzip', 'zstd' or '' from the first bytes of a blob."""
    if head.startswith(_GZIP):
        return "gzip"
    if head.startswith(_ZSTD):
        return "zstd"
    return ""


def open_uncompressed(f: BinaryIO) -> BinaryIO:
    """Wrap an open blob (seekable) in a reader of its uncompressed tar bytes."""
    head = f.read(4)
    f.seek(0)
    kind = detect_compression(head)
    if kind == "gzip":
        return igzip.IGzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    if kind == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True, closefd=False)
    return f


class DigestingReader(io.RawIOBase):
    """Reads through ``inner`` while hashing, so the diff ID falls out of extraction for free."""

    def __init__(self, inner: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> None:
        self._inner = inner
        self.digester = Digester()
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(b))
        n = len(data)
        b[:n] = data
        if n:
            self.digester.update(data)
            if self._on_bytes:
                self._on_bytes(n)
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size if size is not None and size >= 0 else -1)
        if data:
            self.digester.update(data)
            if self._on_bytes:
                self._on_bytes(len(data))
        return data

    def drain(self) -> None:
        """Read to the end (tar readers stop at the end-of-archive blocks; the digest needs all)."""
        while self.read(1 << 20):
            pass


def diff_id_of(path: Path) -> tuple[Digest, int]:
    """The diff ID (digest of the uncompressed tar) and uncompressed size of a layer blob."""
    with open(path, "rb") as f:
        r = DigestingReader(open_uncompressed(f))
        r.drain()
        return r.digester.digest(), r.digester.size


def gzip_file(src: BinaryIO, dst: BinaryIO, level: int = 1) -> None:
    """Compress ``src`` into ``dst`` (isal level 1: fast, like Docker's default speed)."""
    with igzip.IGzipFile(fileobj=dst, mode="wb", compresslevel=level, mtime=0) as z:
        while chunk := src.read(1 << 20):
            z.write(chunk)


class StreamingDiffID:
    """Computes a layer's diff ID from its compressed bytes as they arrive (gzip members, zstd
    frames, or plain tar), so a download can be verified without a second pass. ``result`` is None
    if the stream could not be followed (the caller then verifies the stored blob instead)."""

    def __init__(self) -> None:
        self._digester = Digester()
        self._kind: str | None = None
        self._head = b""
        self._d: Any = None
        self.failed = False

    def _new(self) -> Any:
        if self._kind == "gzip":
            return isal_zlib.decompressobj(wbits=31)
        return zstandard.ZstdDecompressor().decompressobj()

    def feed(self, chunk: bytes) -> None:
        if self.failed:
            return
        try:
            if self._kind is None:
                self._head += chunk
                if len(self._head) < 4:
                    return
                self._kind = detect_compression(self._head)
                chunk, self._head = self._head, b""
                if self._kind:
                    self._d = self._new()
            if not self._kind:
                self._digester.update(chunk)
                return
            while chunk:
                out = self._d.decompress(chunk)
                if out:
                    self._digester.update(out)
                chunk = self._d.unused_data if self._d.eof else b""
                if self._d.eof:
                    self._d = self._new() if chunk else self._d
        except Exception:  # any surprise: fall back to verifying the stored blob
            self.failed = True

    def result(self) -> tuple[Digest, int] | None:
        if self.failed or (self._kind and self._d is not None and not self._d.eof):
            return None
        if self._kind is None:
            self._digester.update(self._head)
        return self._digester.digest(), self._digester.size
