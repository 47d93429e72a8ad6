"""Container stats in Docker's JSON shape, read from the container's cgroup (v1 or v2).

The docker CLI computes CPU % from ``cpu_stats`` - ``precpu_stats`` (total_usage against
system_cpu_usage, times online_cpus), memory as ``usage - inactive_file`` over ``limit``, PIDS
from ``pids_stats.current`` and BLOCK I/O from ``blkio_stats.io_service_bytes_recursive``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from skiff.engine.system import rfc3339_nano

__all__ = ["read_stats", "system_cpu_ns", "ZERO"]

ZERO = "0001-01-01T00:00:00Z"
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _int(path: str, default: int = 0) -> int:
    s = _read(path).strip()
    if not s or s == "max":
        return default
    try:
        return int(s)
    except ValueError:
        return default


def _kv(path: str) -> dict[str, int]:
    out = {}
    for line in _read(path).splitlines():
        k, _, v = line.partition(" ")
        if v.strip().isdigit():
            out[k] = int(v)
    return out


def system_cpu_ns() -> int:
    for line in _read("/proc/stat").splitlines():
        if line.startswith("cpu "):
            return sum(int(x) for x in line.split()[1:8]) * 1_000_000_000 // _CLK_TCK
    return 0


def _online_cpus() -> int:
    return os.cpu_count() or 1


def _mem_total() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _v1(rel: str) -> dict[str, Any]:
    cg = "/sys/fs/cgroup"
    percpu = [int(x) for x in _read(f"{cg}/cpuacct/{rel}/cpuacct.usage_percpu").split()]
    st = _kv(f"{cg}/cpuacct/{rel}/cpuacct.stat")
    thr = _kv(f"{cg}/cpu/{rel}/cpu.stat")
    mstats = _kv(f"{cg}/memory/{rel}/memory.stat")
    limit = _int(f"{cg}/memory/{rel}/memory.limit_in_bytes")
    total = _mem_total()
    if not limit or limit > total:
        limit = total
    return {
        "cpu": {"cpu_usage": {"total_usage": _int(f"{cg}/cpuacct/{rel}/cpuacct.usage"), "percpu_usage": percpu,
                              "usage_in_kernelmode": st.get("system", 0) * 1_000_000_000 // _CLK_TCK,
                              "usage_in_usermode": st.get("user", 0) * 1_000_000_000 // _CLK_TCK},
                "throttling_data": {"periods": thr.get("nr_periods", 0), "throttled_periods": thr.get("nr_throttled", 0),
                                    "throttled_time": thr.get("throttled_time", 0)}},
        "memory": {"usage": _int(f"{cg}/memory/{rel}/memory.usage_in_bytes"),
                   "max_usage": _int(f"{cg}/memory/{rel}/memory.max_usage_in_bytes"),
                   "failcnt": _int(f"{cg}/memory/{rel}/memory.failcnt"), "stats": mstats, "limit": limit},
        "pids": {"current": _int(f"{cg}/pids/{rel}/pids.current"),
                 **({"limit": _int(f"{cg}/pids/{rel}/pids.max")} if _int(f"{cg}/pids/{rel}/pids.max") else {})},
        # moby's cgroup v1 stats: every list present ([] when empty), ops as the kernel names them
        "blkio": {**{key: [] for key in _BLKIO_KEYS},
                  "io_service_bytes_recursive": _blkio_v1(f"{cg}/blkio/{rel}/blkio.throttle.io_service_bytes"),
                  "io_serviced_recursive": _blkio_v1(f"{cg}/blkio/{rel}/blkio.throttle.io_serviced")},
    }


_BLKIO_KEYS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
               "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive",
               "sectors_recursive")


def _blkio_v1(path: str) -> list[dict[str, Any]]:
    out = []
    for line in _read(path).splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            out.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
    return out


def _v2(rel: str) -> dict[str, Any]:
    d = f"/sys/fs/cgroup/{rel}"
    cpu = _kv(f"{d}/cpu.stat")
    mstats = _kv(f"{d}/memory.stat")
    total = _mem_total()
    limit = _int(f"{d}/memory.max", total) or total
    blk = []
    for line in _read(f"{d}/io.stat").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, minor = parts[0].split(":")
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for op, key in (("read", "rbytes"), ("write", "wbytes")):
            blk.append({"major": int(major), "minor": int(minor), "op": op, "value": int(kv.get(key, 0))})
    return {
        "cpu": {"cpu_usage": {"total_usage": cpu.get("usage_usec", 0) * 1000,
                              "usage_in_kernelmode": cpu.get("system_usec", 0) * 1000,
                              "usage_in_usermode": cpu.get("user_usec", 0) * 1000},
                "throttling_data": {"periods": cpu.get("nr_periods", 0), "throttled_periods": cpu.get("nr_throttled", 0),
                                    "throttled_time": cpu.get("throttled_usec", 0) * 1000}},
        "memory": {"usage": _int(f"{d}/memory.current"), "stats": mstats, "limit": limit},
        "pids": {"current": _int(f"{d}/pids.current"),
                 **({"limit": _int(f"{d}/pids.max")} if _int(f"{d}/pids.max") else {})},
        "blkio": {"io_service_bytes_recursive": blk or None},
    }


def _empty_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


_NET_DEV_FIELDS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors",
                   "tx_dropped")
_NET_DEV_COLUMNS = (0, 1, 2, 3, 8, 9, 10, 11)  # positions in /proc/net/dev after "iface:"


def net_dev_stats(pid: int) -> dict[str, dict[str, int]]:
    """Per-interface counters of the network namespace ``pid`` lives in, as dockerd's ``networks``.

    /proc/<pid>/net/dev shows that process's namespace from the host, so no setns is needed.
    The loopback is left out, as in moby (its sandbox reports only the endpoints' interfaces).
    """
    nets: dict[str, dict[str, int]] = {}
    for line in _read(f"/proc/{pid}/net/dev").splitlines()[2:]:
        iface, _, rest = line.partition(":")
        iface = iface.strip()
        cols = rest.split()
        if not iface or iface == "lo" or len(cols) < 12:
            continue
        nets[iface] = {k: int(cols[i]) for k, i in zip(_NET_DEV_FIELDS, _NET_DEV_COLUMNS, strict=True)}
    return nets


def read_stats(cid: str, name: str, cgroup: str | None, prev: dict[str, Any] | None, pid: int = 0,
               own_netns: bool = True) -> dict[str, Any]:
    """One stats message; ``cgroup`` None for a stopped container (zeros, as dockerd sends).

    ``own_netns`` is False for ``--network host``/``container:``: then no ``networks`` are
    reported, as moby does for a sandbox without endpoints of its own.
    """
    now = time.time_ns()
    base: dict[str, Any] = {
        "read": rfc3339_nano(now), "preread": prev["read"] if prev else ZERO, "num_procs": 0,
        "storage_stats": {}, "name": name, "id": cid,
    }
    if cgroup is None:
        base.update(pids_stats={}, blkio_stats={"io_service_bytes_recursive": None, "io_serviced_recursive": None,
                                                "io_queue_recursive": None, "io_service_time_recursive": None,
                                                "io_wait_time_recursive": None, "io_merged_recursive": None,
                                                "io_time_recursive": None, "sectors_recursive": None},
                    cpu_stats=_empty_cpu(), precpu_stats=_empty_cpu(), memory_stats={})
        base["read"] = ZERO
        return base
    raw = _v2(cgroup.lstrip("/")) if _V2 else _v1(cgroup.lstrip("/"))
    cpu = {**raw["cpu"], "system_cpu_usage": system_cpu_ns(), "online_cpus": _online_cpus()}
    blk = {**dict.fromkeys(_BLKIO_KEYS), **raw["blkio"]}
    base.update(pids_stats=raw["pids"], blkio_stats=blk, cpu_stats=cpu,
                precpu_stats=prev["cpu_stats"] if prev else _empty_cpu(), memory_stats=raw["memory"])
    nets = net_dev_stats(pid) if pid and own_netns else {}
    if nets:
        base["networks"] = nets
    return base
