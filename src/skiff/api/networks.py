"""/networks: list, inspect, create, remove, prune, connect, disconnect (Docker API).

Handlers parse, call one NetworkBackend method (engine.networks.NetworkEngine) and reply; the api
never imports skiff.network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web

from skiff.api.backends import Services
from skiff.api.gojson import check as check_go_types
from skiff.api.gotypes import NETWORK_CONNECT_OPTIONS, NETWORK_CREATE_REQUEST, NETWORK_DISCONNECT_OPTIONS
from skiff.api.httputil import filters, json_body, json_response, query_bool, query_str
from skiff.api.routes import Route
from skiff.engine.filters import Filters
from skiff.errors import InvalidParameter

__all__ = ["routes", "NetworkBackend"]


class NetworkBackend(Protocol):
    async def create(self, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def list_networks(self, filters: Filters | None = None) -> list[dict[str, Any]]: ...

    def inspect(self, ref: str, verbose: bool = False, scope: str = "") -> dict[str, Any]: ...

    async def remove(self, ref: str) -> None: ...

    async def prune(self, filters: Filters | None = None) -> dict[str, Any]: ...

    async def connect(self, ref: str, container: str, endpoint_config: Mapping[str, Any] | None = None) -> None: ...

    async def disconnect(self, ref: str, container: str, force: bool = False) -> None: ...


def routes(services: Services) -> list[Route]:
    h = _Handlers(services.get(NetworkBackend))
    return [
        Route("GET", "/networks", h.list),
        Route("GET", "/networks/", h.list),
        Route("POST", "/networks/create", h.create),
        Route("POST", "/networks/prune", h.prune, min_version="1.25"),
        Route("GET", "/networks/{id}", h.inspect),
        Route("DELETE", "/networks/{id}", h.remove),
        Route("POST", "/networks/{id}/connect", h.connect),
        Route("POST", "/networks/{id}/disconnect", h.disconnect),
    ]


def _container(body: Any) -> str:
    if not isinstance(body, dict):
        raise InvalidParameter("invalid JSON: body must be an object")
    ref = str(body.get("Container") or "")
    if not ref:
        raise InvalidParameter("container is required")  # moby: errdefs.InvalidParameter
    return ref


class _Handlers:
    def __init__(self, backend: NetworkBackend) -> None:
        self.b = backend

    async def list(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.b.list_networks(filters(request)))

    async def inspect(self, request: web.Request) -> web.StreamResponse:
        doc = self.b.inspect(request.match_info["id"], verbose=query_bool(request, "verbose"),
                             scope=query_str(request, "scope") or "")
        return json_response(doc)

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        check_go_types(await request.read(), NETWORK_CREATE_REQUEST)
        if not isinstance(body, dict):
            raise InvalidParameter("invalid JSON: body must be an object")
        return json_response(await self.b.create(body), status=201)

    async def remove(self, request: web.Request) -> web.StreamResponse:
        await self.b.remove(request.match_info["id"])
        return web.Response(status=204)

    async def prune(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.b.prune(filters(request)))

    async def connect(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        check_go_types(await request.read(), NETWORK_CONNECT_OPTIONS)
        ref = _container(body)
        ec = body.get("EndpointConfig") or {}
        if not isinstance(ec, dict):
            raise InvalidParameter("invalid JSON: EndpointConfig must be an object")
        await self.b.connect(request.match_info["id"], ref, ec)
        return web.Response(status=200)

    async def disconnect(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        check_go_types(await request.read(), NETWORK_DISCONNECT_OPTIONS)
        await self.b.disconnect(request.match_info["id"], _container(body), force=bool(body.get("Force")))
        return web.Response(status=200)
