"""/containers/*: create, start, stop, wait, attach, logs, inspect, list, stats, ... (Docker API).

Handlers are thin: parse, call the container service, write the status. The streams follow
api-surface.md §3/§4: wait answers its headers at once and its body when the condition is met;
attach is a hijack (multiplexed unless the container has a TTY); logs are framed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol

from aiohttp import web

from skiff.api.backends import Services
from skiff.api.gojson import check as check_go_types
from skiff.api.gojson import go_zero
from skiff.api.gotypes import CONTAINER_CREATE_REQUEST, CONTAINER_UPDATE_CONFIG
from skiff.api.httputil import (
    PREPARED_KEY,
    dumps,
    filters,
    json_body,
    json_response,
    query_bool,
    query_int,
    query_str,
    until_shutdown,
    version_at_least,
)
from skiff.api.routes import Route
from skiff.api.streams import STDOUT, frame, hijack
from skiff.api.wsstream import accept_websocket
from skiff.engine.filters import Filters
from skiff.errors import InvalidParameter, SkiffError

__all__ = ["routes", "ContainerBackend", "ContainerIOBackend", "ClientStream"]


class ClientStream(Protocol):
    """The hijacked connection as the engine sees it (api.streams.Hijacked fits)."""

    async def read(self, n: int = 65536) -> bytes: ...

    async def write(self, data: bytes, stream: int = 1) -> None: ...


class ContainerBackend(Protocol):
    def create(self, name: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]: ...

    def list(self, all: bool = False, limit: int = -1, size: bool = False,  # noqa: A002
             filters: Filters | None = None) -> list[dict[str, Any]]: ...

    async def start(self, ref: str) -> None: ...

    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None: ...

    async def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None: ...

    async def kill(self, ref: str, signal: str | None = None) -> None: ...

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None: ...

    def wait_future(self, ref: str, condition: str) -> Awaitable[Any]: ...

    def rename(self, ref: str, new: str) -> None: ...


class ContainerIOBackend(Protocol):
    async def pause(self, ref: str) -> None: ...

    async def unpause(self, ref: str) -> None: ...

    async def resize(self, ref: str, h: int, w: int) -> None: ...

    async def update(self, ref: str, body: dict[str, Any]) -> dict[str, Any]: ...

    async def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]: ...

    async def prune(self, filters: Filters | None = None) -> dict[str, Any]: ...

    def attach_check(self, ref: str, detach_keys: str = "") -> None: ...

    async def attach_stream(self, ref: str, client: ClientStream, *, stdin: bool, stdout: bool, stderr: bool,
                            stream: bool, logs: bool, detach_keys: str = "") -> None: ...

    def logs(self, ref: str, *, follow: bool, stdout: bool, stderr: bool, since_ns: int, until_ns: int,
             tail: int, timestamps: bool, details: bool) -> tuple[bool, AsyncIterator[tuple[int, bytes]]]: ...

    def stats(self, ref: str, stream: bool, one_shot: bool) -> AsyncIterator[dict[str, Any]]: ...

    def is_tty(self, ref: str) -> bool: ...


class ArchiveBackend(Protocol):
    async def stat_path(self, ref: str, path: str) -> dict[str, Any]: ...

    async def get_archive(self, ref: str, path: str) -> tuple[dict[str, Any], AsyncIterator[bytes]]: ...

    async def put_archive(self, ref: str, path: str, body: AsyncIterator[bytes], no_overwrite_dir_non_dir: bool,
                          copy_uid_gid: bool) -> None: ...

    def export(self, ref: str) -> AsyncIterator[bytes]: ...

    async def changes(self, ref: str) -> list[dict[str, Any]]: ...

    async def commit(self, ref: str, *, repo: str, tag: str, comment: str, author: str, pause: bool,
                     changes: list[str], config: dict[str, Any] | None) -> str: ...


def routes(services: Services) -> list[Route]:
    h = _Handlers(services.get(ContainerBackend), services.get(ContainerIOBackend))
    table = [
        Route("GET", "/containers/json", h.list),
        Route("POST", "/containers/create", h.create),
        Route("POST", "/containers/prune", h.prune),
        Route("GET", "/containers/{id}/json", h.inspect),
        Route("POST", "/containers/{id}/start", h.start),
        Route("POST", "/containers/{id}/stop", h.stop),
        Route("POST", "/containers/{id}/restart", h.restart),
        Route("POST", "/containers/{id}/kill", h.kill),
        Route("POST", "/containers/{id}/pause", h.pause),
        Route("POST", "/containers/{id}/unpause", h.unpause),
        Route("DELETE", "/containers/{id}", h.remove),
        Route("POST", "/containers/{id}/wait", h.wait),
        Route("POST", "/containers/{id}/attach", h.attach),
        Route("GET", "/containers/{id}/attach/ws", h.attach_ws),
        Route("POST", "/containers/{id}/resize", h.resize),
        Route("GET", "/containers/{id}/logs", h.logs),
        Route("GET", "/containers/{id}/top", h.top),
        Route("GET", "/containers/{id}/stats", h.stats),
        Route("POST", "/containers/{id}/rename", h.rename),
        Route("POST", "/containers/{id}/update", h.update),
    ]
    if services.has(ArchiveBackend):
        a = _ArchiveHandlers(services.get(ArchiveBackend))
        table += [
            Route("HEAD", "/containers/{id}/archive", a.head),
            Route("GET", "/containers/{id}/archive", a.get),
            Route("PUT", "/containers/{id}/archive", a.put),
            Route("GET", "/containers/{id}/export", a.export),
            Route("GET", "/containers/{id}/changes", a.changes),
            Route("POST", "/commit", a.commit),
        ]
    return table


def stat_header(st: dict[str, Any]) -> str:
    import base64
    import json
    return base64.b64encode(json.dumps(st).encode()).decode()


def _time_ns(request: web.Request, name: str) -> int:
    raw = request.query.get(name)
    if not raw:
        return 0
    try:
        sec, _, frac = raw.partition(".")
        return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {raw}") from None


class _Handlers:
    def __init__(self, c: ContainerBackend, io: ContainerIOBackend) -> None:
        self.c = c
        self.io = io

    async def list(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.c.list(all=query_bool(request, "all"), limit=query_int(request, "limit", -1) or -1,
                                          size=query_bool(request, "size"), filters=filters(request)))

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        check_go_types(await request.read(), CONTAINER_CREATE_REQUEST)
        if not isinstance(body, dict):
            raise InvalidParameter("invalid JSON: container config must be an object")
        body = go_zero(body, CONTAINER_CREATE_REQUEST)  # nulls as Go's decoding leaves them
        return json_response(self.c.create(query_str(request, "name") or "", body), status=201)

    async def inspect(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.c.inspect(request.match_info["id"], size=query_bool(request, "size")))

    async def start(self, request: web.Request) -> web.StreamResponse:
        await asyncio.shield(self.c.start(request.match_info["id"]))
        return web.Response(status=204)

    async def stop(self, request: web.Request) -> web.StreamResponse:
        await asyncio.shield(self.c.stop(request.match_info["id"], query_int(request, "t"),
                                         query_str(request, "signal")))
        return web.Response(status=204)

    async def restart(self, request: web.Request) -> web.StreamResponse:
        await asyncio.shield(self.c.restart(request.match_info["id"], query_int(request, "t"),
                                            query_str(request, "signal")))
        return web.Response(status=204)

    async def kill(self, request: web.Request) -> web.StreamResponse:
        await asyncio.shield(self.c.kill(request.match_info["id"], query_str(request, "signal")))
        return web.Response(status=204)

    async def pause(self, request: web.Request) -> web.StreamResponse:
        await self.io.pause(request.match_info["id"])
        return web.Response(status=204)

    async def unpause(self, request: web.Request) -> web.StreamResponse:
        await self.io.unpause(request.match_info["id"])
        return web.Response(status=204)

    async def remove(self, request: web.Request) -> web.StreamResponse:
        await asyncio.shield(self.c.remove(request.match_info["id"], force=query_bool(request, "force"),
                                           volumes=query_bool(request, "v")))
        return web.Response(status=204)

    async def rename(self, request: web.Request) -> web.StreamResponse:
        self.c.rename(request.match_info["id"], query_str(request, "name") or "")
        return web.Response(status=204)

    async def update(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request, required=False) or {}
        check_go_types(await request.read(), CONTAINER_UPDATE_CONFIG)
        return json_response(await self.io.update(request.match_info["id"], body))

    async def top(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.io.top(request.match_info["id"], query_str(request, "ps_args") or "-ef"))

    async def resize(self, request: web.Request) -> web.StreamResponse:
        h, w = query_int(request, "h", 0) or 0, query_int(request, "w", 0) or 0
        await self.io.resize(request.match_info["id"], h, w)
        return web.Response(status=200)

    async def prune(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.io.prune(filters(request)))

    async def wait(self, request: web.Request) -> web.StreamResponse:
        fut = self.c.wait_future(request.match_info["id"], query_str(request, "condition") or "not-running")
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/json"
        await resp.prepare(request)  # the CLI's ContainerWait returns once it has the headers
        request[PREPARED_KEY] = True
        rec = await until_shutdown(request, fut)
        if rec is None:
            body: dict[str, Any] = {"StatusCode": -1, "Error": {"Message": "daemon is shutting down"}}
        else:
            body = {"StatusCode": rec.exit_code, "Error": {"Message": rec.error} if rec.error else None}
        with contextlib.suppress(ConnectionError):
            await resp.write(dumps(body))
            await resp.write_eof()
        return resp

    async def attach(self, request: web.Request) -> web.StreamResponse:
        cid = request.match_info["id"]
        tty = self.io.is_tty(cid)
        stdin, stdout, stderr = (query_bool(request, "stdin"), query_bool(request, "stdout"),
                                 query_bool(request, "stderr"))
        stream, logs = query_bool(request, "stream"), query_bool(request, "logs")
        keys = query_str(request, "detachKeys") or ""
        conn = await hijack(request, multiplexed=not tty)
        try:
            await self.io.attach_stream(cid, conn, stdin=stdin, stdout=stdout, stderr=stderr, stream=stream,
                                        logs=logs, detach_keys=keys)
        except (ConnectionError, SkiffError):
            pass
        finally:
            conn.close()
        return conn.response

    async def attach_ws(self, request: web.Request) -> web.StreamResponse:
        """moby's wsContainersAttach: refusals are HTTP errors, then a websocket of raw bytes."""
        cid = request.match_info["id"]
        keys = query_str(request, "detachKeys") or ""
        self.io.attach_check(cid, keys)
        pick = version_at_least(request, "1.42")  # before 1.42 moby attached all three streams
        stdin, stdout, stderr = (query_bool(request, n) if pick else True for n in ("stdin", "stdout", "stderr"))
        ws = await accept_websocket(request, binary=version_at_least(request, "1.28"), stdin=stdin)
        return await ws.serve(request, self.io.attach_stream(
            cid, ws, stdin=stdin, stdout=stdout, stderr=stderr, stream=query_bool(request, "stream"),
            logs=query_bool(request, "logs"), detach_keys=keys))

    async def logs(self, request: web.Request) -> web.StreamResponse:
        cid = request.match_info["id"]
        stdout, stderr = query_bool(request, "stdout"), query_bool(request, "stderr")
        if not (stdout or stderr):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        tail_s = query_str(request, "tail") or "all"
        try:
            tail = -1 if tail_s == "all" else int(tail_s)
        except ValueError:
            tail = -1
        tty, entries = self.io.logs(cid, follow=query_bool(request, "follow"), stdout=stdout, stderr=stderr,
                                    since_ns=_time_ns(request, "since"), until_ns=_time_ns(request, "until"),
                                    tail=tail, timestamps=query_bool(request, "timestamps"),
                                    details=query_bool(request, "details"))
        it = entries.__aiter__()
        first = await until_shutdown(request, _next(it))
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
        await resp.prepare(request)
        request[PREPARED_KEY] = True
        item = first
        try:
            while item is not None and item is not _END:
                stream, data = item
                await resp.write(data if tty else frame(stream, data))
                item = await until_shutdown(request, _next(it))
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp

    async def stats(self, request: web.Request) -> web.StreamResponse:
        cid = request.match_info["id"]
        stream = query_bool(request, "stream", True)
        it = self.io.stats(cid, stream, query_bool(request, "one-shot")).__aiter__()
        first = await _next(it)
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/json"
        await resp.prepare(request)
        request[PREPARED_KEY] = True
        item = first
        try:
            while item is not None and item is not _END:
                await resp.write(dumps(item))
                item = await until_shutdown(request, _next(it))
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp


_END = object()


async def _next(it: AsyncIterator[Any]) -> Any:
    try:
        return await it.__anext__()
    except StopAsyncIteration:
        return _END


class _ArchiveHandlers:
    def __init__(self, a: ArchiveBackend) -> None:
        self.a = a

    async def head(self, request: web.Request) -> web.StreamResponse:
        st = await self.a.stat_path(request.match_info["id"], query_str(request, "path") or "")
        return web.Response(status=200, headers={"X-Docker-Container-Path-Stat": stat_header(st)})

    async def get(self, request: web.Request) -> web.StreamResponse:
        st, chunks = await self.a.get_archive(request.match_info["id"], query_str(request, "path") or "")
        resp = web.StreamResponse(status=200, headers={"X-Docker-Container-Path-Stat": stat_header(st)})
        resp.content_type = "application/x-tar"
        await resp.prepare(request)
        request[PREPARED_KEY] = True
        with contextlib.suppress(ConnectionError):
            async for chunk in chunks:
                await resp.write(chunk)
            await resp.write_eof()
        return resp

    async def put(self, request: web.Request) -> web.StreamResponse:
        async def body() -> AsyncIterator[bytes]:
            async for chunk in request.content.iter_chunked(1 << 16):
                yield chunk
        await self.a.put_archive(request.match_info["id"], query_str(request, "path") or "", body(),
                                 query_bool(request, "noOverwriteDirNonDir"), query_bool(request, "copyUIDGID"))
        return web.Response(status=200)

    async def export(self, request: web.Request) -> web.StreamResponse:
        chunks = self.a.export(request.match_info["id"]).__aiter__()
        first = await _next(chunks)
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/x-tar"
        await resp.prepare(request)
        request[PREPARED_KEY] = True
        item = first
        with contextlib.suppress(ConnectionError):
            while item is not _END:
                await resp.write(item)
                item = await _next(chunks)
            await resp.write_eof()
        return resp

    async def changes(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.a.changes(request.match_info["id"]))

    async def commit(self, request: web.Request) -> web.StreamResponse:
        cfg = await json_body(request, required=False)
        check_go_types(await request.read(), CONTAINER_CREATE_REQUEST)  # moby decodes a CreateRequest here too
        iid = await self.a.commit(query_str(request, "container") or "", repo=query_str(request, "repo") or "",
                                  tag=query_str(request, "tag") or "", comment=query_str(request, "comment") or "",
                                  author=query_str(request, "author") or "", pause=query_bool(request, "pause", True),
                                  changes=list(request.query.getall("changes", [])),
                                  config=cfg if isinstance(cfg, dict) else None)
        return json_response({"Id": iid}, status=201)


__all__ += ["ArchiveBackend", "STDOUT"]
