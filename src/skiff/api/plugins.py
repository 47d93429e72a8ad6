"""Managed plugins: Skiff has none. Listing is empty, lookups are 404 as moby answers."""

from __future__ import annotations

from aiohttp import web

from skiff.api.backends import Services
from skiff.api.httputil import json_response
from skiff.api.routes import Route
from skiff.errors import NotFound, Unimplemented

__all__ = ["routes", "PluginNotFound"]


class PluginNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"plugin \"{name}\" not found")


async def _list(request: web.Request) -> web.StreamResponse:
    return json_response([])


async def _missing(request: web.Request) -> web.StreamResponse:
    raise PluginNotFound(request.match_info["name"])


async def _unsupported(request: web.Request) -> web.StreamResponse:
    raise Unimplemented("managed plugins are not supported by Skiff")


def routes(services: Services) -> list[Route]:
    return [
        Route("GET", "/plugins", _list),
        Route("GET", "/plugins/privileges", _unsupported),
        Route("GET", "/plugins/{name:.+}/json", _missing),
        Route("DELETE", "/plugins/{name:.+}", _missing),
        Route("POST", "/plugins/{name:.+}/enable", _missing),
        Route("POST", "/plugins/{name:.+}/disable", _missing),
        Route("POST", "/plugins/{name:.+}/upgrade", _missing),
        Route("POST", "/plugins/{name:.+}/push", _missing),
        Route("POST", "/plugins/{name:.+}/set", _missing),
        Route("POST", "/plugins/pull", _unsupported),
        Route("POST", "/plugins/create", _unsupported),
    ]
