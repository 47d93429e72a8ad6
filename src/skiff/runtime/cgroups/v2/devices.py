"""Device rules on cgroup v2: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE (runc's
devicefilter), since v2 has no devices.allow file.

The rules are first played through an emulation of v1's devices.allow/deny semantics, so a rule
list means the same on v1 and v2: a default (allow or deny; "a" resets it) plus exceptions keyed by
(type, major, minor). The program then checks the exceptions in turn and falls back to the default.
Context (struct bpf_cgroup_dev_ctx): access_type = (access << 16) | type at +0, major +4, minor +8.
"""

from __future__ import annotations

import os
import struct

from skiff.runtime.cgroups.files import CgroupError
from skiff.runtime.specconv_resources import DeviceRule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["apply_device_rules", "build_program", "emulate"]

_DEV_BLOCK, _DEV_CHAR = 1, 2
_ACC = {"m": 1, "r": 2, "w": 4}
_ALL = 7

# eBPF opcodes used here
_LDXW = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_AND32K = 0x54  # BPF_ALU | BPF_AND | BPF_K
_RSH32K = 0x74  # BPF_ALU | BPF_RSH | BPF_K
_MOV32K = 0xB4  # BPF_ALU | BPF_MOV | BPF_K
_MOV32X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
_JNEK = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_JNEX = 0x5D  # BPF_JMP | BPF_JNE | BPF_X
_EXIT = 0x95  # BPF_JMP | BPF_EXIT


def _ins(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _access_bits(access: str) -> int:
    bits = 0
    for ch in access:
        bits |= _ACC[ch]
    return bits


def emulate(rules: Sequence[DeviceRule]) -> tuple[bool, dict[tuple[str, int, int], int]]:
    """Apply the rules as v1 would: (default allow?, exceptions {(type, major, minor): access bits})."""
    default_allow = True  # a fresh v1 cgroup allows everything
    exceptions: dict[tuple[str, int, int], int] = {}
    for r in rules:
        if r.type == "a":  # the kernel treats any "a ..." line as a full reset
            default_allow = r.allow
            exceptions.clear()
            continue
        key = (r.type, r.major, r.minor)
        bits = _access_bits(r.access)
        if r.allow == default_allow:  # same as the default: remove the exception's bits
            left = exceptions.get(key, 0) & ~bits
            if left:
                exceptions[key] = left
            else:
                exceptions.pop(key, None)
        else:
            exceptions[key] = exceptions.get(key, 0) | bits
    return default_allow, exceptions


def build_program(rules: Sequence[DeviceRule]) -> bytes:
    """The eBPF instructions for ``rules``; returns 1 to allow, 0 to deny."""
    default_allow, exceptions = emulate(rules)
    prog = [
        _ins(_LDXW, 2, 1, 0), _ins(_AND32K, 2, imm=0xFFFF),  # R2 = type
        _ins(_LDXW, 3, 1, 0), _ins(_RSH32K, 3, imm=16),  # R3 = requested access
        _ins(_LDXW, 4, 1, 4),  # R4 = major
        _ins(_LDXW, 5, 1, 8),  # R5 = minor
    ]
    for (typ, major, minor), bits in exceptions.items():
        conds: list[list[tuple[int, int, int, int]]] = []  # (code, dst, src, imm); last one jumps
        conds.append([(_JNEK, 2, 0, _DEV_CHAR if typ == "c" else _DEV_BLOCK)])
        if bits != _ALL:  # every requested bit must be in the rule: (R3 & bits) == R3
            conds.append([(_MOV32X, 1, 3, 0), (_AND32K, 1, 0, bits), (_JNEX, 1, 3, 0)])
        if major >= 0:
            conds.append([(_JNEK, 4, 0, major)])
        if minor >= 0:
            conds.append([(_JNEK, 5, 0, minor)])
        block = [i for c in conds for i in c]
        total = len(block) + 2
        for idx, (code, dst, src, imm) in enumerate(block):
            off = total - idx - 1 if code in (_JNEK, _JNEX) else 0
            prog.append(_ins(code, dst, src, off, imm))
        prog += [_ins(_MOV32K, 0, imm=0 if default_allow else 1), _ins(_EXIT)]
    prog += [_ins(_MOV32K, 0, imm=1 if default_allow else 0), _ins(_EXIT)]
    return b"".join(prog)


def apply_device_rules(path: str, rules: Sequence[DeviceRule]) -> None:
    """Load the program and attach it to the cgroup at ``path``, replacing any device program we
    attached before (attach the new one first, so there is no moment without a filter)."""
    from skiff.sys import bpf

    insns = build_program(rules)
    try:
        prog_fd = bpf.prog_load(bpf.BPF_PROG_TYPE_CGROUP_DEVICE, insns, "Apache", bpf.BPF_CGROUP_DEVICE)
    except OSError as e:
        raise CgroupError(f"cgroup: loading the device filter for {path}: {e.strerror or e}") from e
    dir_fd = -1
    try:
        dir_fd = os.open(path, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        old = bpf.prog_query(dir_fd, bpf.BPF_CGROUP_DEVICE, path)
        bpf.prog_attach(dir_fd, prog_fd, bpf.BPF_CGROUP_DEVICE, bpf.BPF_F_ALLOW_MULTI, path)
        for prog_id in old:
            old_fd = bpf.prog_get_fd_by_id(prog_id)
            try:
                bpf.prog_detach(dir_fd, old_fd, bpf.BPF_CGROUP_DEVICE, path)
            finally:
                os.close(old_fd)
    except OSError as e:
        raise CgroupError(f"cgroup: attaching the device filter to {path}: {e.strerror or e}") from e
    finally:
        os.close(prog_fd)
        if dir_fd >= 0:
            os.close(dir_fd)
