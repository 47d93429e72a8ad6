"""v1 device-rule semantics emulated for the v2 eBPF device filter, and the program's shape."""

from __future__ import annotations

import struct

from skiff.runtime.cgroups.v2.devices import build_program, emulate
from skiff.runtime.specconv_resources import DEFAULT_ALLOWED_DEVICES, DeviceRule


def test_deny_all_then_allows() -> None:
    default_allow, ex = emulate([DeviceRule(False), DeviceRule(True, "c", 1, 3, "rw"), DeviceRule(True, "c", 1, 3, "m")])
    assert default_allow is False
    assert ex == {("c", 1, 3): 7}


def test_reset_clears_exceptions_and_removal_takes_bits() -> None:
    rules = [DeviceRule(False), DeviceRule(True, "c", 1, 3, "rwm"), DeviceRule(False, "c", 1, 3, "w"),
             DeviceRule(True, "b", 8, -1, "r")]
    assert emulate(rules) == (False, {("c", 1, 3): 3, ("b", 8, -1): 2})
    assert emulate([*rules, DeviceRule(True)]) == (True, {})


def test_allow_list_default_with_deny_exceptions() -> None:
    assert emulate([DeviceRule(False, "c", 1, 11, "rw")]) == (True, {("c", 1, 11): 6})


def _decode(prog: bytes) -> list[tuple[int, int, int, int, int]]:
    out = []
    for i in range(0, len(prog), 8):
        code, regs, off, imm = struct.unpack_from("<BBhi", prog, i)
        out.append((code, regs & 0xF, regs >> 4, off, imm))
    return out


def test_program_jumps_land_on_the_next_block() -> None:
    insns = _decode(build_program([DeviceRule(False), *DEFAULT_ALLOWED_DEVICES]))
    assert insns[-1][0] == 0x95 and insns[-2][4] == 0  # default: deny
    for idx, (code, _dst, _src, off, _imm) in enumerate(insns):
        if code in (0x55, 0x5D):
            target = idx + 1 + off
            # every failed check skips to a block start: right after an EXIT
            assert insns[target - 1][0] == 0x95


def test_allow_all_is_a_two_instruction_tail() -> None:
    insns = _decode(build_program([DeviceRule(True)]))
    assert len(insns) == 8 and insns[-2][4] == 1
