"""Layer blobs: compression by magic bytes, decompressing readers that compute the diff ID.

Docker decides a layer's compression from its first bytes, not its media type, so gzip layers
labelled as plain tar (and the reverse) still work. isal's igzip and zstandard do the work.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import zstandard
from isal import igzip

from skiff.oci.digest import Digest, Digester

__all__ = ["detect_compression", "open_uncompressed", "DigestingReader", "diff_id_of", "gzip_file"]

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
