"""Content digests (``algorithm:hex``) as the OCI image-spec defines them.

A :class:`Digest` is a validated ``str``, so it serializes to JSON as itself and compares with plain
strings; parse outside input with :meth:`Digest.parse` once, at the edge.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["Digest", "DigestError", "Digester", "chain_id", "chain_ids"]

# Lengths per registered algorithm; other syntactically valid algorithms are refused as unsupported.
_HEX_LEN = {"sha256": 64, "sha512": 128, "sha384": 96}
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class DigestError(ValueError):
    """A digest string is malformed (go-digest's messages)."""


class Digest(str):
    """``sha256:<64 hex>``; construct with :meth:`parse`, :meth:`of` or :meth:`from_hex`."""

    __slots__ = ()

    @classmethod
    def parse(cls, value: str) -> Digest:
        """Validate ``value``; raises DigestError with go-digest's text."""
        if isinstance(value, Digest):
            return value
        if not isinstance(value, str) or not _DIGEST_RE.match(value):
            raise DigestError("invalid checksum digest format")
        algorithm, hex_ = value.split(":", 1)
        want = _HEX_LEN.get(algorithm)
        if want is None:
            raise DigestError("unsupported digest algorithm")
        if len(hex_) != want or not all(c in "0123456789abcdef" for c in hex_):
            raise DigestError("invalid checksum digest length" if len(hex_) != want
                              else "invalid checksum digest format")
        return str.__new__(cls, value)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of ``data``."""
        return str.__new__(cls, f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}")

    @classmethod
    def from_hex(cls, hex_: str, algorithm: str = "sha256") -> Digest:
        return cls.parse(f"{algorithm}:{hex_}")

    @property
    def algorithm(self) -> str:
        return self.split(":", 1)[0]

    @property
    def hex(self) -> str:
        return self.split(":", 1)[1]

    @property
    def encoded(self) -> str:
        return self.hex

    def short(self, n: int = 12) -> str:
        """The first ``n`` hex characters, as Docker shows IDs."""
        return self.hex[:n]


class Digester:
    """Incremental hashing that ends in a :class:`Digest`."""

    __slots__ = ("_h", "algorithm", "size")

    def __init__(self, algorithm: str = "sha256") -> None:
        self.algorithm = algorithm
        self._h = hashlib.new(algorithm)
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self._h.update(data)
        self.size += len(data)

    def digest(self) -> Digest:
        return str.__new__(Digest, f"{self.algorithm}:{self._h.hexdigest()}")


def chain_ids(diff_ids: list[Digest] | tuple[Digest, ...]) -> list[Digest]:
    """Chain IDs per the image-spec: ChainID(L0)=DiffID(L0); ChainID(Ln)=sha256(ChainID(Ln-1)+" "+DiffID(Ln))."""
    out: list[Digest] = []
    for d in diff_ids:
        out.append(d if not out else Digest.of(f"{out[-1]} {d}".encode()))
    return out


def chain_id(diff_ids: list[Digest] | tuple[Digest, ...]) -> Digest | None:
    """The chain ID of the whole stack, or None for an empty one."""
    ids = chain_ids(diff_ids)
    return ids[-1] if ids else None
