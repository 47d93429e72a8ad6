"""Build endpoints: ``POST /build`` (the classic builder's JSON stream), ``/build/prune``, ``/build/cancel``.

The query is parsed once by ``skiff.build.query.options_from_query`` (every parameter the docker
CLI sends; BuildKit's ``version=2`` refused in Docker's words); ``X-Registry-Config`` (the CLI's
credential map for base-image pulls) is decoded here. Errors found before the first message (bad
tag, bad context, Dockerfile parse errors) are the reply's status, later ones an in-band
``errorDetail``, as moby's postBuild.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import replace
from typing import Any, Protocol

from aiohttp import web

from skiff.api.backends import Services
from skiff.api.httputil import filters, json_response, query_bool, query_str
from skiff.api.routes import Route
from skiff.api.streams import stream_messages
from skiff.build.options import BuildOptions
from skiff.build.query import options_from_query
from skiff.errors import InvalidParameter
from skiff.image.registry.auth import AuthConfig

__all__ = ["routes", "BuildAPIBackend", "parse_registry_config", "parse_secrets", "SECRETS_HEADER"]

SECRETS_HEADER = "X-Skiff-Build-Secrets"
"""Skiff's extension for ``--secret``: base64url JSON ``{id: base64(content)}`` (the classic
builder has no session to fetch secrets from). Never logged, never in a layer or the history."""


class BuildAPIBackend(Protocol):
    """What the build endpoints need (engine.builds.BuildService)."""

    async def build(self, body: AsyncIterable[bytes], options: BuildOptions,
                    auths: Mapping[str, AuthConfig] | None = None) -> AsyncIterator[dict[str, Any]]: ...

    def cancel(self, build_id: str) -> None: ...

    def prune(self, all: bool = False, filters: Mapping[str, Any] | None = None) -> dict[str, Any]: ...  # noqa: A002


def routes(services: Services) -> list[Route]:
    h = _Handlers(services.get(BuildAPIBackend))
    return [
        Route("POST", "/build", h.build),
        Route("POST", "/build/prune", h.prune, min_version="1.31"),
        Route("POST", "/build/cancel", h.cancel, min_version="1.32"),
    ]


def parse_registry_config(header: str | None) -> dict[str, AuthConfig]:
    """``X-Registry-Config``: base64url JSON ``{"registry": {"username", "password", "auth", ...}}``."""
    if not header or not header.strip():
        return {}
    s = header.strip()
    try:
        raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
        data = json.loads(raw) if raw.strip() else {}
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter(f"invalid X-Registry-Config header: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidParameter("invalid X-Registry-Config header: expected a JSON object")
    out: dict[str, AuthConfig] = {}
    for registry, entry in data.items():
        if not isinstance(entry, dict):
            continue
        d = {str(k).lower(): v for k, v in entry.items() if isinstance(v, str)}
        user, pw = d.get("username", ""), d.get("password", "")
        if d.get("auth") and not user:
            try:
                user, _, pw = base64.b64decode(d["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                pass
        out[str(registry)] = AuthConfig(username=user, password=pw, identity_token=d.get("identitytoken", ""),
                                        registry_token=d.get("registrytoken", ""),
                                        server_address=d.get("serveraddress", "") or str(registry))
    return out


def parse_secrets(header: str | None) -> dict[str, bytes]:
    if not header or not header.strip():
        return {}
    s = header.strip()
    try:
        data = json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return {str(k): base64.b64decode(v) for k, v in data.items()}
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidParameter(f"invalid {SECRETS_HEADER} header: {exc}") from None


def _query(request: web.Request) -> dict[str, list[str]]:
    q: dict[str, list[str]] = {}
    for k, v in request.query.items():
        q.setdefault(k, []).append(v)
    return q


class _Handlers:
    def __init__(self, builds: BuildAPIBackend) -> None:
        self.builds = builds

    async def build(self, request: web.Request) -> web.StreamResponse:
        options = options_from_query(_query(request))
        secrets = parse_secrets(request.headers.get(SECRETS_HEADER))
        if secrets:
            options = replace(options, secrets=secrets)
        auths = parse_registry_config(request.headers.get("X-Registry-Config"))
        msgs = await self.builds.build(request.content.iter_chunked(1 << 20), options, auths)
        return await stream_messages(request, msgs)

    async def prune(self, request: web.Request) -> web.Response:
        # label/label! are accepted and not applied, as moby's (docker system prune --filter label=...)
        f = filters(request, ("until", "unused-for", "id", "parent", "type", "description", "inuse", "shared",
                              "private", "label", "label!"))
        return json_response(self.builds.prune(all=query_bool(request, "all"),
                                               filters={k: f.get(k) for k in f.keys()}))  # noqa: SIM118

    async def cancel(self, request: web.Request) -> web.Response:
        build_id = query_str(request, "id") or ""
        if not build_id:
            raise InvalidParameter("build ID not provided")
        self.builds.cancel(build_id)
        return web.Response(status=200)
