"""OCI ``linux.resources`` -> ``Resources``: the one parser of the raw resources object.

Both cgroup managers (v1 and v2) take the same frozen ``Resources``, as runc's managers share one
``configs.Resources``. ``None`` means "not set, leave the kernel's value alone". Values follow the
runtime-spec (and runc) conventions: memory -1 is unlimited, ``memory_swap`` is memory+swap (the v1
meaning; the v2 manager converts), pids 0 unset and negative unlimited.

``update_resources`` merges a partial object (``skiff-runtime update -r``) onto current values.
``resources_to_oci`` writes one back so that the runtime state can keep it as JSON.
"""

from __future__ import annotations

from skiff.errors import InvalidParameter
from skiff.runtime.frozen import fields as record_fields
from skiff.runtime.frozen import frozen

TYPE_CHECKING = False  # typing's costs ~5 ms at every runtime start
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = [
    "DEFAULT_ALLOWED_DEVICES",
    "DeviceRule",
    "HugepageLimit",
    "Resources",
    "ThrottleDevice",
    "WeightDevice",
    "resources_from_oci",
    "resources_to_oci",
    "update_resources",
]


@frozen
class DeviceRule:
    """One device cgroup rule; ``major``/``minor`` -1 is the wildcard ``*``."""

    allow: bool
    type: str = "a"
    major: int = -1
    minor: int = -1
    access: str = "rwm"

    def v1_line(self) -> str:
        """The text the v1 ``devices.allow``/``devices.deny`` files take: ``c 1:3 rwm``."""
        if self.type == "a":
            return "a"
        maj = "*" if self.major < 0 else str(self.major)
        mnr = "*" if self.minor < 0 else str(self.minor)
        return f"{self.type} {maj}:{mnr} {self.access}"


@frozen
class WeightDevice:
    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


@frozen
class ThrottleDevice:
    major: int
    minor: int
    rate: int


@frozen
class HugepageLimit:
    page_size: str  # "2MB", "1GB"
    limit: int


# runc's specconv.AllowedDevices: what every container may use even after "deny all".
DEFAULT_ALLOWED_DEVICES: tuple[DeviceRule, ...] = (
    DeviceRule(True, "c", -1, -1, "m"),
    DeviceRule(True, "b", -1, -1, "m"),
    DeviceRule(True, "c", 1, 3, "rwm"),  # /dev/null
    DeviceRule(True, "c", 1, 8, "rwm"),  # /dev/random
    DeviceRule(True, "c", 1, 7, "rwm"),  # /dev/full
    DeviceRule(True, "c", 5, 0, "rwm"),  # /dev/tty
    DeviceRule(True, "c", 1, 5, "rwm"),  # /dev/zero
    DeviceRule(True, "c", 1, 9, "rwm"),  # /dev/urandom
    DeviceRule(True, "c", 136, -1, "rwm"),  # /dev/pts/*
    DeviceRule(True, "c", 5, 2, "rwm"),  # /dev/ptmx
    DeviceRule(True, "c", 10, 200, "rwm"),  # /dev/net/tun
)


@frozen
class Resources:
    """Validated cgroup resources; ``None`` everywhere means "do not touch"."""

    memory: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None
    memory_swappiness: int | None = None
    memory_kernel_tcp: int | None = None  # v1 only; "kernel" (kmem) is deprecated and ignored, as runc
    oom_kill_disable: bool | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_burst: int | None = None
    cpu_rt_runtime: int | None = None
    cpu_rt_period: int | None = None
    cpu_idle: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None
    blkio_weight: int | None = None
    blkio_leaf_weight: int | None = None
    blkio_weight_device: tuple[WeightDevice, ...] = ()
    blkio_throttle_read_bps: tuple[ThrottleDevice, ...] = ()
    blkio_throttle_write_bps: tuple[ThrottleDevice, ...] = ()
    blkio_throttle_read_iops: tuple[ThrottleDevice, ...] = ()
    blkio_throttle_write_iops: tuple[ThrottleDevice, ...] = ()
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    net_cls_classid: int | None = None  # v1 net_cls only
    net_prio_ifpriomap: tuple[tuple[str, int], ...] = ()  # v1 net_prio only
    devices: tuple[DeviceRule, ...] | None = None  # None: leave the device cgroup alone
    unified: tuple[tuple[str, str], ...] = ()


