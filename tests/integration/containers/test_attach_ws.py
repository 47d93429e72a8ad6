"""GET /containers/{id}/attach/ws through the docker SDK (websocket-client) and a raw aiohttp client.

What dockerd 20.10 answered to the same requests (checked side by side): raw unframed bytes in
binary frames (text frames before API 1.28), any Origin accepted, stdin from text or binary frames,
close code 1000 when the container's output ends, 404/409/400 as JSON before the handshake, and a
created or exited container is waited for (no 409). The SDK speaks websockets over TCP only
(``http+docker://`` is not a websocket URL), so its tests go through a loopback relay to the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import docker
import pytest
import websocket

from tests.support.daemon import DOCKER_CLI, Daemon
from tests.support.images import busybox_daemon

pytestmark = pytest.mark.root


# ---- helpers ---------------------------------------------------------------------------------

class _Relay:
    """127.0.0.1:<port> -> the daemon's unix socket, byte for byte (what ``socat`` would do)."""

    def __init__(self, unix_path: str) -> None:
        self.unix_path = unix_path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.unix_path)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()
        for s in self.conns:
            with contextlib.suppress(OSError):
                s.close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def sdk(bbd: Daemon) -> Iterator[docker.APIClient]:
    relay = _Relay(str(bbd.socket))
    client = docker.APIClient(base_url=f"tcp://127.0.0.1:{relay.port}", timeout=30)
    try:
        yield client
    finally:
        client.close()
        relay.close()


@pytest.fixture
def ctrs(bbd: Daemon) -> Iterator[list[str]]:
    """Container ids a test made; removed after it, even on failure."""
    made: list[str] = []
    yield made
    if made:
        bbd.docker("rm", "-f", *made)


def _run(d: Daemon, made: list[str], *args: str) -> str:
    r = d.docker("run", "-d", *args)
    assert r.returncode == 0, r.stderr
    made.append(r.stdout.strip())
    return made[-1]


def _inspect(d: Daemon, cid: str) -> dict[str, Any]:
    return json.loads(d.docker("inspect", cid).stdout)[0]


def _wait_logs(d: Daemon, cid: str, text: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = d.docker("logs", cid)
        if text in r.stdout + r.stderr:
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in the logs of {cid}")


def _sdk_read_until_close(ws: websocket.WebSocket) -> tuple[bytes, int]:
    """Everything the daemon sent, and its close code."""
    out = b""
    while True:
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return out, struct.unpack("!H", data[:2])[0]
        assert opcode == websocket.ABNF.OPCODE_BINARY, opcode
        out += data


def _sdk_read_until(ws: websocket.WebSocket, want: bytes) -> bytes:
    got = b""
    while want not in got:
        data = ws.recv()
        assert isinstance(data, bytes) and data, data  # binary frames (API >= 1.28)
        got += data
    return got


@contextlib.asynccontextmanager
async def _session(d: Daemon) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(d.socket)),
                                     timeout=aiohttp.ClientTimeout(total=60)) as s:
        yield s


async def _read_until(ws: aiohttp.ClientWebSocketResponse, want: bytes,
                      kind: aiohttp.WSMsgType = aiohttp.WSMsgType.BINARY) -> bytes:
    got = b""
    while want not in got:
        msg = await asyncio.wait_for(ws.receive(), 20)
        assert msg.type == kind, (msg.type, msg.data, got)
        got += msg.data if isinstance(msg.data, bytes) else msg.data.encode()
    return got


async def _read_to_close(ws: aiohttp.ClientWebSocketResponse) -> tuple[bytes, int | None]:
    got = b""
    while True:
        msg = await asyncio.wait_for(ws.receive(), 20)
        if msg.type == aiohttp.WSMsgType.CLOSE:
            return got, msg.data
        assert msg.type == aiohttp.WSMsgType.BINARY, (msg.type, msg.data)
        got += msg.data


# ---- the docker SDK --------------------------------------------------------------------------

