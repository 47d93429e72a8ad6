"""The parent <-> init sync channel: a pair of pipes carrying newline-terminated JSON messages.

(Pipes, not a socketpair: importing ``socket`` costs the runtime's start-up milliseconds.)
Messages (``t`` is the type): child -> parent ``userns`` (write my id maps), ``pid`` (the init's
host pid, from the intermediate process of a double fork), ``hooks`` (rootfs is mounted: run
prestart/createRuntime), ``ready`` (about to wait for ``start``), ``error`` (msg); parent -> child
``go``. EOF on either side means the peer died (or, for exec, that execve succeeded: both ends
are close-on-exec).
"""

from __future__ import annotations

import os

from skiff.runtime import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Channel", "pair", "send", "recv", "expect", "describe_error"]


class Channel:
    """One end: reads from ``rfd``, writes to ``wfd``."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.closed = False
        self._buf = b""

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for fd in (self.rfd, self.wfd):
                try:
                    os.close(fd)
                except OSError:
                    pass


def pair() -> tuple[Channel, Channel]:
    """(parent end, child end); all four fds are close-on-exec."""
    p_r, c_w = os.pipe()
    c_r, p_w = os.pipe()
    return Channel(p_r, p_w), Channel(c_r, c_w)


def send(ch: Channel, t: str, **kw: Any) -> None:
    kw["t"] = t
    data = fastjson.dumps(kw).encode() + b"\n"
    while data:
        try:
            n = os.write(ch.wfd, data)
        except BrokenPipeError:  # the peer is gone; it may have said why before leaving
            msg = recv(ch)
            raise RuntimeError(msg.get("msg") or "init process exited unexpectedly") from None
        data = data[n:]


def recv(ch: Channel) -> dict[str, Any]:
    while b"\n" not in ch._buf:
        chunk = os.read(ch.rfd, 65536)
        if not chunk:
            return {"t": "eof"}
        ch._buf += chunk
    line, _, ch._buf = ch._buf.partition(b"\n")
    msg: dict[str, Any] = fastjson.loads(line)
    return msg


def expect(ch: Channel, t: str) -> dict[str, Any]:
    """Receive one message of type ``t``; anything else (error, EOF) raises RuntimeError."""
    msg = recv(ch)
    if msg.get("t") != t:
        if msg.get("t") == "error":
            raise RuntimeError(msg.get("msg", "init failed"))
        raise RuntimeError(f"init: expected {t!r}, got {msg.get('t')!r}")
    return msg


def describe_error(exc: BaseException) -> str:
    """The text of an ``error`` message: what the child says when it fails."""
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) not in text:
            text = f"{text}: {exc.filename}"
        return text
    return str(exc) or type(exc).__name__
