"""GET /distribution/{name}/json: a registry manifest's descriptor and platforms (buildx, compose)."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from skiff.api.backends import Services
from skiff.api.httputil import json_response
from skiff.api.routes import Route
from skiff.image.registry.auth import AuthConfig, parse_registry_auth

__all__ = ["routes", "DistributionBackend"]


class DistributionBackend(Protocol):
    async def distribution(self, name: str, auth: AuthConfig | None = None) -> dict[str, Any]: ...


def routes(services: Services) -> list[Route]:
    h = _Handlers(services.get(DistributionBackend))
    return [Route("GET", "/distribution/{name:.+}/json", h.inspect, min_version="1.30")]


class _Handlers:
    def __init__(self, backend: DistributionBackend) -> None:
        self.backend = backend

    async def inspect(self, request: web.Request) -> web.StreamResponse:
        auth = parse_registry_auth(request.headers.get("X-Registry-Auth"))
        return json_response(await self.backend.distribution(request.match_info["name"], auth))
