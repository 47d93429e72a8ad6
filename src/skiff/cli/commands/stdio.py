"""The client side of attach/exec streams: raw terminal, SIGWINCH resize, stdin half-close, demux.

``relay_session(conn, tty, stdin, resize)`` copies the local stdin to the hijacked connection (in
a thread; at EOF the write side is half-closed so the daemon closes the container's stdin) and the
connection's output to stdout/stderr until the daemon closes it. With a TTY the local terminal is
put in raw mode and restored, and its size is sent at start and on every SIGWINCH. Returns True
when the session ended because the user typed the detach keys (the daemon closed without exit).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["relay_session", "raw_terminal"]


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    import termios
    import tty as ttymod
    try:
        old = termios.tcgetattr(fd)
    except (termios.error, OSError):
        yield
        return
    ttymod.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def _size() -> tuple[int, int] | None:
    try:
        sz = os.get_terminal_size(sys.stdout.fileno())
        return sz.lines, sz.columns
    except OSError:
        return None


_CTRL = ["ctrl-@", *(f"ctrl-{chr(c)}" for c in range(ord("a"), ord("z") + 1)), "ctrl-[", "ctrl-\\", "ctrl-]",
         "ctrl-^", "ctrl-_"]


def escape_keys(keys: str) -> bytes:
    """docker's term.ToBytes ("ctrl-p,ctrl-q" -> b"\\x10\\x11"); the default on a bad value, as docker."""
    out = bytearray()
    for key in keys.split(","):
        if len(key) == 1:
            out += key.encode()
        elif key in _CTRL:
            out.append(_CTRL.index(key))
        else:
            return b"\x10\x11"
    return bytes(out) or b"\x10\x11"


def relay_session(conn: Any, *, tty: bool, stdin: bool, resize: Callable[[int, int], object] | None = None,
                  detach_keys: str = "") -> bool:
    """Relay until the daemon closes the stream; True if the user typed the detach keys (a TTY with
    stdin: caught here, as docker's escape proxy does, so custom keys work against any daemon)."""
    from skiff.client.streams import FrameReader

    out, err = sys.stdout.buffer, sys.stderr.buffer
    sys.stdout.flush()
    in_fd = sys.stdin.fileno() if stdin else -1
    local_tty = stdin and tty and os.isatty(in_fd)
    saw_detach = threading.Event()

    keys = escape_keys(detach_keys) if tty else b""

    def pump_in() -> None:
        held = b""  # a prefix of the detach keys, sent on only if the sequence breaks off
        try:
            while True:
                data = os.read(in_fd, 65536)
                if not data:
                    break
                if keys:
                    out_bytes = bytearray()
                    for b in data:
                        cand = held + bytes([b])
                        if keys.startswith(cand):
                            held = cand
                            if held == keys:
                                saw_detach.set()
                                if out_bytes:
                                    conn.send(bytes(out_bytes))
                                with contextlib.suppress(OSError):
                                    conn.sock.shutdown(2)  # socket.SHUT_RDWR: the reader stops
                                return
                        else:
                            out_bytes += cand
                            held = b""
                    data = bytes(out_bytes)
                    if not data:
                        continue
                conn.send(data)
        except OSError:
            pass
        conn.close_write()

    old_winch = None
    if tty and resize is not None:
        def on_winch(*_: object) -> None:
            s = _size()
            if s:
                with contextlib.suppress(Exception):
                    resize(*s)
        s0 = _size()
        if s0:
            with contextlib.suppress(Exception):
                resize(*s0)
        old_winch = signal.signal(signal.SIGWINCH, on_winch)
    ctx = raw_terminal(in_fd) if local_tty else contextlib.nullcontext()
    reader = FrameReader()
    with ctx:
        if stdin:
            threading.Thread(target=pump_in, daemon=True).start()
        try:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                if tty:  # docker demultiplexes whenever the container has no TTY, whatever the
                    out.write(data)  # content type (dockerd before API 1.42 says raw-stream for both)
                    out.flush()
                    continue
                for stream, payload in reader.feed(data):
                    target = err if stream == 2 else out
                    target.write(payload)
                    target.flush()
        finally:
            if old_winch is not None:
                signal.signal(signal.SIGWINCH, old_winch)
            conn.close()
    return saw_detach.is_set()
