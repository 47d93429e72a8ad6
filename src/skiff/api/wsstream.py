"""A container's stdio over a websocket (``GET /containers/{id}/attach/ws``), as moby serves it.

moby hands the attach a ``golang.org/x/net/websocket`` connection (``websocket.Server`` without a
handshake hook, so any ``Origin`` is accepted) and never multiplexes: stdout and stderr are raw
bytes interleaved in one stream of binary frames (text frames before API 1.28, rule of moby PR
28176). Whatever the client sends, text or binary, is the container's stdin. Closing the socket
ends the session (the container runs on); the end of the container's output closes the socket
(code 1000).

Where moby differs, Skiff keeps its intent: moby reads the socket only when stdin is attached, so
a client's close frame went unnoticed until a later write failed; here it ends the session at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

from aiohttp import WSCloseCode, WSMsgType, web

from skiff.api.httputil import shutting_down
from skiff.errors import InvalidParameter, SkiffError

__all__ = ["WebSocketStream", "accept_websocket"]

log = logging.getLogger("skiff.api")

_QUEUE = 64  # stdin messages held before we stop reading (aiohttp then pauses the socket)


class WebSocketStream:
    """The engine's ClientStream over an aiohttp websocket: ``read`` is stdin, ``write`` output."""

    def __init__(self, ws: web.WebSocketResponse, *, binary: bool, stdin: bool) -> None:
        self.ws = ws
        self.response: web.StreamResponse = ws
        self._opcode = WSMsgType.BINARY if binary else WSMsgType.TEXT
        self._stdin = stdin
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(_QUEUE)
        self._pending = b""
        self._eof = False
        self._reading = False  # a relay has started taking stdin
        self._closed = asyncio.Event()  # the client closed (or lost) the socket
        self._eof_taken = asyncio.Event()  # the relay has read everything up to the close
        self._reader = asyncio.ensure_future(self._read_loop())

    async def _read_loop(self) -> None:
        """Take every message off the socket, so a close frame is seen even without stdin."""
        try:
            while True:
                msg = await self.ws.receive()
                if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                    data = msg.data if isinstance(msg.data, bytes) else str(msg.data).encode()
                    if self._stdin and data:
                        await self._queue.put(data)
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    return
        finally:
            self._closed.set()
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(b"")  # wakes a reader; a full queue ends in b"" anyway

    async def read(self, n: int = 65536) -> bytes:
        """Up to ``n`` bytes the client sent; ``b""`` once it closed the socket."""
        self._reading = True
        while not self._pending and not self._eof:
            if self._queue.empty() and self._closed.is_set():
                self._eof = True  # the end marker did not fit in a full queue
            else:
                self._pending = await self._queue.get()
                self._eof = not self._pending
        data, self._pending = self._pending[:n], self._pending[n:]
        if not data:
            self._eof_taken.set()
        return data

    async def write(self, data: bytes, stream: int = 1) -> None:
        """Output, unframed: the websocket has one stream (moby: MuxStreams false).

        After the client's close, output is dropped while the relay still forwards the stdin sent
        before it (raising would end the relay and lose that input), then it is an error."""
        if self.ws.closed or self._closed.is_set():
            if self._reading and not self._eof_taken.is_set():
                return
            raise ConnectionResetError("client went away")
        await self.ws.send_frame(data, self._opcode)

    async def _gone(self) -> None:
        """The client closed, and the relay (if it takes stdin) has forwarded what came before."""
        await self._closed.wait()
        if self._reading:
            await self._eof_taken.wait()

    async def serve(self, request: web.Request, session: Awaitable[None]) -> web.StreamResponse:
        """Run the attach ``session`` until it ends, the client closes or the daemon stops."""
        task = asyncio.ensure_future(session)
        gone = asyncio.ensure_future(self._gone())
        stop = asyncio.ensure_future(shutting_down(request).wait())
        code = WSCloseCode.OK
        try:
            await asyncio.wait({task, gone, stop}, return_when=asyncio.FIRST_COMPLETED)
            if task.done() and not task.cancelled():
                exc = task.exception()
                if isinstance(exc, SkiffError):  # after the handshake moby writes it to the output
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await self.write(f"Error attaching: {exc.message}\n".encode())
                elif exc is not None and not isinstance(exc, ConnectionError):
                    log.error("%s %s: attach failed", request.method, request.path, exc_info=exc)
            elif stop.done():
                code = WSCloseCode.GOING_AWAY
        finally:
            for t in (task, gone, stop):
                t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task  # the relay's own cleanup (closing its monitor connection) runs now
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.close(code=code)
            self._reader.cancel()
        return self.response


async def accept_websocket(request: web.Request, *, binary: bool, stdin: bool) -> WebSocketStream:
    """Complete the websocket handshake (101); a request that is not one gets moby's 400."""
    ws = web.WebSocketResponse(timeout=3.0, decode_text=False, autoping=True)
    if not ws.can_prepare(request).ok:
        raise InvalidParameter("not websocket protocol")
    await ws.prepare(request)
    return WebSocketStream(ws, binary=binary, stdin=stdin)
