"""The parsed ``POST /containers/create`` body and the image config, as frozen dataclasses.

``parse_create`` is the edge: the API handler calls it once; everything after works on these.
``merge_config`` and ``container_env`` are dockerd's merge of image and container settings
(daemon/commit.go ``merge``, container ``CreateDaemonEnvironment``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from skiff.errors import InvalidParameter
from skiff.volume.mounts import MountSpec, parse_all

__all__ = [
    "HealthConfig", "ImageConfig", "ContainerConfig", "HostConfig", "Ulimit", "DeviceMapping",
    "parse_create", "merge_config", "container_env", "anonymous_volumes", "DEFAULT_PATH",
    "validate_restart_policy",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _t(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    return tuple(str(x) for x in v)


def _opt_t(v: Any) -> tuple[str, ...] | None:
    return None if v is None else _t(v)


@dataclass(frozen=True)
class HealthConfig:
    test: tuple[str, ...] = ()
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    start_interval_ns: int = 0
    retries: int = 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> HealthConfig | None:
        if not d:
            return None
        return cls(_t(d.get("Test")), int(d.get("Interval") or 0), int(d.get("Timeout") or 0),
                   int(d.get("StartPeriod") or 0), int(d.get("StartInterval") or 0), int(d.get("Retries") or 0))


@dataclass(frozen=True)
class ImageConfig:
    """The image's ``config`` object (only what a container needs)."""

    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    volumes: tuple[str, ...] = ()
    exposed_ports: tuple[str, ...] = ()
    stop_signal: str = ""
    healthcheck: HealthConfig | None = None
    labels: tuple[tuple[str, str], ...] = ()
    shell: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> ImageConfig:
        d = d or {}
        return cls(env=_t(d.get("Env")), cmd=_opt_t(d.get("Cmd")), entrypoint=_opt_t(d.get("Entrypoint")),
                   working_dir=str(d.get("WorkingDir") or ""), user=str(d.get("User") or ""),
                   volumes=tuple(sorted(d.get("Volumes") or {})), exposed_ports=tuple(sorted(d.get("ExposedPorts") or {})),
                   stop_signal=str(d.get("StopSignal") or ""), healthcheck=HealthConfig.from_dict(d.get("Healthcheck")),
                   labels=tuple(sorted((d.get("Labels") or {}).items())), shell=_t(d.get("Shell")))


@dataclass(frozen=True)
class ContainerConfig:
    """The API's container ``Config``."""

    image: str = ""
    hostname: str = ""
    domainname: str = ""
    user: str = ""
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str = ""
    stop_timeout: int | None = None
    healthcheck: HealthConfig | None = None
    network_disabled: bool = False

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> ContainerConfig:
        d = d or {}
        ep = d.get("Entrypoint")
        entrypoint = _opt_t(ep)
        if entrypoint == ("",):  # `--entrypoint ""`: clear the image's entrypoint
            entrypoint = ()
        st = d.get("StopTimeout")
        return cls(image=str(d.get("Image") or ""), hostname=str(d.get("Hostname") or ""),
                   domainname=str(d.get("Domainname") or ""), user=str(d.get("User") or ""),
                   tty=bool(d.get("Tty")), open_stdin=bool(d.get("OpenStdin")), stdin_once=bool(d.get("StdinOnce")),
                   attach_stdin=bool(d.get("AttachStdin")), attach_stdout=bool(d.get("AttachStdout")),
                   attach_stderr=bool(d.get("AttachStderr")), env=_t(d.get("Env")), cmd=_opt_t(d.get("Cmd")) or None,
                   entrypoint=entrypoint, working_dir=str(d.get("WorkingDir") or ""),
                   labels=tuple(sorted((d.get("Labels") or {}).items())),
                   exposed_ports=tuple(sorted(d.get("ExposedPorts") or {})), volumes=tuple(sorted(d.get("Volumes") or {})),
                   stop_signal=str(d.get("StopSignal") or ""), stop_timeout=None if st is None else int(st),
                   healthcheck=HealthConfig.from_dict(d.get("Healthcheck")),
                   network_disabled=bool(d.get("NetworkDisabled")))


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class DeviceMapping:
    path_on_host: str
    path_in_container: str = ""
    cgroup_permissions: str = "rwm"


