"""cgroup v2: one pair of functions (set, stats) per controller's files, as runc's ``fs2``."""

from __future__ import annotations

import os

from skiff.runtime.cgroups.convert import blkio_weight_to_io_weight, cpu_max, shares_to_weight, swap_to_v2
from skiff.runtime.cgroups.files import CgroupError, exists, read, read_int, read_keyed, write

TYPE_CHECKING = False  # stats (dataclasses) load only when stats are asked for
if TYPE_CHECKING:
    from skiff.runtime.cgroups.stats import Stats
    from skiff.runtime.specconv_resources import Resources

UNLIMITED = 2**64 - 1  # what runc prints for "max" (as stats.UNLIMITED)

__all__ = ["SETTERS", "STATS"]


def _need(path: str, name: str, ctrl: str) -> None:
    if not exists(path, name):
        raise CgroupError(f"cgroup: {ctrl} controller is not available in {path} (no {name}); "
                          f"enabled here: {read(path, 'cgroup.controllers').strip() or 'none'}")


def set_cpu(path: str, r: Resources) -> None:
    if r.cpu_rt_runtime or r.cpu_rt_period:
        raise CgroupError("cgroup: realtime CPU limits are not supported on cgroup v2")
    if r.cpu_shares:
        _need(path, "cpu.weight", "cpu")
        write(path, "cpu.weight", shares_to_weight(r.cpu_shares))
    line = cpu_max(r.cpu_quota, r.cpu_period)
    if line is not None:
        _need(path, "cpu.max", "cpu")
        write(path, "cpu.max", line)
    if r.cpu_burst is not None:
        _need(path, "cpu.max.burst", "cpu")
        write(path, "cpu.max.burst", r.cpu_burst)
    if r.cpu_idle is not None:
        _need(path, "cpu.idle", "cpu")
        write(path, "cpu.idle", r.cpu_idle)


def set_cpuset(path: str, r: Resources) -> None:
    if r.cpuset_cpus:
        _need(path, "cpuset.cpus", "cpuset")
        write(path, "cpuset.cpus", r.cpuset_cpus)
    if r.cpuset_mems:
        _need(path, "cpuset.mems", "cpuset")
        write(path, "cpuset.mems", r.cpuset_mems)


def _limit(v: int) -> str:
    return "max" if v == -1 else str(v)


def set_memory(path: str, r: Resources) -> None:
    if not (r.memory or r.memory_swap or r.memory_reservation or r.oom_kill_disable
            or r.memory_swappiness is not None):
        return
    _need(path, "memory.max", "memory")
    swap = swap_to_v2(r.memory_swap or 0, r.memory or 0)
    if swap:
        if not exists(path, "memory.swap.max"):
            if swap != -1:
                raise CgroupError("memory swap limit is not supported: no memory.swap.max (swap accounting is off)")
        else:
            write(path, "memory.swap.max", _limit(swap))
    if r.memory:
        write(path, "memory.max", _limit(r.memory))
    if r.memory_reservation:
        write(path, "memory.low", _limit(r.memory_reservation))
    # v2 has no per-cgroup swappiness nor OOM-killer switch; runc ignores both there.


def set_pids(path: str, r: Resources) -> None:
    if r.pids_limit:
        _need(path, "pids.max", "pids")
        write(path, "pids.max", r.pids_limit if r.pids_limit > 0 else "max")


def set_io(path: str, r: Resources) -> None:
    if r.blkio_weight or r.blkio_weight_device:
        if exists(path, "io.bfq.weight"):  # BFQ takes the v1 scale as is
            if r.blkio_weight:
                write(path, "io.bfq.weight", r.blkio_weight)
            for wd in r.blkio_weight_device:
                if wd.weight:
                    write(path, "io.bfq.weight", f"{wd.major}:{wd.minor} {wd.weight}")
        else:
            _need(path, "io.weight", "io")
            if r.blkio_weight:
                write(path, "io.weight", f"default {blkio_weight_to_io_weight(r.blkio_weight)}")
            for wd in r.blkio_weight_device:
                if wd.weight:
                    write(path, "io.weight", f"{wd.major}:{wd.minor} {blkio_weight_to_io_weight(wd.weight)}")
    for key, devs in (("rbps", r.blkio_throttle_read_bps), ("wbps", r.blkio_throttle_write_bps),
                      ("riops", r.blkio_throttle_read_iops), ("wiops", r.blkio_throttle_write_iops)):
        for d in devs:
            _need(path, "io.max", "io")
            write(path, "io.max", f"{d.major}:{d.minor} {key}={d.rate if d.rate else 'max'}")


