"""Streaming replies: JSON-lines progress, stdio multiplexing, and hijacked connections.

- ``JsonStream``: Docker's progress format (pull, push, load, build, events): one JSON object per
  line, flushed per message. An error after the reply started is an ``errorDetail`` line with
  HTTP 200 (the client turns it into a failure). ``stream_messages(request, async_iter)`` relays a
  service's message iterator with exactly that rule.
- ``frame``/``FrameDecoder``: the 8-byte stdio frames of non-TTY attach/logs/exec
  ``[stream, 0, 0, 0, size (uint32 big-endian)] + payload``; 0 stdin, 1 stdout, 2 stderr.
- ``hijack``: take over the connection for attach/exec (``Upgrade: tcp``): answer
  ``101 UPGRADED`` (or ``200 OK`` when the client did not ask to upgrade), then raw bytes both
  ways. The client half-closes when its stdin ends: ``read`` returns ``b""`` while writes still work.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web

import skiff
from skiff.api.httputil import PREPARED_KEY, dumps
from skiff.api.versions import DEFAULT_VERSION
from skiff.errors import SkiffError

__all__ = ["HIJACKED_KEY", "JsonStream", "stream_messages", "progress_message", "STDIN", "STDOUT", "STDERR", "frame", "FrameDecoder",
           "RAW_STREAM", "MULTIPLEXED_STREAM", "Hijacked", "hijack", "StdWriter"]

STDIN, STDOUT, STDERR = 0, 1, 2
RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"
_HEADER = struct.Struct(">BxxxI")


# ---- JSON-lines progress ---------------------------------------------------------------------

def progress_message(status: str, id: str = "", current: int | None = None,  # noqa: A002
                     total: int | None = None) -> dict[str, Any]:
    """One progress line as dockerd sends it (``progressDetail`` plus the text bar)."""
    msg: dict[str, Any] = {"status": status}
    if current is not None:
        detail: dict[str, int] = {"current": current}
        if total:
            detail["total"] = total
        msg["progressDetail"] = detail
        msg["progress"] = _bar(current, total)
    if id:
        msg["id"] = id
    return msg


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}B"


def _bar(current: int, total: int | None) -> str:
    if not total or total <= 0:
        return _human(current)
    width = 50
    filled = min(width, int(width * current / total))
    arrow = "=" * max(filled - 1, 0) + (">" if filled else "")
    return f"[{arrow}{' ' * (width - len(arrow))}] {_human(current)}/{_human(total)}"


class JsonStream:
    """A 200 reply of JSON lines; ``send`` flushes each message to the client."""

    def __init__(self, request: web.Request, content_type: str = "application/json") -> None:
        self.request = request
        self.response = web.StreamResponse(status=200)
        self.response.content_type = content_type
        self.started = False

    async def start(self) -> JsonStream:
        if not self.started:
            await self.response.prepare(self.request)
            self.started = True
        return self

    async def send(self, message: Mapping[str, Any]) -> None:
        await self.start()
        await self.response.write(dumps(message))  # write() drains: one flushed message per line

    async def error(self, exc: BaseException | str, code: int = 0) -> None:
        """Report a failure inside the stream (``errorDetail`` + the deprecated ``error``)."""
        text = exc.message if isinstance(exc, SkiffError) else str(exc)
        detail: dict[str, Any] = {"message": text}
        if code:
            detail["code"] = code
        await self.send({"errorDetail": detail, "error": text})

    async def finish(self) -> web.StreamResponse:
        await self.start()
        with contextlib.suppress(ConnectionError):
            await self.response.write_eof()
        return self.response


async def stream_messages(request: web.Request, messages: AsyncIterator[Mapping[str, Any]],
                          content_type: str = "application/json") -> web.StreamResponse:
    """Relay a service's progress messages; an error is an HTTP status if nothing was sent yet.

    moby's rule (postImagesCreate, postBuild...): before the first byte the error becomes the
    reply's status and ``{"message"}``; after it, an ``errorDetail`` line in a 200 stream.
    """
    out = JsonStream(request, content_type)
    try:
        async for msg in messages:
            await out.send(msg)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception as exc:
        if not out.started:
            raise
        await out.error(exc)
    return await out.finish()


# ---- stdio multiplexing ----------------------------------------------------------------------

def frame(stream: int, data: bytes) -> bytes:
    """One multiplexed frame; large payloads are fine (size is a uint32)."""
    return _HEADER.pack(stream, len(data)) + data


class FrameDecoder:
    """Incremental decoder of multiplexed frames: ``feed(bytes) -> [(stream, payload), ...]``."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out: list[tuple[int, bytes]] = []
        while len(self._buf) >= 8:
            stream, size = _HEADER.unpack_from(self._buf)
            if len(self._buf) < 8 + size:
                break
            out.append((stream, bytes(self._buf[8:8 + size])))
            del self._buf[:8 + size]
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)


# ---- hijacked connections --------------------------------------------------------------------

