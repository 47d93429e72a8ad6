"""mount(2), umount2(2) and the flags that go with them."""

from __future__ import annotations

from skiff.sys import ffi
from skiff.sys.libc import call, libc

__all__ = [
    "MNT_DETACH", "MS_BIND", "MS_NODEV", "MS_NOEXEC", "MS_NOSUID", "MS_PRIVATE", "MS_RDONLY",
    "MS_REC", "MS_REMOUNT", "MS_SHARED", "MS_SLAVE", "MS_STRICTATIME", "MS_UNBINDABLE",
    "MS_RELATIME", "MS_NOATIME", "MS_NODIRATIME", "MS_MOVE", "MS_SYNCHRONOUS", "MS_DIRSYNC",
    "MS_MANDLOCK", "MS_LAZYTIME", "MS_SILENT", "MNT_FORCE",
    "mount", "umount", "mount_setattr", "AT_RECURSIVE",
]

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MNT_FORCE = 0x1
MNT_DETACH = 0x2

libc.mount.argtypes = [ffi.c_char_p, ffi.c_char_p, ffi.c_char_p, ffi.c_ulong, ffi.c_char_p]
libc.umount2.argtypes = [ffi.c_char_p, ffi.c_int]


def _b(s: str | None) -> bytes | None:
    return None if s is None else s.encode()


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2); raises OSError naming the target."""
    call("mount", libc.mount, _b(source), _b(target), _b(fstype), flags, _b(data), path=target)


def umount(target: str, flags: int = 0) -> None:
    """umount2(2); raises OSError naming the target."""
    call("umount2", libc.umount2, _b(target), flags, path=target)


AT_FDCWD = -100
AT_RECURSIVE = 0x8000
_SYS_MOUNT_SETATTR = 442  # x86_64


class _MountAttr(ffi.Structure):
    _fields_ = [("attr_set", ffi.c_uint64), ("attr_clr", ffi.c_uint64),
                ("propagation", ffi.c_uint64), ("userns_fd", ffi.c_uint64)]


def mount_setattr(target: str, attr_set: int, attr_clr: int, recursive: bool = True) -> None:
    """mount_setattr(2): change MOUNT_ATTR_* on a mount (and, recursively, those below it)."""
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    libc.syscall.restype = ffi.c_long
    call("mount_setattr", libc.syscall, _SYS_MOUNT_SETATTR, AT_FDCWD, _b(target),
         AT_RECURSIVE if recursive else 0, ffi.byref(attr), ffi.sizeof(attr), path=target)
