"""api.wsstream against a real aiohttp server on a unix socket, with a fake attach session.

The session stands in for the engine's relay (engine.containers.io.relay): it reads stdin until
``b""`` and writes output. What is pinned here: input sent just before a close still reaches the
session, a close ends a session that takes no stdin, the end of a session closes with 1000, a
failure after the handshake is moby's "Error attaching: ..." line, frames are binary from API 1.28.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from skiff.api.httputil import query_bool, query_str, version_at_least
from skiff.api.routes import Route
from skiff.api.server import make_app, setup_runner
from skiff.api.wsstream import WebSocketStream, accept_websocket
from skiff.errors import Conflict

SEEN = web.AppKey("seen", list)
ENDED = web.AppKey("ended", asyncio.Event)


async def _session(ws: WebSocketStream, request: web.Request) -> None:
    seen: list[bytes] = request.app[SEEN]
    mode = query_str(request, "mode") or ""
    try:
        if mode == "fail":
            raise Conflict("container is gone")
        if mode == "exit":
            await ws.write(b"last words\n", 2)
            return
        if query_bool(request, "stdin"):
            while data := await ws.read():
                seen.append(data)
                await ws.write(data.upper())
            seen.append(b"<eof>")
        await asyncio.Event().wait()  # output would go on: only a close (or cancel) ends it
    finally:
        request.app[ENDED].set()


async def _handler(request: web.Request) -> web.StreamResponse:
    ws = await accept_websocket(request, binary=version_at_least(request, "1.28"),
                                stdin=query_bool(request, "stdin"))
    return await ws.serve(request, _session(ws, request))


def _serve(test: Callable[[aiohttp.ClientSession, web.Application], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        sockdir = Path(tempfile.mkdtemp(prefix="skw", dir="/tmp"))
        sock = sockdir / "api.sock"
        app = make_app([Route("GET", "/ws", _handler)])
        app[SEEN] = []
        app[ENDED] = asyncio.Event()
        runner = await setup_runner(app)
        await web.UnixSite(runner, str(sock)).start()
        try:
            async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as s:
                return await asyncio.wait_for(test(s, app), 20)
        finally:
            await runner.cleanup()
            sock.unlink(missing_ok=True)
            sockdir.rmdir()
    return asyncio.run(main())


def test_stdin_echo_binary_and_text_then_close() -> None:
    async def run(s: aiohttp.ClientSession, app: web.Application) -> None:
        ws = await s.ws_connect("http://skiff/ws?stdin=1")
        await ws.send_bytes(b"abc")
        msg = await ws.receive()
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.BINARY, b"ABC")
        await ws.send_str("def")  # text frames are stdin too
        msg = await ws.receive()
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.BINARY, b"DEF")
        for part in (b"x", b"y", b"z"):  # sent right before the close: still delivered
            await ws.send_bytes(part)
        assert await ws.close() and ws.close_code == 1000
        await asyncio.wait_for(app[ENDED].wait(), 5)
        assert b"".join(app[SEEN]) == b"abcdefxyz<eof>"

    _serve(run)


def test_close_without_stdin_ends_the_session() -> None:
    async def run(s: aiohttp.ClientSession, app: web.Application) -> None:
        ws = await s.ws_connect("http://skiff/ws")
        await ws.send_bytes(b"ignored")  # no stdin attached: read off the socket and dropped
        assert await ws.close() and ws.close_code == 1000
        await asyncio.wait_for(app[ENDED].wait(), 5)
        assert app[SEEN] == []

    _serve(run)


def test_session_end_and_failure_close_with_1000() -> None:
    async def run(s: aiohttp.ClientSession, app: web.Application) -> list[tuple[Any, Any]]:
        got = []
        for mode in ("exit", "fail"):
            ws = await s.ws_connect(f"http://skiff/ws?mode={mode}")
            got += [(m.type, m.data) for m in [await ws.receive(), await ws.receive()]]
            await ws.close()
        return got

    assert _serve(run) == [
        (aiohttp.WSMsgType.BINARY, b"last words\n"), (aiohttp.WSMsgType.CLOSE, 1000),  # stderr: unframed
        (aiohttp.WSMsgType.BINARY, b"Error attaching: container is gone\n"), (aiohttp.WSMsgType.CLOSE, 1000),
    ]


def test_text_frames_before_1_28_and_plain_get_refused() -> None:
    async def run(s: aiohttp.ClientSession, app: web.Application) -> tuple[Any, ...]:
        ws = await s.ws_connect("http://skiff/v1.27/ws?mode=exit")
        msg = await ws.receive()
        await ws.close()
        async with s.get("http://skiff/ws") as r:
            return msg.type, msg.data, r.status, await r.json()

    assert _serve(run) == (aiohttp.WSMsgType.TEXT, "last words\n", 400, {"message": "not websocket protocol"})
