"""Namespaces: unshare(2), setns(2) and the CLONE_* flags, keyed by the OCI namespace type.

Why here: Python 3.11's ``os`` has neither call. Both must run in a single-threaded process
(setns into a mount or user namespace fails with EINVAL in a threaded one), so callers use them
in a freshly forked child.
"""

from __future__ import annotations

import os

from skiff.sys.libc import call, libc

__all__ = [
    "CLONE_NEWNS", "CLONE_NEWCGROUP", "CLONE_NEWUTS", "CLONE_NEWIPC", "CLONE_NEWUSER",
    "CLONE_NEWPID", "CLONE_NEWNET", "CLONE_NEWTIME", "NS_FLAGS", "NS_PROC_NAMES",
    "unshare", "setns", "setns_path",
]

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

#: OCI namespace type -> clone flag.
NS_FLAGS: dict[str, int] = {
    "pid": CLONE_NEWPID, "network": CLONE_NEWNET, "mount": CLONE_NEWNS, "ipc": CLONE_NEWIPC,
    "uts": CLONE_NEWUTS, "user": CLONE_NEWUSER, "cgroup": CLONE_NEWCGROUP, "time": CLONE_NEWTIME,
}
#: OCI namespace type -> name under /proc/<pid>/ns/.
NS_PROC_NAMES: dict[str, str] = {
    "pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts", "user": "user",
    "cgroup": "cgroup", "time": "time",
}


def unshare(flags: int) -> None:
    """unshare(2)."""
    call("unshare", libc.unshare, flags)


def setns(fd: int, nstype: int = 0, path: str | None = None) -> None:
    """setns(2) on an open namespace file descriptor."""
    call("setns", libc.setns, fd, nstype, path=path)


def setns_path(path: str, nstype: int = 0) -> None:
    """Join the namespace at ``path`` (e.g. /proc/123/ns/net or a bind-mounted nsfs file)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd, nstype, path)
    finally:
        os.close(fd)
