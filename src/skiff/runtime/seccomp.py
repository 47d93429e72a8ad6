"""``linux.seccomp`` -> BPF, compiled with libseccomp, cached on disk; and loading it.

runc's rules (libcontainer/seccomp + specconv.SetupSeccomp): a rule whose action equals the default
is dropped; syscall names libseccomp does not know are skipped (the kernel cannot have them); when
one rule tests the same argument twice, each condition becomes its own rule (OR), otherwise the
conditions are ANDed in one rule. ERRNO and TRACE return EPERM unless errnoRet says otherwise.

The cache is keyed by the SHA-256 of the canonical JSON (plus the architecture and libseccomp's
file identity), so a cached start reads one file and never loads libseccomp.
"""

from __future__ import annotations

import errno as errno_mod
import os
import struct

from skiff.errors import InvalidParameter, Unimplemented
from skiff.runtime import fastjson
from skiff.runtime.frozen import frozen

TYPE_CHECKING = False  # typing's costs ~5 ms at every runtime start
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["SeccompConfig", "SyscallArg", "SyscallRule", "compile_filter", "features", "filter_flags",
           "install_filter", "parse_seccomp"]

DEFAULT_CACHE_DIR = "/var/cache/skiff/seccomp"
_CACHE_FORMAT = "2"  # bump when the generated program changes

_ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
            "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}
_OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ")


@frozen
class SyscallArg:
    index: int
    value: int
    value_two: int
    op: str


@frozen
class SyscallRule:
    names: tuple[str, ...]
    action: str
    errno_ret: int | None
    args: tuple[SyscallArg, ...]


@frozen
class SeccompConfig:
    default_action: str
    default_errno_ret: int | None
    architectures: tuple[str, ...]
    flags: tuple[str, ...]
    syscalls: tuple[SyscallRule, ...]


_ARCHS = ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
          "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
          "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_X32",
          "SCMP_ARCH_X86", "SCMP_ARCH_X86_64")


def features() -> dict[str, Any]:
    """The ``linux.seccomp`` part of ``features`` (runtime-spec features-linux.md), as runc prints it."""
    return {
        "enabled": True,
        "actions": sorted(a for a in _ACTIONS if a != "SCMP_ACT_NOTIFY"),
        "operators": sorted(_OPS),
        "archs": list(_ARCHS),
        "knownFlags": sorted(_FLAGS),
        "supportedFlags": sorted(_FLAGS),
    }


def _bad(msg: str) -> InvalidParameter:
    return InvalidParameter(f"invalid linux.seccomp: {msg}")


