"""Extended attributes on a path, never following a final symlink.

Why a wrapper: layer apply and diff must read and write ``trusted.*``, ``security.capability`` and
``user.*`` attributes on symlinks and device nodes too, and a filesystem without xattr support must
read as "no attributes" rather than fail. Python's ``os`` module already wraps the l*xattr(2) calls
(it is not a ctypes caller of libc); this module fixes the policy in one place.
"""

from __future__ import annotations

import errno
import os

__all__ = ["get", "list_names", "remove", "set", "UNSUPPORTED"]

# errnos that mean "this filesystem or this file type keeps no such attributes"
UNSUPPORTED = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA, errno.EPERM})


def list_names(path: str | int) -> list[str]:
    """Names of the attributes of ``path`` (lstat semantics), sorted; [] where unsupported."""
    try:
        if isinstance(path, int):
            return sorted(os.listxattr(path))
        return sorted(os.listxattr(path, follow_symlinks=False))
    except OSError as exc:
        if exc.errno in UNSUPPORTED:
            return []
        raise


def get(path: str | int, name: str) -> bytes | None:
    """The value of one attribute, or None if absent or unsupported."""
    try:
        if isinstance(path, int):
            return os.getxattr(path, name)
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in UNSUPPORTED:
            return None
        raise


def set(path: str | int, name: str, value: bytes) -> None:  # noqa: A001 - mirrors setxattr(2)
    """Set one attribute; raises OSError naming the path on failure."""
    try:
        if isinstance(path, int):
            os.setxattr(path, name, value)
        else:
            os.setxattr(path, name, value, follow_symlinks=False)
    except OSError as exc:
        raise OSError(exc.errno, f"setxattr {name}: {os.strerror(exc.errno or 0)}", str(path)) from exc


def remove(path: str | int, name: str) -> None:
    """Remove one attribute if present."""
    try:
        if isinstance(path, int):
            os.removexattr(path, name)
        else:
            os.removexattr(path, name, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in UNSUPPORTED:
            raise
