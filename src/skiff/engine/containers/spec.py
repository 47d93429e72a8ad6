"""Container create config -> OCI runtime spec, with Docker's defaults exactly.

Two steps, both pure apart from reading the image's ``/etc/passwd`` and ``/etc/group`` and stat'ing
``--device`` paths:

Split: ``spec_config`` (the parsed create config), ``spec_user`` (User/GroupAdd resolution),
``seccomp_default`` (capabilities, seccomp profile); this module re-exports what the engine needs.

1. :func:`parse_create` turns the API body of ``POST /containers/create`` into frozen
   :class:`ContainerConfig` + :class:`HostConfig`; :class:`ImageConfig` comes from the image.
2. :func:`build_spec` merges them as dockerd does (``daemon/commit.go`` merge, ``CreateDaemonEnvironment``)
   and produces the ``config.json`` dict for the runtime (moby ``oci/defaults.go`` +
   ``daemon/oci_linux.go``), given a :class:`SpecContext` with what the engine resolved (rootfs,
   volume paths, network namespace, generated /etc files, cgroup path).

Choices where Docker has none (documented): ``RLIMIT_NOFILE`` defaults to 1024:524288, each capped
at the daemon's own hard limit (20000 on this machine), because Docker only inherits its shim's
limits (see defaults.md §6). The init for ``--init`` is Debian's static tini, bind-mounted read-only at
``/sbin/docker-init`` like docker-init. ``HOME`` is added from the image's passwd entry when unset,
as runc's init does, so runtimes that do not do it behave the same.
"""

from __future__ import annotations

import os
import re
import resource
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from skiff.engine.containers.seccomp_default import (
    default_profile,
    load_profile,
    normalize_caps,
    resolve_profile,
    tweak_capabilities,
)
from skiff.engine.containers.spec_config import (
    DEFAULT_PATH,
    ContainerConfig,
    DeviceMapping,
    HealthConfig,
    HostConfig,
    ImageConfig,
    Ulimit,
    anonymous_volumes,
    container_env,
    merge_config,
    parse_create,
    validate_restart_policy,
)
from skiff.engine.containers.spec_user import ExecUser, ensure_working_dir, resolve_user, secure_join
from skiff.errors import InvalidParameter
from skiff.volume.mounts import MountSpec, tmpfs_options

__all__ = [
    "HealthConfig", "ImageConfig", "ContainerConfig", "HostConfig", "Ulimit", "DeviceMapping", "SpecContext",
    "ResolvedMount", "ExecUser", "parse_create", "build_spec", "merge_config", "resolve_user", "container_env",
    "DEFAULT_PATH", "DEFAULT_SHM_SIZE", "MASKED_PATHS", "READONLY_PATHS", "INIT_PATH", "DEFAULT_NOFILE",
    "parse_security_opts", "SecurityOpts", "anonymous_volumes", "exec_process", "ensure_working_dir", "secure_join",
    "validate_update", "validate_create",
]

DEFAULT_SHM_SIZE = 64 << 20
DEFAULT_NOFILE = (1024, 524288)
INIT_PATH = "/usr/bin/tini-static"  # static, like docker-init: the image may have no libc
INIT_IN_CONTAINER = "/sbin/docker-init"
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
_NAMESPACED_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                 "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"})
_DEVICE_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


# ---- security options ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SecurityOpts:
    no_new_privileges: bool = False
    seccomp: str = ""  # "" = default profile, "unconfined", or profile JSON
    apparmor: str = ""
    systempaths_unconfined: bool = False
    labels: tuple[str, ...] = ()