def _u64(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**64:
        raise _bad(f"{what} must be an unsigned 64-bit integer, got {v!r}")
    return v


def _action(a: Any, where: str) -> str:
    if a not in _ACTIONS:
        raise _bad(f"{where} {a!r} is not one of {', '.join(_ACTIONS)}")
    if a == "SCMP_ACT_NOTIFY":
        raise Unimplemented("seccomp: SCMP_ACT_NOTIFY (listenerPath, seccomp user notification) is not "
                            "supported by skiff-runtime")
    return str(a)


def _errno(v: Any, action: str, what: str) -> int | None:
    if v is None:
        return None
    if action not in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        raise _bad(f"{what} is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}")
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFF:
        raise _bad(f"{what} {v!r} out of range [0, 65535]")
    return v


def parse_seccomp(raw: Mapping[str, Any]) -> SeccompConfig:
    """Validate ``linux.seccomp`` into a ``SeccompConfig``; InvalidParameter says what is wrong."""
    if not isinstance(raw, dict):
        raise _bad("must be an object")
    if raw.get("listenerPath"):
        raise Unimplemented("seccomp: listenerPath (seccomp user notification) is not supported by skiff-runtime")
    default = _action(raw.get("defaultAction"), "defaultAction")
    archs = tuple(raw.get("architectures") or ())
    for a in archs:
        if not isinstance(a, str) or not a.startswith("SCMP_ARCH_"):
            raise _bad(f"architecture {a!r} is not an SCMP_ARCH_* name")
    flags = tuple(raw.get("flags") or ())
    for f in flags:
        if f not in _FLAGS:
            raise _bad(f"flag {f!r} is not supported (known: {', '.join(_FLAGS)})")
    rules = []
    for i, call in enumerate(raw.get("syscalls") or ()):
        if not isinstance(call, dict):
            raise _bad(f"syscalls[{i}] must be an object")
        names = call.get("names") or ()
        if not names or not all(isinstance(n, str) and n for n in names):
            raise _bad(f"syscalls[{i}].names must be a non-empty list of names")
        act = _action(call.get("action"), f"syscalls[{i}].action")
        args = []
        for j, a in enumerate(call.get("args") or ()):
            where = f"syscalls[{i}].args[{j}]"
            idx = a.get("index")
            if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx <= 5:
                raise _bad(f"{where}.index {idx!r} must be 0..5")
            if a.get("op") not in _OPS:
                raise _bad(f"{where}.op {a.get('op')!r} is not one of {', '.join(_OPS)}")
            args.append(SyscallArg(idx, _u64(a.get("value", 0), f"{where}.value"),
                                   _u64(a.get("valueTwo", 0), f"{where}.valueTwo"), a["op"]))
        rules.append(SyscallRule(tuple(names), act, _errno(call.get("errnoRet"), act, f"syscalls[{i}].errnoRet"),
                                 tuple(args)))
    return SeccompConfig(default, _errno(raw.get("defaultErrnoRet"), default, "defaultErrnoRet"), archs, flags,
                         tuple(rules))


def filter_flags(cfg: SeccompConfig | Mapping[str, Any]) -> int:
    """The seccomp(2) flag bits for the spec's ``flags``."""
    names = cfg.flags if isinstance(cfg, SeccompConfig) else tuple(cfg.get("flags") or ())
    return _flag_bits(names)


def _flag_bits(names: Sequence[str]) -> int:
    bits = 0
    for n in names:
        if n not in _FLAGS:
            raise _bad(f"flag {n!r} is not supported (known: {', '.join(_FLAGS)})")
        bits |= _FLAGS[n]
    return bits


def _libseccomp_id() -> str:
    machine = os.uname().machine
    for d in (f"/usr/lib/{machine}-linux-gnu", f"/lib/{machine}-linux-gnu", "/usr/lib64", "/usr/lib", "/lib64"):
        try:
            st = os.stat(os.path.join(d, "libseccomp.so.2"))
        except OSError:
            continue
        return f"{d}:{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"
    return ""


def cache_key(raw: Mapping[str, Any]) -> str:
    canon = fastjson.dumps(raw, sort_keys=True)  # the same text as json.dumps: cached programs stay valid
    ident = f"{_CACHE_FORMAT}\0{os.uname().machine}\0{_libseccomp_id()}\0{canon}"
    return _sha256(ident.encode()).hexdigest()


def _sha256(data: bytes) -> Any:
    """The built-in SHA-256 when there is one: importing hashlib (OpenSSL) costs ~3ms at each start."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from hashlib import sha256
    return sha256(data)


def compile_filter(raw: Mapping[str, Any], cache_dir: str | None = None) -> bytes:
    """BPF for ``linux.seccomp``, from the cache when it has it. ``cache_dir`` defaults to
    $SKIFF_SECCOMP_CACHE or /var/cache/skiff/seccomp; "" disables the cache."""
    if cache_dir is None:
        cache_dir = os.environ.get("SKIFF_SECCOMP_CACHE", DEFAULT_CACHE_DIR)
    path = os.path.join(cache_dir, cache_key(raw) + ".bpf") if cache_dir else ""
    if path:
        try:
            with open(path, "rb") as f:
                data = f.read()
            if data and len(data) % 8 == 0:
                return data
        except OSError:
            pass
    bpf = compile_config(parse_seccomp(raw))
    if path:
        _store(cache_dir, path, bpf)
    return bpf


def _store(cache_dir: str, path: str, data: bytes) -> None:
    """temp + fsync + rename, so a reader never sees half a program; failures only cost speed."""
    import tempfile

    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-")
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        return


def _action_value(action: str, errno_ret: int | None) -> int:
    from skiff.sys import libseccomp as ls

    simple = {"SCMP_ACT_KILL": ls.ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": ls.ACT_KILL_THREAD,
              "SCMP_ACT_KILL_PROCESS": ls.ACT_KILL_PROCESS, "SCMP_ACT_TRAP": ls.ACT_TRAP,
              "SCMP_ACT_ALLOW": ls.ACT_ALLOW, "SCMP_ACT_LOG": ls.ACT_LOG}
    if action in simple:
        return simple[action]
    ret = errno_mod.EPERM if errno_ret is None else errno_ret
    return ls.ACT_ERRNO(ret) if action == "SCMP_ACT_ERRNO" else ls.ACT_TRACE(ret)


def compile_config(cfg: SeccompConfig) -> bytes:
    """Build the filter with libseccomp and export it as BPF."""
    from skiff.sys import libseccomp as ls

    default = _action_value(cfg.default_action, cfg.default_errno_ret)
    try:
        with ls.Filter(default) as flt:
            for name in cfg.architectures:
                token = ls.arch_token(name.removeprefix("SCMP_ARCH_").lower())
                if not token:
                    raise _bad(f"architecture {name} is not known to libseccomp {ls.version()}")
                flt.add_arch(token)
            for rule in cfg.syscalls:
                act = _action_value(rule.action, rule.errno_ret)
                if act == default:
                    continue
                conds = [(a.index, ls.CMP_OPS[a.op], a.value, a.value_two) for a in rule.args]
                indexes = [a.index for a in rule.args]
                groups = [[c] for c in conds] if len(set(indexes)) < len(indexes) else [conds]
                for name in rule.names:
                    nr = ls.syscall_number(name)
                    if nr is None:
                        continue  # unknown to libseccomp: skipped, as runc does (see _enosys_stub)
                    for group in groups:
                        flt.add_rule(act, nr, group)
            bpf = flt.export_bpf()
            if cfg.default_action in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG"):
                return bpf
            return _enosys_stub(cfg, ls.arch_native()) + bpf
    except OSError as e:
        raise _bad(f"libseccomp refused the filter: {e.strerror or e}") from e


_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000


def _sock_filter(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _enosys_stub(cfg: SeccompConfig, native: int) -> bytes:
    """runc's patchbpf idea: a syscall newer than every syscall the profile names gets ENOSYS, not the
    default action, so that programs (glibc: clone3, fchmodat2...) fall back to the older call instead
    of failing with EPERM. Prepended to libseccomp's program: classic BPF jumps only go forward, so
    its own jumps are unaffected. Per architecture: if arch matches and nr > max named -> ENOSYS."""
    from skiff.sys import libseccomp as ls

    names = {n for rule in cfg.syscalls for n in rule.names}
    archs = [native] + [ls.arch_token(a.removeprefix("SCMP_ARCH_").lower()) for a in cfg.architectures]
    blocks: list[list[tuple[int, int, int, int]]] = []
    seen: set[int] = set()
    for arch in archs:
        if arch in seen or (arch & 0xFFFF == _AUDIT_ARCH_X86_64 & 0xFFFF and arch != _AUDIT_ARCH_X86_64):
            continue  # x32 is not an audit arch of its own: its calls come as x86_64 with a bit set
        seen.add(arch)
        nrs = [nr for n in names if (nr := ls.syscall_number(n, arch)) is not None and nr >= 0]
        if not nrs:
            continue
        body: list[tuple[int, int, int, int]] = [(0x20, 0, 0, 0)]  # ld [0] (nr)
        if arch == _AUDIT_ARCH_X86_64:
            body.append((0x45, 0xFF, 0, _X32_SYSCALL_BIT))  # jset x32 -> end of stub (fixed below)
        body.append((0x25, 0, 0xFF, max(nrs)))  # jgt max -> ENOSYS, else end of stub
        body.append((0x06, 0, 0, 0x00050000 | errno_mod.ENOSYS))  # ret ERRNO(ENOSYS)
        blocks.append([(0x15, 0, len(body), arch), *body])  # jeq arch, else skip the body
    # every block starts with "ld [4]" for the arch: the previous block may have loaded nr
    insns: list[tuple[int, int, int, int]] = []
    for block in blocks:
        insns += [(0x20, 0, 0, 4), *block]
    out = []
    for i, (code, jt, jf, k) in enumerate(insns):
        to_end = len(insns) - i - 1
        out.append(_sock_filter(code, to_end if jt == 0xFF else jt, to_end if jf == 0xFF else jf, k))
    return b"".join(out)


def install_filter(bpf: bytes, flags: Sequence[str] = ()) -> None:
    """Load ``bpf`` into this process (the container's init, right before execve). Needs
    no_new_privs set, or CAP_SYS_ADMIN still held."""
    from skiff.sys.libseccomp import load_filter

    load_filter(bpf, _flag_bits(flags))
