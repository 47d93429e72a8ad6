"""``spec [--bundle DIR] [--rootless]``: write a default config.json, like ``runc spec``."""

from __future__ import annotations

import json
import os

from skiff.runtime.cli.args import Opt, parse
from skiff.runtime.errors import InvalidConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from skiff.runtime.cli.main import Globals

USAGE = """usage: skiff-runtime spec [command options]

Create a new specification file (config.json) in the bundle directory.

options:
   --bundle value, -b value  path to the root of the bundle directory
   --rootless                generate a configuration for a rootless container
"""

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_spec(rootless: bool = False) -> dict[str, Any]:
    """runc's default spec (runc 1.1 `runc spec`), optionally adapted for rootless use."""
    spec: dict[str, Any] = {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "skiff",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                            "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }
    if rootless:
        linux = spec["linux"]
        linux["resources"] = {}
        linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "network"]
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
        mounts = [m for m in spec["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
        mounts.append({"destination": "/sys", "type": "none", "source": "/sys",
                       "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
        for m in mounts:
            if m["destination"] in ("/dev/pts", "/dev/mqueue"):
                m["options"] = [o for o in m["options"] if o != "gid=5"]
        spec["mounts"] = mounts
    return spec


def run(g: Globals, argv: list[str]) -> int:
    opts, _ = parse(argv, {"bundle": Opt("bundle", "value"), "b": Opt("bundle", "value"),
                           "rootless": Opt("rootless")})
    bundle = str(opts["bundle"] or ".")
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise InvalidConfig("File config.json already exists")
    with open(path, "w") as f:
        json.dump(default_spec(bool(opts["rootless"])), f, indent="\t")
    return 0
