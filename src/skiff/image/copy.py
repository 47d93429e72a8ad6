"""The one copy pipeline: pull, push, save and load are all ``copy_image(src, dst)``.

1. Read the source's manifest; from an index pick the manifest for the wanted platform.
2. Fetch and parse the config (small; verified by digest).
3. For every blob (config, then layers in parallel): reuse it at the destination if possible,
   else let the destination copy it from the source, reporting bytes.
4. ``dst.commit``: PUT the manifest / unpack and record / write the archive index.

Progress uses Docker's wording for the operation (``mode``): pull ("Pulling fs layer",
"Downloading", "Download complete", "Extracting", "Pull complete", "Already exists") or push
("Preparing", "Waiting", "Pushing", "Pushed", "Layer already exists", "Mounted from ...").
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass

from skiff.errors import NotFound
from skiff.image.errors import DigestMismatch, UnsupportedManifest
from skiff.image.progress import Progress
from skiff.image.transports.base import CopiedImage, ImageDestination, ImageSource, LayerCallbacks
from skiff.oci.digest import Digest, chain_ids
from skiff.oci.image_spec import (
    Descriptor,
    Index,
    Manifest,
    Platform,
    SpecError,
    parse_config,
    parse_manifest,
)

__all__ = ["CopyOptions", "CopyResult", "copy_image", "host_platform", "NoMatchingManifest", "PlatformMismatch",
           "resolve_manifest"]


class NoMatchingManifest(NotFound):
    def __init__(self, platform: Platform) -> None:
        super().__init__(f"no matching manifest for {platform} in the manifest list entries")


class PlatformMismatch(NotFound):
    def __init__(self, ref: str, wanted: Platform, actual: Platform) -> None:
        super().__init__(f"image with reference {ref} was found but does not match the specified platform: "
                         f"wanted {wanted}, actual: {actual}")


def host_platform() -> Platform:
    return Platform(os="linux", architecture=os.uname().machine).normalized()


@dataclass(frozen=True)
class CopyOptions:
    platform: Platform | None = None
    mode: str = "pull"  # "pull", "push", "load" or "quiet"
    concurrency: int = 3
    #: called once the manifest is resolved (Docker prints "Pulling from ..." only then, so a
    #: missing image fails before the stream starts and the API can answer with a 404)
    on_resolved: Callable[[], None] | None = None
    #: pull: is the layer with this chain ID already unpacked at the destination? Docker then says
    #: "Already exists" even when the blob is gone (its layer store, not its blobs, decides)
    layer_present: Callable[[Digest], bool] | None = None


@dataclass(frozen=True)
class CopyResult:
    image_id: Digest
    manifest_digest: Digest  # at the destination
    source_digest: Digest  # what the source's reference points to (the index, if any)
    image: CopiedImage


MAX_CONFIG = 8 << 20


async def _read_blob(src: ImageSource, desc: Descriptor) -> bytes:
    """A small blob (the image config) into memory, size-capped and verified."""
    if desc.size > MAX_CONFIG:
        raise UnsupportedManifest(f"image config {desc.digest} is larger than {MAX_CONFIG} bytes")
    buf = bytearray()

    def sink(b: bytes) -> None:
        buf.extend(b)
        if len(buf) > max(desc.size, 0) and len(buf) > MAX_CONFIG:
            raise UnsupportedManifest(f"image config {desc.digest} is larger than announced")
    await src.blob(desc, sink, buf.clear)
    data = bytes(buf)
    actual = Digest.of(data)
    if actual != desc.digest:
        raise DigestMismatch(desc.digest, actual)
    return data


async def resolve_manifest(src: ImageSource, platform: Platform | None) -> tuple[Manifest, bytes, bytes, str]:
    """(manifest, manifest bytes, top bytes, top media type): the single-platform manifest of ``src``."""
    top, top_type = await src.manifest(None)
    try:
        parsed = parse_manifest(top, top_type)
        data = top
        for _ in range(2):  # an index may point to an index once (nested platforms)
            if not isinstance(parsed, Index):
                break
            want = platform or host_platform()
            desc = parsed.select(want)
            if desc is None:
                raise NoMatchingManifest(want)
            data, media_type = await src.manifest(desc.digest)
            if Digest.of(data) != desc.digest:
                raise DigestMismatch(desc.digest, Digest.of(data))
            parsed = parse_manifest(data, media_type or desc.media_type)
    except SpecError as exc:
        raise UnsupportedManifest(str(exc)) from exc
    if not isinstance(parsed, Manifest):
        raise UnsupportedManifest("nested index too deep")
    return parsed, data, top, top_type or (parse_manifest(top).media_type if top else "")


async def copy_image(src: ImageSource, dst: ImageDestination, progress: Progress,
                     opts: CopyOptions | None = None) -> CopyResult:
    """Copy one image; see the module docstring. Raises NotFound, UnsupportedManifest, DigestMismatch,
    registry errors. Nothing partial is committed at the destination on failure."""
    opts = opts or CopyOptions()
    manifest, mbytes, top, top_type = await resolve_manifest(src, opts.platform)
    if opts.on_resolved is not None:
        opts.on_resolved()
    try:
        config = parse_config(await _read_blob(src, manifest.config))
    except SpecError as exc:
        raise UnsupportedManifest(f"invalid image config: {exc}") from exc
    layers = list(manifest.layers)
    if opts.platform is not None and top == mbytes and not opts.platform.matches(config.platform):
        raise PlatformMismatch(src.name, opts.platform, config.platform.normalized())
    if len(config.diff_ids) != len(layers):
        raise UnsupportedManifest(
            f"image config has {len(config.diff_ids)} diff IDs but the manifest has {len(layers)} layers")
    index_digest = Digest.of(top) if top != mbytes else None
    image = CopiedImage(manifest=manifest, manifest_bytes=mbytes, config=config, index_digest=index_digest,
                        index_bytes=top if index_digest else b"", index_media_type=top_type if index_digest else "")

    push = opts.mode == "push"
    load = opts.mode == "load"  # docker load: only "Loading layer" bars, ids are chain IDs
    quiet = opts.mode == "quiet"
    if load:
        ids = [c.short() for c in chain_ids(config.diff_ids)]
    else:
        ids = [(config.diff_ids[i] if push else d.digest).short() for i, d in enumerate(layers)]

    def say(status: str, lid: str) -> None:
        if not quiet and not load:
            progress.status(status, lid)

    chains = chain_ids(config.diff_ids)
    cbs: list[LayerCallbacks] = []
    for i, d in enumerate(layers):
        cbs.append(_callbacks(progress, ids[i], d.size, opts.mode))

    if push:
        for lid in reversed(ids):
            say("Preparing", lid)
    sem = asyncio.Semaphore(max(1, opts.concurrency))

    async def one(i: int, d: Descriptor) -> None:
        reused = await dst.reuse_blob(d)
        if reused:
            say(reused, ids[i])
            return
        if opts.layer_present is not None and opts.layer_present(chains[i]):
            say("Already exists", ids[i])
            async with sem:  # the blob only (kept for push and save); the layer is not unpacked again
                await dst.put_blob(d, src, LayerCallbacks(on_bytes=lambda _n: None))
            return
        if not push:
            say("Pulling fs layer", ids[i])
        if sem.locked():
            say("Waiting", ids[i])
        async with sem:
            await dst.put_blob(d, src, cbs[i])
        if push:
            say("Pushed", ids[i])
        else:
            say("Verifying Checksum", ids[i])
            say("Download complete", ids[i])

    if await dst.has_image(manifest.config.digest):
        digest = await dst.commit(image, [])
        return CopyResult(image_id=manifest.config.digest, manifest_digest=digest,
                          source_digest=Digest.of(top), image=image)
    if not await dst.reuse_blob(manifest.config):
        await dst.put_blob(manifest.config, src, LayerCallbacks(on_bytes=lambda _n: None))
    tasks = [asyncio.ensure_future(one(i, d)) for i, d in enumerate(layers)]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    digest = await dst.commit(image, cbs)
    return CopyResult(image_id=manifest.config.digest, manifest_digest=digest,
                      source_digest=Digest.of(top), image=image)


def _callbacks(progress: Progress, lid: str, total: int, mode: str) -> LayerCallbacks:
    moved = 0
    verb = {"push": "Pushing", "pull": "Downloading", "load": "Loading layer"}.get(mode)

    def on_bytes(n: int) -> None:
        nonlocal moved
        moved += n
        if verb is not None:
            progress.bytes(verb, lid, moved, total)

    def on_extract(cur: int, tot: int) -> None:
        if mode == "pull":
            progress.bytes("Extracting", lid, cur, tot)

    def on_done() -> None:
        if mode == "pull":
            progress.status("Pull complete", lid)

    cb: Callable[[int], None] = on_bytes
    return LayerCallbacks(on_bytes=cb, on_extract=on_extract, on_done=on_done)
