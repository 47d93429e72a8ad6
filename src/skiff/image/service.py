"""ImageService: the facade the engine wraps (engine/images.py) for every image verb.

It owns the content store (``<root>/content``), the metadata store (``<root>/images.db``) and
an :class:`~skiff.image.unpack.Unpacker` over the engine's snapshotter. Streaming verbs (pull,
push, load) return async iterators of Docker JSON progress messages; their errors are raised from
the iterator after the messages that came before (the API turns them into ``errorDetail``).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from skiff.errors import InvalidParameter, NotFound
from skiff.image import reference, remove, views
from skiff.image.content import ContentStore
from skiff.image.copy import CopyOptions, copy_image, host_platform
from skiff.image.create import import_config, ingest_layer, now_rfc3339, store_image
from skiff.image.errors import NoSuchImage, PushImageNotFound
from skiff.image.progress import Progress, run
from skiff.image.progress import null as progress_null
from skiff.image.reference import Reference
from skiff.image.registry.auth import AuthConfig
from skiff.image.registry.client import RegistryClient
from skiff.image.store import ImageRecord, ImageStore
from skiff.image.transports.docker_archive import (
    ArchiveDestination,
    ArchiveWriter,
    archive_sources,
    extract_archive,
    tar_directory,
)
from skiff.image.transports.local import LocalDestination, LocalSource
from skiff.image.transports.oci_layout import OciLayoutDestination
from skiff.image.transports.registry import RegistryDestination, RegistrySource
from skiff.image.unpack import Unpacker
from skiff.oci import mediatypes as mt
from skiff.oci.digest import Digest, chain_ids
from skiff.oci.image_spec import (
    ContainerConfig,
    Descriptor,
    History,
    ImageConfig,
    parse_config,
    parse_platform,
)

__all__ = ["ImageService", "RootfsSpec"]


@dataclass(frozen=True)
class RootfsSpec:
    """What the container engine needs to prepare a container snapshot: the parent chain ID."""

    image_id: Digest
    top_chain_id: Digest | None  # None for an image without layers (FROM scratch)
    chain_ids: tuple[Digest, ...]


class ImageService:
    """See the module docstring. ``is_running(container_id)`` lets removal use Docker's running/
    stopped conflict texts; ``graph_driver(record)`` gives inspect's GraphDriver block."""

    def __init__(self, root: Path, unpacker: Unpacker, *, insecure_registries: Iterable[str] = (),
                 max_concurrent_downloads: int = 3, max_concurrent_uploads: int = 5,
                 is_running: Callable[[str], bool] | None = None,
                 graph_driver: Callable[[ImageRecord], dict[str, Any]] | None = None,
                 certs_dir: Path | None = None) -> None:
        self.root = Path(root)
        self.content = ContentStore(self.root / "content")
        self.content.clean_ingest()
        self.images = ImageStore(self.root / "images.db")
        self.unpacker = unpacker
        unpacker.cleanup()  # active snapshots of unpacks a crash interrupted
        self.insecure = tuple(insecure_registries)
        self.max_down = max_concurrent_downloads
        self.max_up = max_concurrent_uploads
        self.is_running = is_running or (lambda _cid: False)
        self.graph_driver = graph_driver or (lambda _rec: {"Data": None, "Name": "overlay2"})
        self.push_chunk_size = 0
        self.certs_dir = certs_dir  # Docker's /etc/docker/certs.d layout: <host:port>/ca.crt, client.cert/key

    def close(self) -> None:
        self.images.close()

    # -- lookups ---------------------------------------------------------------------------------
    def resolve(self, ref_or_id: str) -> ImageRecord:
        """A reference, full ID, or unique ID prefix -> the image. Raises NoSuchImage."""
        rec = self._lookup(ref_or_id)
        if rec is None:
            raise NoSuchImage(ref_or_id)
        return rec

    def _lookup(self, s: str) -> ImageRecord | None:
        hexpart = s.removeprefix("sha256:")
        if len(hexpart) == 64 and all(c in "0123456789abcdef" for c in hexpart):
            rec = self.images.get("sha256:" + hexpart)
            if rec is not None:
                return rec
        ref = reference.parse_search(s)
        if ref is not None:
            iid = self.images.get_ref(str(ref.with_default_tag()))
            if iid is not None and ref.digest is not None and ref.tag:
                iid = self.images.get_ref(str(ref.with_digest(ref.digest)))
            if iid is not None:
                return self.images.get(iid)
        if 1 <= len(hexpart) < 64 and all(c in "0123456789abcdef" for c in hexpart):
            ids = self.images.ids_with_prefix(hexpart)
            if len(ids) == 1:
                return self.images.get(ids[0])
        return None

    def config_of(self, rec: ImageRecord) -> ImageConfig:
        return parse_config(self.content.read(rec.id))

    def rootfs_for(self, image_id: str) -> RootfsSpec:
        """The snapshot chain a container of this image starts from (prepare(key, top_chain_id))."""
        rec = self.resolve(image_id)
        chains = tuple(x.chain_id for x in rec.layers)
        return RootfsSpec(image_id=rec.id, top_chain_id=chains[-1] if chains else None, chain_ids=chains)

    # container-use hooks: the container engine calls these on create and remove
    def container_created(self, container_id: str, image_id: str) -> None:
        self.images.add_use(container_id, image_id)

    def container_removed(self, container_id: str) -> None:
        self.images.remove_use(container_id)

    def sync_container_uses(self, uses: Mapping[str, str]) -> None:
        """The container engine's records at start (container id -> image id) replace the uses."""
        self.images.sync_uses(uses)

    def repo_tags(self, rec: ImageRecord) -> list[str]:
        return [reference.parse(r).familiar for r in self.images.refs_of(rec.id) if "@" not in r]

    def repo_digests(self, rec: ImageRecord) -> list[str]:
        return [reference.parse(r).familiar for r in self.images.refs_of(rec.id) if "@" in r]

    # -- tag -------------------------------------------------------------------------------------
    def tag(self, source: str, target: str) -> Reference:
        """docker tag: point ``target`` (a tag; ``latest`` by default) at ``source``'s image."""
        rec = self.resolve(source)
        ref = reference.parse(target)
        if ref.digest is not None:
            raise InvalidParameter("refusing to create a tag with a digest reference")
        ref = ref.with_default_tag()
        self.images.set_ref(str(ref), rec.id)
        return ref

    # -- pull ------------------------------------------------------------------------------------
    def pull(self, image: str, tag: str = "", *, platform: str = "", auth: AuthConfig | None = None,
             all_tags: bool = False) -> AsyncIterator[dict[str, Any]]:
        """docker pull (POST /images/create?fromImage=&tag=&platform=). ``all_tags``: the API's
        empty ``tag`` with an untagged ``fromImage`` (``docker pull -a``) pulls every tag."""
        ref = reference.parse(image)
        if tag:
            ref = ref.with_digest(Digest.parse(tag)) if ":" in tag else ref.with_tag(tag)
        plat = parse_platform(platform) if platform else None
        if all_tags and not ref.tag and not ref.digest:
            async def op_all(p: Progress) -> None:
                async with RegistryClient(ref.domain, auth, insecure=self.insecure, certs_dir=self.certs_dir) as client:
                    tags = sorted(await client.tags(ref.path))
                if not tags:
                    raise NoSuchImage(ref.familiar_name)
                for t in tags:
                    await self.pull_into(ref.with_tag(t), p, platform=plat, auth=auth, quiet_status=True)
                p.status(f"Status: Downloaded newer image for {ref.familiar_name}")
            return run(op_all)
        ref = ref.with_default_tag()

        async def op(p: Progress) -> None:
            await self.pull_into(ref, p, platform=plat, auth=auth)
        return run(op)

    async def pull_into(self, ref: Reference, p: Progress, *, platform: Any = None,
                        auth: AuthConfig | None = None, quiet_status: bool = False) -> ImageRecord:
        old = self.images.get_ref(str(ref))
        client = RegistryClient(ref.domain, auth, insecure=self.insecure, certs_dir=self.certs_dir)
        src = RegistrySource(client, ref.path, str(ref.digest) if ref.digest else ref.tag)
        dst = _PullDestination(self.content, self.images, self.unpacker, [str(ref)], ref.name)
        try:
            result = await copy_image(src, dst, p, CopyOptions(
                platform=platform, mode="pull", concurrency=self.max_down, layer_present=self.unpacker.has,
                on_resolved=lambda: p.status(f"Pulling from {ref.path}", ref.tag or str(ref.digest))))
        finally:
            await src.close()
            await dst.close()
        p.status(f"Digest: {result.source_digest}")
        if quiet_status:
            pass
        elif old == result.image_id:
            p.status(f"Status: Image is up to date for {ref.familiar}")
        else:
            p.status(f"Status: Downloaded newer image for {ref.familiar}")
        assert dst.record is not None
        return dst.record

    # -- push ------------------------------------------------------------------------------------
    def push(self, image: str, tag: str = "", *, auth: AuthConfig | None = None) -> AsyncIterator[dict[str, Any]]:
        """docker push (POST /images/{name}/push?tag=): one tag, or every tag of the repository."""
        ref = reference.parse(image)
        if tag:
            ref = ref.with_tag(tag)
        if ref.tag:
            targets = [ref]
        else:
            targets = sorted((reference.parse(r) for r, _ in self.images.all_refs()
                              if "@" not in r and reference.parse(r).name == ref.name), key=str)
            if not targets:
                raise PushImageNotFound(ref.familiar_name)
        for t in targets:
            if self._lookup(str(t)) is None:
                raise PushImageNotFound(t.familiar_name)

        async def op(p: Progress) -> None:
            p.status(f"The push refers to repository [{ref.name}]")
            for t in targets:
                await self._push_one(t, p, auth)
        return run(op)

    async def _push_one(self, ref: Reference, p: Progress, auth: AuthConfig | None) -> None:
        rec = self.resolve(str(ref))
        mount_from = []
        for r in self.images.refs_of(rec.id):
            other = reference.parse(r)
            if other.domain == ref.domain and other.path != ref.path:
                mount_from.append(other.path)
        client = RegistryClient(ref.domain, auth, insecure=self.insecure, certs_dir=self.certs_dir)
        dst = RegistryDestination(client, ref.path, ref.tag, mount_from=sorted(set(mount_from)),
                                  chunk_size=self.push_chunk_size)
        try:
            result = await copy_image(LocalSource(self.content, rec), dst, p,
                                      CopyOptions(mode="push", concurrency=self.max_up))
        finally:
            await dst.close()
        size = len(result.image.manifest_bytes)
        p.status(f"{ref.tag}: digest: {result.manifest_digest} size: {size}")
        p.aux({"Tag": ref.tag, "Digest": str(result.manifest_digest), "Size": size})
        self.images.set_ref(str(ref.with_digest(result.manifest_digest)), rec.id)


    # -- views and removal (views.py, remove.py) -----------------------------------------------------
    def list_images(self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None,  # noqa: A002
             shared_size: bool = False, containers: bool = False) -> list[dict[str, Any]]:
        """GET /images/json."""
        return views.list_images(self, all=all, filters=filters, shared_size=shared_size, containers=containers)

    def inspect(self, ref: str) -> dict[str, Any]:
        """GET /images/{name}/json."""
        return views.inspect(self, ref)

    def history(self, ref: str) -> list[dict[str, Any]]:
        """GET /images/{name}/history."""
        return views.history(self, ref)

    def df(self) -> dict[str, Any]:
        """Image figures of GET /system/df."""
        return views.disk_usage(self)

    def disk_usage(self, types: frozenset[str]) -> dict[str, Any]:
        """engine.system.DiskUsageSource: {"LayersSize", "Images"} when "image" is asked for."""
        return views.disk_usage(self) if "image" in types else {}

    def info_fields(self) -> dict[str, Any]:
        """engine.system.InfoSource: the image count of /info."""
        return {"Images": len(self.images.all())}

    def remove(self, ref: str, force: bool = False, noprune: bool = False) -> list[dict[str, str]]:
        """DELETE /images/{name}: Untagged/Deleted records; Conflict (ImageInUse) with Docker's texts."""
        return remove.remove_image(self, ref, force=force, prune=not noprune)

    def prune(self, filters: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
        """POST /images/prune: {"ImagesDeleted": [...] | None, "SpaceReclaimed": n}."""
        return remove.prune_images(self, filters)

    # -- save / load / OCI layout export --------------------------------------------------------------
    def _save_plan(self, names: Sequence[str]) -> list[tuple[ImageRecord, list[str]]]:
        """Image -> tags to write. A bare repository name means every tag of it (like docker save)."""
        plan: dict[str, tuple[ImageRecord, list[str]]] = {}

        def add(rec: ImageRecord, tag: str | None) -> None:
            entry = plan.setdefault(str(rec.id), (rec, []))
            if tag and tag not in entry[1]:
                entry[1].append(tag)
        for n in names:
            ref = reference.parse_search(n)
            name_only = ref is not None and not ref.tag and not ref.digest
            tagged = sorted((r, iid) for r, iid in self.images.all_refs()
                            if name_only and ref is not None and "@" not in r and reference.parse(r).name == ref.name)
            if tagged:
                for r, iid in tagged:
                    other = self.images.get(iid)
                    if other is not None:
                        add(other, r)
                continue
            rec = self.resolve(n)
            add(rec, str(ref.with_default_tag()) if ref is not None and ref.tag else None)
        return list(plan.values())

    def save(self, names: Sequence[str]) -> AsyncIterator[bytes]:
        """GET /images/get: a docker-archive tar (Docker 25+ layout) of the named images, streamed."""
        plan = self._save_plan(names)

        async def gen() -> AsyncIterator[bytes]:
            tmp = Path(tempfile.mkdtemp(prefix="save-", dir=self._tmp()))
            try:
                writer = ArchiveWriter(tmp / "dir")
                for rec, tags in plan:
                    await copy_image(LocalSource(self.content, rec), ArchiveDestination(writer, tags),
                                     progress_null(), CopyOptions(mode="quiet"))
                writer.finish()
                out = tmp / "archive.tar"
                with open(out, "wb") as f:
                    await asyncio.to_thread(tar_directory, tmp / "dir", f)
                with open(out, "rb") as f:
                    while chunk := await asyncio.to_thread(f.read, 1 << 20):
                        yield chunk
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return gen()

    def _tmp(self) -> Path:
        d = self.root / "tmp"
        d.mkdir(exist_ok=True)
        return d

    def load(self, source: BinaryIO | AsyncIterable[bytes], quiet: bool = False) -> AsyncIterator[dict[str, Any]]:
        """POST /images/load: a docker-archive or OCI archive tar -> {"stream": "Loaded image: ...\n"}."""
        async def op(p: Progress) -> None:
            tmp = Path(tempfile.mkdtemp(prefix="load-", dir=self._tmp()))
            try:
                if isinstance(source, AsyncIterable):
                    spool = tmp / "in.tar"
                    with open(spool, "wb") as f:
                        async for chunk in source:
                            f.write(chunk)
                    with open(spool, "rb") as f:
                        await asyncio.to_thread(extract_archive, f, tmp / "dir")
                    spool.unlink()
                else:
                    await asyncio.to_thread(extract_archive, source, tmp / "dir")
                for src, tags in archive_sources(tmp / "dir"):
                    before = {t: self.images.get_ref(t) for t in tags}
                    dst = LocalDestination(self.content, self.images, self.unpacker, tags)
                    try:
                        result = await copy_image(src, dst, p, CopyOptions(mode="quiet" if quiet else "load"))
                    finally:
                        await dst.close()
                    for t in tags:
                        old = before[t]
                        fam = reference.parse(t).familiar
                        if old is not None and old != result.image_id:
                            p.emit({"stream": f"The image {fam} already exists, renaming the old one with ID "
                                              f"{old} to empty string\n"})
                        p.emit({"stream": f"Loaded image: {fam}\n"})
                    if not tags:
                        p.emit({"stream": f"Loaded image ID: {result.image_id}\n"})
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return run(op)

    async def export_oci_layout(self, ref: str, dest: Path, ref_name: str = "") -> Digest:
        """Write one image into an OCI layout directory (umoci, skopeo oci:, ...); returns its manifest digest."""
        rec = self.resolve(ref)
        tags = self.repo_tags(rec)
        name = ref_name or (reference.parse(tags[0]).tag if tags else "")
        image_name = str(reference.parse(tags[0])) if tags else ""
        result = await copy_image(LocalSource(self.content, rec), OciLayoutDestination(dest, name, image_name),
                                  progress_null(), CopyOptions(mode="quiet"))
        return result.manifest_digest

    # -- import / commit -------------------------------------------------------------------------
    async def import_image(self, source: BinaryIO, *, repo: str = "", tag: str = "", message: str = "",
                           config: ContainerConfig | None = None, platform: str = "",
                           source_name: str = "-") -> ImageRecord:
        """docker import: a rootfs tarball (plain/gzip/zstd) -> a one-layer image. ``config`` holds the
        ``--change`` instructions, already parsed by the caller."""
        refs = []
        if repo:
            r = reference.parse(repo)
            r = r.with_tag(tag) if tag else r.with_default_tag()
            refs.append(str(r))
        plat = parse_platform(platform) if platform else host_platform()
        cfg = import_config(ImageConfig(config=config or ContainerConfig()), message=message, source=source_name,
                            platform=(plat.os, plat.architecture, plat.variant))

        def work() -> ImageRecord:
            layer = ingest_layer(self.content, source)
            return store_image(self.content, self.images, self.unpacker, cfg, [layer], refs)
        return await asyncio.to_thread(work)

    async def commit_image(self, base: str | None, layer: BinaryIO | None, config: ImageConfig,
                           refs: Sequence[str] = ()) -> ImageRecord:
        """Engine commit / builder: ``base`` image's layers + one new layer tar (None for an empty
        change); ``config`` is the new image's config (its diff IDs are recomputed)."""
        base_layers: list[tuple[Descriptor, Digest, int]] = []
        parent = ""
        if base:
            brec = self.resolve(base)
            parent = str(brec.id)
            for x in brec.layers:
                if x.blob is None:
                    raise InvalidParameter(f"image {brec.id} has a layer without a blob")
                base_layers.append((Descriptor(media_type=x.media_type or mt.DOCKER_LAYER_GZIP, digest=x.blob,
                                               size=x.blob_size), x.diff_id, x.size))
        full_refs = [str(reference.parse(r).with_default_tag()) for r in refs]

        def work() -> ImageRecord:
            layers = list(base_layers)
            if layer is not None:
                layers.append(ingest_layer(self.content, layer))
            cfg = config if config.parent or not parent else config.with_changes(parent=parent)
            return store_image(self.content, self.images, self.unpacker, cfg, layers, full_refs)
        return await asyncio.to_thread(work)


    def commit(self, config: ImageConfig, layer: BinaryIO | None = None, *, history: History | None = None,
               refs: Sequence[str] = (), parent: str = "", snapshot_key: str = "") -> ImageRecord:
        """The builder's and POST /commit's commit (blocking, thread-safe): the layers named by
        ``config.diff_ids`` (found in the store by chain ID), plus one layer from the diff tar
        ``layer`` if given, plus ``history`` (empty_layer when there is no layer). ``snapshot_key``:
        the active snapshot holding the new layer's files (committed instead of re-extracting).
        Raises NotFound if a layer of ``config.diff_ids`` is not in the store."""
        base: list[tuple[Descriptor, Digest, int]] = []
        for chain in chain_ids(list(config.diff_ids)):
            x = self.images.layer_by_chain(chain)
            if x is None or x.blob is None:
                raise NotFound(f"layer {chain} is not in the image store")
            base.append((Descriptor(media_type=x.media_type or mt.DOCKER_LAYER_GZIP, digest=x.blob,
                                    size=x.blob_size), x.diff_id, x.size))
        layers = list(base)
        if layer is not None:
            layers.append(ingest_layer(self.content, layer))
        hist = tuple(config.history)
        if history is not None:
            hist += (replace(history, empty_layer=layer is None),)
        cfg = config.with_changes(history=hist, parent=parent or config.parent,
                                  created=(history.created if history is not None and history.created
                                           else now_rfc3339()))
        full_refs = [str(reference.parse(r).with_default_tag()) for r in refs]
        return store_image(self.content, self.images, self.unpacker, cfg, layers, full_refs,
                           snapshot_key=snapshot_key if layer is not None else "")


class _PullDestination(LocalDestination):
    """The local store, adding the repo digest (``name@<digest the registry served>``) on commit."""

    def __init__(self, content: ContentStore, images: ImageStore, unpacker: Unpacker, refs: list[str],
                 repo_name: str) -> None:
        super().__init__(content, images, unpacker, refs)
        self.repo_name = repo_name

    async def commit(self, image: Any, layer_cbs: list[Any]) -> Digest:
        top = image.index_digest or Digest.of(image.manifest_bytes)
        self.refs = list(dict.fromkeys([*self.refs, f"{self.repo_name}@{top}"]))
        return await super().commit(image, layer_cbs)
