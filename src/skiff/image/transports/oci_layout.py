"""OCI image layout directories (``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``).

The source reads one manifest of ``index.json`` (by ``org.opencontainers.image.ref.name``); the
destination copies blobs as they are and, on commit, writes the manifest with OCI media types (same
blobs, OCI names, as umoci and other OCI tools require) and adds it to ``index.json``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from skiff.image.errors import DigestMismatch, InvalidArchive
from skiff.image.transports.base import CopiedImage, ImageSource, LayerCallbacks, Sink
from skiff.oci import mediatypes as mt
from skiff.oci.digest import Digest, Digester
from skiff.oci.image_spec import Descriptor, Manifest, canonical_json

__all__ = ["OciLayoutSource", "OciLayoutDestination", "to_oci_manifest", "REF_NAME", "IMAGE_NAME",
           "read_index"]

REF_NAME = "org.opencontainers.image.ref.name"
IMAGE_NAME = "io.containerd.image.name"
_CHUNK = 1 << 20

_TO_OCI = {mt.DOCKER_CONFIG: mt.OCI_CONFIG, mt.DOCKER_LAYER_GZIP: mt.OCI_LAYER_GZIP, mt.DOCKER_LAYER: mt.OCI_LAYER,
           mt.DOCKER_LAYER_FOREIGN: mt.OCI_LAYER_NONDIST_GZIP, mt.DOCKER_MANIFEST: mt.OCI_MANIFEST,
           mt.DOCKER_MANIFEST_LIST: mt.OCI_INDEX}


def to_oci_manifest(m: Manifest) -> Manifest:
    """The same blobs under OCI media types (a new manifest, so a new digest)."""
    def conv(d: Descriptor) -> Descriptor:
        return Descriptor(media_type=_TO_OCI.get(d.media_type, d.media_type), digest=d.digest, size=d.size,
                          urls=d.urls, annotations=d.annotations)
    return Manifest(media_type=mt.OCI_MANIFEST, config=conv(m.config), layers=tuple(conv(x) for x in m.layers),
                    annotations=m.annotations)


def blob_path(root: Path, digest: Digest) -> Path:
    return root / "blobs" / digest.algorithm / digest.hex


def read_index(root: Path) -> list[dict[str, Any]]:
    try:
        d = json.loads((root / "index.json").read_text())
        ms = d.get("manifests") or []
        if not isinstance(ms, list):
            raise ValueError("manifests is not a list")
        return [x for x in ms if isinstance(x, dict)]
    except (OSError, ValueError) as exc:
        raise InvalidArchive(f"invalid OCI layout index.json: {exc}") from exc


class OciLayoutSource:
    """One image (manifest or index entry) of an OCI layout directory."""

    def __init__(self, root: Path, entry: dict[str, Any]) -> None:
        self.root = root
        self.entry = Descriptor.from_json(entry)
        self.name = f"oci:{root}"

    async def manifest(self, instance: Digest | None = None) -> tuple[bytes, str]:
        d = instance or self.entry.digest
        try:
            data = blob_path(self.root, d).read_bytes()
        except OSError as exc:
            raise InvalidArchive(f"missing manifest blob {d}") from exc
        return data, "" if instance else self.entry.media_type

    async def blob(self, desc: Descriptor, sink: Sink, restart: Callable[[], None]) -> None:
        with open(blob_path(self.root, desc.digest), "rb") as f:
            while chunk := f.read(_CHUNK):
                r = sink(chunk)
                if r is not None:
                    await r

    def local_blob(self, desc: Descriptor) -> Path | None:
        p = blob_path(self.root, desc.digest)
        return p if p.is_file() else None

    async def close(self) -> None:
        return None


class OciLayoutDestination:
    """Write into an OCI layout directory (created if missing), tagging the image ``ref_name``."""

    def __init__(self, root: Path, ref_name: str = "", image_name: str = "") -> None:
        self.root, self.ref_name, self.image_name = root, ref_name, image_name
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        if not (root / "oci-layout").exists():
            (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.name = f"oci:{root}"

    async def has_image(self, image_id: Digest) -> bool:
        return False

    async def reuse_blob(self, desc: Descriptor) -> str | None:
        return "Already exists" if blob_path(self.root, desc.digest).is_file() else None

    async def put_blob(self, desc: Descriptor, src: ImageSource, cb: LayerCallbacks) -> None:
        target = blob_path(self.root, desc.digest)
        tmp = target.with_name(f".tmp-{target.name}")
        path = src.local_blob(desc)
        if path is not None:
            try:
                os.link(path, tmp)  # same filesystem: share the bytes
            except OSError:
                shutil.copyfile(path, tmp)
            cb.on_bytes(desc.size)
            os.replace(tmp, target)
            return
        d = Digester()
        with open(tmp, "wb") as f:
            def sink(b: bytes) -> None:
                f.write(b)
                d.update(b)
                cb.on_bytes(len(b))

            def restart() -> None:
                nonlocal d
                f.seek(0)
                f.truncate()
                d = Digester()
            await src.blob(desc, sink, restart)
        if d.digest() != desc.digest:
            tmp.unlink(missing_ok=True)
            raise DigestMismatch(desc.digest, d.digest())
        os.replace(tmp, target)

    def put_bytes(self, data: bytes) -> Digest:
        d = Digest.of(data)
        blob_path(self.root, d).write_bytes(data)
        return d

    async def commit(self, image: CopiedImage, layer_cbs: list[LayerCallbacks]) -> Digest:
        m = to_oci_manifest(image.manifest) if image.manifest.media_type != mt.OCI_MANIFEST else image.manifest
        data = m.to_json() if m is not image.manifest else image.manifest_bytes
        digest = self.put_bytes(data)
        annotations = {}
        if self.image_name:
            annotations[IMAGE_NAME] = self.image_name
        if self.ref_name:
            annotations[REF_NAME] = self.ref_name
        entry = Descriptor(media_type=mt.OCI_MANIFEST, digest=digest, size=len(data), annotations=annotations)
        index_path = self.root / "index.json"
        manifests = read_index(self.root) if index_path.exists() else []
        if self.ref_name:  # a ref name points at one manifest: replace the old holder
            manifests = [x for x in manifests if (x.get("annotations") or {}).get(REF_NAME) != self.ref_name]
        manifests.append(entry.to_json())
        tmp = index_path.with_name(".index.json.tmp")
        tmp.write_bytes(canonical_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}))
        os.replace(tmp, index_path)
        return digest

    async def close(self) -> None:
        return None