def test_sdk_output_of_running_container(bbd: Daemon, sdk: docker.APIClient, ctrs: list[str]) -> None:
    cid = _run(bbd, ctrs, "busybox", "sh", "-c", "while :; do echo tick; echo tock >&2; sleep 0.2; done")
    ws = sdk.attach_socket(cid, params={"stdout": 1, "stderr": 1, "stream": 1}, ws=True)
    ws.settimeout(20)
    got = _sdk_read_until(ws, b"tick")
    got += _sdk_read_until(ws, b"tock")  # both streams, raw and interleaved in one
    assert not got.startswith((b"\x01\x00\x00\x00", b"\x02\x00\x00\x00"))  # no stdcopy frames
    ws.close()
    assert _inspect(bbd, cid)["State"]["Running"] is True


def test_sdk_logs_replay_then_close(bbd: Daemon, sdk: docker.APIClient, ctrs: list[str]) -> None:
    cid = _run(bbd, ctrs, "busybox", "sh", "-c", "echo first; sleep 0.2; echo second >&2; exec sleep 300")
    _wait_logs(bbd, cid, "second")
    ws = sdk.attach_socket(cid, params={"logs": 1, "stdout": 1, "stderr": 1}, ws=True)
    ws.settimeout(20)
    assert _sdk_read_until_close(ws) == (b"first\nsecond\n", 1000)  # no stream: the replay, then 1000
    ws = sdk.attach_socket(cid, params={"logs": 1, "stdout": 1}, ws=True)
    ws.settimeout(20)
    assert _sdk_read_until_close(ws) == (b"first\n", 1000)  # only the streams asked for


def test_sdk_stdin_reaches_cat_and_close_detaches(bbd: Daemon, sdk: docker.APIClient, ctrs: list[str]) -> None:
    cid = _run(bbd, ctrs, "-i", "busybox", "cat")
    params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
    ws = sdk.attach_socket(cid, params=params, ws=True)
    ws.settimeout(20)
    ws.send_binary(b"hello over ws\n")
    assert _sdk_read_until(ws, b"hello over ws\n") == b"hello over ws\n"
    ws.close()
    time.sleep(0.5)
    assert _inspect(bbd, cid)["State"]["Running"] is True  # closing detached; cat's stdin is still open
    ws = sdk.attach_socket(cid, params=params, ws=True)
    ws.settimeout(20)
    ws.send("as text frame\n")
    assert _sdk_read_until(ws, b"as text frame\n") == b"as text frame\n"
    ws.close()


def test_sdk_container_exit_closes_socket(bbd: Daemon, sdk: docker.APIClient, ctrs: list[str]) -> None:
    cid = _run(bbd, ctrs, "-i", "busybox", "sh", "-c", "read x; echo got-$x; exit 3")
    ws = sdk.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stream": 1}, ws=True)
    ws.settimeout(20)
    ws.send_binary(b"val\n")
    assert _sdk_read_until_close(ws) == (b"got-val\n", 1000)
    assert bbd.docker("wait", cid).stdout.strip() == "3"


def test_sdk_unknown_container(sdk: docker.APIClient) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        sdk.attach_socket("no-such-ctr", ws=True)
    assert e.value.status_code == 404


# ---- a raw websocket client ------------------------------------------------------------------

def test_raw_stdin_echo_any_origin_and_close(bbd: Daemon, ctrs: list[str]) -> None:
    cid = _run(bbd, ctrs, "-i", "busybox", "cat")

    async def go() -> tuple[bool, int | None]:
        async with _session(bbd) as s:
            url = f"http://skiff/v1.45/containers/{cid}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1"
            ws = await s.ws_connect(url, headers={"Origin": "http://elsewhere.example"})  # moby checks none
            await ws.send_bytes(b"raw hello\n")
            assert await _read_until(ws, b"raw hello\n") == b"raw hello\n"
            await ws.send_str("text hello\n")
            assert await _read_until(ws, b"text hello\n") == b"text hello\n"
            closed = await asyncio.wait_for(ws.close(), 10)  # the daemon answers our close at once
            return closed, ws.close_code

    assert asyncio.run(go()) == (True, 1000)
    time.sleep(0.5)
    assert _inspect(bbd, cid)["State"]["Running"] is True


