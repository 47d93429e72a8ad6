"""syncfs(2): flush one filesystem, so unpacked layers are on disk before they are recorded."""

from __future__ import annotations

import os

from skiff.sys import ffi
from skiff.sys.libc import call, libc

__all__ = ["syncfs"]

libc.syncfs.argtypes = [ffi.c_int]


def syncfs(path: str | os.PathLike[str]) -> None:
    """Flush the filesystem holding ``path``; raises OSError naming the path."""
    fd = os.open(os.fspath(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        call("syncfs", libc.syncfs, fd, path=os.fspath(path))
    finally:
        os.close(fd)
