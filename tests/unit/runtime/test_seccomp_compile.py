"""linux.seccomp validation, compilation to BPF and the on-disk cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from skiff.errors import InvalidParameter, Unimplemented
from skiff.runtime import seccomp
from skiff.runtime.seccomp import SyscallArg, compile_filter, filter_flags, parse_seccomp

SPEC = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
        {"names": ["getcwd", "no_such_syscall_anywhere"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
        {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
         "args": [{"index": 0, "value": 1000, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},  # same as default: dropped
    ],
}


def test_parse_full_spec() -> None:
    cfg = parse_seccomp(SPEC)
    assert cfg.default_action == "SCMP_ACT_ALLOW"
    assert cfg.architectures == ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")
    assert cfg.syscalls[1].errno_ret == 42
    assert cfg.syscalls[2].args == (SyscallArg(0, 1000, 0, "SCMP_CMP_EQ"),)
    assert filter_flags(cfg) == 2


@pytest.mark.parametrize(("raw", "msg"), [
    ({"defaultAction": "ALLOW"}, "defaultAction"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]}, "SCMP_ARCH_"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}, "flag"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}, "names"),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]},
     "index"),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "EQ"}]}]}, "op"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL",
                                                       "errnoRet": 1}]}, "errnoRet"),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": -1,
                                                                             "op": "SCMP_CMP_EQ"}]}]}, "value"),
])
def test_invalid_specs_refused(raw: dict, msg: str) -> None:
    with pytest.raises(InvalidParameter, match=msg):
        parse_seccomp(raw)


def test_notify_refused_clearly() -> None:
    with pytest.raises(Unimplemented, match="SCMP_ACT_NOTIFY"):
        parse_seccomp({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]})
    with pytest.raises(Unimplemented, match="listenerPath"):
        parse_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock"})


def test_unknown_architecture_refused_at_compile() -> None:
    with pytest.raises(InvalidParameter, match="SCMP_ARCH_VAX"):
        compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}, cache_dir="")


def test_compiles_to_bpf_instructions() -> None:
    bpf = compile_filter(SPEC, cache_dir="")
    assert bpf and len(bpf) % 8 == 0
    # more archs and rules make a longer program
    small = compile_filter({"defaultAction": "SCMP_ACT_ALLOW"}, cache_dir="")
    assert len(small) < len(bpf)


def test_same_arg_twice_becomes_separate_rules() -> None:
    one = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}]}]}
    two = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["dup"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_EQ"},
                                                                {"index": 0, "value": 6, "op": "SCMP_CMP_EQ"}]}]}
    assert len(compile_filter(two, cache_dir="")) > len(compile_filter(one, cache_dir=""))


def test_cache_key_is_canonical() -> None:
    a = {"defaultAction": "SCMP_ACT_ALLOW", "flags": []}
    b = json.loads('{"flags": [], "defaultAction": "SCMP_ACT_ALLOW"}')
    assert seccomp.cache_key(a) == seccomp.cache_key(b)
    assert seccomp.cache_key(a) != seccomp.cache_key({"defaultAction": "SCMP_ACT_LOG"})


def test_cache_hit_does_not_load_libseccomp(tmp_path: Path) -> None:
    bpf = compile_filter(SPEC, cache_dir=str(tmp_path))
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].read_bytes() == bpf
    code = (
        "import json, sys\n"
        "from skiff.runtime.seccomp import compile_filter\n"
        f"b = compile_filter(json.loads({json.dumps(json.dumps(SPEC))}), cache_dir={str(tmp_path)!r})\n"
        "assert 'skiff.sys.libseccomp' not in sys.modules, 'libseccomp was loaded'\n"
        "sys.stdout.buffer.write(b)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert out == bpf


def test_corrupt_cache_entry_is_recompiled(tmp_path: Path) -> None:
    bpf = compile_filter(SPEC, cache_dir=str(tmp_path))
    entry = next(tmp_path.iterdir())
    entry.write_bytes(b"abc")
    assert compile_filter(SPEC, cache_dir=str(tmp_path)) == bpf


def test_features_lists_what_parse_accepts() -> None:
    from skiff.sys import libseccomp

    f = seccomp.features()
    assert "SCMP_ACT_NOTIFY" not in f["actions"] and "SCMP_ACT_ERRNO" in f["actions"]
    assert f["supportedFlags"] == sorted(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                          "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
    for arch in f["archs"]:  # every listed arch is one libseccomp resolves
        assert libseccomp.arch_token(arch.removeprefix("SCMP_ARCH_").lower()), arch