def test_raw_close_without_stdin_ends_session(bbd: Daemon, ctrs: list[str]) -> None:
    """moby reads nothing when stdin is not attached, so it missed such a close; Skiff does not."""
    cid = _run(bbd, ctrs, "busybox", "sh", "-c", "while :; do echo tick; sleep 0.2; done")

    async def go() -> int | None:
        async with _session(bbd) as s:
            ws = await s.ws_connect(f"http://skiff/containers/{cid}/attach/ws?stream=1&stdout=1")
            await _read_until(ws, b"tick")
            await asyncio.wait_for(ws.close(), 10)
            return ws.close_code

    assert asyncio.run(go()) == 1000
    assert _inspect(bbd, cid)["State"]["Running"] is True


def test_raw_attach_before_start_then_exit_closes(bbd: Daemon, ctrs: list[str]) -> None:
    r = bbd.docker("create", "busybox", "sh", "-c", "echo started; echo on-err >&2")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    ctrs.append(cid)

    async def go() -> tuple[bytes, int | None]:
        async with _session(bbd) as s:
            ws = await s.ws_connect(f"http://skiff/containers/{cid}/attach/ws?stream=1&stdout=1&stderr=1")
            start = await asyncio.create_subprocess_exec(DOCKER_CLI, "start", cid, env=bbd.env)
            assert await start.wait() == 0
            return await _read_to_close(ws)

    out, code = asyncio.run(go())  # a created container is no 409: the session waits for its start
    assert sorted(out.splitlines()) == [b"on-err", b"started"] and code == 1000


def test_raw_old_api_text_frames_and_all_streams(bbd: Daemon, ctrs: list[str]) -> None:
    cid = _run(bbd, ctrs, "busybox", "sh", "-c", "while :; do echo tick; sleep 0.2; done")

    async def go() -> bytes:
        async with _session(bbd) as s:  # before 1.42 the stdin/stdout/stderr flags are ignored (all on)
            ws = await s.ws_connect(f"http://skiff/v1.27/containers/{cid}/attach/ws?stream=1")
            got = await _read_until(ws, b"tick", aiohttp.WSMsgType.TEXT)  # text frames before 1.28
            await ws.close()
            return got

    assert b"tick" in asyncio.run(go())


def test_raw_refusals(bbd: Daemon, ctrs: list[str]) -> None:
    cid = _run(bbd, ctrs, "busybox", "sleep", "300")

    async def go() -> list[tuple[int, dict[str, str]]]:
        out = []
        async with _session(bbd) as s:
            with pytest.raises(aiohttp.WSServerHandshakeError) as e:
                await s.ws_connect("http://skiff/containers/no-such-ctr/attach/ws?stream=1")
            assert e.value.status == 404
            for q in ("no-such-ctr/attach/ws", f"{cid}/attach/ws?stream=1&detachKeys=ctrl-1",
                      f"{cid}/attach/ws?stream=1"):  # the last one is no websocket request
                async with s.get(f"http://skiff/containers/{q}") as r:
                    out.append((r.status, await r.json()))
            assert bbd.docker("pause", cid).returncode == 0
            try:
                with pytest.raises(aiohttp.WSServerHandshakeError) as e:
                    await s.ws_connect(f"http://skiff/containers/{cid}/attach/ws?stream=1&stdout=1")
                assert e.value.status == 409
                async with s.get(f"http://skiff/containers/{cid[:12]}/attach/ws?stream=1") as r:
                    out.append((r.status, await r.json()))
            finally:
                bbd.docker("unpause", cid)
        return out

    assert asyncio.run(go()) == [
        (404, {"message": "No such container: no-such-ctr"}),
        (400, {"message": "Invalid detach keys (ctrl-1) provided"}),
        (400, {"message": "not websocket protocol"}),
        (409, {"message": f"container {cid[:12]} is paused, unpause the container before attach"}),
    ]


