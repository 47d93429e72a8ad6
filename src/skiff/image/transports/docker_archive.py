"""docker-archive: the ``docker save`` tar (manifest.json + repositories, plus the OCI layout Docker
25+ writes beside them: index.json, oci-layout, blobs/sha256/...).

Writing: :class:`ArchiveWriter` collects images in a directory, layers stored uncompressed (named by
diff ID, as docker save does), then ``finish`` writes the index files and :func:`tar_directory`
packs it. Reading: :func:`extract_archive` unpacks an uploaded tar safely into a directory, and
:func:`archive_sources` lists one source per image (manifest.json first, else index.json).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from skiff.image import reference
from skiff.image.errors import DigestMismatch, InvalidArchive
from skiff.image.layers import DigestingReader, detect_compression, open_uncompressed
from skiff.image.transports.base import CopiedImage, ImageSource, LayerCallbacks, Sink
from skiff.image.transports.oci_layout import IMAGE_NAME, REF_NAME, OciLayoutSource, blob_path, read_index
from skiff.oci import mediatypes as mt
from skiff.oci.digest import Digest, Digester
from skiff.oci.image_spec import Descriptor, Manifest, canonical_json

__all__ = ["ArchiveWriter", "ArchiveDestination", "DockerArchiveSource", "extract_archive", "archive_sources",
           "tar_directory"]

_CHUNK = 1 << 20
_BLOB_NAME = re.compile(r"^blobs/sha256/([a-f0-9]{64})$")


class ArchiveWriter:
    """Accumulates several images into one docker-archive directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        self.layers: dict[Digest, tuple[Digest, int]] = {}  # blob digest -> (diff ID, size)
        self.entries: list[dict[str, Any]] = []
        self.index: list[dict[str, Any]] = []
        self.repositories: dict[str, dict[str, str]] = {}

    def finish(self) -> None:
        (self.root / "manifest.json").write_bytes(canonical_json(self.entries))
        (self.root / "repositories").write_bytes(canonical_json(self.repositories))
        (self.root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        (self.root / "index.json").write_bytes(canonical_json(
            {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": self.index}))


class ArchiveDestination:
    """One image into an :class:`ArchiveWriter`, under ``tags`` (full references)."""

    def __init__(self, writer: ArchiveWriter, tags: list[str]) -> None:
        self.w, self.tags = writer, tags
        self.name = "docker-archive"

    async def has_image(self, image_id: Digest) -> bool:
        return False

    async def reuse_blob(self, desc: Descriptor) -> str | None:
        if desc.digest in self.w.layers or (desc.media_type in mt.CONFIG_TYPES and
                                            blob_path(self.w.root, desc.digest).exists()):
            return "Already exists"
        return None

    async def put_blob(self, desc: Descriptor, src: ImageSource, cb: LayerCallbacks) -> None:
        path = src.local_blob(desc)
        if path is None:
            raise InvalidArchive("docker-archive destination needs a local source")
        if desc.media_type in mt.CONFIG_TYPES:
            shutil.copyfile(path, blob_path(self.w.root, desc.digest))
            return
        tmp = self.w.root / "blobs" / "sha256" / f".tmp-{desc.digest.hex}"
        with open(path, "rb") as f, open(tmp, "wb") as out:
            r = DigestingReader(open_uncompressed(f), cb.on_bytes)
            while chunk := r.read(_CHUNK):
                out.write(chunk)
        diff_id = r.digester.digest()
        os.replace(tmp, blob_path(self.w.root, diff_id))
        self.w.layers[desc.digest] = (diff_id, r.digester.size)

    async def commit(self, image: CopiedImage, layer_cbs: list[LayerCallbacks]) -> Digest:
        cfg_digest = image.manifest.config.digest
        layers = []
        for i, desc in enumerate(image.manifest.layers):
            diff_id, size = self.w.layers[desc.digest]
            if diff_id != image.config.diff_ids[i]:
                raise DigestMismatch(image.config.diff_ids[i], diff_id)
            layers.append(Descriptor(media_type=mt.OCI_LAYER, digest=diff_id, size=size))
        cfg_size = blob_path(self.w.root, cfg_digest).stat().st_size
        m = Manifest(media_type=mt.OCI_MANIFEST, config=Descriptor(mt.OCI_CONFIG, cfg_digest, cfg_size),
                     layers=tuple(layers))
        data = m.to_json()
        digest = Digest.of(data)
        blob_path(self.w.root, digest).write_bytes(data)
        familiar = [reference.parse(t).familiar for t in self.tags]
        self.w.entries.append({"Config": f"blobs/sha256/{cfg_digest.hex}", "RepoTags": familiar or None,
                               "Layers": [f"blobs/sha256/{x.digest.hex}" for x in layers]})
        for t in self.tags or [""]:
            ann = {}
            if t:
                ref = reference.parse(t)
                ann = {IMAGE_NAME: t, REF_NAME: ref.tag}
                if layers:
                    self.w.repositories.setdefault(ref.familiar_name, {})[ref.tag] = layers[-1].digest.hex
            self.w.index.append(Descriptor(mt.OCI_MANIFEST, digest, len(data), annotations=ann).to_json())
        return digest

    async def close(self) -> None:
        return None


def tar_directory(root: Path, out: BinaryIO) -> None:
    """Pack ``root`` (files only, sorted, owner 0, mtime 0 for blobs) into ``out``. Blocking."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            if rel != ".":
                ti = tf.gettarinfo(dirpath, rel)
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                ti.mtime = 0
                tf.addfile(ti)
            for name in sorted(filenames):
                if name.startswith(".tmp-"):
                    continue
                full = os.path.join(dirpath, name)
                arc = name if rel == "." else f"{rel}/{name}"
                ti = tf.gettarinfo(full, arc)
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                ti.mtime = 0
                ti.mode = 0o644
                with open(full, "rb") as f:
                    tf.addfile(ti, f)


def _safe_name(name: str) -> str:
    norm = posixpath.normpath(name)
    if name.startswith("/") or norm == ".." or norm.startswith("../") or "\x00" in name:
        raise InvalidArchive(f"invalid archive entry {name!r}: outside the archive")
    return norm


def extract_archive(src: BinaryIO, dest: Path) -> None:
    """Unpack a docker-archive/OCI tar into ``dest``: regular files and directories only; symlinks and
    hardlinks (the legacy format links shared layer.tar files) are resolved inside ``dest``.
    Raises InvalidArchive for an entry that would leave ``dest``. Blocking."""
    dest.mkdir(parents=True, exist_ok=True)
    links: list[tuple[str, str]] = []
    try:
        with tarfile.open(fileobj=src, mode="r|*") as tf:
            for ti in tf:
                name = _safe_name(ti.name)
                if name == ".":
                    continue
                target = dest / name
                if ti.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif ti.isreg():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    f = tf.extractfile(ti)
                    assert f is not None
                    with open(target, "wb") as out:
                        shutil.copyfileobj(f, out, _CHUNK)
                elif ti.issym() or ti.islnk():
                    link = ti.linkname if ti.islnk() else posixpath.join(posixpath.dirname(name), ti.linkname)
                    links.append((name, _safe_name(link)))
    except tarfile.TarError as exc:
        raise InvalidArchive(f"invalid tar archive: {exc}") from exc
    for name, link in links:
        src_path = dest / link
        if not src_path.is_file() or src_path.is_symlink():
            raise InvalidArchive(f"archive link {name} -> {link} does not name a file in the archive")
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        os.link(src_path, dest / name)


class DockerArchiveSource:
    """One manifest.json entry of an extracted docker-archive, served as a Docker schema2 image."""

    def __init__(self, root: Path, entry: dict[str, Any]) -> None:
        self.root = root
        try:
            self.config_file = self._file(entry["Config"])
            self.layer_files = [self._file(x) for x in entry.get("Layers") or []]
        except (KeyError, TypeError) as exc:
            raise InvalidArchive(f"invalid manifest.json entry: {exc}") from exc
        tags = entry.get("RepoTags") or []
        self.tags = [str(reference.parse(t).with_default_tag()) for t in tags if isinstance(t, str)]
        self.name = "docker-archive"
        self._descs: dict[Digest, Path] = {}
        self._manifest: bytes | None = None

    def _file(self, name: str) -> Path:
        p = self.root / _safe_name(name)
        if not p.is_file():
            raise InvalidArchive(f"file {name} not found in the archive")
        return p

    def _digest(self, rel: str, path: Path) -> Digest:
        m = _BLOB_NAME.match(rel)
        if m:
            return Digest.from_hex(m.group(1))  # verified again when stored
        d = Digester()
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                d.update(chunk)
        return d.digest()

    def _build(self) -> bytes:
        cfg = self.config_file.read_bytes()
        cfg_d = Digest.of(cfg)
        self._descs[cfg_d] = self.config_file
        layers = []
        for p in self.layer_files:
            d = self._digest(str(p.relative_to(self.root)), p)
            self._descs[d] = p
            with open(p, "rb") as f:
                kind = detect_compression(f.read(4))
            media = {"gzip": mt.DOCKER_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}.get(kind, mt.DOCKER_LAYER)
            layers.append(Descriptor(media, d, p.stat().st_size))
        m = Manifest(media_type=mt.DOCKER_MANIFEST, config=Descriptor(mt.DOCKER_CONFIG, cfg_d, len(cfg)),
                     layers=tuple(layers))
        return m.to_json()

    async def manifest(self, instance: Digest | None = None) -> tuple[bytes, str]:
        if self._manifest is None:
            self._manifest = self._build()
        return self._manifest, mt.DOCKER_MANIFEST

    async def blob(self, desc: Descriptor, sink: Sink, restart: Callable[[], None]) -> None:
        path = self.local_blob(desc)
        if path is None:
            raise InvalidArchive(f"blob {desc.digest} not found in the archive")
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                r = sink(chunk)
                if r is not None:
                    await r

    def local_blob(self, desc: Descriptor) -> Path | None:
        return self._descs.get(desc.digest)

    async def close(self) -> None:
        return None


def archive_sources(root: Path) -> list[tuple[ImageSource, list[str]]]:
    """(source, full tag references) for each image in an extracted archive."""
    out: list[tuple[ImageSource, list[str]]] = []
    if (root / "manifest.json").is_file():
        try:
            entries = json.loads((root / "manifest.json").read_text())
        except ValueError as exc:
            raise InvalidArchive(f"invalid manifest.json: {exc}") from exc
        if not isinstance(entries, list):
            raise InvalidArchive("invalid manifest.json: expected a list")
        for e in entries:
            src = DockerArchiveSource(root, e)
            out.append((src, src.tags))
        return out
    if (root / "index.json").is_file():
        for e in read_index(root):
            ann = e.get("annotations") or {}
            name = ann.get(IMAGE_NAME) or ""
            ref_name = ann.get(REF_NAME) or ""
            tags = []
            cand = name or ref_name
            parsed = reference.parse_search(cand) if cand else None
            if parsed is not None and (name or "/" in ref_name or ":" in ref_name):
                tags.append(str(parsed.with_default_tag()))
            out.append((OciLayoutSource(root, e), tags))
        return out
    raise InvalidArchive("invalid archive: neither manifest.json nor index.json found")
