"""seccomp filters loaded for real into a forked child: the chosen syscall fails as the spec says."""

from __future__ import annotations

import errno
import functools
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from skiff.runtime.seccomp import compile_filter, install_filter


def _in_filtered_child(spec: dict[str, Any], probe: Callable[[], int]) -> int:
    """Fork; in the child set no_new_privs, load the filter, run ``probe`` and exit with its result.
    Returns the child's wait status."""
    bpf = compile_filter(spec, cache_dir="")
    pid = os.fork()
    if pid == 0:
        code = 100
        try:
            from skiff.sys.prctl import set_no_new_privs

            set_no_new_privs()
            install_filter(bpf, spec.get("flags") or ())
            code = probe()
        except BaseException:
            code = 101
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def _errno_of(fn: Callable[[], object]) -> int:
    try:
        fn()
    except OSError as e:
        return e.errno or 0
    return 0


def _exit(status: int) -> int:
    assert os.WIFEXITED(status), f"child died of signal {os.WTERMSIG(status) if os.WIFSIGNALED(status) else '?'}"
    return os.WEXITSTATUS(status)


def test_errno_default_eperm() -> None:
    spec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}
    assert _exit(_in_filtered_child(spec, lambda: _errno_of(os.getcwd))) == errno.EPERM


def test_errno_ret_is_returned(tmp_path: Any) -> None:
    spec = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]}
    assert _exit(_in_filtered_child(spec, lambda: _errno_of(lambda: os.mkdir(tmp_path / "d")))) == 42
    assert not (tmp_path / "d").exists()


def test_argument_filter_matches_only_that_value() -> None:
    spec = {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
                          "args": [{"index": 2, "value": os.SEEK_END, "op": "SCMP_CMP_EQ"}]}]}

    def probe() -> int:
        fd = os.open("/dev/null", os.O_RDONLY)
        ok = _errno_of(lambda: os.lseek(fd, 0, os.SEEK_SET))
        denied = _errno_of(lambda: os.lseek(fd, 0, os.SEEK_END))
        return 1 if ok == 0 and denied == 77 else 2

    assert _exit(_in_filtered_child(spec, probe)) == 1


def test_masked_eq_and_or_of_same_argument() -> None:
    # lseek(fd, off, SEEK_SET): (off & 0xf) == 2 -> EACCES; off == 0x77 or 0x66 -> ENOTSUP (two rules: OR)
    spec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
         "args": [{"index": 1, "value": 0xF, "valueTwo": 0x2, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOTSUP,
         "args": [{"index": 1, "value": 0x77, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 0x66, "op": "SCMP_CMP_EQ"}]},
    ]}

    def probe() -> int:
        fd = os.open("/dev/null", os.O_RDONLY)
        results = [_errno_of(functools.partial(os.lseek, fd, off, os.SEEK_SET)) for off in (0x12, 0x77, 0x66, 0x13)]
        return 1 if results == [errno.EACCES, errno.ENOTSUP, errno.ENOTSUP, 0] else 2

    assert _exit(_in_filtered_child(spec, probe)) == 1


def test_kill_process_action() -> None:
    spec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    status = _in_filtered_child(spec, lambda: os.getppid() and 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


def test_default_errno_with_allow_list_blocks_the_rest() -> None:
    """defaultAction ERRNO with defaultErrnoRet: only listed syscalls work. The child makes a raw
    write and exit after the filter, so Python's own syscalls do not need to be listed."""
    allowed = ["write", "exit", "exit_group", "rt_sigreturn", "getpid"]
    spec = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOSYS,
            "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]}
    r, w = os.pipe()

    def probe() -> int:
        os.write(w, str(_errno_of(os.getcwd)).encode())
        return 0

    status = _in_filtered_child(spec, probe)
    os.close(w)
    got = os.read(r, 100)
    os.close(r)
    assert got == str(errno.ENOSYS).encode(), status


@pytest.mark.parametrize("flag", ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
def test_flags_are_accepted_by_the_kernel(flag: str) -> None:
    spec = {"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag],
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}
    assert _exit(_in_filtered_child(spec, lambda: _errno_of(os.getcwd))) == errno.EPERM


def test_syscalls_newer_than_the_profile_get_enosys() -> None:
    """Default-deny profile: a syscall numbered above every one the profile names returns ENOSYS
    (so callers fall back, as with runc), one inside the known range gets the default EPERM."""
    import ctypes

    allowed = ["write", "exit", "exit_group", "rt_sigreturn", "getpid", "futex"]  # futex is nr 202 on x86_64
    spec = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}],
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]}
    libc = ctypes.CDLL(None, use_errno=True)
    r, w = os.pipe()

    def probe() -> int:
        out = []
        for nr in (100, 450, 1000):  # times (below futex's 231 exit_group), two above anything named
            ctypes.set_errno(0)
            libc.syscall(nr, 0, 0, 0)
            out.append(str(ctypes.get_errno()))
        os.write(w, " ".join(out).encode())
        return 0

    _in_filtered_child(spec, probe)
    os.close(w)
    got = os.read(r, 100).decode().split()
    os.close(r)
    assert got == [str(errno.EPERM), str(errno.ENOSYS), str(errno.ENOSYS)]
