"""The API frame against a real aiohttp server on a unix socket: versions, errors, streams, hijack.

The skiff client (stdlib http.client) is the HTTP peer, so both directions of each map are tested.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from skiff.api.errors import STATUS, status_for
from skiff.api.httputil import api_version, json_response, query_bool
from skiff.api.routes import Route
from skiff.api.server import make_app, setup_runner
from skiff.api.streams import (
    STDERR,
    STDOUT,
    FrameDecoder,
    JsonStream,
    frame,
    hijack,
    progress_message,
    stream_messages,
)
from skiff.api.versions import check, less_than
from skiff.client.api import APIClient
from skiff.client.errors import DaemonError
from skiff.client.streams import demux
from skiff.client.transport import Transport
from skiff.errors import (
    Conflict,
    Forbidden,
    InvalidParameter,
    NotFound,
    NotModified,
    System,
    Unauthorized,
    Unavailable,
    Unimplemented,
)


def test_version_checks() -> None:
    assert check(None) == "1.51" and check("1.24") == "1.24" and check("1.51") == "1.51"
    with pytest.raises(InvalidParameter, match=r"^client version 1.23 is too old. Minimum supported API "
                                               r"version is 1.24, please upgrade your client"):
        check("1.23")
    with pytest.raises(InvalidParameter, match=r"^client version 1.52 is too new. Maximum supported API "
                                               r"version is 1.51$"):
        check("1.52")
    assert less_than("1.9", "1.24") and not less_than("1.100", "1.51")


def test_status_map() -> None:
    want = {NotModified: 304, NotFound: 404, InvalidParameter: 400, Conflict: 409, Unauthorized: 401,
            Forbidden: 403, Unavailable: 503, Unimplemented: 501, System: 500}
    assert dict(STATUS) == want
    for cls, status in want.items():
        assert status_for(cls("x")) == status

        class Sub(cls):  # type: ignore[valid-type, misc]
            pass
        assert status_for(Sub("x")) == status
    assert status_for(ValueError()) == 500


def test_frames() -> None:
    data = frame(STDOUT, b"hello") + frame(STDERR, b"") + frame(STDERR, b"x" * 70000)
    assert data[:8] == b"\x01\x00\x00\x00\x00\x00\x00\x05"
    dec = FrameDecoder()
    got = []
    for i in range(0, len(data), 7):  # arbitrary splits
        got += dec.feed(data[i:i + 7])
    assert got == [(1, b"hello"), (2, b""), (2, b"x" * 70000)] and dec.pending == 0
    assert list(demux([data])) == got


def test_progress_message() -> None:
    m = progress_message("Downloading", "abc", 500, 1000)
    assert m["progressDetail"] == {"current": 500, "total": 1000} and m["id"] == "abc"
    assert m["progress"].startswith("[========================>")


# ---- a live app --------------------------------------------------------------------------------

async def _boom(request: web.Request) -> web.StreamResponse:
    raise ValueError("kaboom")


async def _missing(request: web.Request) -> web.StreamResponse:
    raise NotFound(f"No such container: {request.match_info['id']}")


async def _same(request: web.Request) -> web.StreamResponse:
    raise NotModified("already started")


async def _echo_version(request: web.Request) -> web.StreamResponse:
    return json_response({"v": api_version(request), "flag": query_bool(request, "flag")})


async def _progress(request: web.Request) -> web.StreamResponse:
    s = await JsonStream(request).start()
    await s.send({"status": "one"})
    await s.error(Conflict("went wrong"))
    return await s.finish()


async def _attach(request: web.Request) -> web.StreamResponse:
    conn = await hijack(request, multiplexed=request.query.get("tty") != "1")
    received = b""
    while True:
        chunk = await conn.read()
        if not chunk:
            break
        received += chunk
    assert conn.client_eof
    await conn.write(b"got:" + received, STDOUT)  # still writing after the client's half-close
    await conn.write(b"bye", STDERR)
    conn.close()
    return conn.response


async def _exec_start(request: web.Request) -> web.StreamResponse:
    body = await request.json()  # the body is read first; stdin sent behind it must survive
    conn = await hijack(request, multiplexed=not body.get("Tty"))
    received = b""
    while chunk := await conn.read():
        received += chunk
    await conn.write(b"tty=%d:" % body.get("Tty", False) + received)
    conn.close()
    return conn.response


async def _pull(request: web.Request) -> web.StreamResponse:
    async def messages() -> AsyncIterator[dict[str, str]]:
        if request.query.get("early"):
            raise NotFound("pull access denied for nosuch")
        yield {"status": "Pulling"}
        raise Unauthorized("late failure")

    return await stream_messages(request, messages())


async def _attach_fails(request: web.Request) -> web.StreamResponse:
    conn = await hijack(request, multiplexed=True)
    await conn.write(b"partial")
    raise RuntimeError("engine broke mid-stream")


ROUTES = [
    Route("POST", "/broken/attach", _attach_fails),
    Route("POST", "/images/create", _pull),
    Route("POST", "/exec/{id}/start", _exec_start),
    Route("GET", "/boom", _boom), Route("GET", "/containers/{id}/json", _missing),
    Route("POST", "/same", _same), Route("GET", "/echo", _echo_version),
    Route("GET", "/new", _echo_version, min_version="1.45"), Route("POST", "/progress", _progress),
    Route("POST", "/attach", _attach),
]


def _serve(test: Callable[[Path], Any]) -> Any:
    async def main() -> Any:
        sockdir = Path(tempfile.mkdtemp(prefix="skt", dir="/tmp"))
        sock = sockdir / "api.sock"
        runner = await setup_runner(make_app(ROUTES), debug=True)  # access log on: hijacks must not trip it
        await web.UnixSite(runner, str(sock)).start()
        try:
            result = await asyncio.to_thread(test, sock)
            for _ in range(100):  # every connection, hijacked ones included, is forgotten when it ends
                if runner.server is None or not runner.server.connections:
                    break
                await asyncio.sleep(0.02)
            assert runner.server is not None and runner.server.connections == []
            return result
        finally:
            await runner.cleanup()
            sock.unlink(missing_ok=True)
            sockdir.rmdir()
    return asyncio.run(main())


def test_errors_and_versions_over_http() -> None:
    def run(sock: Path) -> None:
        t = Transport(f"unix://{sock}")
        r = t.request("GET", "/echo", {"flag": "true"})
        assert r.json() == {"v": "1.51", "flag": True}
        assert r.headers["Server"].startswith("Skiff/") and r.headers["Api-Version"] == "1.51"
        assert r.headers["Ostype"] == "linux"
        assert t.request("GET", "/v1.30/echo").json()["v"] == "1.30"
        with pytest.raises(InvalidParameter, match=r"too new\. Maximum supported API version is 1\.51"):
            t.request("GET", "/v1.99/echo")
        with pytest.raises(InvalidParameter, match="too old"):
            t.request("GET", "/v1.12/echo")
        with pytest.raises(InvalidParameter, match=r"requires API version 1\.45"):
            t.request("GET", "/v1.44/new")
        assert t.request("GET", "/v1.45/new").json()["v"] == "1.45"
        with pytest.raises(NotFound) as nf:
            t.request("GET", "/v1.51/containers/abc/json")
        assert isinstance(nf.value, DaemonError) and nf.value.status == 404
        assert nf.value.message == "No such container: abc"
        assert str(nf.value) == "Error response from daemon: No such container: abc"
        with pytest.raises(System, match="internal error: ValueError: kaboom") as e500:
            t.request("GET", "/boom")
        assert "Traceback" not in e500.value.message
        assert t.request("POST", "/same").status == 304  # like the Go client: 304 is not an error
        with pytest.raises(NotFound, match="page not found"):
            t.request("GET", "/v1.51/nothing/here")
        with pytest.raises(InvalidParameter):
            t.request("GET", "/echo", {"flag": "maybe"})
        with pytest.raises(NotFound, match="pull access denied"):
            t.request("POST", "/images/create", {"early": "1"}, stream=True)
        assert list(t.request("POST", "/images/create", stream=True).iter_json()) == [
            {"status": "Pulling"}, {"errorDetail": {"message": "late failure"}, "error": "late failure"}]
        lines = list(t.request("POST", "/progress", stream=True).iter_json())
        assert lines == [{"status": "one"}, {"errorDetail": {"message": "went wrong"}, "error": "went wrong"}]
        t.close()

    _serve(run)


def _raw_hijack(sock_path: Path, head: bytes, parts: list[bytes], early: bool = True) -> tuple[bytes, bytes]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(sock_path))
    data = b""
    if early:  # stdin and the half-close right behind the request: nothing may be lost
        s.sendall(head + b"".join(parts))
    else:  # as docker does: wait for the response headers, then send stdin
        s.sendall(head)
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        for p in parts:
            s.sendall(p)
    s.shutdown(socket.SHUT_WR)
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    headers, _, body = data.partition(b"\r\n\r\n")
    return headers, body


def test_hijack_upgrade_multiplexed_half_close() -> None:
    def run(sock: Path) -> None:
        head = (b"POST /v1.51/attach HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                b"Content-Length: 0\r\n\r\n")
        headers, body = _raw_hijack(sock, head, [b"hello ", b"world"])
        assert headers.startswith(b"HTTP/1.1 101 UPGRADED\r\n")
        assert b"Content-Type: application/vnd.docker.multiplexed-stream" in headers
        assert b"Upgrade: tcp" in headers and b"Connection: Upgrade" in headers
        assert FrameDecoder().feed(body) == [(1, b"got:hello world"), (2, b"bye")]

    _serve(run)


def test_hijack_after_json_body_with_early_stdin() -> None:
    def run(sock: Path) -> None:
        body = b'{"Detach":false,"Tty":false}'
        head = (b"POST /v1.50/exec/x/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        headers, out = _raw_hijack(sock, head, [b"stdin-data"])
        assert headers.startswith(b"HTTP/1.1 101 UPGRADED")
        assert FrameDecoder().feed(out) == [(1, b"tty=0:stdin-data")]

    _serve(run)


def test_error_after_hijack_only_hangs_up() -> None:
    def run(sock: Path) -> None:
        head = b"POST /broken/attach HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        headers, body = _raw_hijack(sock, head, [], early=False)
        assert headers.startswith(b"HTTP/1.1 101 UPGRADED")
        assert FrameDecoder().feed(body) == [(1, b"partial")]  # no HTTP 500 spliced into the stream
        assert b"HTTP/1.1" not in body

    _serve(run)


def test_hijack_without_upgrade_is_200_raw() -> None:
    def run(sock: Path) -> None:
        head = b"POST /attach?tty=1 HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n"
        headers, body = _raw_hijack(sock, head, [b"abc"], early=False)
        assert headers.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"application/vnd.docker.raw-stream" in headers
        assert body == b"got:abcbye"

    _serve(run)


def test_client_hijack_and_negotiation() -> None:
    def run(sock: Path) -> None:
        c = APIClient(f"unix://{sock}", version="1.51")
        conn = c.hijack("POST", "/attach")
        assert conn.multiplexed
        conn.send(b"ping")
        conn.close_write()
        data = b""
        while chunk := conn.recv():
            data += chunk
        conn.close()
        assert FrameDecoder().feed(data) == [(1, b"got:ping"), (2, b"bye")]

    _serve(run)


@pytest.fixture
def ping_app() -> Iterator[Callable[[Callable[[web.Request], Awaitable[web.StreamResponse]] | None, str], Any]]:
    def factory(head: Callable[[web.Request], Awaitable[web.StreamResponse]] | None, api: str) -> Any:
        async def get(request: web.Request) -> web.StreamResponse:
            return web.Response(text="OK", headers={"API-Version": api, "OSType": "linux",
                                                     "Docker-Experimental": "true", "Swarm": "inactive"})

        async def main() -> Any:
            app = web.Application()
            app.router.add_route("GET", "/_ping", get)
            if head is not None:
                app.router.add_route("HEAD", "/_ping", head)
            sockdir = Path(tempfile.mkdtemp(prefix="skp", dir="/tmp"))
            runner = web.AppRunner(app, handle_signals=False, access_log=None)
            await runner.setup()
            await web.UnixSite(runner, str(sockdir / "s")).start()
            try:
                def probe() -> tuple[str, bool]:
                    c = APIClient(f"unix://{sockdir / 's'}")
                    return c.version, c.ping().experimental
                return await asyncio.to_thread(probe)
            finally:
                await runner.cleanup()
                (sockdir / "s").unlink(missing_ok=True)
                sockdir.rmdir()
        return asyncio.run(main())
    yield factory


def test_negotiation_downgrades_and_falls_back_to_get(
        ping_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_API_VERSION", raising=False)

    async def head(request: web.Request) -> web.StreamResponse:
        return web.Response(headers={"API-Version": "1.43"})

    assert ping_app(head, "1.43")[0] == "1.43"
    # HEAD not routed (405): the client asks again with GET
    assert ping_app(None, "1.41") == ("1.41", True)
    # never above the client's own version; no header -> 1.24
    assert ping_app(None, "1.60")[0] == "1.51"
    assert ping_app(None, "")[0] == "1.24"
