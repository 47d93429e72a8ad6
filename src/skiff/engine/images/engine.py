"""ImageEngine: the daemon's image service. It wraps ``skiff.image.service.ImageService`` (which does
the work) and adds what the engine owns: the snapshotter choice, events, ``docker import``'s
``--change`` lines and URL sources, and the registry login check (``POST /auth``).

``build_image_engine(config, events)`` picks overlay2 under ``<data-root>/overlay2`` (vfs under
``<data-root>/vfs`` when overlay is unusable or ``storage-driver`` says so) and returns the engine;
``engine.snapshotter`` and ``engine.service`` are what the container engine takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from skiff.engine.config import DaemonConfig
from skiff.engine.events import EventBus
from skiff.engine.images import remote
from skiff.engine.images.changes import parse_changes
from skiff.errors import InvalidParameter, NotFound
from skiff.image import reference
from skiff.image.registry.auth import AuthConfig
from skiff.image.service import ImageService
from skiff.image.store import ImageRecord
from skiff.image.unpack import SnapshotUnpacker
from skiff.oci.digest import Digest
from skiff.storage import LayerAccess, Overlay2Snapshotter, Snapshotter, VfsSnapshotter, overlay_supported

__all__ = ["ImageEngine", "build_image_engine", "make_snapshotter"]

log = logging.getLogger("skiff.images")


def make_snapshotter(config: DaemonConfig) -> tuple[Snapshotter, str]:
    """overlay2 when the kernel and the data root allow it (or when asked), else vfs."""
    wanted = config.get("storage-driver") or ""
    root = config.data_root
    if wanted == "vfs":
        return VfsSnapshotter(root / "vfs"), "vfs"
    if wanted not in ("", "overlay2", "overlay"):
        raise InvalidParameter(f"error initializing graphdriver: driver not supported: {wanted}")
    if overlay_supported(root / "overlay2"):
        return Overlay2Snapshotter(root / "overlay2"), "overlay2"
    if wanted:
        raise InvalidParameter("error initializing graphdriver: driver not supported: overlay2")
    log.warning("overlay2 is not supported on %s: using vfs", root)
    return VfsSnapshotter(root / "vfs"), "vfs"


def build_image_engine(config: DaemonConfig, events: EventBus) -> ImageEngine:
    sn, driver = make_snapshotter(config)
    return ImageEngine(config, events, sn, driver)


# ---- the engine -------------------------------------------------------------------------------

class ImageEngine:
    """Every image verb of the API, with Docker's events. Thread-compatible like ImageService."""

    def __init__(self, config: DaemonConfig, events: EventBus, snapshotter: Snapshotter,
                 driver: str = "overlay2") -> None:
        self.config = config
        self.events = events
        self.snapshotter = snapshotter
        self.driver = driver
        self.insecure = tuple(config.get("insecure-registries") or ())
        self.service = ImageService(
            config.data_root / "image", SnapshotUnpacker(snapshotter), insecure_registries=self.insecure,
            max_concurrent_downloads=int(config.get("max-concurrent-downloads") or 3),
            max_concurrent_uploads=int(config.get("max-concurrent-uploads") or 5),
            graph_driver=self._graph_driver)

    # -- wiring ----------------------------------------------------------------------------------
    def set_is_running(self, is_running: Callable[[str], bool]) -> None:
        """The container engine tells rmi which containers run (Docker's running/stopped texts)."""
        self.service.is_running = is_running

    def close(self) -> None:
        self.service.close()

    def _graph_driver(self, rec: ImageRecord) -> dict[str, Any]:
        top = rec.top_chain_id
        data: dict[str, str] | None = None
        if top is not None:
            with contextlib.suppress(Exception):
                dirs = cast(LayerAccess, self.snapshotter).layer_dirs(str(top))
                if dirs.overlay:
                    data = {"MergedDir": str(dirs.upper.parent / "merged"), "UpperDir": str(dirs.upper),
                            "WorkDir": str(dirs.upper.parent / "work")}
                    if dirs.lowers:
                        data["LowerDir"] = ":".join(str(p) for p in dirs.lowers)
                else:
                    data = {"Dir": str(dirs.upper)}
        return {"Data": data, "Name": self.driver}

    # -- the ImageProvider seam for containers (delegates) -----------------------------------------
    def resolve(self, ref_or_id: str) -> ImageRecord:
        return self.service.resolve(ref_or_id)

    def config_of(self, rec: ImageRecord) -> Any:
        return self.service.config_of(rec)

    def rootfs_for(self, image_id: str) -> Any:
        return self.service.rootfs_for(image_id)

    def container_created(self, container_id: str, image_id: str) -> None:
        self.service.container_created(container_id, image_id)

    def container_removed(self, container_id: str) -> None:
        self.service.container_removed(container_id)

    def sync_container_uses(self, uses: Mapping[str, str]) -> None:
        self.service.sync_container_uses(uses)

    # -- sources for /info and /system/df ------------------------------------------------------------
    def info_fields(self) -> Mapping[str, Any]:
        return self.service.info_fields()

    def disk_usage(self, types: frozenset[str]) -> Mapping[str, Any]:
        return self.service.disk_usage(types)

    # -- events ----------------------------------------------------------------------------------
    def _labels(self, image_id: str) -> dict[str, str]:
        with contextlib.suppress(Exception):
            rec = self.service.images.get(image_id)
            if rec is not None:
                return dict(self.service.config_of(rec).config.labels)
        return {}

    def _event(self, action: str, actor: str, name: str, image_id: str = "") -> None:
        attrs = self._labels(image_id or actor)
        attrs["name"] = name
        self.events.publish("image", action, actor, attrs)

    # -- verbs -----------------------------------------------------------------------------------
    async def pull(self, image: str, tag: str = "", *, platform: str = "", auth: AuthConfig | None = None
                   ) -> AsyncIterator[dict[str, Any]]:
        """POST /images/create?fromImage=: the first message is fetched here, so errors found before
        the stream starts (not found, denied) raise from this coroutine, before any byte is sent."""
        ref = reference.parse(image)
        if tag:
            ref = ref.with_digest(Digest.parse(tag)) if ":" in tag else ref.with_tag(tag)
        all_tags = not tag and not ref.tag and not ref.digest
        it = self.service.pull(image, tag, platform=platform, auth=auth, all_tags=all_tags)
        first = await anext(it, None)
        shown = ref.familiar if (ref.tag or ref.digest) else ref.with_default_tag().familiar
        if all_tags:
            shown = ref.familiar_name

        async def gen() -> AsyncIterator[dict[str, Any]]:
            if first is not None:
                yield first
            async for msg in it:
                yield msg
            iid = ""
            with contextlib.suppress(Exception):
                iid = str(self.service.resolve(shown).id)
            self._event("pull", shown, ref.familiar_name, iid)
        return gen()

    async def push(self, image: str, tag: str = "", *, auth: AuthConfig | None = None
                   ) -> AsyncIterator[dict[str, Any]]:
        ref = reference.parse(image)
        if tag:
            ref = ref.with_tag(tag)
        it = self.service.push(image, tag, auth=auth)
        first = await anext(it, None)

        async def gen() -> AsyncIterator[dict[str, Any]]:
            if first is not None:
                yield first
            async for msg in it:
                yield msg
            self._event("push", ref.familiar, ref.familiar_name, self._id_of(ref.familiar))
        return gen()

    def _id_of(self, ref: str) -> str:
        try:
            return str(self.service.resolve(ref).id)
        except NotFound:
            return ""

    def tag(self, source: str, repo: str, tag: str = "") -> str:
        """POST /images/{name}/tag: returns the new reference's familiar form."""
        if not repo:
            raise InvalidParameter("repository name must have at least one component")
        target = f"{repo}:{tag}" if tag else repo
        rec = self.service.resolve(source)
        new = self.service.tag(source, target)
        self._event("tag", str(rec.id), new.familiar)
        return new.familiar

    def remove(self, name: str, force: bool = False, noprune: bool = False) -> list[dict[str, str]]:
        rec = self.service.resolve(name)
        labels = self._labels(str(rec.id))
        result = self.service.remove(name, force=force, noprune=noprune)
        for item in result:
            if "Untagged" in item:
                self.events.publish("image", "untag", str(rec.id), {**labels, "name": str(rec.id)})
            elif "Deleted" in item:
                did = item["Deleted"]
                attrs = labels if did == str(rec.id) else {}
                self.events.publish("image", "delete", did, {**attrs, "name": did})
        return result

    def list_images(self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None,  # noqa: A002
                    shared_size: bool = False) -> list[dict[str, Any]]:
        return self.service.list_images(all=all, filters=filters, shared_size=shared_size)

    def inspect(self, name: str) -> dict[str, Any]:
        return self.service.inspect(name)

    def history(self, name: str) -> list[dict[str, Any]]:
        return self.service.history(name)

    def prune(self, filters: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
        before = {reference.parse(r).familiar: str(iid) for r, iid in self.service.images.all_refs()}
        result = self.service.prune(filters)
        for item in result.get("ImagesDeleted") or []:
            if "Untagged" in item:
                iid = before.get(item["Untagged"], "")
                if iid:
                    self.events.publish("image", "untag", iid, {"name": iid})
                continue
            did = item.get("Deleted", "")
            self.events.publish("image", "delete", did, {"name": did})
        self.events.publish("image", "prune", "", {"reclaimed": str(result.get("SpaceReclaimed", 0))})
        return result

    def save(self, names: Sequence[str]) -> AsyncIterator[bytes]:
        """GET /images/get: every name is resolved before the tar starts (a missing one is a 404); a
        bare repository name means all its tags, like docker save."""
        stream = self.service.save(names)
        ids: list[str] = []
        for n in names:
            iid = self._id_of(n)
            if iid:
                ids.append(iid)
                continue
            with contextlib.suppress(Exception):
                name = reference.parse(n).name
                ids += [str(i) for r, i in self.service.images.all_refs() if reference.parse(r).name == name]
        for iid in dict.fromkeys(ids):
            self._event("save", iid, iid)
        return stream

    def load(self, body: AsyncIterable[bytes], quiet: bool = False) -> AsyncIterator[dict[str, Any]]:
        it = self.service.load(body, quiet=quiet)

        async def gen() -> AsyncIterator[dict[str, Any]]:
            loaded: list[str] = []
            async for msg in it:
                text = str(msg.get("stream") or "")
                if text.startswith("Loaded image ID: "):
                    loaded.append(text.removeprefix("Loaded image ID: ").strip())
                elif text.startswith("Loaded image: "):
                    iid = self._id_of(text.removeprefix("Loaded image: ").strip())
                    if iid:
                        loaded.append(iid)
                yield msg
            for iid in dict.fromkeys(loaded):
                self._event("load", iid, iid)
        return gen()

    async def import_image(self, body: AsyncIterable[bytes] | None, *, src: str = "-", repo: str = "",
                           tag: str = "", message: str = "", changes: Sequence[str] = (),
                           platform: str = "") -> AsyncIterator[dict[str, Any]]:
        """POST /images/create?fromSrc=: a rootfs tar from the body (``-``) or a URL -> one-layer image.
        Bad changes or a bad reference raise here, before the stream starts."""
        config = parse_changes(changes)
        if repo:
            reference.parse(repo)
        tmpdir = Path(tempfile.mkdtemp(prefix="import-", dir=self._tmp()))

        async def gen() -> AsyncIterator[dict[str, Any]]:
            try:
                spool = tmpdir / "layer.tar"
                if src == "-":
                    await _spool(body or _empty(), spool)
                else:
                    yield {"status": "Downloading from " + src}
                    await remote.download(src, spool)
                    yield {"status": "Importing", "progressDetail": {}}
                with open(spool, "rb") as f:
                    rec = await self.service.import_image(
                        f, repo=repo, tag=tag, message=message, config=config, platform=platform,
                        source_name=src)
            finally:
                shutil.rmtree(tmpdir, ignore_errors=True)
            self._event("import", str(rec.id), str(rec.id))
            yield {"status": str(rec.id)}
        return gen()

    def _tmp(self) -> Path:
        d = self.config.data_root / "image" / "tmp"
        d.mkdir(parents=True, exist_ok=True)
        return d

    # -- registry login (POST /auth), distribution inspect, search: engine/images/remote.py -----------
    async def login(self, auth: AuthConfig) -> dict[str, str]:
        return await remote.login(auth, self.insecure)

    async def distribution(self, name: str, auth: AuthConfig | None = None) -> dict[str, Any]:
        return await remote.distribution(name, auth, self.insecure)

    async def search(self, term: str, limit: int, filters: Mapping[str, Sequence[str]],
                     auth: AuthConfig | None = None) -> list[dict[str, Any]]:
        return await remote.search(term, limit, filters, auth, self.insecure)


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""


async def _spool(body: AsyncIterable[bytes], dest: Path) -> None:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        async for chunk in body:
            await asyncio.to_thread(f.write, chunk)
