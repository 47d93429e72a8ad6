"""The asyncio twin of :mod:`skiff.monitor.client`, for the daemon's event loop.

Same requests, same fallbacks: one connection per request or stream; ``wait`` reads ``exit.json``
when the monitor is gone. Streams (attach, exec) are :class:`AsyncAttachment` objects whose
``read()`` returns ``(stream, bytes)`` or None at the end (then ``exit`` holds the status).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from skiff.errors import Conflict
from skiff.monitor.client import MonitorGone
from skiff.monitor.protocol import HEADER, MAX_FRAME, ExitStatus, frame, read_exit_file
from skiff.monitor.sockpath import connect_unix

__all__ = ["AsyncMonitorClient", "AsyncAttachment"]


class _AConn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, path: str) -> _AConn:
        try:
            sock = connect_unix(path, 5.0)  # a local connect does not block; long paths need the fd trick
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise MonitorGone(f"monitor at {path} is not running: {e.strerror}")
        sock.setblocking(False)
        r, w = await asyncio.open_unix_connection(sock=sock, limit=MAX_FRAME + HEADER.size)
        return cls(r, w)

    async def send(self, kind: bytes, payload: Any = b"") -> None:
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
        self.writer.write(frame(kind, payload))
        await self.writer.drain()

    async def recv(self) -> tuple[bytes, bytes] | None:
        try:
            head = await self.reader.readexactly(HEADER.size)
            kind, n = HEADER.unpack(head)
            return kind, await self.reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            return None

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionResetError, BrokenPipeError):
            pass


class AsyncAttachment:
    def __init__(self, conn: _AConn, pid: int = 0) -> None:
        self._c = conn
        self.pid = pid
        self.exit: ExitStatus | None = None

    async def read(self) -> tuple[int, bytes] | None:
        while True:
            msg = await self._c.recv()
            if msg is None:
                return None
            kind, payload = msg
            if kind in (b"1", b"2"):
                return (1 if kind == b"1" else 2), payload
            if kind == b"X":
                self.exit = ExitStatus.from_dict(json.loads(payload))
                return None

    async def write(self, data: bytes) -> None:
        for i in range(0, len(data), 65536):
            await self._c.send(b"I", data[i:i + 65536])

    async def close_stdin(self) -> None:
        await self._c.send(b"C")

    async def resize(self, h: int, w: int) -> None:
        await self._c.send(b"R", {"h": h, "w": w})

    async def close(self) -> None:
        await self._c.close()


class AsyncMonitorClient:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.state_dir = os.path.dirname(socket_path)

    async def _request(self, kind: bytes, payload: Any = b"") -> tuple[bytes, bytes]:
        c = await _AConn.open(self.socket_path)
        try:
            await c.send(kind, payload)
            while True:
                msg = await c.recv()
                if msg is None:
                    raise MonitorGone("monitor closed the connection")
                if msg[0] in (b"O", b"E", b"T", b"X"):
                    return msg
        finally:
            await c.close()

    async def _ok(self, kind: bytes, payload: Any = b"") -> dict[str, Any]:
        k, body = await self._request(kind, payload)
        if k == b"E":
            raise Conflict(body.decode(errors="replace"))
        result: dict[str, Any] = json.loads(body or b"{}")
        return result

    async def start(self) -> int:
        return int((await self._ok(b"S")).get("pid", 0))

    async def signal(self, sig: int, all_processes: bool = False, exec_id: str = "") -> None:
        await self._ok(b"K", {"signal": int(sig), "all": all_processes, "exec": exec_id})

    async def resize(self, h: int, w: int, exec_id: str = "") -> None:
        await self._ok(b"R", {"h": h, "w": w, "exec": exec_id})

    async def status(self, exec_id: str = "") -> dict[str, Any]:
        return await self._ok(b"Q", {"exec": exec_id})

    async def wait(self) -> ExitStatus:
        try:
            _, body = await self._request(b"W")
            return ExitStatus.from_dict(json.loads(body))
        except (MonitorGone, ConnectionResetError, BrokenPipeError):
            st = read_exit_file(self.state_dir)
            if st is None:
                raise MonitorGone(f"monitor in {self.state_dir} is gone and left no exit status")
            return st

    async def wait_exec(self, exec_id: str) -> ExitStatus | None:
        """The exit record of exec ``exec_id`` once it has finished (``V``); None when neither the
        monitor nor an exit file knows it. Raises Conflict when the monitor cannot wait for it
        (one older than ``V`` answers E) while the exec has left no exit file: poll then."""
        path = os.path.join(self.state_dir, f"exec-{exec_id}.exit.json")
        try:
            k, body = await self._request(b"V", {"exec": exec_id})
        except (MonitorGone, OSError):
            k, body = b"", b""
        if k == b"X":
            return ExitStatus.from_dict(json.loads(body))
        try:
            with open(path, "rb") as f:
                return ExitStatus.from_dict(json.loads(f.read()))
        except (FileNotFoundError, ValueError):
            if k == b"E":
                raise Conflict(body.decode(errors="replace")) from None
            return None

    async def attach(self, stdin: bool = False, stdout: bool = True, stderr: bool = True) -> AsyncAttachment:
        c = await _AConn.open(self.socket_path)
        await c.send(b"A", {"stdin": stdin, "stdout": stdout, "stderr": stderr})
        return AsyncAttachment(c)

    async def exec(self, exec_id: str, process: dict[str, Any], stdin: bool = False, detach: bool = False,
                   console_size: tuple[int, int] = (0, 0)) -> AsyncAttachment:
        c = await _AConn.open(self.socket_path)
        await c.send(b"E", {"id": exec_id, "process": process, "stdin": stdin, "detach": detach,
                            "console_size": list(console_size)})
        msg = await c.recv()
        if msg is None or msg[0] != b"O":
            await c.close()
            raise Conflict(msg[1].decode(errors="replace") if msg else "monitor closed the connection")
        return AsyncAttachment(c, int(json.loads(msg[1]).get("pid", 0)))
