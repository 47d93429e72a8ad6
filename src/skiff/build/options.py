"""What a build takes and gives: options (POST /build's parameters), result, error, helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from skiff.errors import System

__all__ = ["BuildError", "BuildOptions", "BuildResult", "error_message", "short_id"]


class BuildError(System):
    """A step failed after the stream started. ``code`` is the exit code for a failed RUN."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def error_message(exc: BaseException) -> dict[str, Any]:
    """streamformatter.FormatError: the JSON message that ends a failed build's stream."""
    msg = str(exc)
    detail: dict[str, Any] = {"message": msg}
    code = getattr(exc, "code", 0)
    if code:
        detail = {"code": code, "message": msg}
    return {"errorDetail": detail, "error": msg}


@dataclass(frozen=True)
class BuildOptions:
    """POST /build's parameters the builder uses (parsed by the API, or set by the CLI path)."""

    dockerfile: str = "Dockerfile"
    tags: tuple[str, ...] = ()
    build_args: Mapping[str, str | None] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    cache_from: tuple[str, ...] = ()
    network_mode: str = "default"
    platform: str = ""
    quiet: bool = False
    secrets: Mapping[str, bytes] = field(default_factory=dict)  # --secret id=..: contents
    extra_hosts: tuple[str, ...] = ()
    resources: Mapping[str, Any] = field(default_factory=dict)
    parallel: bool = True
    build_id: str = ""  # POST /build's buildid, for POST /build/cancel


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...] = ()
    stage_images: Mapping[int, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]
