"""/containers/{id}/exec and /exec/{id}/*: docker exec (create, start as a hijack, resize, inspect)."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from skiff.api.backends import Services
from skiff.api.containers import ClientStream
from skiff.api.gojson import check as check_go_types
from skiff.api.gotypes import CONTAINER_EXEC_OPTIONS, CONTAINER_EXEC_START_OPTIONS
from skiff.api.httputil import json_body, json_response, query_int
from skiff.api.routes import Route
from skiff.api.streams import hijack
from skiff.errors import InvalidParameter, SkiffError

__all__ = ["routes", "ExecBackend"]


class ExecBackend(Protocol):
    def create(self, ref: str, body: dict[str, Any]) -> str: ...

    async def start(self, eid: str, client: ClientStream | None, *, detach: bool, tty: bool | None = None,
                    console_size: tuple[int, int] | None = None) -> None: ...

    async def resize(self, eid: str, h: int, w: int) -> None: ...

    def inspect(self, eid: str) -> dict[str, Any]: ...


def routes(services: Services) -> list[Route]:
    h = _Handlers(services.get(ExecBackend))
    return [
        Route("POST", "/containers/{id}/exec", h.create),
        Route("POST", "/exec/{id}/start", h.start),
        Route("POST", "/exec/{id}/resize", h.resize),
        Route("GET", "/exec/{id}/json", h.inspect),
    ]


class _Handlers:
    def __init__(self, e: ExecBackend) -> None:
        self.e = e

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        check_go_types(await request.read(), CONTAINER_EXEC_OPTIONS)
        if not isinstance(body, dict):
            raise InvalidParameter("invalid JSON: exec config must be an object")
        return json_response({"Id": self.e.create(request.match_info["id"], body)}, status=201)

    async def start(self, request: web.Request) -> web.StreamResponse:
        eid = request.match_info["id"]
        body = await json_body(request, required=False) or {}
        check_go_types(await request.read(), CONTAINER_EXEC_START_OPTIONS)
        detach = bool(body.get("Detach"))
        cs = body.get("ConsoleSize")
        size = (int(cs[0] or 0), int(cs[1] or 0)) if cs else None
        info = self.e.inspect(eid)  # 404 before any hijack
        tty = bool(body.get("Tty")) or bool(info["ProcessConfig"]["tty"])
        if detach:
            await self.e.start(eid, None, detach=True, tty=tty, console_size=size)
            return json_response({})
        conn = await hijack(request, multiplexed=not tty)
        try:
            await self.e.start(eid, conn, detach=False, tty=tty, console_size=size)
        except SkiffError as exc:
            try:  # on stdout, as moby's router writes it (docker exec prints it there)
                await conn.write((exc.message + "\r\n").encode(), 1)
            except ConnectionError:
                pass
        except ConnectionError:
            pass
        finally:
            conn.close()
        return conn.response

    async def resize(self, request: web.Request) -> web.StreamResponse:
        await self.e.resize(request.match_info["id"], query_int(request, "h", 0) or 0, query_int(request, "w", 0) or 0)
        return web.Response(status=200)

    async def inspect(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.e.inspect(request.match_info["id"]))