def _bad(msg: str) -> InvalidParameter:
    return InvalidParameter(f"invalid linux.resources: {msg}")


def _int(obj: Mapping[str, Any], key: str, where: str, lo: int | None = None, hi: int | None = None) -> int | None:
    val = obj.get(key)
    if val is None:
        return None
    if isinstance(val, bool) or not isinstance(val, int):
        raise _bad(f"{where}.{key} must be an integer, got {val!r}")
    if (lo is not None and val < lo) or (hi is not None and val > hi):
        raise _bad(f"{where}.{key} {val} out of range [{lo}, {hi}]")
    return val


def _map(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    val = raw.get(key)
    if val is None:
        return {}
    if not isinstance(val, dict):
        raise _bad(f"{key} must be an object")
    return val


def _number(s: str) -> bool:
    return s.isascii() and s.isdigit()


def _cpu_list(val: str) -> bool:
    """"", "0-2,4", "7": what cpuset.cpus/mems accept (no ``re``: it costs start-up time)."""
    if not val.strip():
        return True
    for part in val.split(","):
        lo, dash, hi = part.partition("-")
        if not _number(lo) or (dash and not _number(hi)):
            return False
    return True


def _cpuset(obj: Mapping[str, Any], key: str) -> str | None:
    val = obj.get(key)
    if val is None:
        return None
    if not isinstance(val, str) or not _cpu_list(val):
        raise _bad(f"cpu.{key} {val!r} is not a list like 0-2,4")
    return val


def _parse_memory(mem: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "memory": _int(mem, "limit", "memory", lo=-1),
        "memory_reservation": _int(mem, "reservation", "memory", lo=-1),
        "memory_swap": _int(mem, "swap", "memory", lo=-1),
        "memory_swappiness": None,
        "memory_kernel_tcp": _int(mem, "kernelTCP", "memory", lo=-1),
        "oom_kill_disable": None,
    }
    swappiness = mem.get("swappiness")
    # runc treats -1 (the Go uint64 wrap of it) as "unset"
    if swappiness is not None and swappiness not in (-1, 2**64 - 1):
        out["memory_swappiness"] = _int(mem, "swappiness", "memory", lo=0, hi=100)
    if "disableOOMKiller" in mem and mem["disableOOMKiller"] is not None:
        out["oom_kill_disable"] = bool(mem["disableOOMKiller"])
    limit, swap = out["memory"], out["memory_swap"]
    if limit is not None and swap is not None and limit > 0 and 0 < swap < limit:
        raise _bad("memory+swap limit should be >= memory limit")
    return out


def _parse_cpu(cpu: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cpu_shares": _int(cpu, "shares", "cpu", lo=0),
        "cpu_quota": _int(cpu, "quota", "cpu", lo=-1),
        "cpu_period": _int(cpu, "period", "cpu", lo=0),
        "cpu_burst": _int(cpu, "burst", "cpu", lo=0),
        "cpu_rt_runtime": _int(cpu, "realtimeRuntime", "cpu", lo=-1),
        "cpu_rt_period": _int(cpu, "realtimePeriod", "cpu", lo=0),
        "cpu_idle": _int(cpu, "idle", "cpu", lo=0, hi=1),
        "cpuset_cpus": _cpuset(cpu, "cpus"),
        "cpuset_mems": _cpuset(cpu, "mems"),
    }


def _dev_list(raw: Any, where: str) -> list[Mapping[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, (list, tuple)) or not all(isinstance(d, dict) for d in raw):
        raise _bad(f"{where} must be a list of objects")
    return list(raw)


def _majmin(d: Mapping[str, Any], where: str) -> tuple[int, int]:
    maj, mnr = _int(d, "major", where, lo=0), _int(d, "minor", where, lo=0)
    if maj is None or mnr is None:
        raise _bad(f"{where} needs major and minor")
    return maj, mnr


def _throttle(raw: Any, where: str) -> tuple[ThrottleDevice, ...]:
    out = []
    for d in _dev_list(raw, where):
        maj, mnr = _majmin(d, where)
        rate = _int(d, "rate", where, lo=0)
        out.append(ThrottleDevice(maj, mnr, rate or 0))
    return tuple(out)


def _parse_blkio(bio: Mapping[str, Any]) -> dict[str, Any]:
    weights = []
    for d in _dev_list(bio.get("weightDevice"), "blockIO.weightDevice"):
        maj, mnr = _majmin(d, "blockIO.weightDevice")
        weights.append(WeightDevice(maj, mnr, _int(d, "weight", "blockIO.weightDevice", 10, 1000),
                                    _int(d, "leafWeight", "blockIO.weightDevice", 10, 1000)))
    weight = _int(bio, "weight", "blockIO", lo=0, hi=1000)
    if weight is not None and 0 < weight < 10:
        raise _bad(f"blockIO.weight {weight} out of range [10, 1000]")
    return {
        "blkio_weight": weight or None,
        "blkio_leaf_weight": _int(bio, "leafWeight", "blockIO", lo=0, hi=1000) or None,
        "blkio_weight_device": tuple(weights),
        "blkio_throttle_read_bps": _throttle(bio.get("throttleReadBpsDevice"), "blockIO.throttleReadBpsDevice"),
        "blkio_throttle_write_bps": _throttle(bio.get("throttleWriteBpsDevice"), "blockIO.throttleWriteBpsDevice"),
        "blkio_throttle_read_iops": _throttle(bio.get("throttleReadIOPSDevice"), "blockIO.throttleReadIOPSDevice"),
        "blkio_throttle_write_iops": _throttle(bio.get("throttleWriteIOPSDevice"), "blockIO.throttleWriteIOPSDevice"),
    }


def _parse_hugepages(raw: Any) -> tuple[HugepageLimit, ...]:
    out = []
    for d in _dev_list(raw, "hugepageLimits"):
        size = d.get("pageSize")
        if not isinstance(size, str) or size[-2:] not in ("KB", "MB", "GB") or not _number(size[:-2]):
            raise _bad(f"hugepageLimits.pageSize {size!r} is not like 2MB")
        out.append(HugepageLimit(size, _int(d, "limit", "hugepageLimits", lo=0) or 0))
    return tuple(out)


def _parse_devices(raw: Any) -> tuple[DeviceRule, ...]:
    out = []
    for d in _dev_list(raw, "devices"):
        allow = d.get("allow")
        if not isinstance(allow, bool):
            raise _bad("devices[].allow must be true or false")
        typ = d.get("type") or "a"
        if typ not in ("a", "b", "c"):
            raise _bad(f"devices[].type {typ!r} must be a, b or c")
        access = d.get("access") or "rwm"
        if not isinstance(access, str) or not access or set(access) - set("rwm"):
            raise _bad(f"devices[].access {access!r} must be made of r, w, m")
        maj = _int(d, "major", "devices[]", lo=-1)
        mnr = _int(d, "minor", "devices[]", lo=-1)
        out.append(DeviceRule(allow, typ, -1 if maj is None else maj, -1 if mnr is None else mnr, access))
    return tuple(out)


def _parse_unified(raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise _bad("unified must be an object")
    out = []
    for key, val in sorted(raw.items()):
        if not isinstance(key, str) or "/" in key or "." not in key or key.startswith("."):
            raise _bad(f"unified key {key!r} is not a cgroup file name like memory.high")
        if not isinstance(val, str):
            raise _bad(f"unified[{key!r}] must be a string")
        out.append((key, val))
    return tuple(out)


def _parse(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = raw or {}
    if not isinstance(raw, dict):
        raise _bad("must be an object")
    fields: dict[str, Any] = {}
    fields.update(_parse_memory(_map(raw, "memory")))
    fields.update(_parse_cpu(_map(raw, "cpu")))
    pids = _map(raw, "pids")
    fields["pids_limit"] = _int(pids, "limit", "pids")
    fields.update(_parse_blkio(_map(raw, "blockIO")))
    fields["hugepage_limits"] = _parse_hugepages(raw.get("hugepageLimits"))
    net = _map(raw, "network")
    fields["net_cls_classid"] = _int(net, "classID", "network", lo=0, hi=2**32 - 1)
    prios = []
    for d in _dev_list(net.get("priorities"), "network.priorities"):
        name = d.get("name")
        if not isinstance(name, str) or not name:
            raise _bad("network.priorities[].name must be an interface name")
        prios.append((name, _int(d, "priority", "network.priorities[]", lo=0) or 0))
    fields["net_prio_ifpriomap"] = tuple(prios)
    fields["devices"] = _parse_devices(raw.get("devices"))
    fields["unified"] = _parse_unified(raw.get("unified"))
    return fields


def resources_from_oci(raw: Mapping[str, Any] | None, extra_devices: Sequence[DeviceRule] = (),
                       *, default_devices: bool = True) -> Resources:
    """Parse ``linux.resources`` for create: the spec's device rules, then ``extra_devices`` (the
    allow rules for ``linux.devices`` nodes) and runc's default allow list, in that order.
    ``default_devices=False`` reads back exactly what ``resources_to_oci`` wrote."""
    fields = _parse(raw)
    rules = (fields.get("devices") or ()) + tuple(extra_devices)
    fields["devices"] = rules + DEFAULT_ALLOWED_DEVICES if default_devices else rules
    return Resources(**fields)


def update_resources(current: Resources, raw: Mapping[str, Any]) -> Resources:
    """Merge a partial ``linux.resources`` (``update -r``) onto ``current``; unset fields are kept.
    Device rules are not updatable (as in runc); the result has ``devices=None`` so set() skips them."""
    fields = _parse(raw)
    fields.pop("devices", None)
    merged: dict[str, Any] = {}
    for name in record_fields(current):
        new = fields.get(name)
        merged[name] = new if new not in (None, ()) else getattr(current, name)
    merged["devices"] = None
    # runc's update: setting memory without swap when swap was equal to the old limit would
    # leave swap < memory; follow the limit instead, like runc does for -1.
    if "limit" in _map(raw, "memory") and _map(raw, "memory").get("swap") is None:
        if fields["memory"] == -1:
            merged["memory_swap"] = -1
        elif current.memory_swap not in (None, -1) and fields["memory"] is not None and \
                current.memory_swap < fields["memory"]:
            merged["memory_swap"] = fields["memory"]
    lim, swap = merged["memory"], merged["memory_swap"]
    if lim is not None and swap is not None and lim > 0 and 0 < swap < lim:
        raise _bad("memory+swap limit should be >= memory limit")
    return Resources(**merged)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != [] and v != {}}


def resources_to_oci(res: Resources) -> dict[str, Any]:
    """The OCI JSON form of ``res`` (device rules included), so state files can keep it."""
    def thr(ts: tuple[ThrottleDevice, ...]) -> list[dict[str, int]]:
        return [{"major": t.major, "minor": t.minor, "rate": t.rate} for t in ts]

    out: dict[str, Any] = {
        "memory": _drop_none({"limit": res.memory, "reservation": res.memory_reservation, "swap": res.memory_swap,
                              "swappiness": res.memory_swappiness, "kernelTCP": res.memory_kernel_tcp,
                              "disableOOMKiller": res.oom_kill_disable}),
        "cpu": _drop_none({"shares": res.cpu_shares, "quota": res.cpu_quota, "period": res.cpu_period,
                           "burst": res.cpu_burst, "realtimeRuntime": res.cpu_rt_runtime,
                           "realtimePeriod": res.cpu_rt_period, "idle": res.cpu_idle,
                           "cpus": res.cpuset_cpus, "mems": res.cpuset_mems}),
        "pids": _drop_none({"limit": res.pids_limit}),
        "blockIO": _drop_none({
            "weight": res.blkio_weight, "leafWeight": res.blkio_leaf_weight,
            "weightDevice": [_drop_none({"major": w.major, "minor": w.minor, "weight": w.weight,
                                         "leafWeight": w.leaf_weight}) for w in res.blkio_weight_device],
            "throttleReadBpsDevice": thr(res.blkio_throttle_read_bps),
            "throttleWriteBpsDevice": thr(res.blkio_throttle_write_bps),
            "throttleReadIOPSDevice": thr(res.blkio_throttle_read_iops),
            "throttleWriteIOPSDevice": thr(res.blkio_throttle_write_iops),
        }),
        "hugepageLimits": [{"pageSize": h.page_size, "limit": h.limit} for h in res.hugepage_limits],
        "network": _drop_none({"classID": res.net_cls_classid,
                               "priorities": [{"name": n, "priority": p} for n, p in res.net_prio_ifpriomap]}),
        "unified": dict(res.unified),
    }
    if res.devices is not None:
        out["devices"] = [_drop_none({"allow": d.allow, "type": d.type,
                                      "major": None if d.major < 0 else d.major,
                                      "minor": None if d.minor < 0 else d.minor, "access": d.access})
                          for d in res.devices]
    return _drop_none(out)
