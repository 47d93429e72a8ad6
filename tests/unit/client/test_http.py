"""The client's small HTTP/1.1: bodies by length, chunked and until-close; keep-alive; streaming."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from skiff.client.http import Connection, ProtocolError


def _server(replies: list[bytes]) -> tuple[Connection, list[bytes], threading.Thread]:
    """A Connection whose peer answers each request with the next canned reply."""
    a, b = socket.socketpair()
    seen: list[bytes] = []

    def serve() -> None:
        buf = b""
        for reply in replies:
            while b"\r\n\r\n" not in buf:
                chunk = b.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            seen.append(head)
            b.sendall(reply)
        b.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return Connection(lambda: a, "docker"), seen, t


def test_keep_alive_length_and_chunked() -> None:
    conn, seen, t = _server([
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nApi-Version: 1.51\r\n\r\nOK",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n world\n\r\n0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ])
    r = conn.request("GET", "/_ping")
    assert r.status == 200 and r.headers["api-version"] == "1.51" and r.read() == b"OK"
    r = conn.request("GET", "/events")
    assert r.readline() == b"hello world\n" and r.readline() == b""
    r = conn.request("POST", "/x", b"{}", {"Content-Type": "application/json"})
    assert r.status == 204 and r.read() == b""
    assert conn.is_open  # one socket for all three
    t.join(5)
    assert seen[0].startswith(b"GET /_ping HTTP/1.1\r\nHost: docker")
    assert b"Content-Length: 2" in seen[2]
    conn.close()


def test_until_close_and_connection_close() -> None:
    conn, _, t = _server([b"HTTP/1.0 200 OK\r\n\r\nstreamed until close"])
    r = conn.request("GET", "/logs")
    assert r.read() == b"streamed until close"
    assert not conn.is_open
    t.join(5)


def test_peer_closed_before_reply() -> None:
    conn, _, t = _server([])
    t.join(5)
    with pytest.raises((ProtocolError, BrokenPipeError)):  # either way the Transport retries or reports
        conn.request("GET", "/_ping")


def test_incremental_chunks() -> None:
    a, b = socket.socketpair()
    conn = Connection(lambda: a, "docker")

    def feed() -> Iterator[None]:
        b.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        yield
        b.sendall(b"3\r\nabc\r\n")
        yield
        b.sendall(b"0\r\n\r\n")
        yield

    steps = feed()
    next(steps)
    r = conn.request("GET", "/x")
    next(steps)
    assert r.read1() == b"abc"  # available before the body ends
    next(steps)
    assert r.read1() == b"" and conn.is_open
    conn.close()
    b.close()
