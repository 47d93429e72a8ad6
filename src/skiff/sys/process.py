"""Process attributes Python's ``os`` lacks: personality, host/domain name, pidfd, /proc stat.

libc (ctypes) is loaded on first use only: ``proc_stat`` is on the path of every runtime command
(state, start, kill, list), and loading ctypes costs them milliseconds.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from skiff.sys import ffi

__all__ = ["personality", "sethostname", "setdomainname", "pidfd_open", "pidfd_send_signal",
           "proc_stat", "PER_LINUX", "PER_LINUX32"]

PER_LINUX = 0x0000
PER_LINUX32 = 0x0008

_SYS_PIDFD_SEND_SIGNAL = 424  # x86_64
_SYS_PIDFD_OPEN = 434

def _libc() -> tuple[Callable[..., int], ffi.CDLL]:
    from skiff.sys import ffi
    from skiff.sys.libc import call, libc

    libc.syscall.restype = ffi.c_long
    return call, libc


def personality(persona: int) -> None:
    call, libc = _libc()
    call("personality", libc.personality, persona)


def sethostname(name: str) -> None:
    call, libc = _libc()
    b = name.encode()
    call("sethostname", libc.sethostname, b, len(b))


def setdomainname(name: str) -> None:
    call, libc = _libc()
    b = name.encode()
    call("setdomainname", libc.setdomainname, b, len(b))


def pidfd_open(pid: int) -> int:
    """A pidfd for ``pid``: pollable (readable when it exits) and immune to pid reuse."""
    call, libc = _libc()
    return call("pidfd_open", libc.syscall, _SYS_PIDFD_OPEN, pid, 0, path=f"pid {pid}")


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    call, libc = _libc()
    call("pidfd_send_signal", libc.syscall, _SYS_PIDFD_SEND_SIGNAL, pidfd, sig, None, 0)


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc/<pid>/stat, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2:].split()
    return rest[0].decode(), int(rest[19])
