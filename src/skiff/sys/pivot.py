"""pivot_root(2) (glibc has no wrapper) and chroot, for switching a container's root."""

from __future__ import annotations

from skiff.sys import ffi
from skiff.sys.libc import call, libc

__all__ = ["pivot_root"]

_SYS_PIVOT_ROOT = 155  # x86_64

libc.syscall.restype = ffi.c_long


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2); raises OSError naming new_root."""
    call("pivot_root", libc.syscall, _SYS_PIVOT_ROOT, new_root.encode(), put_old.encode(), path=new_root)
