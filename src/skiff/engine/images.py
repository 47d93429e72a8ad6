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
import urllib.parse
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from skiff.build.commands import (
    CmdInstruction,
    EntrypointInstruction,
    EnvInstruction,
    ExposeInstruction,
    HealthcheckInstruction,
    LabelInstruction,
    OnbuildInstruction,
    StopSignalInstruction,
    UserInstruction,
    VolumeInstruction,
    WorkdirInstruction,
)
from skiff.build.instructions import parse_instruction
from skiff.build.parser import parse_line
from skiff.engine.config import DaemonConfig
from skiff.engine.events import EventBus
from skiff.errors import InvalidParameter, NotFound, Unauthorized, Unavailable
from skiff.image import reference
from skiff.image.errors import RegistryUnauthorized
from skiff.image.registry.auth import AuthConfig
from skiff.image.registry.client import RegistryClient, is_insecure
from skiff.image.service import ImageService
from skiff.image.store import ImageRecord
from skiff.image.unpack import SnapshotUnpacker
from skiff.oci.digest import Digest
from skiff.oci.image_spec import ContainerConfig, HealthConfig
from skiff.storage import LayerAccess, Overlay2Snapshotter, Snapshotter, VfsSnapshotter, overlay_supported

__all__ = ["ImageEngine", "build_image_engine", "parse_changes", "VALID_CHANGES"]

log = logging.getLogger("skiff.images")

# moby's validCommitCommands: what `docker import --change` / `docker commit --change` accept
VALID_CHANGES = ("cmd", "entrypoint", "env", "expose", "healthcheck", "label", "onbuild", "stopsignal",
                 "user", "volume", "workdir")
_DEFAULT_SHELL = ("/bin/sh", "-c")


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


# ---- docker import --change ---------------------------------------------------------------------

def _shell_words(ins: CmdInstruction | EntrypointInstruction, shell: tuple[str, ...]) -> tuple[str, ...]:
    if ins.prepend_shell:
        return (*(shell or _DEFAULT_SHELL), " ".join(ins.cmd_line))
    return tuple(ins.cmd_line)


def parse_changes(changes: Sequence[str], base: ContainerConfig | None = None) -> ContainerConfig:
    """Dockerfile-like ``--change`` lines applied to ``base`` (moby's BuildFromConfig subset)."""
    cfg = base or ContainerConfig()
    env = list(cfg.env)
    labels = dict(cfg.labels)
    ports = list(cfg.exposed_ports)
    volumes = list(cfg.volumes)
    onbuild = list(cfg.on_build)
    values: dict[str, Any] = {}
    for raw in changes:
        line = raw.strip()
        if not line:
            continue
        word = line.split(None, 1)[0].lower()
        if word not in VALID_CHANGES:
            raise InvalidParameter(f"{word} is not a valid change command")
        ins = parse_instruction(parse_line(line))
        if isinstance(ins, CmdInstruction):
            values["cmd"] = _shell_words(ins, cfg.shell)
        elif isinstance(ins, EntrypointInstruction):
            values["entrypoint"] = _shell_words(ins, cfg.shell)
        elif isinstance(ins, EnvInstruction):
            for kv in ins.env:
                env = [e for e in env if e.split("=", 1)[0] != kv.key] + [f"{kv.key}={kv.value}"]
        elif isinstance(ins, LabelInstruction):
            labels.update({kv.key: kv.value for kv in ins.labels})
        elif isinstance(ins, ExposeInstruction):
            for p in ins.ports:
                port = p if "/" in p else f"{p}/tcp"
                if port not in ports:
                    ports.append(port)
        elif isinstance(ins, VolumeInstruction):
            volumes += [v for v in ins.volumes if v not in volumes]
        elif isinstance(ins, UserInstruction):
            values["user"] = ins.user
        elif isinstance(ins, WorkdirInstruction):
            values["working_dir"] = ins.path
        elif isinstance(ins, StopSignalInstruction):
            values["stop_signal"] = ins.signal
        elif isinstance(ins, OnbuildInstruction):
            onbuild.append(ins.expression)
        elif isinstance(ins, HealthcheckInstruction):
            values["healthcheck"] = HealthConfig(test=tuple(ins.test), interval=ins.interval, timeout=ins.timeout,
                                                 start_period=ins.start_period,
                                                 start_interval=ins.start_interval, retries=ins.retries)
    return replace(cfg, env=tuple(env), labels=labels, exposed_ports=tuple(ports), volumes=tuple(volumes),
                   on_build=tuple(onbuild), **values)


