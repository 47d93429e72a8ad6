"""Volume endpoints: list, create, inspect, remove, prune. Handlers parse, call one VolumeBackend
method (in a worker thread when it may walk or delete a tree), and reply."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web

from skiff.api.backends import Services
from skiff.api.gojson import check as check_go_types
from skiff.api.gotypes import VOLUME_CREATE_OPTIONS
from skiff.api.httputil import filters, json_body, json_response, query_bool, version_at_least
from skiff.api.routes import Route
from skiff.engine.filters import Filters
from skiff.errors import InvalidParameter, Unavailable

__all__ = ["routes", "VolumeBackend", "LIST_FILTERS", "PRUNE_FILTERS"]

LIST_FILTERS = ("dangling", "driver", "label", "name")
PRUNE_FILTERS = ("label", "label!", "all")


class VolumeBackend(Protocol):
    """What the volume endpoints need (engine.volumes.VolumeEngine)."""

    def create(self, name: str = "", driver: str = "", driver_opts: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None) -> dict[str, Any]: ...

    def inspect(self, name: str) -> dict[str, Any]: ...

    def list_volumes(self, filters: Filters) -> dict[str, Any]: ...

    def remove(self, name: str, force: bool = False) -> None: ...

    def prune(self, filters: Filters) -> dict[str, Any]: ...


def routes(services: Services) -> list[Route]:
    h = _Handlers(services.get(VolumeBackend))
    return [
        Route("GET", "/volumes", h.ls),
        Route("POST", "/volumes/create", h.create),
        Route("POST", "/volumes/prune", h.prune, min_version="1.25"),
        Route("GET", "/volumes/{name}", h.inspect),
        Route("PUT", "/volumes/{name}", h.update),
        Route("DELETE", "/volumes/{name}", h.remove),
    ]


def _str_map(value: Any, what: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidParameter(f"json: cannot unmarshal {what} into Go struct field CreateOptions.{what} of type "
                               "map[string]string")
    return {str(k): v for k, v in value.items()}


class _Handlers:
    def __init__(self, volumes: VolumeBackend) -> None:
        self.volumes = volumes

    async def ls(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.volumes.list_volumes(filters(request, LIST_FILTERS)))

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request, required=False) or {}
        check_go_types(await request.read(), VOLUME_CREATE_OPTIONS)
        if not isinstance(body, dict):
            raise InvalidParameter("invalid JSON: body must be an object")
        name, driver = body.get("Name") or "", body.get("Driver") or ""
        if not isinstance(name, str) or not isinstance(driver, str):
            raise InvalidParameter("invalid JSON: Name and Driver must be strings")
        vol = self.volumes.create(name, driver, _str_map(body.get("DriverOpts"), "DriverOpts"),
                                  _str_map(body.get("Labels"), "Labels"))
        return json_response(vol, status=201)

    async def inspect(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.volumes.inspect(request.match_info["name"]))

    async def update(self, request: web.Request) -> web.StreamResponse:
        raise Unavailable("volume update only valid for cluster volumes, but swarm is unavailable")

    async def remove(self, request: web.Request) -> web.StreamResponse:
        name, force = request.match_info["name"], query_bool(request, "force")
        await asyncio.to_thread(self.volumes.remove, name, force)
        return web.Response(status=204)

    async def prune(self, request: web.Request) -> web.StreamResponse:
        f = filters(request, PRUNE_FILTERS)
        if not version_at_least(request, "1.42"):
            f = Filters({**f.fields, "all": frozenset({"true"})})
        return json_response(await asyncio.to_thread(self.volumes.prune, f))
