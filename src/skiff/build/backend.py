"""What the builder needs from the engine: the seam the engine implements (and tests fake).

The builder never imports the engine. It asks this Protocol for images, writable or read-only
root filesystems ("workspaces") made from them, a container run inside a workspace, and a commit
of a workspace (or of config only) into a new image. Everything a Dockerfile means is decided in
``skiff.build``; the backend only moves bytes and processes.

Contract, for the implementer:
- Image IDs are ``sha256:<hex>`` (the digest of the image config). ``commit`` keeps the layers
  named by ``config.diff_ids`` (a parent's, or for ``--cache-from`` a prefix of an existing
  image's), appends one layer when a workspace is given (an empty one too: WORKDIR on an existing
  dir still records a layer, as the classic builder does) and appends ``history`` as given.
  Committed images are untagged until ``tag``.
- ``prepare`` returns a workspace whose ``rootfs`` is a mounted, writable directory the builder
  writes into directly (COPY, ADD, WORKDIR, mount-point clean-up); ``release`` unmounts and drops it.
  ``view`` is the read-only variant used for ``COPY --from`` and ``RUN --mount=from=``.
- ``run`` runs ``spec.args`` in a container on that rootfs with the spec's env, user, workdir,
  network mode and mounts, streams its stdout+stderr to ``output`` and returns the exit code. The
  container must be gone when it returns. Mount targets are created by the runtime if missing; the
  builder removes mount points it saw appear, so they never reach a layer.
- All methods may be called from several threads at once (independent stages build in parallel).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from skiff.oci.image_spec import History, ImageConfig

__all__ = [
    "BuildBackend",
    "Image",
    "OutputSink",
    "ProgressSink",
    "RunMount",
    "RunSpec",
    "Workspace",
]

OutputSink = Callable[[bytes], None]
"""Receives a RUN step's output, in chunks, as it is produced."""

ProgressSink = Callable[[Mapping[str, Any]], None]
"""Receives Docker JSON progress messages (``{"status": ..., "id": ..., "progressDetail": ...}``)."""


@dataclass(frozen=True)
class Image:
    """An image the builder can start from or has made: its ID and its parsed config."""

    id: str  # "sha256:..."; "" for scratch
    config: ImageConfig


@dataclass(frozen=True)
class Workspace:
    """A root filesystem prepared from an image (or empty, for scratch)."""

    id: str
    rootfs: Path
    image_id: str = ""
    writable: bool = True


@dataclass(frozen=True)
class RunMount:
    """A mount for one RUN: ``source`` is a host path the backend binds, except for tmpfs."""

    type: str  # "bind" | "cache" | "tmpfs" | "secret"
    target: str
    source: Path | None = None
    readonly: bool = False
    size: int = 0  # tmpfs bytes, 0 = default
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSpec:
    """One RUN step's container: already shell-wrapped args, env with build args, and so on."""

    container_id: str  # 64 hex chars chosen by the builder (printed as "Running in ...")
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = "/"
    network: str = "default"  # "default" | "none" | "host" | a network name from --network
    mounts: tuple[RunMount, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    insecure: bool = False  # RUN --security=insecure
    resources: Mapping[str, Any] = field(default_factory=dict)  # memory, cpushares, ... from POST /build


class BuildBackend(Protocol):
    """The engine, as the builder sees it. Eight methods; see the module docstring for the contract."""

    def resolve_image(self, ref: str, *, platform: str, pull: bool, progress: ProgressSink) -> Image:
        """Find ``ref`` locally (pulling when missing, or always when ``pull``); NotFound if absent."""
        ...

    def get_image(self, image_id: str) -> Image | None:
        """A local image by ID (used to check a cache hit still exists), or None."""
        ...

    def prepare(self, image_id: str) -> Workspace:
        """A writable rootfs on top of ``image_id`` ("" = empty, for scratch)."""
        ...

    def view(self, image_id: str) -> Workspace:
        """A read-only rootfs of ``image_id``."""
        ...

    def release(self, workspace: Workspace) -> None:
        """Unmount and remove a workspace; idempotent."""
        ...

    def run(self, workspace: Workspace, spec: RunSpec, output: OutputSink) -> int:
        """Run one container to completion on ``workspace.rootfs``; return its exit code."""
        ...

    def commit(self, config: ImageConfig, history: History, workspace: Workspace | None,
               container_id: str = "") -> Image:
        """Store a new image: ``config`` (with the parent's diff_ids and history) plus one layer
        from ``workspace`` if given, plus ``history``. ``container_id``: the step's container as
        printed ("Running in ..."), for the engine's container events; "" when there is none."""
        ...

    def tag(self, image_id: str, ref: str) -> str:
        """Point ``ref`` at ``image_id``; return the familiar name ("name:tag") for the output."""
        ...

    def cache_mount_dir(self, cache_id: str) -> Path:
        """A persistent host directory for ``RUN --mount=type=cache`` with this id (created if new)."""
        ...