def registry_domain(server_address: str) -> str:
    """``https://index.docker.io/v1/``, ``http://host:5000``, ``host:5000/v2/`` -> the registry host."""
    s = server_address.strip()
    if not s:
        return "docker.io"
    if "://" not in s:
        s = "//" + s
    host = urllib.parse.urlsplit(s).netloc or s.strip("/")
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io", "docker.io") else host


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
        """GET /images/get: resolves every name first (a missing one is a 404 before the tar starts)."""
        ids = []
        for n in names:
            ids.append(str(self.service.resolve(n).id))
        stream = self.service.save(names)
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
                    await _download(src, spool)
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

    # -- registry login (POST /auth) and distribution inspect -------------------------------------------
    async def login(self, auth: AuthConfig) -> dict[str, str]:
        """Check the credentials against the registry's ``/v2/`` (basic or token flow)."""
        domain = registry_domain(auth.server_address)
        async with RegistryClient(domain, auth, insecure=self.insecure, retries=1) as client:
            try:
                async with client.request("GET", "/v2/", ()):
                    pass
            except RegistryUnauthorized as exc:
                base = await client.base()
                raise LoginFailed(f"login attempt to {base}/v2/ failed with status: 401 Unauthorized"
                                  if "incorrect" not in exc.message else exc.message) from None
        return {"Status": "Login Succeeded", "IdentityToken": ""}

    async def distribution(self, name: str, auth: AuthConfig | None = None) -> dict[str, Any]:
        """GET /distribution/{name}/json: the manifest descriptor and the platforms it serves."""
        import json

        ref = reference.parse(name)
        if not ref.digest:
            ref = ref.with_default_tag()
        async with RegistryClient(ref.domain, auth, insecure=self.insecure) as client:
            m = await client.get_manifest(ref.path, str(ref.digest) if ref.digest else ref.tag)
        doc = json.loads(m.data)
        media_type = m.media_type or doc.get("mediaType", "")
        platforms: list[dict[str, Any]] = []
        if doc.get("manifests"):
            for d in doc["manifests"]:
                p = d.get("platform")
                if isinstance(p, dict) and p.get("os") != "unknown":
                    platforms.append({k: v for k, v in p.items() if v})
        else:
            async with RegistryClient(ref.domain, auth, insecure=self.insecure) as client:
                cfg_digest = (doc.get("config") or {}).get("digest", "")
                chunks: list[bytes] = []
                if cfg_digest:
                    await client.fetch_blob(ref.path, Digest.parse(cfg_digest), chunks.append)
                cfg = json.loads(b"".join(chunks) or b"{}")
            plat = {"architecture": cfg.get("architecture", ""), "os": cfg.get("os", "")}
            if cfg.get("variant"):
                plat["variant"] = cfg["variant"]
            platforms.append(plat)
        return {"Descriptor": {"mediaType": media_type, "digest": str(m.digest), "size": len(m.data)},
                "Platforms": platforms}

    async def search(self, term: str, limit: int, filters: Mapping[str, Sequence[str]],
                     auth: AuthConfig | None = None) -> list[dict[str, Any]]:
        """GET /images/search: asks the index's v1 search API (Docker Hub, or the registry named in
        the term). Registries without an index (distribution v2) fail with a clear error."""
        import aiohttp

        if not 1 <= limit <= 100:
            raise InvalidParameter(f"limit {limit} is outside the range of [1, 100]")
        domain, _, rest = term.partition("/")
        if rest and ("." in domain or ":" in domain or domain == "localhost"):
            index, query = domain, rest
        else:
            index, query = "docker.io", term
        host = "index.docker.io" if index == "docker.io" else index
        schemes = ["https", "http"] if is_insecure(index, self.insecure) else ["https"]
        headers = {}
        if auth is not None and not auth.empty and auth.username:
            headers["Authorization"] = auth.basic_header()
        last = ""
        for scheme in schemes:
            url = f"{scheme}://{host}/v1/search?q={urllib.parse.quote(query)}&n={limit}"
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as s, \
                        s.get(url, headers=headers) as resp:
                    if resp.status == 404:
                        raise Unavailable(f"Unexpected status code 404: the registry {index} has no search "
                                          "index (search is not supported without an index)")
                    if resp.status != 200:
                        raise Unavailable(f"Unexpected status code {resp.status}")
                    doc = await resp.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                last = f'Get "{url}": {exc or type(exc).__name__}'
                continue
            results = [r for r in (doc.get("results") or []) if isinstance(r, dict)]
            return [r for r in results if _search_match(r, filters)][:limit]
        raise Unavailable(last or f"cannot reach the index of {index}")


def _search_match(r: Mapping[str, Any], filters: Mapping[str, Sequence[str]]) -> bool:
    for v in filters.get("stars", []):
        try:
            if int(r.get("star_count") or 0) < int(v):
                return False
        except ValueError:
            raise InvalidParameter(f"invalid filter 'stars={v}'") from None
    for key, field_ in (("is-official", "is_official"), ("is-automated", "is_automated")):
        for v in filters.get(key, []):
            if v.lower() not in ("true", "false", "1", "0"):
                raise InvalidParameter(f"invalid filter '{key}={v}'")
            if bool(r.get(field_)) != (v.lower() in ("true", "1")):
                return False
    return True


class LoginFailed(Unauthorized):
    """POST /auth with credentials the registry refused (HTTP 401, as dockerd answers)."""


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""


async def _spool(body: AsyncIterable[bytes], dest: Path) -> None:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        async for chunk in body:
            await asyncio.to_thread(f.write, chunk)


async def _download(url: str, dest: Path) -> None:
    import aiohttp

    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        url = "http://" + url
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=30)) as s, \
                s.get(url) as resp:
            if resp.status >= 400:
                raise InvalidParameter(f"Get \"{url}\": unexpected status {resp.status} {resp.reason}")
            with open(dest, "wb") as f:
                async for chunk in resp.content.iter_chunked(1 << 20):
                    await asyncio.to_thread(f.write, chunk)
    except aiohttp.ClientError as exc:
        raise InvalidParameter(f"Get \"{url}\": {exc}") from exc