def test_raw_tty_detach_keys(bbd: Daemon, ctrs: list[str]) -> None:
    cid = _run(bbd, ctrs, "-it", "busybox", "sh")

    async def go() -> int | None:
        async with _session(bbd) as s:
            ws = await s.ws_connect(f"http://skiff/containers/{cid}/attach/ws?stream=1&stdin=1&stdout=1")
            await ws.send_bytes(b"echo hi-$((40+2))\n")
            await _read_until(ws, b"hi-42")
            await ws.send_bytes(b"\x10\x11")  # ctrl-p ctrl-q: the daemon ends the session
            while True:
                msg = await asyncio.wait_for(ws.receive(), 20)
                if msg.type != aiohttp.WSMsgType.BINARY:
                    assert msg.type == aiohttp.WSMsgType.CLOSE
                    return msg.data

    assert asyncio.run(go()) == 1000
    assert _inspect(bbd, cid)["State"]["Running"] is True


def test_raw_restarting_is_409(bbd: Daemon, ctrs: list[str]) -> None:
    cid = _run(bbd, ctrs, "--restart", "always", "busybox", "false")

    async def go() -> tuple[int, dict[str, str]] | None:
        async with _session(bbd) as s:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # between two tries (the back-off grows) it is restarting
                if _inspect(bbd, cid)["State"]["Restarting"]:
                    async with s.get(f"http://skiff/containers/{cid[:12]}/attach/ws?stream=1") as r:
                        if r.status == 409:
                            return r.status, await r.json()
                await asyncio.sleep(0.1)
        return None

    assert asyncio.run(go()) == (
        409, {"message": f"container {cid[:12]} is restarting, wait until the container is running"})


def test_daemon_stop_closes_with_going_away(tmp_path: Path) -> None:
    with busybox_daemon(tmp_path) as d:
        r = d.docker("run", "-d", "busybox", "sh", "-c", "while :; do echo tick; sleep 0.2; done")
        assert r.returncode == 0, r.stderr

        async def go() -> tuple[int | None, float]:
            async with _session(d) as s:
                ws = await s.ws_connect(f"http://skiff/containers/{r.stdout.strip()}/attach/ws?stream=1&stdout=1")
                await _read_until(ws, b"tick")
                t0 = time.monotonic()
                stopping = asyncio.ensure_future(asyncio.to_thread(d.stop))
                try:
                    _, code = await _read_to_close(ws)
                finally:
                    await stopping
                return code, time.monotonic() - t0

        code, took = asyncio.run(go())
        assert code == 1001 and took < 10  # the session does not hold the daemon's stop
        d.start()  # live restore kept the container: started again, the fixture removes it


def test_raw_input_sent_right_before_close_arrives(bbd: Daemon, ctrs: list[str]) -> None:
    cid = _run(bbd, ctrs, "-i", "busybox", "tee", "/tmp/in")  # tee: echoes, after the close too

    async def go() -> None:
        async with _session(bbd) as s:
            ws = await s.ws_connect(f"http://skiff/containers/{cid}/attach/ws?stream=1&stdin=1&stdout=1")
            for part in (b"line1\n", b"line2\n", b"line3\n"):
                await ws.send_bytes(part)
            await asyncio.wait_for(ws.close(), 10)

    asyncio.run(go())
    deadline = time.monotonic() + 20
    while (got := bbd.docker("exec", cid, "cat", "/tmp/in").stdout) != "line1\nline2\nline3\n":
        assert time.monotonic() < deadline, got
        time.sleep(0.1)
    assert _inspect(bbd, cid)["State"]["Running"] is True  # not StdinOnce: its stdin stays open
