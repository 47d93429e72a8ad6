"""Client side of Docker's stream formats: stdio frames and filters encoding."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator, Mapping

__all__ = ["demux", "FrameReader", "encode_filters", "STDIN", "STDOUT", "STDERR"]

STDIN, STDOUT, STDERR = 0, 1, 2
_HEADER = struct.Struct(">BxxxI")


class FrameReader:
    """Incremental decoder of 8-byte-header multiplexed frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= 8:
            stream, size = _HEADER.unpack_from(self._buf)
            if len(self._buf) < 8 + size:
                break
            out.append((stream, bytes(self._buf[8:8 + size])))
            del self._buf[:8 + size]
        return out


def demux(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(stream, payload) pairs from a multiplexed byte stream."""
    r = FrameReader()
    for chunk in chunks:
        yield from r.feed(chunk)


def encode_filters(filters: Mapping[str, Iterable[str]] | None) -> str | None:
    """The set form the Go client sends: ``{"label":{"a=b":true}}``; None when empty."""
    if not filters:
        return None
    doc = {k: {v: True for v in vs} for k, vs in filters.items() if vs}
    return json.dumps(doc, separators=(",", ":")) if doc else None
