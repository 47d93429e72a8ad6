"""cgroup v1: one small object per controller, as runc's ``fs`` package has.

Each subsystem knows its files: ``set`` writes the limits it owns, ``stats`` fills its part of
``Stats``. The manager loops over them for every controller the host has mounted.
"""

from __future__ import annotations

import os
import time

from skiff.runtime.cgroups.files import CgroupError, exists, read, read_int, read_keyed, write

TYPE_CHECKING = False  # stats (dataclasses) and typing load only when stats are asked for
if TYPE_CHECKING:
    from typing import ClassVar

    from skiff.runtime.cgroups.stats import BlkioEntry, Stats
    from skiff.runtime.specconv_resources import Resources, ThrottleDevice

__all__ = ["SUBSYSTEMS", "Subsystem", "freeze", "freezer_state", "thaw"]

_USER_HZ = os.sysconf("SC_CLK_TCK")
_NS_PER_TICK = 1_000_000_000 // _USER_HZ


class Subsystem:
    """A v1 controller: its hierarchy name, what it sets, what it reports."""

    name: ClassVar[str] = ""

    def create(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def set(self, path: str, res: Resources) -> None:
        return None

    def stats(self, path: str, st: Stats) -> None:
        return None


class Cpu(Subsystem):
    name = "cpu"

    def set(self, path: str, res: Resources) -> None:
        # realtime first: the kernel refuses rt_runtime above the period in force
        if res.cpu_rt_period:
            write(path, "cpu.rt_period_us", res.cpu_rt_period)
        if res.cpu_rt_runtime:
            write(path, "cpu.rt_runtime_us", res.cpu_rt_runtime)
        if res.cpu_shares:
            write(path, "cpu.shares", res.cpu_shares)
            got = read_int(path, "cpu.shares")
            if got != res.cpu_shares:  # the kernel clamps silently; runc reports it
                side = "maximum" if res.cpu_shares > got else "minimum"
                raise CgroupError(f"the {side} allowed cpu-shares is {got}")
        if res.cpu_period:
            write(path, "cpu.cfs_period_us", res.cpu_period)
        if res.cpu_quota is not None and res.cpu_quota != 0:
            write(path, "cpu.cfs_quota_us", res.cpu_quota)
        if res.cpu_burst is not None and exists(path, "cpu.cfs_burst_us"):
            write(path, "cpu.cfs_burst_us", res.cpu_burst)
        if res.cpu_idle is not None and exists(path, "cpu.idle"):
            write(path, "cpu.idle", res.cpu_idle)

    def stats(self, path: str, st: Stats) -> None:
        s = read_keyed(path, "cpu.stat")
        st.cpu.periods = s.get("nr_periods", 0)
        st.cpu.throttled_periods = s.get("nr_throttled", 0)
        st.cpu.throttled_time = s.get("throttled_time", 0)


class CpuAcct(Subsystem):
    name = "cpuacct"

    def stats(self, path: str, st: Stats) -> None:
        st.cpu.total = read_int(path, "cpuacct.usage")
        for name, attr in (("cpuacct.usage_percpu", "percpu"), ("cpuacct.usage_percpu_sys", "percpu_kernel"),
                           ("cpuacct.usage_percpu_user", "percpu_user")):
            if exists(path, name):
                setattr(st.cpu, attr, [int(x) for x in read(path, name).split()])
        if exists(path, "cpuacct.usage_user"):  # nanoseconds, better than cpuacct.stat's ticks
            st.cpu.user = read_int(path, "cpuacct.usage_user")
            st.cpu.kernel = read_int(path, "cpuacct.usage_sys")
        else:
            s = read_keyed(path, "cpuacct.stat")
            st.cpu.user = s.get("user", 0) * _NS_PER_TICK
            st.cpu.kernel = s.get("system", 0) * _NS_PER_TICK


class Cpuset(Subsystem):
    name = "cpuset"

    def create(self, path: str) -> None:
        """A new cpuset has empty cpus/mems and refuses tasks: copy them down from the parent at
        every level we create (runc's ensureParent/copyIfNeeded)."""
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            self.create(parent)
        if os.path.isdir(path):
            return
        os.mkdir(path)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not read(path, name).strip():
                write(path, name, read(parent, name).strip())

    def set(self, path: str, res: Resources) -> None:
        if res.cpuset_cpus:
            write(path, "cpuset.cpus", res.cpuset_cpus)
        if res.cpuset_mems:
            write(path, "cpuset.mems", res.cpuset_mems)


class Memory(Subsystem):
    name = "memory"

    def set(self, path: str, res: Resources) -> None:
        limit, swap = res.memory, res.memory_swap
        if limit == -1 and swap is None:
            swap = -1  # unlimited memory with unset swap means both unlimited (runc)
        has_memsw = exists(path, "memory.memsw.limit_in_bytes")
        if swap is not None and swap != 0 and not has_memsw:
            if swap != -1:
                raise CgroupError("memory swap limit is not supported: the kernel has no swap accounting "
                                  "(memory.memsw.limit_in_bytes is missing)")
            swap = None
        if limit and swap:
            # order matters: memsw must stay >= memory at every step
            cur = read_int(path, "memory.limit_in_bytes")
            if swap == -1 or cur < limit:
                write(path, "memory.memsw.limit_in_bytes", swap)
                write(path, "memory.limit_in_bytes", limit)
            else:
                write(path, "memory.limit_in_bytes", limit)
                write(path, "memory.memsw.limit_in_bytes", swap)
        elif limit:
            write(path, "memory.limit_in_bytes", limit)
        elif swap:
            write(path, "memory.memsw.limit_in_bytes", swap)
        if res.memory_reservation:
            write(path, "memory.soft_limit_in_bytes", res.memory_reservation)
        if res.memory_kernel_tcp and exists(path, "memory.kmem.tcp.limit_in_bytes"):
            write(path, "memory.kmem.tcp.limit_in_bytes", res.memory_kernel_tcp)
        if res.oom_kill_disable:
            write(path, "memory.oom_control", 1)
        if res.memory_swappiness is not None:
            write(path, "memory.swappiness", res.memory_swappiness)

    def stats(self, path: str, st: Stats) -> None:
        raw = read_keyed(path, "memory.stat")
        st.memory_raw = raw
        st.memory_cache = raw.get("total_cache", raw.get("cache", 0))
        m = st.memory
        m.usage = read_int(path, "memory.usage_in_bytes")
        m.max = read_int(path, "memory.max_usage_in_bytes")
        m.failcnt = read_int(path, "memory.failcnt")
        m.limit = read_int(path, "memory.limit_in_bytes")
        if exists(path, "memory.memsw.usage_in_bytes"):
            s = st.swap
            s.usage = read_int(path, "memory.memsw.usage_in_bytes")
            s.max = read_int(path, "memory.memsw.max_usage_in_bytes")
            s.failcnt = read_int(path, "memory.memsw.failcnt")
            s.limit = read_int(path, "memory.memsw.limit_in_bytes")
        oom = read_keyed(path, "memory.oom_control")
        st.oom_kills = oom.get("oom_kill", 0)
        st.oom_events = st.oom_kills


class Pids(Subsystem):
    name = "pids"

    def set(self, path: str, res: Resources) -> None:
        if res.pids_limit:
            write(path, "pids.max", res.pids_limit if res.pids_limit > 0 else "max")

    def stats(self, path: str, st: Stats) -> None:
        st.pids_current = read_int(path, "pids.current")
        limit = read_int(path, "pids.max")
        st.pids_limit = 0 if limit < 0 else limit


def _throttle(path: str, name: str, devs: tuple[ThrottleDevice, ...]) -> None:
    for d in devs:
        write(path, name, f"{d.major}:{d.minor} {d.rate}")


def _blkio_entries(path: str, name: str) -> list[BlkioEntry]:
    from skiff.runtime.cgroups.stats import BlkioEntry

    out: list[BlkioEntry] = []
    if not exists(path, name):
        return out
    for line in read(path, name).splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            maj, mnr = parts[0].split(":")
            out.append(BlkioEntry(int(maj), int(mnr), parts[1], int(parts[2])))
    return out


class Blkio(Subsystem):
    name = "blkio"

    def set(self, path: str, res: Resources) -> None:
        # CFQ is gone from modern kernels; BFQ exposes blkio.bfq.weight when it is the scheduler
        weight_file = next((f for f in ("blkio.weight", "blkio.bfq.weight") if exists(path, f)), None)
        if res.blkio_weight or res.blkio_weight_device:
            if weight_file is None:
                raise CgroupError("blkio weight is not supported by this kernel: no blkio.weight or "
                                  "blkio.bfq.weight (the CFQ or BFQ I/O scheduler is needed)")
            if res.blkio_weight:
                write(path, weight_file, res.blkio_weight)
            for wd in res.blkio_weight_device:
                if wd.weight:
                    write(path, weight_file + "_device", f"{wd.major}:{wd.minor} {wd.weight}")
        if res.blkio_leaf_weight and exists(path, "blkio.leaf_weight"):
            write(path, "blkio.leaf_weight", res.blkio_leaf_weight)
        _throttle(path, "blkio.throttle.read_bps_device", res.blkio_throttle_read_bps)
        _throttle(path, "blkio.throttle.write_bps_device", res.blkio_throttle_write_bps)
        _throttle(path, "blkio.throttle.read_iops_device", res.blkio_throttle_read_iops)
        _throttle(path, "blkio.throttle.write_iops_device", res.blkio_throttle_write_iops)

    def stats(self, path: str, st: Stats) -> None:
        st.io_service_bytes = _blkio_entries(path, "blkio.throttle.io_service_bytes_recursive")
        st.io_serviced = _blkio_entries(path, "blkio.throttle.io_serviced_recursive")


class Hugetlb(Subsystem):
    name = "hugetlb"

    def set(self, path: str, res: Resources) -> None:
        for h in res.hugepage_limits:
            write(path, f"hugetlb.{h.page_size}.limit_in_bytes", h.limit)

    def stats(self, path: str, st: Stats) -> None:
        from skiff.runtime.cgroups.stats import HugetlbStats

        for entry in os.listdir(path):
            if entry.startswith("hugetlb.") and entry.endswith(".usage_in_bytes"):
                size = entry.split(".")[1]
                st.hugetlb[size] = HugetlbStats(
                    usage=read_int(path, entry), max=read_int(path, f"hugetlb.{size}.max_usage_in_bytes"),
                    failcnt=read_int(path, f"hugetlb.{size}.failcnt"))


class Devices(Subsystem):
    name = "devices"

    def set(self, path: str, res: Resources) -> None:
        if res.devices is None:
            return
        for rule in res.devices:
            write(path, "devices.allow" if rule.allow else "devices.deny", rule.v1_line())


class NetCls(Subsystem):
    name = "net_cls"

    def set(self, path: str, res: Resources) -> None:
        if res.net_cls_classid is not None:
            write(path, "net_cls.classid", res.net_cls_classid)


class NetPrio(Subsystem):
    name = "net_prio"

    def set(self, path: str, res: Resources) -> None:
        for iface, prio in res.net_prio_ifpriomap:
            write(path, "net_prio.ifpriomap", f"{iface} {prio}")


class Freezer(Subsystem):
    name = "freezer"


class NameSystemd(Subsystem):
    """Joined only, like runc's NameGroup{name=systemd, Join: true}."""

    name = "name=systemd"


class PerfEvent(Subsystem):
    """Joined only (so perf can be scoped to the container), as runc does."""

    name = "perf_event"


class Rdma(Subsystem):
    name = "rdma"


class Misc(Subsystem):
    name = "misc"


def freezer_state(path: str) -> str:
    return read(path, "freezer.state").strip()


def _freezer_write(path: str, want: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        write(path, "freezer.state", want)
        if freezer_state(path) == want:
            return
        if time.monotonic() > deadline:
            write(path, "freezer.state", "THAWED")
            raise CgroupError(f"cgroup: {path} did not become {want} in {timeout}s")
        time.sleep(0.001)


def freeze(path: str, timeout: float = 10.0) -> None:
    _freezer_write(path, "FROZEN", timeout)


def thaw(path: str, timeout: float = 10.0) -> None:
    _freezer_write(path, "THAWED", timeout)


SUBSYSTEMS: tuple[Subsystem, ...] = (
    Cpuset(), Devices(), Memory(), Cpu(), CpuAcct(), Pids(), Blkio(), Hugetlb(), NetCls(), NetPrio(), Freezer(),
    PerfEvent(), Rdma(), Misc(), NameSystemd(),
)
