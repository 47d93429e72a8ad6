"""bpf(2), just the commands cgroup device filtering needs: load a program, attach it to a cgroup,
list and detach what is attached there."""

from __future__ import annotations

import os
import struct

from skiff.sys import ffi
from skiff.sys.libc import call, libc

__all__ = [
    "BPF_CGROUP_DEVICE", "BPF_F_ALLOW_MULTI", "BPF_PROG_TYPE_CGROUP_DEVICE", "prog_attach", "prog_detach",
    "prog_get_fd_by_id", "prog_load", "prog_query",
]

_NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}.get(os.uname().machine, -1)
_PROG_LOAD, _PROG_ATTACH, _PROG_DETACH, _PROG_GET_FD_BY_ID, _PROG_QUERY = 5, 8, 9, 13, 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
_ATTR_SIZE = 128

libc.syscall.restype = ffi.c_long


def _bpf(op: str, cmd: int, attr: ffi.Array[ffi.c_char], path: str | None = None) -> int:
    if _NR_BPF < 0:
        raise OSError(38, f"bpf(2) number unknown on {os.uname().machine}")
    return call(op, libc.syscall, ffi.c_long(_NR_BPF), ffi.c_long(cmd), attr, ffi.c_long(_ATTR_SIZE),
                path=path)


def prog_load(prog_type: int, insns: bytes, license_: str = "Apache", expected_attach_type: int = 0) -> int:
    """BPF_PROG_LOAD; returns the program fd. On a verifier refusal the log is in the error."""
    code = ffi.create_string_buffer(insns, len(insns))
    lic = ffi.create_string_buffer(license_.encode())
    log = ffi.create_string_buffer(65536)
    attr = ffi.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("=IIQQIIQ", attr, 0, prog_type, len(insns) // 8, ffi.addressof(code),
                     ffi.addressof(lic), 1, len(log), ffi.addressof(log))
    struct.pack_into("=I", attr, 68, expected_attach_type)
    try:
        return _bpf("bpf(BPF_PROG_LOAD)", _PROG_LOAD, attr)
    except OSError as e:
        text = log.value.decode(errors="replace").strip()
        raise OSError(e.errno, f"{e.strerror}{': ' + text[-500:] if text else ''}") from None


def prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int = 0, path: str | None = None) -> None:
    attr = ffi.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("=IIII", attr, 0, target_fd, prog_fd, attach_type, flags)
    _bpf("bpf(BPF_PROG_ATTACH)", _PROG_ATTACH, attr, path)


def prog_detach(target_fd: int, prog_fd: int, attach_type: int, path: str | None = None) -> None:
    attr = ffi.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("=III", attr, 0, target_fd, prog_fd, attach_type)
    _bpf("bpf(BPF_PROG_DETACH)", _PROG_DETACH, attr, path)


def prog_query(target_fd: int, attach_type: int, path: str | None = None) -> list[int]:
    """Ids of the programs attached to the cgroup ``target_fd`` (this cgroup only, not inherited)."""
    ids = (ffi.c_uint32 * 64)()
    attr = ffi.create_string_buffer(_ATTR_SIZE)
    # target_fd, attach_type, query_flags, attach_flags, prog_ids (u64 ptr), prog_cnt
    struct.pack_into("=IIIIQI", attr, 0, target_fd, attach_type, 0, 0, ffi.addressof(ids), 64)
    _bpf("bpf(BPF_PROG_QUERY)", _PROG_QUERY, attr, path)
    count = struct.unpack_from("=I", attr, 24)[0]
    return list(ids[:count])


def prog_get_fd_by_id(prog_id: int) -> int:
    attr = ffi.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("=I", attr, 0, prog_id)
    return _bpf("bpf(BPF_PROG_GET_FD_BY_ID)", _PROG_GET_FD_BY_ID, attr)


def close(fd: int) -> None:
    os.close(fd)
