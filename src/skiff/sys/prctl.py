"""prctl(2) operations the runtime needs: no_new_privs, keepcaps, capability bounding/ambient
sets, child subreaper, parent-death signal, dumpable."""

from __future__ import annotations

from skiff.sys import ffi
from skiff.sys.libc import call, libc

__all__ = [
    "set_no_new_privs", "get_no_new_privs", "set_keepcaps", "capbset_drop", "capbset_read",
    "ambient_raise", "ambient_clear_all", "set_child_subreaper", "set_pdeathsig", "set_dumpable",
]

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

libc.prctl.argtypes = [ffi.c_int, ffi.c_ulong, ffi.c_ulong, ffi.c_ulong, ffi.c_ulong]


def _prctl(op: str, option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    return call(op, libc.prctl, option, a2, a3, a4, a5)


def set_no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS: execve can no longer grant privileges (setuid bits, file caps)."""
    _prctl("prctl(PR_SET_NO_NEW_PRIVS)", PR_SET_NO_NEW_PRIVS, 1)


def get_no_new_privs() -> bool:
    return _prctl("prctl(PR_GET_NO_NEW_PRIVS)", PR_GET_NO_NEW_PRIVS) == 1


def set_keepcaps(on: bool) -> None:
    """PR_SET_KEEPCAPS: keep permitted capabilities across setuid away from 0."""
    _prctl("prctl(PR_SET_KEEPCAPS)", PR_SET_KEEPCAPS, int(on))


def capbset_read(cap: int) -> bool:
    return _prctl("prctl(PR_CAPBSET_READ)", PR_CAPBSET_READ, cap) == 1


def capbset_drop(cap: int) -> None:
    _prctl("prctl(PR_CAPBSET_DROP)", PR_CAPBSET_DROP, cap)


def ambient_raise(cap: int) -> None:
    _prctl("prctl(PR_CAP_AMBIENT_RAISE)", PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)


def ambient_clear_all() -> None:
    _prctl("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def set_child_subreaper(on: bool = True) -> None:
    """Orphaned descendants are re-parented to us, so we can reap them (PID 1 here does not)."""
    _prctl("prctl(PR_SET_CHILD_SUBREAPER)", PR_SET_CHILD_SUBREAPER, int(on))


def set_pdeathsig(sig: int) -> None:
    _prctl("prctl(PR_SET_PDEATHSIG)", PR_SET_PDEATHSIG, sig)


def set_dumpable(on: bool) -> None:
    _prctl("prctl(PR_SET_DUMPABLE)", PR_SET_DUMPABLE, int(on))
