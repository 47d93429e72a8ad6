"""Which OCI runtime binary runs a container, and how it is invoked (``--runtime skiff|runc|crun|...``).

crun (1.8 here, and any crun without hybrid support) refuses a hybrid cgroup host whose cgroup2
mount has controllers enabled ("cgroups in hybrid mode not supported, drop all controllers from
cgroupv2"); runc and Skiff's runtime handle it. Such hosts are common (systemd's "hybrid" layout),
so instead of failing every ``--runtime crun`` container, Skiff runs crun in a fresh private mount
namespace without that cgroup2 mount: crun then sees cgroup v1 only and works in legacy mode. The
namespace is made per call (``unshare --mount``), so it always has the host's current mounts (the
container's rootfs, volumes); it costs a few milliseconds per runtime call, on such hosts only.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["runtime_path", "runtime_command", "hybrid_v2_controllers"]

_UNIFIED = "/sys/fs/cgroup/unified"
_WRAPPER = """#!/bin/sh
# Written by skiffd (skiff.engine.containers.runtimes): run {runtime} in a private mount namespace
# without the hybrid cgroup2 mount at {unified}, which it refuses while controllers are enabled there.
exec {unshare} --mount --propagation private /bin/sh -c 'umount -l {unified} 2>/dev/null; exec "$0" "$@"' {runtime} "$@"
"""


def runtime_path(name: str, runtimes: Mapping[str, str]) -> str:
    """The binary for runtime ``name``: daemon.json's ``runtimes`` path, else the venv's, else PATH."""
    path = runtimes.get(name, name)
    if os.path.isabs(path):
        return path
    local = os.path.join(os.path.dirname(sys.executable), path)
    if os.path.exists(local):
        return local
    return shutil.which(path) or path


def hybrid_v2_controllers(unified: str = _UNIFIED) -> bool:
    """A hybrid host (v1 hierarchies plus a cgroup2 mount at ``unified``) with controllers enabled on
    the cgroup2 side: the layout crun refuses."""
    try:
        with open(os.path.join(unified, "cgroup.controllers")) as f:
            return bool(f.read().split())
    except OSError:
        return False


def runtime_command(path: str, wrapper_dir: Path, hybrid: bool | None = None) -> str:
    """The command to invoke for runtime binary ``path``: itself, or for crun on a hybrid host with
    cgroup2 controllers a wrapper script (written once into ``wrapper_dir``) that runs it without
    the cgroup2 mount."""
    if os.path.basename(path) != "crun":
        return path
    if hybrid is None:
        hybrid = hybrid_v2_controllers()
    if not hybrid:
        return path
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    text = _WRAPPER.format(runtime=path, unified=_UNIFIED, unshare=unshare)
    wrapper = wrapper_dir / "crun-v1view"
    try:
        if wrapper.read_text() == text:
            return str(wrapper)
    except OSError:
        pass
    wrapper_dir.mkdir(parents=True, exist_ok=True)
    tmp = wrapper.with_name(f".{wrapper.name}.{os.getpid()}")
    tmp.write_text(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, wrapper)
    return str(wrapper)
