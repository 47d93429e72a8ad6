"""The one handle on libc. Every other module in ``skiff.sys`` calls through ``call``.

Why a wrapper: ctypes returns -1 and leaves errno behind; this turns it into an OSError that names
the operation and the path, and retries EINTR, as runc's ``internal/linux`` does.
"""

from __future__ import annotations

import errno
import os

from skiff.sys import ffi

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


__all__ = ["call", "libc"]

# Not ctypes.util.find_library: it runs ldconfig, which costs the runtime's start-up milliseconds.
libc = ffi.CDLL("libc.so.6", use_errno=True)


def call(op: str, fn: Callable[..., int], *args: Any, path: str | None = None) -> int:
    """Call a libc function; on -1 raise OSError(errno, "op", path); retry on EINTR."""
    while True:
        rc = fn(*args)
        if rc != -1:
            return rc
        err = ffi.get_errno()
        if err == errno.EINTR:
            continue
        raise OSError(err, f"{op}: {os.strerror(err)}", path)
