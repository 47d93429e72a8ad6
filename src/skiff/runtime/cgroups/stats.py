"""Cgroup statistics, one shape for v1 and v2, printed as runc's ``events`` JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BlkioEntry", "CpuStats", "HugetlbStats", "MemoryEntry", "Stats", "UNLIMITED"]

UNLIMITED = 2**64 - 1  # what runc prints for "max"


@dataclass
class CpuStats:
    total: int = 0  # nanoseconds
    percpu: list[int] = field(default_factory=list)
    percpu_kernel: list[int] = field(default_factory=list)
    percpu_user: list[int] = field(default_factory=list)
    kernel: int = 0
    user: int = 0
    periods: int = 0
    throttled_periods: int = 0
    throttled_time: int = 0  # nanoseconds


@dataclass
class MemoryEntry:
    usage: int = 0
    max: int = 0
    failcnt: int = 0
    limit: int = 0


@dataclass
class BlkioEntry:
    major: int
    minor: int
    op: str
    value: int


@dataclass
class HugetlbStats:
    usage: int = 0
    max: int = 0
    failcnt: int = 0


@dataclass
class Stats:
    cpu: CpuStats = field(default_factory=CpuStats)
    memory: MemoryEntry = field(default_factory=MemoryEntry)
    swap: MemoryEntry = field(default_factory=MemoryEntry)
    memory_cache: int = 0
    memory_raw: dict[str, int] = field(default_factory=dict)
    oom_events: int = 0  # times the limit was hit and the OOM killer ran
    oom_kills: int = 0
    pids_current: int = 0
    pids_limit: int = 0  # 0: unlimited
    io_service_bytes: list[BlkioEntry] = field(default_factory=list)
    io_serviced: list[BlkioEntry] = field(default_factory=list)
    hugetlb: dict[str, HugetlbStats] = field(default_factory=dict)

    def to_runc_json(self) -> dict[str, Any]:
        """The ``data`` object of runc's ``{"type": "stats"}`` event (types/events.go)."""
        def nz(d: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in d.items() if v}

        def mem(e: MemoryEntry) -> dict[str, Any]:
            return {"limit": e.limit, **nz({"usage": e.usage, "max": e.max}), "failcnt": e.failcnt}

        def blk(es: list[BlkioEntry]) -> list[dict[str, Any]]:
            return [nz({"major": e.major, "minor": e.minor, "op": e.op, "value": e.value}) for e in es]

        c = self.cpu
        return {
            "cpu": {
                "usage": {"kernel": c.kernel, "user": c.user,
                          **nz({"total": c.total, "percpu": c.percpu, "percpu_kernel": c.percpu_kernel,
                                "percpu_user": c.percpu_user})},
                "throttling": nz({"periods": c.periods, "throttledPeriods": c.throttled_periods,
                                  "throttledTime": c.throttled_time}),
            },
            "memory": nz({
                "cache": self.memory_cache,
                "usage": mem(self.memory),
                "swap": mem(self.swap),
                "raw": self.memory_raw,
            }),
            "pids": nz({"current": self.pids_current, "limit": self.pids_limit}),
            "blkio": nz({"ioServiceBytesRecursive": blk(self.io_service_bytes),
                         "ioServicedRecursive": blk(self.io_serviced)}),
            "hugetlb": {size: {**nz({"usage": h.usage, "max": h.max}), "failcnt": h.failcnt}
                        for size, h in self.hugetlb.items()},
        }
