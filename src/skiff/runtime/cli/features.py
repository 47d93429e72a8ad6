"""``features``: what this runtime supports, as JSON (runtime-spec features.md, like runc's)."""

from __future__ import annotations

import json
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from skiff.runtime.cli.main import Globals

USAGE = """usage: skiff-runtime features

Show the enabled features as JSON.
"""


def features() -> dict[str, Any]:
    from skiff.runtime.specconv import MOUNT_OPTIONS, apparmor_enabled
    from skiff.sys.caps import CAP_NAMES

    out: dict[str, Any] = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.0.2",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": list(MOUNT_OPTIONS),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": list(CAP_NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "apparmor": {"enabled": apparmor_enabled()},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.skiff.runtime.version": "0.1.0"},
    }
    try:
        import skiff.runtime.seccomp  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        out["linux"]["seccomp"] = {"enabled": False}
    else:
        out["linux"]["seccomp"] = {
            "enabled": True,
            "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                        "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
            "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                          "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
            "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        }
    return out


def run(g: Globals, argv: list[str]) -> int:
    sys.stdout.write(json.dumps(features(), indent=4) + "\n")
    return 0
