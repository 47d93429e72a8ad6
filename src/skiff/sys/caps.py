"""Linux capabilities: names, capget/capset (via syscall; no libcap), bounding and ambient sets.

The effective/permitted/inheritable sets are written with capset(2) version 3 (two 32-bit words
per set). The bounding set is dropped with prctl(PR_CAPBSET_DROP) and the ambient set raised with
prctl(PR_CAP_AMBIENT); those wrappers live in ``skiff.sys.prctl``.
"""

from __future__ import annotations

from skiff.sys import ffi
from skiff.sys.libc import call, libc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["CAP_NAMES", "cap_number", "last_cap", "capget", "capset", "mask"]

#: Capability names in number order (capability.h), as OCI spells them.
CAP_NAMES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
_BY_NAME = {n: i for i, n in enumerate(CAP_NAMES)}

_SYS_CAPGET = 125  # x86_64
_SYS_CAPSET = 126
_VERSION_3 = 0x20080522


class _Header(ffi.Structure):
    _fields_ = [("version", ffi.c_uint32), ("pid", ffi.c_int)]


class _Data(ffi.Structure):
    _fields_ = [("effective", ffi.c_uint32), ("permitted", ffi.c_uint32),
                ("inheritable", ffi.c_uint32)]


def cap_number(name: str) -> int | None:
    """The number of a capability name ("CAP_KILL" or "kill"), or None if unknown."""
    n = name.upper()
    if not n.startswith("CAP_"):
        n = "CAP_" + n
    return _BY_NAME.get(n)


def last_cap() -> int:
    """The highest capability this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAP_NAMES) - 1


def mask(caps: Iterable[int]) -> int:
    m = 0
    for c in caps:
        m |= 1 << c
    return m


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) masks of ``pid`` (0 = this thread)."""
    hdr = _Header(_VERSION_3, pid)
    data = (_Data * 2)()
    call("capget", libc.syscall, _SYS_CAPGET, ffi.byref(hdr), data)
    def join(attr: str) -> int:
        return int(getattr(data[0], attr)) | (int(getattr(data[1], attr)) << 32)
    return join("effective"), join("permitted"), join("inheritable")


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's effective, permitted and inheritable sets (64-bit masks)."""
    hdr = _Header(_VERSION_3, 0)
    data = (_Data * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    call("capset", libc.syscall, _SYS_CAPSET, ffi.byref(hdr), data)
