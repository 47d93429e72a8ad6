"""The system service: what ``/info``, ``/version`` and ``/system/df`` report.

Host facts (CPUs, memory, kernel, OS, cgroup version) are read here. Figures that belong to other
services (container counts, images, storage driver, disk usage) come from *sources* those
services register at start-up in daemon.py::

    system.add_info_source(containers)       # .info_fields() -> {"Containers": 3, ...}
    system.add_disk_usage_source(images)     # .disk_usage(types) -> {"Images": [...], ...}

so the system service knows none of them.
"""

from __future__ import annotations

import os
import platform
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import skiff
from skiff.engine.config import DaemonConfig
from skiff.engine.events import EventBus

__all__ = ["SystemService", "InfoSource", "DiskUsageSource", "API_VERSION", "MIN_API_VERSION",
           "DF_TYPES", "cgroup_version", "rfc3339_nano"]

API_VERSION = "1.51"
MIN_API_VERSION = "1.24"
DF_TYPES = ("container", "image", "volume", "build-cache")


class InfoSource(Protocol):
    """A service that contributes fields to ``/info`` (counts, driver status, plugins...).

    Called on the event loop thread: answer from memory or one quick query, never block."""

    def info_fields(self) -> Mapping[str, Any]: ...


class DiskUsageSource(Protocol):
    """A service that contributes to ``/system/df`` for the asked types (``DF_TYPES``).

    Called in a worker thread (it may walk directories): touch only thread-safe state."""

    def disk_usage(self, types: frozenset[str]) -> Mapping[str, Any]: ...


def cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def rfc3339_nano(ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC, trailing zeros of the fraction dropped."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    f = f"{frac:09d}".rstrip("0")
    return f"{base}.{f}Z" if f else f"{base}Z"


def _os_release() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            for line in Path(path).read_text().splitlines():
                k, sep, v = line.partition("=")
                if sep:
                    out[k.strip()] = v.strip().strip('"')
            return out
        except OSError:
            continue
    return out


def _mem_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def _go_arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


class SystemService:
    """Builds the SystemInfo, version and disk-usage replies."""

    def __init__(self, config: DaemonConfig, events: EventBus) -> None:
        self.config = config
        self.events = events
        self._info_sources: list[InfoSource] = []
        self._df_sources: list[DiskUsageSource] = []
        self._id = self._engine_id(config.data_root)
        self.started = time.time()

    @property
    def id(self) -> str:
        """This engine's stable id (``/info`` ID, the actor of daemon events)."""
        return self._id

    def add_info_source(self, source: InfoSource) -> None:
        self._info_sources.append(source)

    def add_disk_usage_source(self, source: DiskUsageSource) -> None:
        self._df_sources.append(source)

    @staticmethod
    def _engine_id(data_root: Path) -> str:
        """A stable id for this engine, kept in ``<data-root>/engine-id`` as dockerd does."""
        path = data_root / "engine-id"
        try:
            value = path.read_text().strip()
            if value:
                return value
        except OSError:
            pass
        value = str(uuid.uuid4())
        data_root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(value + "\n")
        os.replace(tmp, path)
        return value

    # -- /_ping -------------------------------------------------------------------------------
    def ping_headers(self) -> dict[str, str]:
        h = {"Builder-Version": "1", "Swarm": "inactive"}
        if self.config.experimental:
            h["Docker-Experimental"] = "true"
        return h

    # -- /version -----------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        uname = os.uname()
        details = {
            "ApiVersion": API_VERSION, "Arch": _go_arch(), "BuildTime": "", "Experimental":
            "true" if self.config.experimental else "false", "GitCommit": "", "GoVersion":
            f"python{platform.python_version()}", "KernelVersion": uname.release,
            "MinAPIVersion": MIN_API_VERSION, "Os": "linux",
        }
        return {
            "Platform": {"Name": "Skiff Engine"},
            "Components": [
                {"Name": "Engine", "Version": skiff.__version__, "Details": details},
                {"Name": "skiff-runtime", "Version": skiff.__version__,
                 "Details": {"GitCommit": ""}},
            ],
            "Version": skiff.__version__,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": details["GoVersion"],
            "Os": "linux",
            "Arch": _go_arch(),
            "KernelVersion": uname.release,
            "Experimental": self.config.experimental,
            "BuildTime": "",
        }

    # -- /info --------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        uname = os.uname()
        osr = _os_release()
        cg = cgroup_version()
        v1_memory = cg == "1" and os.path.isdir("/sys/fs/cgroup/memory")
        security = ["name=seccomp,profile=builtin"]
        if cg == "2":
            security.append("name=cgroupns")
        if self.config.options.get("no-new-privileges"):
            security.append("name=no-new-privileges")
        runtimes = {name: {"path": path} for name, path in sorted(self.config.runtimes.items())}
        info: dict[str, Any] = {
            "ID": self._id,
            "Containers": 0, "ContainersRunning": 0, "ContainersPaused": 0, "ContainersStopped": 0,
            "Images": 0,
            "Driver": self.config.get("storage-driver") or "overlay2",
            "DriverStatus": [],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"],
                        "Authorization": None,
                        "Log": ["json-file", "local"]},
            "MemoryLimit": v1_memory or cg == "2",
            "SwapLimit": os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
            or cg == "2",
            "CpuCfsPeriod": True, "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True,
            "PidsLimit": True, "IPv4Forwarding": _read("/proc/sys/net/ipv4/ip_forward") == "1",
            "Debug": self.config.debug,
            "NFd": len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0,
            "OomKillDisable": cg == "1",
            "NGoroutines": threading.active_count(),
            "SystemTime": datetime.now().astimezone().isoformat(timespec="microseconds"),
            "LoggingDriver": self.config.get("log-driver"),
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cg,
            "NEventsListener": self.events.listeners,
            "KernelVersion": uname.release,
            "OperatingSystem": osr.get("PRETTY_NAME", "Linux"),
            "OSVersion": osr.get("VERSION_ID", ""),
            "OSType": "linux",
            "Architecture": uname.machine,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "AllowNondistributableArtifactsCIDRs": None,
                "AllowNondistributableArtifactsHostnames": None,
                "InsecureRegistryCIDRs": ["::1/128", "127.0.0.0/8"],
                "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors":
                                               list(self.config.get("registry-mirrors")),
                                               "Secure": True, "Official": True}},
                "Mirrors": list(self.config.get("registry-mirrors")),
            },
            "NCPU": os.cpu_count() or 1,
            "MemTotal": _mem_total(),
            "GenericResources": None,
            "DockerRootDir": str(self.config.data_root),
            "HttpProxy": os.environ.get("HTTP_PROXY", ""),
            "HttpsProxy": os.environ.get("HTTPS_PROXY", ""),
            "NoProxy": os.environ.get("NO_PROXY", ""),
            "Name": socket.gethostname(),
            "Labels": list(self.config.labels),
            "ExperimentalBuild": self.config.experimental,
            "ServerVersion": skiff.__version__,
            "Runtimes": runtimes,
            "DefaultRuntime": self.config.default_runtime,
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                      "ControlAvailable": False, "Error": "", "RemoteManagers": None},
            "LiveRestoreEnabled": self.config.live_restore,
            "Isolation": "",
            "InitBinary": "skiff-init",
            "ContainerdCommit": {"ID": ""},
            "RuncCommit": {"ID": skiff.__version__},
            "InitCommit": {"ID": skiff.__version__},
            "SecurityOptions": security,
            "DefaultAddressPools": list(self.config.get("default-address-pools")) or [
                {"Base": "172.17.0.0/16", "Size": 16}, {"Base": "172.18.0.0/16", "Size": 16}],
            "FirewallBackend": {"Driver": "iptables"},
            "CDISpecDirs": [],
            "Containerd": None,
            "Warnings": [],
        }
        for src in self._info_sources:
            info.update(src.info_fields())
        return info

    # -- /system/df ---------------------------------------------------------------------------
    def disk_usage(self, types: frozenset[str]) -> dict[str, Any]:
        want = types or frozenset(DF_TYPES)
        out: dict[str, Any] = {"LayersSize": 0}
        if "image" in want:
            out["Images"] = []
        if "container" in want:
            out["Containers"] = []
        if "volume" in want:
            out["Volumes"] = []
        if "build-cache" in want:
            out["BuildCache"] = []
        for src in self._df_sources:
            out.update(src.disk_usage(want))
        return out