def _apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def parse_security_opts(opts: Sequence[str]) -> SecurityOpts:
    """``--security-opt`` values, with dockerd's error texts (daemon/create.go parseSecurityOpt)."""
    nnp, seccomp, apparmor, sysunconf = False, "", "", False
    labels: list[str] = []
    for opt in opts:
        if opt == "no-new-privileges":
            nnp = True
            continue
        if opt == "disable":
            labels.append("disable")
            continue
        key, sep, val = opt.partition("=")
        if not sep:
            key, sep, val = opt.partition(":")
            if not sep:
                raise InvalidParameter(f"Invalid --security-opt: {opt!r}".replace("'", '"'))
        if key == "label":
            labels.append(val)
        elif key == "apparmor":
            if val != "unconfined" and not _apparmor_enabled():
                raise InvalidParameter(f'AppArmor is not enabled on this host: cannot apply profile "{val}" '
                                       f'(--security-opt apparmor={val})')
            apparmor = val
        elif key == "seccomp":
            seccomp = val
        elif key == "no-new-privileges":
            if val.lower() not in ("true", "false", "1", "0"):
                raise InvalidParameter(f"invalid --security-opt 2: {opt!r}".replace("'", '"'))
            nnp = val.lower() in ("true", "1")
        elif key == "systempaths":
            if val != "unconfined":
                raise InvalidParameter(f"invalid --security-opt 2: {opt!r}".replace("'", '"'))
            sysunconf = True
        else:
            raise InvalidParameter(f"invalid --security-opt 2: {opt!r}".replace("'", '"'))
    return SecurityOpts(nnp, seccomp, apparmor, sysunconf, tuple(labels))


# ---- spec ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedMount:
    """A MountSpec with the host path the engine resolved (the volume's data dir for volumes)."""

    spec: MountSpec
    host_path: str = ""


@dataclass(frozen=True)
class SpecContext:
    """What the engine decided before the spec: paths, namespaces, limits of this host."""

    container_id: str
    rootfs: str
    mounts: tuple[ResolvedMount, ...] = ()
    netns_path: str = ""  # joined for bridge/container: networks; "" with a non-host mode = new netns
    ipc_ns_path: str = ""  # for IpcMode container:<id>
    pid_ns_path: str = ""  # for PidMode container:<id>
    shm_path: str = ""  # host dir bind-mounted at /dev/shm for IpcMode host/container:<id>/shareable
    resolv_conf: str = ""
    hosts: str = ""
    hostname_file: str = ""
    cgroups_path: str = ""
    init_path: str = INIT_PATH
    host_hostname: str = ""
    cgroup_v2: bool | None = None
    swap_supported: bool | None = None
    nofile_hard_max: int | None = None
    ncpu: int | None = None
    default_shm_size: int = DEFAULT_SHM_SIZE
    extra_env: tuple[str, ...] = field(default=())


def _mount(dst: str, typ: str, src: str, opts: Sequence[str]) -> dict[str, Any]:
    return {"destination": dst, "type": typ, "source": src, "options": list(opts)}


def _default_mounts(shm_size: int, with_shm: bool) -> list[dict[str, Any]]:
    ms = [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        _mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
        _mount("/sys/fs/cgroup", "cgroup", "cgroup", ["ro", "nosuid", "noexec", "nodev"]),
        _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
    ]
    if with_shm:
        ms.append(_mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"]))
    return ms


def _user_mount(rm: ResolvedMount) -> dict[str, Any]:
    s = rm.spec
    if s.type == "tmpfs":
        return _mount(s.target, "tmpfs", "tmpfs", tmpfs_options(s))
    opts = ["rbind", "ro" if s.read_only else "rw"]
    prop = s.propagation or "rprivate"
    opts.append(prop)
    if s.volume_subpath and rm.host_path:
        return _mount(s.target, "bind", os.path.join(rm.host_path, s.volume_subpath), opts)
    return _mount(s.target, "bind", rm.host_path or s.source, opts)


def _ulimits(host: HostConfig, hard_max: int) -> list[dict[str, Any]]:
    limits: dict[str, tuple[int, int]] = {"RLIMIT_NOFILE": (min(DEFAULT_NOFILE[0], hard_max), min(DEFAULT_NOFILE[1], hard_max))}
    for u in host.ulimits:
        name = "RLIMIT_" + u.name.upper()
        if u.name.lower() not in ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
                                  "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", "as"):
            raise InvalidParameter(f"invalid ulimit type: {u.name}")
        if u.soft > u.hard and u.hard != -1:
            raise InvalidParameter(f"ulimit soft limit must be less than or equal to hard limit: {u.soft} > {u.hard}")
        limits[name] = (u.soft, u.hard)
    return [{"type": k, "hard": h if h >= 0 else 2**64 - 1, "soft": s if s >= 0 else 2**64 - 1}
            for k, (s, h) in limits.items()]


