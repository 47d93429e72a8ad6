"""Seccomp profiles and capabilities: Docker's default profile and rules, resolved at spec time.

The default profile is data (``seccomp_default.json`` next to this file) in the profile schema
users pass with ``--security-opt seccomp=<json>`` (moby/profiles'). A rule may carry ``includes``
(all must hold) and ``excludes`` (any excludes) conditions on the architecture, the container's
bounding capabilities and the kernel version; :func:`resolve_profile` drops the rules that do not
apply, as moby's ``setupSeccomp`` does, and returns an OCI ``linux.seccomp`` object.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from skiff.errors import InvalidParameter

__all__ = [
    "DEFAULT_CAPABILITIES", "ALL_CAPABILITIES", "all_capabilities", "normalize_caps", "tweak_capabilities",
    "default_profile", "load_profile", "resolve_profile", "native_arch",
]

DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# Index = capability number (linux/capability.h).
ALL_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

# Go/libseccomp native names for platform.machine(), as moby's goToNative + nativeToSeccomp.
_MACHINE_TO_NATIVE = {"x86_64": "amd64", "amd64": "amd64", "i386": "x86", "i686": "x86", "aarch64": "arm64",
                      "arm64": "arm64", "armv7l": "arm", "armv6l": "arm", "s390x": "s390x", "ppc64le": "ppc64le",
                      "riscv64": "riscv64", "mips64": "mips64", "loongarch64": "loong64"}
_NATIVE_TO_SCMP = {"x86": "SCMP_ARCH_X86", "amd64": "SCMP_ARCH_X86_64", "arm": "SCMP_ARCH_ARM",
                   "arm64": "SCMP_ARCH_AARCH64", "loong64": "SCMP_ARCH_LOONGARCH64", "mips64": "SCMP_ARCH_MIPS64",
                   "ppc64le": "SCMP_ARCH_PPC64LE", "riscv64": "SCMP_ARCH_RISCV64", "s390": "SCMP_ARCH_S390",
                   "s390x": "SCMP_ARCH_S390X"}


@cache
def all_capabilities() -> tuple[str, ...]:
    """Every capability this kernel knows (what ``--privileged`` and ``--cap-add ALL`` give).

    Also limited to the daemon's own bounding set: a capability the daemon lacks cannot be given
    (the runtime fails with "unable to apply caps"); on this sandbox CAP_SYS_RESOURCE is missing.
    """
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = len(ALL_CAPABILITIES) - 1
    bounding = (1 << (last + 1)) - 1
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    bounding = int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return tuple(c for i, c in enumerate(ALL_CAPABILITIES[:last + 1]) if bounding >> i & 1)


def normalize_caps(caps: Iterable[str]) -> list[str]:
    """Upper-case, add ``CAP_``, keep ``ALL``, refuse unknown names (Docker's text), de-duplicate."""
    out: list[str] = []
    for c in caps:
        u = c.strip().upper()
        if u != "ALL" and not u.startswith("CAP_"):
            u = "CAP_" + u
        if u != "ALL" and u not in ALL_CAPABILITIES:
            raise InvalidParameter(f'unknown capability: "{u}"')
        if u not in out:
            out.append(u)
    return out


def tweak_capabilities(adds: Sequence[str], drops: Sequence[str], privileged: bool,
                       basics: Sequence[str] = DEFAULT_CAPABILITIES) -> list[str]:
    """moby's TweakCapabilities: the capability set after --privileged / --cap-add / --cap-drop."""
    if privileged:
        return list(all_capabilities())
    if not adds and not drops:
        return list(basics)
    cap_drop, cap_add = normalize_caps(drops), normalize_caps(adds)
    if "ALL" in cap_add:
        return [c for c in all_capabilities() if c not in cap_drop]
    if "ALL" in cap_drop:
        return cap_add
    caps = [c for c in basics if c not in cap_drop]
    return caps + [c for c in cap_add if c not in caps]


def native_arch() -> str:
    return _MACHINE_TO_NATIVE.get(platform.machine(), platform.machine())


@cache
def _default_text() -> str:
    with open(os.path.join(os.path.dirname(__file__), "seccomp_default.json")) as f:
        return f.read()


def default_profile() -> dict[str, Any]:
    """The default profile, unresolved (a fresh copy)."""
    profile: dict[str, Any] = json.loads(_default_text())
    return profile


def load_profile(text: str) -> dict[str, Any]:
    """A user's profile from ``--security-opt seccomp=<json>``, with Docker's error text."""
    try:
        profile = json.loads(text)
    except ValueError as e:
        raise InvalidParameter(f"Decoding seccomp profile failed: {e}")
    if not isinstance(profile, dict):
        raise InvalidParameter("Decoding seccomp profile failed: not a JSON object")
    return profile


def _kernel_at_least(want: str, release: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        nums = []
        for p in v.split("-")[0].split(".")[:2]:
            digits = "".join(ch for ch in p if ch.isdigit())
            nums.append(int(digits or 0))
        return tuple(nums)
    return parts(release) >= parts(want)


def resolve_profile(profile: dict[str, Any], caps: Sequence[str], arch: str | None = None,
                    kernel: str | None = None) -> dict[str, Any] | None:
    """Resolve ``profile`` for a container with bounding set ``caps`` -> OCI ``linux.seccomp``."""
    arch = arch or native_arch()
    kernel = kernel or os.uname().release
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidParameter("both 'architectures' and 'archMap' are specified in the seccomp profile, "
                               "use either 'architectures' or 'archMap'")
    out: dict[str, Any] = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches = list(profile.get("architectures") or [])
    scmp = _NATIVE_TO_SCMP.get(arch)
    for a in profile.get("archMap") or []:
        if a.get("architecture") == scmp:
            arches = [a["architecture"], *(a.get("subArchitectures") or [])]
            break
    if arches:
        out["architectures"] = arches
    for k in ("listenerPath", "listenerMetadata", "flags"):
        if profile.get(k):
            out[k] = profile[k]
    capset = set(caps)
    syscalls = []
    for call in profile.get("syscalls") or []:
        names = call.get("names") or ([call["name"]] if call.get("name") else [])
        if call.get("name") and call.get("names"):
            raise InvalidParameter("both 'name' and 'names' are specified in the seccomp profile, "
                                   "use either 'name' or 'names'")
        exc, inc = call.get("excludes") or {}, call.get("includes") or {}
        if arch in (exc.get("arches") or []) or capset & set(exc.get("caps") or []):
            continue
        if exc.get("minKernel") and _kernel_at_least(exc["minKernel"], kernel):
            continue
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if inc.get("caps") and not set(inc["caps"]) <= capset:
            continue
        if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"], kernel):
            continue
        rule: dict[str, Any] = {"names": list(names), "action": call["action"]}
        if call.get("errnoRet") is not None:
            rule["errnoRet"] = call["errnoRet"]
        if call.get("args"):
            rule["args"] = [{"index": a["index"], "value": a["value"], "valueTwo": a.get("valueTwo", 0),
                             "op": a["op"]} for a in call["args"]]
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out
