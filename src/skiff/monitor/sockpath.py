"""Unix socket paths longer than sun_path (108 bytes) are reached through ``/proc/self/fd/N/name``.

State directories under a deep ``--exec-root`` (and pytest's tmp dirs) easily pass the limit.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

__all__ = ["bind_unix", "connect_unix", "short_path"]

_LIMIT = 100


def short_path(path: str, fn: Callable[[str], None]) -> None:
    """Call ``fn`` with ``path`` or, if too long, an equivalent short path via an open dir fd."""
    if len(path.encode()) < _LIMIT:
        fn(path)
        return
    dfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fn(f"/proc/self/fd/{dfd}/{os.path.basename(path)}")
    finally:
        os.close(dfd)


def bind_unix(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    short_path(path, s.bind)
    return s


def connect_unix(path: str, timeout: float | None = None) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    s.settimeout(timeout)
    try:
        short_path(path, s.connect)
    except BaseException:
        s.close()
        raise
    return s
