"""libseccomp through ctypes (compile a filter to BPF), and the seccomp(2) call that loads BPF.

libseccomp is opened lazily on the first ``Filter``: a container start that finds its filter in the
BPF cache calls only ``load_filter``, which needs nothing but libc. libseccomp functions return a
negative errno; ``_check`` turns that into an OSError naming the function.
"""

from __future__ import annotations

import errno
import os

from skiff.sys import ffi
from skiff.sys.libc import call, libc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ACT_ALLOW", "ACT_ERRNO", "ACT_KILL_PROCESS", "ACT_KILL_THREAD", "ACT_LOG", "ACT_NOTIFY", "ACT_TRACE",
    "ACT_TRAP", "CMP_OPS", "Filter", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC", "arch_native", "arch_token", "load_filter", "syscall_number", "version",
]

ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_NOTIFY = 0x7FC00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000


def ACT_ERRNO(err: int) -> int:  # named as the C macro
    return 0x00050000 | (err & 0xFFFF)


def ACT_TRACE(msg: int) -> int:
    return 0x7FF00000 | (msg & 0xFFFF)


CMP_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
           "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}

_ATTR_CTL_NNP = 3
_ATTR_CTL_TSYNC = 4
_ATTR_CTL_LOG = 6
_ATTR_CTL_SSB = 7

SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_FILTER_FLAG_LOG = 2
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4


class _ArgCmp(ffi.Structure):
    _fields_ = [("arg", ffi.c_uint), ("op", ffi.c_int), ("datum_a", ffi.c_uint64),
                ("datum_b", ffi.c_uint64)]


class _Version(ffi.Structure):
    _fields_ = [("major", ffi.c_uint), ("minor", ffi.c_uint), ("micro", ffi.c_uint)]


_lib: ffi.CDLL | None = None


def _seccomp() -> ffi.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ffi.CDLL("libseccomp.so.2", use_errno=True)
        except OSError as e:
            raise OSError(errno.ENOENT, f"libseccomp.so.2 not found (install libseccomp2): {e}") from e
        lib.seccomp_init.argtypes = [ffi.c_uint32]
        lib.seccomp_init.restype = ffi.c_void_p
        lib.seccomp_release.argtypes = [ffi.c_void_p]
        lib.seccomp_release.restype = None
        lib.seccomp_arch_resolve_name.argtypes = [ffi.c_char_p]
        lib.seccomp_arch_resolve_name.restype = ffi.c_uint32
        lib.seccomp_arch_native.argtypes = []
        lib.seccomp_arch_native.restype = ffi.c_uint32
        lib.seccomp_arch_add.argtypes = [ffi.c_void_p, ffi.c_uint32]
        lib.seccomp_arch_remove.argtypes = [ffi.c_void_p, ffi.c_uint32]
        lib.seccomp_attr_set.argtypes = [ffi.c_void_p, ffi.c_int, ffi.c_uint32]
        lib.seccomp_syscall_resolve_name_arch.argtypes = [ffi.c_uint32, ffi.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ffi.c_void_p, ffi.c_uint32, ffi.c_int, ffi.c_uint,
                                               ffi.POINTER(_ArgCmp)]
        lib.seccomp_export_bpf.argtypes = [ffi.c_void_p, ffi.c_int]
        lib.seccomp_version.argtypes = []
        lib.seccomp_version.restype = ffi.POINTER(_Version)
        _lib = lib
    return _lib


def _check(op: str, rc: int) -> int:
    if rc < 0:
        raise OSError(-rc, f"{op}: {os.strerror(-rc)}")
    return rc


def version() -> str:
    v = _seccomp().seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def arch_token(name: str) -> int:
    """libseccomp's token for an arch name ("x86_64", "aarch64"); 0 when unknown."""
    return int(_seccomp().seccomp_arch_resolve_name(name.encode()))


def arch_native() -> int:
    return int(_seccomp().seccomp_arch_native())