def _resources(host: HostConfig, ctx: SpecContext) -> dict[str, Any]:
    r: dict[str, Any] = {}
    mem: dict[str, Any] = {}
    if host.memory:
        if host.memory < 6 * 1024 * 1024:
            raise InvalidParameter("Minimum memory limit allowed is 6MB")
        mem["limit"] = host.memory
    if host.memory_swap:
        if not host.memory and host.memory_swap > 0:
            raise InvalidParameter("You should always set the Memory limit when using Memoryswap limit, see usage")
        if 0 < host.memory_swap < host.memory:
            raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    if host.memory and host.memory_reservation > host.memory:
        raise InvalidParameter("Minimum memory limit can not be less than memory reservation limit, see usage")
    swap_ok = ctx.swap_supported if ctx.swap_supported is not None else os.path.exists(
        "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") or os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    if host.memory and swap_ok:
        mem["swap"] = host.memory_swap if host.memory_swap else host.memory * 2
    if host.memory_reservation:
        mem["reservation"] = host.memory_reservation
    if host.memory_swappiness is not None:
        if not 0 <= host.memory_swappiness <= 100:
            raise InvalidParameter(f"Invalid value: {host.memory_swappiness}, valid memory swappiness range is 0-100")
        mem["swappiness"] = host.memory_swappiness
    if host.oom_kill_disable is not None:
        mem["disableOOMKiller"] = bool(host.oom_kill_disable)
    if mem:
        r["memory"] = mem
    cpu: dict[str, Any] = {}
    ncpu = ctx.ncpu or os.cpu_count() or 1
    if host.nano_cpus:
        if host.cpu_period:
            raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
        if host.cpu_quota:
            raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
        if host.nano_cpus < 0 or host.nano_cpus > ncpu * 10**9:
            raise InvalidParameter(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
        cpu["period"] = 100000
        cpu["quota"] = host.nano_cpus * 100000 // 10**9
    if host.cpu_period:
        if not 1000 <= host.cpu_period <= 1000000:
            raise InvalidParameter("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
        cpu["period"] = host.cpu_period
    if host.cpu_quota:
        if 0 < host.cpu_quota < 1000:
            raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
        cpu["quota"] = host.cpu_quota
    if host.cpu_shares:
        cpu["shares"] = host.cpu_shares
    if host.cpuset_cpus:
        _check_cpuset(host.cpuset_cpus, ncpu)
        cpu["cpus"] = host.cpuset_cpus
    if host.cpuset_mems:
        cpu["mems"] = host.cpuset_mems
    if cpu:
        r["cpu"] = cpu
    if host.pids_limit is not None and host.pids_limit > 0:
        r["pids"] = {"limit": host.pids_limit}
    if host.blkio_weight:
        if not 10 <= host.blkio_weight <= 1000:
            raise InvalidParameter("Range of blkio weight is from 10 to 1000")
        r["blockIO"] = {"weight": host.blkio_weight}
    return r


def oci_user(u: ExecUser) -> dict[str, Any]:
    """moby's getUser (since 20.10.18, GHSA-rc4r-wh2q-q6c4): the primary group heads the additional
    groups, so `id` in the container lists it, as under Docker."""
    return {"uid": u.uid, "gid": u.gid, "additionalGids": [u.gid, *(g for g in u.additional_gids if g != u.gid)]}


def validate_create(config: ContainerConfig, host: HostConfig, raw_host: Mapping[str, Any]) -> None:
    """moby's verifyContainerSettings at create: what the start would refuse is refused before
    anything is made (docker create fails instead of leaving a container that cannot start)."""
    wd = config.working_dir
    if wd and not wd.startswith("/"):
        raise InvalidParameter(f"the working directory '{wd}' is invalid, it needs to be an absolute path")
    for what, names in (("CapAdd", host.cap_add), ("CapDrop", host.cap_drop)):
        try:
            normalize_caps(names)
        except InvalidParameter as e:
            raise InvalidParameter(f"invalid {what}: {e}") from None
    isolation = str(raw_host.get("Isolation") or "")
    if isolation not in ("", "default"):
        raise InvalidParameter(f"invalid isolation '{isolation}' on linux")
    for env in config.env:  # moby's opts.ValidateEnv: only an empty name is refused
        if not env.partition("=")[0]:
            raise InvalidParameter(f"invalid environment variable: {env}")
    for extra in host.extra_hosts:
        _check_extra_host(extra)
    _check_modes(host)
    _resources(host, SpecContext(container_id="", rootfs=""))


def _check_extra_host(val: str) -> None:
    """moby's opts.ValidateExtraHost (``name:ip``, ip or ``host-gateway``); ``name=ip`` and a
    bracketed IPv6 address are taken too, as the CLI writes them."""
    import ipaddress

    sep = ":" if ":" in val and ("=" not in val or val.index(":") < val.index("=")) else "="
    name, found, ip = val.partition(sep)
    if not found or not name:
        raise InvalidParameter(f'bad format for add-host: "{val}"')
    if ip != "host-gateway":
        try:
            ipaddress.ip_address(ip.removeprefix("[").removesuffix("]"))
        except ValueError:
            raise InvalidParameter(f'invalid IP address in add-host: "{ip}"') from None


def validate_update(body: Mapping[str, Any]) -> None:
    """``docker update``'s body checked as moby does before it looks the container up: the restart
    policy, and the new limits by create's rules (except that swap may change without memory)."""
    rp = body.get("RestartPolicy") or {}
    try:
        validate_restart_policy(str(rp.get("Name") or ""), int(rp.get("MaximumRetryCount") or 0))
        host = HostConfig.from_dict({k: v for k, v in body.items() if k != "RestartPolicy"})
    except (TypeError, ValueError, AttributeError) as e:
        raise InvalidParameter(f"invalid update config: {e}") from None
    if not host.memory and host.memory_swap > 0:
        host = replace(host, memory_swap=0)
    _resources(host, SpecContext(container_id="", rootfs=""))


def _check_cpuset(spec: str, ncpu: int) -> None:
    want: set[int] = set()
    try:
        for part in spec.split(","):
            a, _, b = part.partition("-")
            want.update(range(int(a), int(b or a) + 1))
    except ValueError:
        raise InvalidParameter(f"Invalid value {spec} for cpuset cpus: invalid format: {spec}") from None
    if any(c >= ncpu for c in want):
        avail = "0" if ncpu == 1 else f"0-{ncpu - 1}"
        raise InvalidParameter(f"Requested CPUs are not available - requested {spec}, available: {avail}")


def _device_rules(host: HostConfig) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    for major, minor in ((1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)):
        rules.append({"allow": True, "type": "c", "major": major, "minor": minor, "access": "rwm"})
    rules.append({"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"})
    for rule in host.device_cgroup_rules:
        m = _DEVICE_RULE.match(rule)
        if not m:
            raise InvalidParameter(f"invalid device cgroup rule format: '{rule}'")
        d: dict[str, Any] = {"allow": True, "type": m.group(1), "access": m.group(4)}
        if m.group(2) != "*":
            d["major"] = int(m.group(2))
        if m.group(3) != "*":
            d["minor"] = int(m.group(3))
        rules.append(d)
    return rules


def _device_entry(path: str, dest: str) -> dict[str, Any] | None:
    st = os.stat(path)
    if stat.S_ISCHR(st.st_mode):
        typ = "c"
    elif stat.S_ISBLK(st.st_mode):
        typ = "b"
    else:
        return None
    return {"path": dest, "type": typ, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}


def _devices(host: HostConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(linux.devices, extra cgroup rules) for --device and --privileged."""
    devs: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    if host.privileged:
        for dirpath, dirnames, filenames in os.walk("/dev"):
            dirnames[:] = [d for d in dirnames if d not in ("pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev")]
            for fn in filenames:
                p = os.path.join(dirpath, fn)
                if p == "/dev/console" or os.path.islink(p):
                    continue
                try:
                    e = _device_entry(p, p)
                except OSError:
                    continue
                if e:
                    devs.append(e)
        return devs, [{"allow": True, "access": "rwm"}]
    for dm in host.devices:
        src, dst = dm.path_on_host, dm.path_in_container or dm.path_on_host
        perms = dm.cgroup_permissions or "rwm"
        if not re.fullmatch(r"[rwm]{1,3}", perms):
            raise InvalidParameter(f"invalid device mode: {perms}")
        try:
            entries = []
            if os.path.isdir(src):
                for dirpath, _, filenames in os.walk(src):
                    for fn in filenames:
                        p = os.path.join(dirpath, fn)
                        e = _device_entry(p, os.path.join(dst, os.path.relpath(p, src)))
                        if e:
                            entries.append(e)
            else:
                e = _device_entry(src, dst)
                if e is None:
                    raise InvalidParameter(f'error gathering device information while adding custom device "{src}": '
                                           "not a device node")
                entries.append(e)
        except FileNotFoundError:
            raise InvalidParameter(f'error gathering device information while adding custom device "{src}": '
                                   "no such file or directory")
        for e in entries:
            devs.append(e)
            rules.append({"allow": True, "type": e["type"], "major": e["major"], "minor": e["minor"], "access": perms})
    return devs, rules


def _sysctls(host: HostConfig, net_host: bool, ipc_host: bool) -> dict[str, str]:
    out = {}
    mode = host.network_mode
    if mode != "host" and not mode.startswith("container:"):
        # dockerd (WithSysctls) in every new network namespace: ping without CAP_NET_RAW and ports
        # below 1024 without CAP_NET_BIND_SERVICE; the user's own values win.
        for k, v in (("net.ipv4.ping_group_range", "0 2147483647"), ("net.ipv4.ip_unprivileged_port_start", "0")):
            if os.path.exists("/proc/sys/" + k.replace(".", "/")):
                out[k] = v
    for k, v in host.sysctls:
        if k in _NAMESPACED_SYSCTLS or k.startswith("fs.mqueue."):
            if ipc_host:
                raise InvalidParameter(f"sysctl '{k}' is not allowed in host IPC mode")
        elif k.startswith("net."):
            if net_host:
                raise InvalidParameter(f"sysctl '{k}' is not allowed in host network mode")
        else:
            raise InvalidParameter(f"sysctl '{k}' is not allowed")
        out[k] = v
    return out


def _thermal_paths() -> list[str]:
    base = "/sys/devices/system/cpu"
    try:
        cpus = sorted(d for d in os.listdir(base) if re.fullmatch(r"cpu\d+", d))
    except OSError:
        return []
    return [f"{base}/{c}/thermal_throttle" for c in cpus if os.path.exists(f"{base}/{c}/thermal_throttle")]


def _namespaces(host: HostConfig, ctx: SpecContext, cgroup_v2: bool) -> list[dict[str, str]]:
    ns: list[dict[str, str]] = [{"type": "mount"}]
    net = host.network_mode
    if net != "host":
        if net.startswith("container:") or ctx.netns_path:
            if not ctx.netns_path:
                raise InvalidParameter(f"cannot join network of container: {net.split(':', 1)[1]}")
            ns.append({"type": "network", "path": ctx.netns_path})
        else:
            ns.append({"type": "network"})
    if host.uts_mode != "host":
        ns.append({"type": "uts"})
    if host.pid_mode.startswith("container:"):
        ns.append({"type": "pid", "path": ctx.pid_ns_path})
    elif host.pid_mode != "host":
        ns.append({"type": "pid"})
    ipc = host.ipc_mode
    if ipc.startswith("container:"):
        ns.append({"type": "ipc", "path": ctx.ipc_ns_path})
    elif ipc != "host":
        ns.append({"type": "ipc"})
    cgns = host.cgroupns_mode or ("private" if cgroup_v2 else "host")
    if cgns not in ("private", "host"):
        raise InvalidParameter(f"invalid cgroup namespace mode: {cgns}")
    if cgns == "private":
        ns.append({"type": "cgroup"})
    return ns


def _check_modes(host: HostConfig) -> None:
    if host.ipc_mode and host.ipc_mode not in ("private", "shareable", "host", "none") and \
            not host.ipc_mode.startswith("container:"):
        raise InvalidParameter(f"invalid IPC mode: {host.ipc_mode}")
    if host.pid_mode and host.pid_mode != "host" and not host.pid_mode.startswith("container:"):
        raise InvalidParameter(f"invalid PID mode: {host.pid_mode}")
    if host.uts_mode and host.uts_mode != "host":
        raise InvalidParameter(f"invalid UTS mode: {host.uts_mode}")
    if host.userns_mode and host.userns_mode != "host":
        raise InvalidParameter(f"invalid USER mode: {host.userns_mode}")
    if host.oom_score_adj < -1000 or host.oom_score_adj > 1000:
        raise InvalidParameter(f"Invalid value {host.oom_score_adj}, range for oom score adj is [-1000, 1000]")


def build_spec(image: ImageConfig, config: ContainerConfig, host: HostConfig, ctx: SpecContext) -> dict[str, Any]:
    """The OCI runtime spec (``config.json`` as a dict) for one container, Docker's way."""
    _check_modes(host)
    cfg = merge_config(config, image)
    args = list(cfg.entrypoint or ()) + list(cfg.cmd or ())
    if not args:
        raise InvalidParameter("no command specified")
    cwd = cfg.working_dir or "/"
    if not cwd.startswith("/"):
        raise InvalidParameter(f"the working directory '{cfg.working_dir}' is invalid, it needs to be an absolute path")
    cgroup_v2 = ctx.cgroup_v2 if ctx.cgroup_v2 is not None else os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    net_host = host.network_mode == "host"
    if cfg.hostname:
        hostname = cfg.hostname
    elif net_host or host.uts_mode == "host":
        hostname = ctx.host_hostname or os.uname().nodename
    else:
        hostname = ctx.container_id[:12]
    sec = parse_security_opts(host.security_opt)
    user = resolve_user(ctx.rootfs, cfg.user, host.group_add)
    env = container_env(list(ctx.extra_env) + list(cfg.env), hostname, cfg.tty)
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    init = bool(host.init)
    if init:
        if not os.path.exists(ctx.init_path):
            raise InvalidParameter(f"exec: \"{ctx.init_path}\": executable file not found in $PATH "
                                   "(the init for --init is missing on the host)")
        args = [INIT_IN_CONTAINER, "--", *args]
    caps = tweak_capabilities(host.cap_add, host.cap_drop, host.privileged)
    hard = ctx.nofile_hard_max if ctx.nofile_hard_max is not None else resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard < 0:
        hard = DEFAULT_NOFILE[1]
    process: dict[str, Any] = {
        "terminal": cfg.tty,
        "user": oci_user(user),
        "args": args, "env": env, "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": _ulimits(host, hard),
        "noNewPrivileges": sec.no_new_privileges,
    }
    if cfg.tty and host.console_size != (0, 0):
        process["consoleSize"] = {"height": host.console_size[0], "width": host.console_size[1]}
    if host.oom_score_adj:
        process["oomScoreAdj"] = host.oom_score_adj
    if sec.apparmor and sec.apparmor != "unconfined":
        process["apparmorProfile"] = sec.apparmor

    # mounts: defaults not shadowed by the user's, then the user's, then /etc files and init
    ipc = host.ipc_mode or "private"
    if host.shm_size < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    shm_size = host.shm_size or ctx.default_shm_size
    with_shm = ipc in ("private", "shareable") and not ctx.shm_path
    user_mounts = [_user_mount(m) for m in ctx.mounts]
    if (ipc in ("host", "shareable") or ipc.startswith("container:")) and (ctx.shm_path or ipc == "host"):
        user_mounts.append(_mount("/dev/shm", "bind", ctx.shm_path or "/dev/shm", ["rbind", "rprivate"]))
    etc_ro = ["rbind", "rprivate"] + (["ro"] if host.readonly_rootfs else [])
    for dst, src in (("/etc/resolv.conf", ctx.resolv_conf), ("/etc/hostname", ctx.hostname_file),
                     ("/etc/hosts", ctx.hosts)):
        if src and not any(m["destination"] == dst for m in user_mounts):
            user_mounts.append(_mount(dst, "bind", src, etc_ro))
    if init:
        user_mounts.append(_mount(INIT_IN_CONTAINER, "bind", ctx.init_path, ["bind", "ro"]))
    taken = {m["destination"] for m in user_mounts}
    defaults = [m for m in _default_mounts(shm_size, with_shm) if m["destination"] not in taken]
    if host.privileged:
        for m in defaults:
            if m["destination"] in ("/sys", "/sys/fs/cgroup"):
                m["options"] = ["rw" if o == "ro" else o for o in m["options"]]
    if cgroup_v2:
        for m in defaults:
            if m["destination"] == "/sys/fs/cgroup":
                m["type"] = m["source"] = "cgroup2"
    user_mounts.sort(key=lambda m: len([p for p in m["destination"].split("/") if p]))
    mounts = defaults + user_mounts

    devices, dev_rules = _devices(host)
    resources = _resources(host, ctx)
    resources["devices"] = (_device_rules(host) + dev_rules) if not host.privileged else dev_rules
    linux: dict[str, Any] = {
        "namespaces": _namespaces(host, ctx, cgroup_v2),
        "resources": resources,
        "devices": devices,
        "sysctl": _sysctls(host, net_host, ipc == "host"),
    }
    if ctx.cgroups_path:
        linux["cgroupsPath"] = ctx.cgroups_path
    confined = not host.privileged and not sec.systempaths_unconfined
    masked = list(host.masked_paths) if host.masked_paths is not None else [*MASKED_PATHS, *_thermal_paths()]
    ro_paths = list(host.readonly_paths) if host.readonly_paths is not None else list(READONLY_PATHS)
    linux["maskedPaths"] = masked if confined else []
    linux["readonlyPaths"] = ro_paths if confined else []
    if any(m.spec.propagation in ("shared", "rshared") for m in ctx.mounts):
        linux["rootfsPropagation"] = "shared"
    elif any(m.spec.propagation in ("slave", "rslave") for m in ctx.mounts):
        linux["rootfsPropagation"] = "rslave"
    if not host.privileged and sec.seccomp != "unconfined":
        if sec.seccomp in ("", "builtin"):
            profile = default_profile()
        elif sec.seccomp.lstrip().startswith("{"):
            profile = load_profile(sec.seccomp)
        else:
            try:
                with open(sec.seccomp) as f:
                    profile = load_profile(f.read())
            except OSError as e:
                raise InvalidParameter(f"opening seccomp profile ({sec.seccomp}) failed: {e.strerror}")
        seccomp = resolve_profile(profile, caps)
        if seccomp is not None:
            linux["seccomp"] = seccomp
    spec: dict[str, Any] = {
        "ociVersion": "1.1.0",
        "process": process,
        "root": {"path": ctx.rootfs, "readonly": host.readonly_rootfs},
        "mounts": mounts,
        "linux": linux,
    }
    if host.uts_mode != "host":
        spec["hostname"] = hostname
        if cfg.domainname:
            spec["domainname"] = cfg.domainname
    if host.annotations:
        spec["annotations"] = dict(host.annotations)
    return spec


def exec_process(spec: dict[str, Any], cmd: Sequence[str], *, env: Sequence[str] = (), user: str = "",
                 working_dir: str = "", tty: bool = False, privileged: bool = False,
                 rootfs: str = "") -> dict[str, Any]:
    """The OCI process for ``docker exec``: the container's process with dockerd's exec overrides.

    Env is the container's plus ``env`` (and TERM=xterm with a TTY), the user is resolved in the
    image (``rootfs``) when given, ``privileged`` gives every capability, the rest (rlimits,
    no-new-privileges, AppArmor) is the container's.
    """
    base = spec["process"]
    if not cmd:
        raise InvalidParameter("No exec command specified")
    proc: dict[str, Any] = {k: v for k, v in base.items() if k not in ("consoleSize", "oomScoreAdj")}
    merged = list(base.get("env", []))
    if tty and not any(e.startswith("TERM=") for e in merged):
        merged.append("TERM=xterm")
    index = {e.split("=", 1)[0]: i for i, e in enumerate(merged)}
    for e in env:
        key = e.split("=", 1)[0]
        if "=" not in e:
            continue
        if key in index:
            merged[index[key]] = e
        else:
            index[key] = len(merged)
            merged.append(e)
    proc.update(args=list(cmd), env=merged, terminal=tty, cwd=working_dir or base.get("cwd", "/"))
    if not proc["cwd"].startswith("/"):
        raise InvalidParameter(f"the working directory '{working_dir}' is invalid, it needs to be an absolute path")
    if user:
        u = resolve_user(rootfs, user)
        proc["user"] = oci_user(u)
    if privileged:
        caps = list(tweak_capabilities((), (), True))
        proc["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    return proc