def set_hugetlb(path: str, r: Resources) -> None:
    for h in r.hugepage_limits:
        _need(path, f"hugetlb.{h.page_size}.max", "hugetlb")
        write(path, f"hugetlb.{h.page_size}.max", h.limit)


def set_network(path: str, r: Resources) -> None:
    if r.net_cls_classid is not None or r.net_prio_ifpriomap:
        raise CgroupError("cgroup: network classID and priorities need the v1 net_cls/net_prio controllers, "
                          "which cgroup v2 does not have")


def set_unified(path: str, r: Resources) -> None:
    for key, value in r.unified:
        if not exists(path, key):
            raise CgroupError(f"cgroup: unified resource {key!r}: no such file in {path}")
        write(path, key, value)


SETTERS = (set_cpuset, set_cpu, set_memory, set_pids, set_io, set_hugetlb, set_network, set_unified)


def stats_cpu(path: str, st: Stats) -> None:
    s = read_keyed(path, "cpu.stat")  # usage_usec etc. exist even without the cpu controller
    st.cpu.total = s.get("usage_usec", 0) * 1000
    st.cpu.user = s.get("user_usec", 0) * 1000
    st.cpu.kernel = s.get("system_usec", 0) * 1000
    st.cpu.periods = s.get("nr_periods", 0)
    st.cpu.throttled_periods = s.get("nr_throttled", 0)
    st.cpu.throttled_time = s.get("throttled_usec", 0) * 1000


def _unl(v: int) -> int:
    return UNLIMITED if v == -1 else v


def stats_memory(path: str, st: Stats) -> None:
    if not exists(path, "memory.current"):
        return
    raw = read_keyed(path, "memory.stat")
    st.memory_raw = raw
    st.memory_cache = raw.get("file", 0)
    st.memory.usage = read_int(path, "memory.current")
    st.memory.max = read_int(path, "memory.peak")
    st.memory.limit = _unl(read_int(path, "memory.max", -1))
    ev = read_keyed(path, "memory.events")
    st.memory.failcnt = ev.get("max", 0)
    st.oom_events = ev.get("oom", 0)
    st.oom_kills = ev.get("oom_kill", 0)
    if exists(path, "memory.swap.current"):
        # runc reports v1's memsw shape: memory + swap
        st.swap.usage = read_int(path, "memory.swap.current") + st.memory.usage
        swap_max = read_int(path, "memory.swap.max", -1)
        st.swap.limit = UNLIMITED if swap_max == -1 or st.memory.limit == UNLIMITED else swap_max + st.memory.limit


def stats_pids(path: str, st: Stats) -> None:
    if exists(path, "pids.current"):
        st.pids_current = read_int(path, "pids.current")
        st.pids_limit = max(0, read_int(path, "pids.max", -1))
    else:  # no pids controller: count what is there
        st.pids_current = len(read(path, "cgroup.procs").split())


def stats_io(path: str, st: Stats) -> None:
    from skiff.runtime.cgroups.stats import BlkioEntry

    if not exists(path, "io.stat"):
        return
    for line in read(path, "io.stat").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        maj, mnr = (int(x) for x in parts[0].split(":"))
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op in (("rbytes", "Read"), ("wbytes", "Write")):
            st.io_service_bytes.append(BlkioEntry(maj, mnr, op, int(kv.get(key, 0))))
        for key, op in (("rios", "Read"), ("wios", "Write")):
            st.io_serviced.append(BlkioEntry(maj, mnr, op, int(kv.get(key, 0))))


def stats_hugetlb(path: str, st: Stats) -> None:
    from skiff.runtime.cgroups.stats import HugetlbStats

    for entry in os.listdir(path):
        if entry.startswith("hugetlb.") and entry.endswith(".current") and entry.count(".") == 2:
            size = entry.split(".")[1]
            st.hugetlb[size] = HugetlbStats(
                usage=read_int(path, entry), max=_unl(read_int(path, f"hugetlb.{size}.max", -1)),
                failcnt=read_keyed(path, f"hugetlb.{size}.events").get("max", 0))


STATS = (stats_cpu, stats_memory, stats_pids, stats_io, stats_hugetlb)
