"""A small HTTP/1.1 client over any connected socket (unix, TCP, TLS).

Why not http.client: importing it pulls in ssl and the email package (~35 ms), a third of
``skiff version``'s run time. Docker's API needs little: one request at a time per connection,
Content-Length or chunked bodies, keep-alive, streamed bodies read incrementally, and raw access
to the socket after a ``101 UPGRADED`` (hijack).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping

__all__ = ["Connection", "HTTPResponse", "Headers", "ProtocolError"]


class ProtocolError(ConnectionError):
    """The peer closed the connection or sent something that is not HTTP/1.1."""


class Headers:
    """Response headers, looked up case-insensitively; ``items()`` keeps the sender's spelling."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._map = {k.lower(): v for k, v in pairs}

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._map.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


class _Buffered:
    """A socket with a read buffer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def fill(self, n: int = 65536) -> bool:
        data = self.sock.recv(n)
        if not data:
            return False
        self.buf += data
        return True

    def readline(self, limit: int = 65536) -> bytes:
        while b"\n" not in self.buf:
            if len(self.buf) > limit or not self.fill():
                break
        idx = self.buf.find(b"\n")
        end = idx + 1 if idx >= 0 else len(self.buf)
        line = bytes(self.buf[:end])
        del self.buf[:end]
        return line

    def take(self, n: int) -> bytes:
        """Up to ``n`` bytes: what is buffered, else one recv."""
        if not self.buf and not self.fill(max(n, 65536)):
            return b""
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data


class HTTPResponse:
    """Status, headers, and the body read on demand (whole, by chunks or by lines)."""

    def __init__(self, conn: _Buffered, method: str, on_done: Callable[[bool], None]) -> None:
        self._io = conn
        line = conn.readline()
        while True:
            if not line:
                raise ProtocolError("connection closed before the response")
            parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/"):
                raise ProtocolError(f"bad status line {line!r}")
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            pairs: list[tuple[str, str]] = []
            while True:
                h = conn.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                pairs.append((k.strip(), v.strip()))
            if self.status != 100:
                break
            line = conn.readline()
        self.headers = Headers(pairs)
        self.will_close = (self.headers.get("connection", "") or "").lower() == "close" \
            or parts[0] == "HTTP/1.0"
        self.chunked = "chunked" in (self.headers.get("transfer-encoding", "") or "").lower()
        length = self.headers.get("content-length")
        self._left: int | None = int(length) if length is not None and not self.chunked else None
        self._chunk_left = 0
        self._done = method == "HEAD" or self.status in (101, 204, 304) or 100 <= self.status < 200 \
            or self._left == 0
        if not self.chunked and self._left is None and not self._done:
            self.will_close = True  # body runs until the peer closes
        self._on_done = on_done
        self._line = bytearray()
        if self._done:
            self._finish()

    @property
    def socket_buffer(self) -> _Buffered:
        """The connection, for hijacked streams after ``101``."""
        return self._io

    def _finish(self) -> None:
        self._done = True
        cb, self._on_done = self._on_done, lambda _reusable: None
        cb(not self.will_close)

    def read1(self, n: int = 65536) -> bytes:
        """Some bytes of the body (at most ``n``); ``b""`` at its end."""
        if self._done:
            return b""
        if self.chunked:
            if self._chunk_left == 0:
                size_line = self._io.readline()
                if not size_line:
                    raise ProtocolError("connection closed inside a chunked body")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self._io.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self._finish()
                    return b""
                self._chunk_left = size
            data = self._io.take(min(n, self._chunk_left))
            if not data:
                raise ProtocolError("connection closed inside a chunk")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._io.readline()  # the CRLF after the chunk
            return data
        if self._left is not None:
            data = self._io.take(min(n, self._left))
            if not data:
                raise ProtocolError("connection closed inside the body")
            self._left -= len(data)
            if self._left == 0:
                self._finish()
            return data
        data = self._io.take(n)
        if not data:
            self._finish()
        return data

    def read(self) -> bytes:
        out = bytearray()
        while chunk := self.read1(1 << 20):
            out += chunk
        return bytes(out)

    def readline(self) -> bytes:
        while b"\n" not in self._line:
            chunk = self.read1()
            if not chunk:
                break
            self._line += chunk
        idx = self._line.find(b"\n")
        end = idx + 1 if idx >= 0 else len(self._line)
        line = bytes(self._line[:end])
        del self._line[:end]
        return line

    def close(self) -> None:
        if not self._done:
            self.will_close = True
            self._finish()


class Connection:
    """One HTTP/1.1 connection, opened on first use, reused while the server keeps it alive."""

    def __init__(self, connect: Callable[[], socket.socket], host_header: str) -> None:
        self._connect = connect
        self.host_header = host_header
        self.sock: socket.socket | None = None
        self._io: _Buffered | None = None
        self.busy = False

    def open(self) -> _Buffered:
        if self._io is None:
            self.sock = self._connect()
            self._io = _Buffered(self.sock)
        return self._io

    @property
    def is_open(self) -> bool:
        return self._io is not None

    def request(self, method: str, url: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> HTTPResponse:
        io = self.open()
        hdrs = {"Host": self.host_header}
        if headers:
            hdrs.update(headers)
        if body is not None or method in ("POST", "PUT"):
            hdrs.setdefault("Content-Length", str(len(body or b"")))
        head = f"{method} {url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        assert self.sock is not None
        self.sock.sendall(head.encode("latin-1") + (body or b""))
        self.busy = True
        return HTTPResponse(io, method, self._done)

    def _done(self, reusable: bool) -> None:
        self.busy = False
        if not reusable:
            self.close()

    def detach(self) -> tuple[socket.socket, bytes]:
        """Hand the socket (and bytes already read) to a hijacker; this connection forgets it."""
        assert self.sock is not None and self._io is not None
        sock, rest = self.sock, bytes(self._io.buf)
        self.sock, self._io = None, None
        return sock, rest

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock, self._io = None, None

    def chunks(self, resp: HTTPResponse, size: int = 65536) -> Iterator[bytes]:
        while chunk := resp.read1(size):
            yield chunk
