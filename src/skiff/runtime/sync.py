"""The parent <-> init sync channel: a SOCK_SEQPACKET socketpair carrying small JSON messages.

Messages (``t`` is the type): child -> parent ``userns`` (write my id maps), ``pid`` (the init's
host pid, from the intermediate process of a double fork), ``hooks`` (rootfs is mounted: run
prestart/createRuntime), ``ready`` (about to wait for ``start``), ``error`` (msg); parent -> child
``go``. EOF on either side means the peer died.
"""

from __future__ import annotations

import json
import socket
from typing import Any

__all__ = ["pair", "send", "recv", "expect"]


def pair() -> tuple[socket.socket, socket.socket]:
    """(parent end, child end)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return a, b


def send(sock: socket.socket, t: str, **kw: Any) -> None:
    kw["t"] = t
    sock.send(json.dumps(kw).encode())


def recv(sock: socket.socket) -> dict[str, Any]:
    data = sock.recv(65536)
    if not data:
        return {"t": "eof"}
    msg: dict[str, Any] = json.loads(data)
    return msg


def expect(sock: socket.socket, t: str) -> dict[str, Any]:
    """Receive one message of type ``t``; anything else (error, EOF) raises RuntimeError."""
    msg = recv(sock)
    if msg.get("t") != t:
        if msg.get("t") == "error":
            raise RuntimeError(msg.get("msg", "init failed"))
        raise RuntimeError(f"init: expected {t!r}, got {msg.get('t')!r}")
    return msg