def syscall_number(name: str, arch: int = 0) -> int | None:
    """The syscall's number on ``arch`` (0: native), or None when libseccomp does not know it."""
    nr = _seccomp().seccomp_syscall_resolve_name_arch(arch, name.encode())
    return None if nr == -1 else int(nr)  # __NR_SCMP_ERROR


class Filter:
    """A libseccomp filter context; ``export_bpf`` gives the kernel program as bytes."""

    def __init__(self, default_action: int) -> None:
        self._lib = _seccomp()
        ctx = self._lib.seccomp_init(default_action)
        if not ctx:
            raise OSError(errno.EINVAL, f"seccomp_init: invalid default action {default_action:#x}")
        self._ctx: int | None = ctx
        # we load the program ourselves; never let libseccomp set no_new_privs behind our back
        _check("seccomp_attr_set(CTL_NNP)", self._lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0))

    def close(self) -> None:
        if self._ctx:
            self._lib.seccomp_release(self._ctx)
            self._ctx = None

    def __enter__(self) -> Filter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_arch(self, token: int) -> None:
        rc = self._lib.seccomp_arch_add(self._ctx, token)
        if rc != -errno.EEXIST:
            _check(f"seccomp_arch_add({token:#x})", rc)

    def add_rule(self, action: int, syscall: int, conds: Sequence[tuple[int, int, int, int]] = ()) -> None:
        """One rule; ``conds`` are (arg index, SCMP_CMP_* op, datum_a, datum_b), all ANDed."""
        arr = (_ArgCmp * max(1, len(conds)))(*[_ArgCmp(i, op, a, b) for i, op, a, b in conds])
        rc = self._lib.seccomp_rule_add_array(self._ctx, action, syscall, len(conds), arr)
        _check(f"seccomp_rule_add(syscall {syscall}, action {action:#x})", rc)

    def export_bpf(self) -> bytes:
        """The BPF program (array of struct sock_filter). libseccomp 2.5 only writes to an fd, so
        go through a memfd."""
        fd = os.memfd_create("skiff-seccomp", os.MFD_CLOEXEC)
        try:
            _check("seccomp_export_bpf", self._lib.seccomp_export_bpf(self._ctx, fd))
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)


class _SockFprog(ffi.Structure):
    _fields_ = [("len", ffi.c_ushort), ("filter", ffi.c_void_p)]


_NR_SECCOMP = {"x86_64": 317, "aarch64": 277, "i686": 354, "i386": 354, "armv7l": 383, "ppc64le": 358,
               "s390x": 348, "riscv64": 277}.get(os.uname().machine, -1)
_SECCOMP_SET_MODE_FILTER = 1
_PR_SET_SECCOMP = 22
libc.syscall.restype = ffi.c_long


def load_filter(bpf: bytes, flags: int = 0) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER, flags, prog): from here on the filter applies to this
    thread (all threads with TSYNC) and survives execve. Needs no_new_privs or CAP_SYS_ADMIN."""
    if len(bpf) % 8 or not bpf:
        raise ValueError(f"BPF program of {len(bpf)} bytes is not a list of 8-byte instructions")
    buf = ffi.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ffi.c_void_p(ffi.addressof(buf)))
    if _NR_SECCOMP < 0:
        if flags:
            raise OSError(errno.ENOSYS, "seccomp(2) number unknown on this architecture; flags need it")
        call("prctl(PR_SET_SECCOMP)", libc.prctl, _PR_SET_SECCOMP, 2, ffi.addressof(prog), 0, 0)
        return
    rc = call("seccomp(SECCOMP_SET_MODE_FILTER)", libc.syscall, ffi.c_long(_NR_SECCOMP),
              ffi.c_long(_SECCOMP_SET_MODE_FILTER), ffi.c_long(flags), ffi.byref(prog))
    if rc > 0:  # with TSYNC: the id of a thread that could not be synchronised
        raise OSError(errno.EAGAIN, f"seccomp: thread {rc} could not be synchronised (TSYNC)")