@dataclass(frozen=True)
class HostConfig:
    """The API's ``HostConfig`` (the fields Skiff acts on; unknown ones are ignored as Docker does).

    ``mounts`` holds every mount asked for, parsed and checked for duplicates: ``Binds`` first, then
    ``Mounts``, then ``Tmpfs``; ``binds``/``tmpfs`` keep the raw values for inspect.
    """

    binds: tuple[str, ...] = ()
    mounts: tuple[MountSpec, ...] = ()
    tmpfs: tuple[tuple[str, str], ...] = ()
    volumes_from: tuple[str, ...] = ()
    volume_driver: str = ""
    network_mode: str = ""
    ipc_mode: str = ""
    pid_mode: str = ""
    uts_mode: str = ""
    cgroupns_mode: str = ""
    userns_mode: str = ""
    privileged: bool = False
    readonly_rootfs: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    init: bool | None = None
    shm_size: int = 0
    sysctls: tuple[tuple[str, str], ...] = ()
    group_add: tuple[str, ...] = ()
    devices: tuple[DeviceMapping, ...] = ()
    device_cgroup_rules: tuple[str, ...] = ()
    oom_score_adj: int = 0
    ulimits: tuple[Ulimit, ...] = ()
    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    memory_swappiness: int | None = None
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int | None = None
    oom_kill_disable: bool | None = None
    blkio_weight: int = 0
    masked_paths: tuple[str, ...] | None = None
    readonly_paths: tuple[str, ...] | None = None
    log_type: str = ""
    log_config: tuple[tuple[str, str], ...] = ()
    restart_policy: str = "no"
    restart_max_retries: int = 0
    auto_remove: bool = False
    console_size: tuple[int, int] = (0, 0)
    runtime: str = ""
    cgroup_parent: str = ""
    annotations: tuple[tuple[str, str], ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    port_bindings: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    publish_all_ports: bool = False

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> HostConfig:
        d = d or {}
        mounts = parse_all(binds=d.get("Binds") or (), mounts=d.get("Mounts") or (), tmpfs=d.get("Tmpfs") or {},
                           volume_driver=str(d.get("VolumeDriver") or ""))
        rp = d.get("RestartPolicy") or {}
        lc = d.get("LogConfig") or {}
        ulimits = []
        for u in d.get("Ulimits") or []:
            ulimits.append(Ulimit(str(u.get("Name", "")), int(u.get("Soft", 0)), int(u.get("Hard", 0))))
        devices = [DeviceMapping(str(x.get("PathOnHost", "")), str(x.get("PathInContainer") or ""),
                                 str(x.get("CgroupPermissions") or "rwm")) for x in d.get("Devices") or []]
        pids = d.get("PidsLimit")
        cs = d.get("ConsoleSize") or (0, 0)
        ports = tuple(sorted((p, tuple((str(b.get("HostIp") or ""), str(b.get("HostPort") or "")) for b in (bs or [])))
                             for p, bs in (d.get("PortBindings") or {}).items()))
        return cls(
            binds=_t(d.get("Binds")), mounts=tuple(mounts), tmpfs=tuple((d.get("Tmpfs") or {}).items()),
            volumes_from=_t(d.get("VolumesFrom")), volume_driver=str(d.get("VolumeDriver") or ""),
            network_mode=str(d.get("NetworkMode") or ""), ipc_mode=str(d.get("IpcMode") or ""),
            pid_mode=str(d.get("PidMode") or ""), uts_mode=str(d.get("UTSMode") or ""),
            cgroupns_mode=str(d.get("CgroupnsMode") or ""), userns_mode=str(d.get("UsernsMode") or ""),
            privileged=bool(d.get("Privileged")), readonly_rootfs=bool(d.get("ReadonlyRootfs")),
            cap_add=_t(d.get("CapAdd")), cap_drop=_t(d.get("CapDrop")), security_opt=_t(d.get("SecurityOpt")),
            init=d.get("Init"), shm_size=int(d.get("ShmSize") or 0),
            sysctls=tuple(sorted((d.get("Sysctls") or {}).items())), group_add=_t(d.get("GroupAdd")),
            devices=tuple(devices), device_cgroup_rules=_t(d.get("DeviceCgroupRules")),
            oom_score_adj=int(d.get("OomScoreAdj") or 0), ulimits=tuple(ulimits),
            memory=int(d.get("Memory") or 0), memory_swap=int(d.get("MemorySwap") or 0),
            memory_reservation=int(d.get("MemoryReservation") or 0),
            memory_swappiness=None if d.get("MemorySwappiness") in (None, -1) else int(d["MemorySwappiness"]),
            nano_cpus=int(d.get("NanoCpus") or 0), cpu_shares=int(d.get("CpuShares") or 0),
            cpu_quota=int(d.get("CpuQuota") or 0), cpu_period=int(d.get("CpuPeriod") or 0),
            cpuset_cpus=str(d.get("CpusetCpus") or ""), cpuset_mems=str(d.get("CpusetMems") or ""),
            pids_limit=None if pids is None else int(pids), oom_kill_disable=d.get("OomKillDisable"),
            blkio_weight=int(d.get("BlkioWeight") or 0),
            masked_paths=_opt_t(d.get("MaskedPaths")), readonly_paths=_opt_t(d.get("ReadonlyPaths")),
            log_type=str(lc.get("Type") or ""), log_config=tuple(sorted((lc.get("Config") or {}).items())),
            restart_policy=str(rp.get("Name") or "no"), restart_max_retries=int(rp.get("MaximumRetryCount") or 0),
            auto_remove=bool(d.get("AutoRemove")), console_size=(int(cs[0] or 0), int(cs[1] or 0)),
            runtime=str(d.get("Runtime") or ""), cgroup_parent=str(d.get("CgroupParent") or ""),
            annotations=tuple(sorted((d.get("Annotations") or {}).items())), dns=_t(d.get("Dns")),
            dns_search=_t(d.get("DnsSearch")), dns_options=_t(d.get("DnsOptions")),
            extra_hosts=_t(d.get("ExtraHosts")), port_bindings=ports,
            publish_all_ports=bool(d.get("PublishAllPorts")),
        )


def anonymous_volumes(cfg: ContainerConfig, host: HostConfig) -> list[MountSpec]:
    """Image/Config ``Volumes`` not covered by a user mount: each becomes an anonymous volume."""
    taken = {m.target for m in host.mounts}
    return [MountSpec(type="volume", target=v.rstrip("/") or "/") for v in cfg.volumes
            if (v.rstrip("/") or "/") not in taken]


def validate_restart_policy(name: str, max_retries: int) -> None:
    """moby's ValidateRestartPolicy (v25+ texts), shared by create and update."""
    if name in ("always", "unless-stopped", "no"):
        if max_retries:
            msg = "invalid restart policy: maximum retry count can only be used with 'on-failure'"
            raise InvalidParameter(msg + (" and cannot be negative" if max_retries < 0 else ""))
    elif name == "on-failure":
        if max_retries < 0:
            raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    elif name != "":
        raise InvalidParameter(f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
                               "'on-failure', or 'unless-stopped'")


def parse_create(body: Mapping[str, Any]) -> tuple[ContainerConfig, HostConfig]:
    """The body of ``POST /containers/create`` -> (Config, HostConfig); InvalidParameter on bad input."""
    if not isinstance(body, Mapping):
        raise InvalidParameter("invalid JSON: container config must be an object")
    try:
        return ContainerConfig.from_dict(body), HostConfig.from_dict(body.get("HostConfig"))
    except (TypeError, ValueError, AttributeError) as e:
        raise InvalidParameter(f"invalid container config: {e}")


def merge_config(config: ContainerConfig, image: ImageConfig) -> ContainerConfig:
    """dockerd's merge of the image config into the container config (daemon/commit.go)."""
    env = list(config.env)
    if not env:
        env = list(image.env)
    else:
        keys = {e.split("=", 1)[0] for e in env}
        env += [e for e in image.env if e.split("=", 1)[0] not in keys]
    cmd, entrypoint = config.cmd, config.entrypoint
    if not entrypoint:
        if not cmd:
            cmd = image.cmd
        if entrypoint is None:
            entrypoint = image.entrypoint
    return replace(config, env=tuple(env), cmd=cmd, entrypoint=entrypoint,
                   user=config.user or image.user, working_dir=config.working_dir or image.working_dir,
                   labels=tuple(sorted({**dict(image.labels), **dict(config.labels)}.items())),
                   exposed_ports=tuple(sorted(set(config.exposed_ports) | set(image.exposed_ports))),
                   volumes=tuple(sorted(set(config.volumes) | set(image.volumes))),
                   stop_signal=config.stop_signal or image.stop_signal,
                   healthcheck=config.healthcheck or image.healthcheck)


def container_env(env: Sequence[str], hostname: str, tty: bool) -> list[str]:
    """CreateDaemonEnvironment + ReplaceOrAppendEnvValues: PATH, HOSTNAME, TERM first, then the rest."""
    out: list[str] = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if tty:
        out.append("TERM=xterm")
    index = {e.split("=", 1)[0]: i for i, e in enumerate(out)}
    drop: set[str] = set()
    for e in env:
        key = e.split("=", 1)[0]
        if "=" not in e:
            drop.add(key)
            continue
        drop.discard(key)
        if key in index:
            out[index[key]] = e
        else:
            index[key] = len(out)
            out.append(e)
    return [e for e in out if e.split("=", 1)[0] not in drop]


