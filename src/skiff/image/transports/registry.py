"""Registry transport: read an image by tag/digest; write blobs (HEAD, mount, upload) and the manifest."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from skiff.image.reference import Reference
from skiff.image.registry.client import RegistryClient
from skiff.image.transports.base import CopiedImage, ImageSource, LayerCallbacks, Sink
from skiff.oci.digest import Digest, Digester
from skiff.oci.image_spec import Descriptor

__all__ = ["RegistrySource", "RegistryDestination"]


class RegistrySource:
    """``repo`` at ``reference`` (a tag or ``sha256:...``) on ``client``'s registry."""

    def __init__(self, client: RegistryClient, repo: str, reference: str) -> None:
        self.client, self.repo, self.reference = client, repo, reference
        sep = "@" if reference.startswith("sha256:") else ":"
        self.name = Reference(client.domain, repo).familiar_name + sep + reference

    async def manifest(self, instance: Digest | None = None) -> tuple[bytes, str]:
        m = await self.client.get_manifest(self.repo, str(instance) if instance else self.reference)
        return m.data, m.media_type

    async def blob(self, desc: Descriptor, sink: Sink, restart: Callable[[], None]) -> None:
        await self.client.fetch_blob(self.repo, desc.digest, sink, on_restart=restart)

    def local_blob(self, desc: Descriptor) -> Path | None:
        return None

    async def close(self) -> None:
        await self.client.close()


class RegistryDestination:
    """Push into ``repo`` under ``tag`` (or by digest when tag is empty).

    ``mount_from``: other repositories on the same registry that may hold our blobs (from the
    image's repo digests); a blob found there is mounted instead of uploaded, as Docker does.
    ``chunk_size`` > 0 uploads in PATCH chunks instead of one request.
    """

    def __init__(self, client: RegistryClient, repo: str, tag: str, *, mount_from: Sequence[str] = (),
                 chunk_size: int = 0) -> None:
        self.client, self.repo, self.tag = client, repo, tag
        self.mount_from = [r for r in mount_from if r != repo]
        self.chunk_size = chunk_size
        self.name = f"{client.domain}/{repo}"

    async def has_image(self, image_id: Digest) -> bool:
        return False

    async def reuse_blob(self, desc: Descriptor) -> str | None:
        if await self.client.blob_size(self.repo, desc.digest, push=True) is not None:
            return "Layer already exists"
        for other in self.mount_from:
            if await self.client.mount_blob(self.repo, desc.digest, other):
                return f"Mounted from {other}"
        return None

    async def put_blob(self, desc: Descriptor, src: ImageSource, cb: LayerCallbacks) -> None:
        path = src.local_blob(desc)
        spooled = None
        if path is None:  # copy from a remote source: spool to disk so retries can re-read it
            fd, name = tempfile.mkstemp(prefix="skiff-push-")
            spooled = Path(name)
            with os.fdopen(fd, "wb") as f:
                d = Digester()

                def sink(b: bytes) -> None:
                    f.write(b)
                    d.update(b)

                def restart() -> None:
                    nonlocal d
                    f.seek(0)
                    f.truncate()
                    d = Digester()
                await src.blob(desc, sink, restart)
            path = spooled
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                await self.client.upload_blob(self.repo, desc.digest, size, lambda off, n: os.pread(fd, n, off),
                                              progress=cb.on_bytes, chunk_size=self.chunk_size)
            finally:
                os.close(fd)
        finally:
            if spooled is not None:
                spooled.unlink(missing_ok=True)

    async def commit(self, image: CopiedImage, layer_cbs: list[LayerCallbacks]) -> Digest:
        ref = self.tag or str(image.manifest.digest)
        return await self.client.put_manifest(self.repo, ref, image.manifest_bytes, image.manifest.media_type)

    async def close(self) -> None:
        await self.client.close()
