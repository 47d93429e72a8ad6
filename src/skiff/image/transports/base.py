"""The two seams of the copy pipeline: ImageSource and ImageDestination (containers/image's shape).

A copy asks the source for the manifest (selecting one platform from an index), then for each blob
asks the destination whether it can reuse it (already there, mountable from another repository),
and otherwise has the destination pull the bytes from the source. Finally the destination gets the
config and manifest and ``commit``s: a registry PUTs the manifest, the local store unpacks and
records the image, an archive writes its index files.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from skiff.oci.digest import Digest
from skiff.oci.image_spec import Descriptor, ImageConfig, Manifest

__all__ = ["ImageSource", "ImageDestination", "Sink", "CopiedImage", "LayerCallbacks"]

#: Receives blob bytes; may be sync or async.
Sink = Callable[[bytes], Awaitable[None] | None]


class ImageSource(Protocol):
    """Where an image is read from."""

    name: str

    async def manifest(self, instance: Digest | None = None) -> tuple[bytes, str]:
        """The top manifest (maybe an index) or, with ``instance``, the manifest of that digest."""
        ...

    async def blob(self, desc: Descriptor, sink: Sink, restart: Callable[[], None]) -> None:
        """Stream the blob into ``sink``; on a retried transfer ``restart`` is called first."""
        ...

    def local_blob(self, desc: Descriptor) -> Path | None:
        """A file holding the blob's bytes, when the source is on this machine (fast path)."""
        ...

    async def close(self) -> None:
        ...


@dataclass
class LayerCallbacks:
    """How the destination reports progress for one layer (bytes moved; extraction)."""

    on_bytes: Callable[[int], None]
    on_extract: Callable[[int, int], None] | None = None
    on_done: Callable[[], None] | None = None


@dataclass(frozen=True)
class CopiedImage:
    """What the destination commits: the single-platform manifest, its config, and the index above it."""

    manifest: Manifest
    manifest_bytes: bytes
    config: ImageConfig
    index_digest: Digest | None = None
    index_bytes: bytes = b""
    index_media_type: str = ""


class ImageDestination(Protocol):
    """Where an image is written to."""

    name: str

    async def has_image(self, image_id: Digest) -> bool:
        """True if the whole image is already there (a pull is then only a reference update)."""
        ...

    async def reuse_blob(self, desc: Descriptor) -> str | None:
        """A status ("Already exists", "Layer already exists", "Mounted from x") if the destination
        already has the blob or can get it without copying; None to copy it."""
        ...

    async def put_blob(self, desc: Descriptor, src: ImageSource, cb: LayerCallbacks) -> None:
        """Copy one blob from ``src``; verify it; nothing partial stays on failure."""
        ...

    async def commit(self, image: CopiedImage, layer_cbs: list[LayerCallbacks]) -> Digest:
        """Finish the image (manifest PUT, unpack + record, index files); returns the manifest digest
        as stored at the destination."""
        ...

    async def close(self) -> None:
        ...