class _HijackProtocol(asyncio.Protocol):
    """Takes over the transport from aiohttp: buffers input, keeps the socket open on half-close."""

    LIMIT = 1 << 20

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.buffer = bytearray()
        self.eof = False
        self.closed = False
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._closed_event = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._readable.set()
        if len(self.buffer) > self.LIMIT:
            with contextlib.suppress(Exception):
                self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        self._readable.set()
        return True  # half-close: keep our side open so output still flows

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.closed = True
        self._readable.set()
        self._writable.set()
        self._closed_event.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()


class _HijackedResponse(web.StreamResponse):
    """What the handler returns to aiohttp after a hijack: nothing more is written."""

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


class Hijacked:
    """The raw connection after a hijack."""

    def __init__(self, proto: _HijackProtocol, multiplexed: bool) -> None:
        self._proto = proto
        self.multiplexed = multiplexed
        self.response: web.StreamResponse = _HijackedResponse()
        self.response.force_close()

    @property
    def client_eof(self) -> bool:
        """The client half-closed (its stdin ended) or went away."""
        return self._proto.eof and not self._proto.buffer

    @property
    def closed(self) -> bool:
        return self._proto.closed

    async def read(self, n: int = 65536) -> bytes:
        """Up to ``n`` bytes from the client; ``b""`` once it half-closed or disconnected."""
        p = self._proto
        while not p.buffer and not p.eof:
            p._readable.clear()
            await p._readable.wait()
        data = bytes(p.buffer[:n])
        del p.buffer[:n]
        if len(p.buffer) < p.LIMIT // 2 and not p.closed:
            with contextlib.suppress(Exception):
                if not p.transport.is_reading():
                    p.transport.resume_reading()
        return data

    async def write(self, data: bytes, stream: int = STDOUT) -> None:
        """Send output; framed with ``stream`` when multiplexed. Raises ConnectionError if gone."""
        if self._proto.closed:
            raise ConnectionResetError("client went away")
        self._proto.transport.write(frame(stream, data) if self.multiplexed else data)
        await self._proto._writable.wait()

    async def wait_closed(self) -> None:
        await self._proto._closed_event.wait()

    def close(self) -> None:
        if not self._proto.closed:
            self._proto.transport.close()


class StdWriter:
    """A file-like view of one stdio stream of a hijacked connection (``await w.write(b)``)."""

    def __init__(self, conn: Hijacked, stream: int) -> None:
        self.conn = conn
        self.stream = stream

    async def write(self, data: bytes) -> None:
        await self.conn.write(data, self.stream)


async def hijack(request: web.Request, *, multiplexed: bool) -> Hijacked:
    """Answer 101 UPGRADED (or 200) and take the connection over; return it for raw I/O.

    The handler must finally ``return conn.response`` (after ``conn.close()``).
    """
    transport = request.transport
    proto = request.protocol
    if transport is None or transport.is_closing():
        raise ConnectionResetError("client went away")
    ctype = MULTIPLEXED_STREAM if multiplexed else RAW_STREAM
    upgrade = ("upgrade" in request.headers.get("Connection", "").lower()
               and request.headers.get("Upgrade", "").lower() == "tcp")
    common = (f"Content-Type: {ctype}\r\nServer: Skiff/{skiff.__version__} (linux)\r\n"
              f"Api-Version: {DEFAULT_VERSION}\r\nOstype: linux\r\n")
    if upgrade:
        head = "HTTP/1.1 101 UPGRADED\r\n" + common + "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    else:
        head = "HTTP/1.1 200 OK\r\n" + common + "\r\n"
    hp = _HijackProtocol(transport)
    # Bytes the client sent right behind the request are parked in aiohttp's protocol; collect them.
    collector = _Collector(hp)
    with contextlib.suppress(AssertionError, AttributeError):
        proto.set_parser(collector)  # type: ignore[arg-type]
    transport.set_protocol(hp)
    # aiohttp's protocol no longer hears about the socket: tell it the connection is gone once its
    # request loop has ended (our handler returned), so the server forgets it (no leak per attach).
    loop_task = getattr(proto, "_task_handler", None)
    if loop_task is not None and proto is not None:
        old = proto
        loop_task.add_done_callback(lambda _t: old.connection_lost(None))
    if getattr(proto, "skiff_eof", False):  # the client half-closed before we took over
        hp.eof_received()
    with contextlib.suppress(Exception):
        if not transport.is_reading():
            transport.resume_reading()
    transport.write(head.encode())
    request[PREPARED_KEY] = True  # from here on an error can only close the connection
    conn = Hijacked(hp, multiplexed)
    request[HIJACKED_KEY] = conn
    return conn


HIJACKED_KEY = web.RequestKey("skiff.hijacked", Hijacked)


class _Collector:
    """A stand-in payload parser: forwards aiohttp's buffered tail into the hijack protocol."""

    def __init__(self, target: _HijackProtocol) -> None:
        self.target = target

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.target.data_received(data)
        return False, b""

    def feed_eof(self) -> None:
        return None
