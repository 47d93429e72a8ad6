"""The engine's side of the monitor socket (blocking; one connection per request or attach).

An asyncio engine can use the same frames (:func:`skiff.monitor.protocol.frame`,
:class:`~skiff.monitor.protocol.FrameReader`) on ``Attachment.sock`` or call these in a thread.
When the monitor is gone, :meth:`MonitorClient.wait` falls back to the exit file it left.
"""

from __future__ import annotations

import json
import os
from typing import Any

from skiff.errors import Conflict, System
from skiff.monitor.protocol import ExitStatus, FrameReader, frame, read_exit_file
from skiff.monitor.sockpath import connect_unix

__all__ = ["MonitorClient", "Attachment", "MonitorGone"]


class MonitorGone(System):
    """The monitor is not running (it exited or was killed); read its exit file instead."""


class _Conn:
    def __init__(self, path: str, timeout: float | None) -> None:
        try:
            self.sock = connect_unix(path, timeout)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise MonitorGone(f"monitor at {path} is not running: {e.strerror}")
        self.reader = FrameReader()
        self.pending: list[tuple[bytes, bytes]] = []

    def send(self, kind: bytes, payload: Any = b"") -> None:
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
        self.sock.sendall(frame(kind, payload))

    def recv(self) -> tuple[bytes, bytes] | None:
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.pending.extend(self.reader.feed(data))
        return self.pending.pop(0)

    def close(self) -> None:
        self.sock.close()


class Attachment:
    """A live attach: read tagged output, write stdin, half-close, resize; ``exit`` once known."""

    def __init__(self, conn: _Conn, pid: int = 0) -> None:
        self._c = conn
        self.sock = conn.sock
        self.pid = pid
        self.exit: ExitStatus | None = None

    def read(self) -> tuple[int, bytes] | None:
        """Next (stream, data), stream 1 = stdout, 2 = stderr; None when the container has exited."""
        while True:
            msg = self._c.recv()
            if msg is None:
                return None
            kind, payload = msg
            if kind in (b"1", b"2"):
                return (1 if kind == b"1" else 2), payload
            if kind == b"X":
                self.exit = ExitStatus.from_dict(json.loads(payload))
                return None

    def write(self, data: bytes) -> None:
        for i in range(0, len(data), 65536):
            self._c.send(b"I", data[i:i + 65536])

    def close_stdin(self) -> None:
        self._c.send(b"C")

    def resize(self, h: int, w: int) -> None:
        self._c.send(b"R", {"h": h, "w": w})

    def close(self) -> None:
        self._c.close()


class MonitorClient:
    """Talk to the monitor listening at ``socket_path`` (``<state_dir>/monitor.sock``)."""

    def __init__(self, socket_path: str, timeout: float | None = 30.0) -> None:
        self.socket_path = socket_path
        self.state_dir = os.path.dirname(socket_path)
        self.timeout = timeout

    def _request(self, kind: bytes, payload: Any = b"", timeout: float | None = -1.0) -> tuple[bytes, bytes]:
        c = _Conn(self.socket_path, self.timeout if timeout == -1.0 else timeout)
        try:
            c.send(kind, payload)
            while True:
                msg = c.recv()
                if msg is None:
                    raise MonitorGone("monitor closed the connection")
                if msg[0] in (b"O", b"E", b"T", b"X"):
                    return msg
        finally:
            c.close()

    def _ok(self, kind: bytes, payload: Any = b"") -> dict[str, Any]:
        k, body = self._request(kind, payload)
        if k == b"E":
            raise Conflict(body.decode(errors="replace"))
        result: dict[str, Any] = json.loads(body or b"{}")
        return result

    def start(self) -> int:
        """Run ``<runtime> start``; returns the init pid."""
        return int(self._ok(b"S").get("pid", 0))

    def signal(self, sig: int, all_processes: bool = False, exec_id: str = "") -> None:
        """``<runtime> kill`` the container's init (or kill(2) one exec process)."""
        self._ok(b"K", {"signal": int(sig), "all": all_processes, "exec": exec_id})

    def resize(self, h: int, w: int, exec_id: str = "") -> None:
        self._ok(b"R", {"h": h, "w": w, "exec": exec_id})

    def status(self, exec_id: str = "") -> dict[str, Any]:
        """{"state", "pid", "exit", ...} of the container, or of one running exec."""
        return self._ok(b"Q", {"exec": exec_id})

    def exec(self, exec_id: str, process: dict[str, Any], stdin: bool = False, detach: bool = False,
             console_size: tuple[int, int] = (0, 0)) -> Attachment:
        """Run ``process`` (an OCI process object) in the container via ``<runtime> exec``.

        The returned attachment carries the exec's output (raw pty bytes as stream 1 with a TTY),
        takes its stdin, and ends with its exit status; with ``detach`` the output is discarded and
        the status is left in ``exec-<id>.exit.json`` (see :meth:`exec_exit`).
        """
        c = _Conn(self.socket_path, None)
        c.send(b"E", {"id": exec_id, "process": process, "stdin": stdin, "detach": detach,
                      "console_size": list(console_size)})
        msg = c.recv()
        if msg is None or msg[0] != b"O":
            c.close()
            raise Conflict(msg[1].decode(errors="replace") if msg else "monitor closed the connection")
        return Attachment(c, int(json.loads(msg[1]).get("pid", 0)))

    def exec_exit(self, exec_id: str) -> ExitStatus | None:
        """The recorded exit of a finished exec (None while it runs or if unknown)."""
        try:
            with open(os.path.join(self.state_dir, f"exec-{exec_id}.exit.json"), "rb") as f:
                return ExitStatus.from_dict(json.loads(f.read()))
        except (FileNotFoundError, ValueError):
            return None

    def wait(self, timeout: float | None = None) -> ExitStatus:
        """Block until the container exits; works after the monitor is gone (reads exit.json)."""
        try:
            _, body = self._request(b"W", timeout=timeout)
            return ExitStatus.from_dict(json.loads(body))
        except (MonitorGone, ConnectionResetError, BrokenPipeError):
            st = read_exit_file(self.state_dir)
            if st is None:
                raise MonitorGone(f"monitor in {self.state_dir} is gone and left no exit status")
            return st

    def attach(self, stdin: bool = False, stdout: bool = True, stderr: bool = True) -> Attachment:
        c = _Conn(self.socket_path, None)
        c.send(b"A", {"stdin": stdin, "stdout": stdout, "stderr": stderr})
        return Attachment(c)

    @staticmethod
    def reachable(socket_path: str) -> bool:
        try:
            s = connect_unix(socket_path, 2.0)
        except OSError:
            return False
        s.close()
        return True


