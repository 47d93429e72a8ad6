"""``run``/``create`` flags -> the ``POST /containers/create`` body, as docker's CLI builds it."""

from __future__ import annotations

import argparse
import re
from typing import Any

from skiff.cli.exitcodes import UsageError

__all__ = ["add_create_flags", "build_create_body", "parse_bytes", "read_env_file", "parse_duration_ns"]

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def parse_bytes(value: str) -> int:
    """docker's RAMInBytes: 64m, 1g, 512k, 1024 (binary units)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*", value.lower())
    if not m:
        raise UsageError(f"invalid size: '{value}'")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _flag_bytes(value: str | None, flag: str) -> int:
    """A size flag (-m, --shm-size, ...): docker rejects a bad value while parsing flags."""
    if not value:
        return 0
    try:
        return parse_bytes(value)
    except UsageError as exc:
        raise UsageError(f'invalid argument "{value}" for "{flag}" flag: {exc.message}') from None


def parse_duration_ns(value: str) -> int:
    from skiff.cli.units import parse_go_duration
    secs = parse_go_duration(value)
    if secs is None:
        raise UsageError(f'invalid argument "{value}": time: invalid duration "{value}"')
    return int(secs * 1e9)


def read_env_file(path: str) -> list[str]:
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def add_create_flags(p: argparse.ArgumentParser) -> None:
    a = p.add_argument
    a("--add-host", action="append", help="Add a custom host-to-IP mapping (host:ip)")
    a("--annotation", action="append", metavar="map",
      help="Add an annotation to the container (passed through to the OCI runtime) (default map[])")
    a("-a", "--attach", action="append", help="Attach to STDIN, STDOUT or STDERR")
    a("--blkio-weight", type=int, default=0, metavar="uint16",
      help="Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
    a("--blkio-weight-device", action="append", help="Block IO weight (relative device weight) (default [])")
    a("--cap-add", action="append", help="Add Linux capabilities")
    a("--cap-drop", action="append", help="Drop Linux capabilities")
    a("--cgroup-parent", help="Optional parent cgroup for the container")
    a("--cgroupns", help="Cgroup namespace to use (host|private)\n'host':    Run the container in the Docker host's "
      "cgroup namespace\n'private': Run the container in its own private cgroup namespace\n'':        Use the "
      "cgroup namespace as configured by the\n           default-cgroupns-mode option on the daemon (default)")
    a("--cidfile", help="Write the container ID to the file")
    a("--cpu-period", type=int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) period")
    a("--cpu-quota", type=int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) quota")
    a("--cpu-rt-period", type=int, default=0, help="Limit CPU real-time period in microseconds")
    a("--cpu-rt-runtime", type=int, default=0, help="Limit CPU real-time runtime in microseconds")
    a("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight)")
    a("--cpus", metavar="decimal", help="Number of CPUs")
    a("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    a("--cpuset-mems", help="MEMs in which to allow execution (0-3, 0,1)")
    a("--device", action="append", help="Add a host device to the container")
    a("--device-cgroup-rule", action="append", help="Add a rule to the cgroup allowed devices list")
    a("--device-read-bps", action="append", help="Limit read rate (bytes per second) from a device (default [])")
    a("--device-read-iops", action="append", help="Limit read rate (IO per second) from a device (default [])")
    a("--device-write-bps", action="append", help="Limit write rate (bytes per second) to a device (default [])")
    a("--device-write-iops", action="append", help="Limit write rate (IO per second) to a device (default [])")
    a("--disable-content-trust", nargs="?", const="true", metavar="", help="Skip image verification (default true)")
    a("--dns", action="append", help="Set custom DNS servers")
    a("--dns-option", action="append", help="Set DNS options")
    a("--dns-search", action="append", help="Set custom DNS search domains")
    a("--domainname", help="Container NIS domain name")
    a("--entrypoint", help="Overwrite the default ENTRYPOINT of the image")
    a("-e", "--env", action="append", help="Set environment variables")
    a("--env-file", action="append", help="Read in a file of environment variables")
    a("--expose", action="append", help="Expose a port or a range of ports")
    a("--gpus", metavar="gpu-request", help="GPU devices to add to the container ('all' to pass all GPUs)")
    a("--group-add", action="append", help="Add additional groups to join")
    a("--health-cmd", help="Command to run to check health")
    a("--health-interval", metavar="duration", help="Time between running the check (ms|s|m|h) (default 0s)")
    a("--health-retries", type=int, default=0, help="Consecutive failures needed to report unhealthy")
    a("--health-start-period", metavar="duration", help="Start period for the container to initialize before "
      "starting health-retries countdown (ms|s|m|h) (default 0s)")
    a("--health-start-interval", metavar="duration",
      help="Time between running the check during the start period (ms|s|m|h) (default 0s)")
    a("--health-timeout", metavar="duration", help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
    helper = p._option_string_actions.pop("-h", None)  # docker: -h is --hostname here, help is --help only
    if helper is not None:
        helper.option_strings = [o for o in helper.option_strings if o != "-h"]
    a("-h", "--hostname", help="Container host name")
    a("--init", action="store_true", default=None, help="Run an init inside the container that forwards signals and reaps processes")
    a("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    a("--ipc", help="IPC mode to use")
    a("--isolation", help="Container isolation technology")
    a("--kernel-memory", metavar="bytes", help="Kernel memory limit")
    a("-l", "--label", action="append", help="Set meta data on a container")
    a("--label-file", action="append", help="Read in a line delimited file of labels")
    a("--log-driver", help="Logging driver for the container")
    a("--log-opt", action="append", help="Log driver options")
    a("-m", "--memory", metavar="bytes", help="Memory limit")
    a("--memory-reservation", metavar="bytes", help="Memory soft limit")
    a("--memory-swap", metavar="bytes", help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    a("--memory-swappiness", type=int, default=-1, help="Tune container memory swappiness (0 to 100)")
    a("--mount", action="append", metavar="mount", help="Attach a filesystem mount to the container")
    a("--name", help="Assign a name to the container")
    a("--network", "--net", metavar="network", help="Connect a container to a network")
    a("--network-alias", action="append", help="Add network-scoped alias for the container")
    a("--ip", help="IPv4 address (e.g., 172.30.100.104)")
    a("--ip6", help="IPv6 address (e.g., 2001:db8::33)")
    a("--mac-address", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)")
    a("--link", action="append", help="Add link to another container")
    a("--link-local-ip", action="append", help="Container IPv4/IPv6 link-local addresses")
    a("--no-healthcheck", action="store_true", help="Disable any container-specified HEALTHCHECK")
    a("--oom-kill-disable", action="store_true", default=None, help="Disable OOM Killer")
    a("--oom-score-adj", type=int, default=0, help="Tune host's OOM preferences (-1000 to 1000)")
    a("--pid", help="PID namespace to use")
    a("--pids-limit", type=int, default=None, help="Tune container pids limit (set -1 for unlimited)")
    a("--platform", help="Set platform if server is multi-platform capable")
    a("--privileged", action="store_true", help="Give extended privileges to this container")
    a("-p", "--publish", action="append", help="Publish a container's port(s) to the host")
    a("-P", "--publish-all", action="store_true", help="Publish all exposed ports to random ports")
    a("--pull", default="missing", help='Pull image before running ("always", "missing", "never")')
    a("-q", "--quiet", action="store_true", help="Suppress the pull output")
    a("--read-only", action="store_true", help="Mount the container's root filesystem as read only")
    a("--restart", default="no", help="Restart policy to apply when a container exits")
    a("--rm", action="store_true", help="Automatically remove the container and its associated anonymous volumes when it exits")
    a("--runtime", help="Runtime to use for this container")
    a("--security-opt", action="append", help="Security Options")
    a("--shm-size", metavar="bytes", help="Size of /dev/shm")
    a("--stop-signal", help="Signal to stop the container")
    a("--stop-timeout", type=int, default=None, help="Timeout (in seconds) to stop a container")
    a("--storage-opt", action="append", help="Storage driver options for the container")
    a("--sysctl", action="append", metavar="map", help="Sysctl options (default map[])")
    a("--tmpfs", action="append", help="Mount a tmpfs directory")
    a("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    a("--ulimit", action="append", metavar="ulimit", help="Ulimit options (default [])")
    a("--use-api-socket", action="store_true", help="Bind mount Docker API socket and required auth")
    a("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])")
    a("--userns", help="User namespace to use")
    a("--uts", help="UTS namespace to use")
    a("-v", "--volume", action="append", help="Bind mount a volume")
    a("--volume-driver", help="Optional volume driver for the container")
    a("--volumes-from", action="append", help="Mount volumes from the specified container(s)")
    a("-w", "--workdir", help="Working directory inside the container")


def _file_lines(paths: list[str] | None) -> list[str]:
    """--label-file/--env-file contents: non-empty lines that are not comments."""
    out: list[str] = []
    for path in paths or []:
        out += read_env_file(path)
    return out


def _dev_pairs(items: list[str] | None) -> list[tuple[str, str]]:
    """--device-read-bps /dev/sda:1mb and friends -> (path, value)."""
    out = []
    for raw in items or []:
        path, sep, value = raw.rpartition(":")
        if not sep or not path.startswith("/dev/"):
            raise UsageError(f"bad format: {raw}")
        out.append((path, value))
    return out


def _gpus(value: str | None) -> list[dict[str, Any]] | None:
    """--gpus all | N | device=0,1 -> DeviceRequests (docker's GpuOpts, common forms)."""
    if not value:
        return None
    req: dict[str, Any] = {"Driver": "", "Count": 0, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": {}}
    v = value.strip('"')
    if v == "all":
        req["Count"] = -1
    elif v.isdigit():
        req["Count"] = int(v)
    elif v.startswith("device="):
        req["DeviceIDs"] = v[len("device="):].split(",")
    else:
        raise UsageError(f'invalid argument "{value}" for "--gpus" flag: unexpected key \'{v.split("=")[0]}\' '
                         "in '" + v + "'")
    return [req]


def _caps(items: list[str] | None) -> list[str] | None:
    """docker's NormalizeCapabilities: upper case with the CAP_ prefix ("ALL" stays)."""
    if not items:
        return None
    out = []
    for c in items:
        c = c.strip().upper()
        out.append(c if c == "ALL" or c.startswith("CAP_") else "CAP_" + c)
    return out


def _kv(items: list[str] | None) -> dict[str, str]:
    out = {}
    for raw in items or []:
        k, _, v = raw.partition("=")
        out[k] = v
    return out


def _parse_mount(raw: str) -> dict[str, Any]:
    fields: dict[str, str] = {}
    for x in raw.split(","):
        k, sep, v = x.partition("=")
        fields[k] = v if sep else "true"
    typ = fields.pop("type", "volume")
    m: dict[str, Any] = {"Type": typ}
    for k, v in fields.items():
        if k in ("source", "src"):
            m["Source"] = v
        elif k in ("target", "dst", "destination"):
            m["Target"] = v
        elif k in ("readonly", "ro"):
            m["ReadOnly"] = v in ("true", "1")
        elif k == "bind-propagation":
            m.setdefault("BindOptions", {})["Propagation"] = v
        elif k == "tmpfs-size":
            m.setdefault("TmpfsOptions", {})["SizeBytes"] = parse_bytes(v)
        elif k == "tmpfs-mode":
            m.setdefault("TmpfsOptions", {})["Mode"] = int(v, 8)
        elif k == "volume-nocopy":
            m.setdefault("VolumeOptions", {})["NoCopy"] = v in ("true", "1")
        elif k == "volume-opt":
            ok, _, ov = v.partition("=")
            m.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {"Name": "local", "Options": {}})[
                "Options"][ok] = ov
    return m


def _range(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1)) if lo else []


def _ports(publish: list[str] | None) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    """-p [ip:][hostPort[-end]:]containerPort[-end][/proto], ranges expanded as docker's nat.ParsePortSpec."""
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for raw in publish or []:
        spec, _, proto = raw.partition("/")
        proto = proto or "tcp"
        ip = ""
        if spec.startswith("["):  # [::1]:8080:80
            ip, _, spec = spec[1:].partition("]")
            spec = spec.lstrip(":")
        parts = spec.rsplit(":", 2)
        host, cport = "", parts[-1]
        if len(parts) == 2:
            host = parts[0]
        elif len(parts) == 3:
            ip, host = ip or parts[0], parts[1]
        try:
            cports = _range(cport)
        except ValueError:
            raise UsageError(f"invalid containerPort: {cport}") from None
        try:
            hports = _range(host)
        except ValueError:
            raise UsageError(f"invalid hostPort: {host}") from None
        if hports and len(hports) != len(cports) and len(cports) != 1:
            raise UsageError(f"invalid ranges specified for container and host Ports: {cport} and {host}")
        for i, cp in enumerate(cports):
            key = f"{cp}/{proto}"
            exposed[key] = {}
            if len(cports) == 1 and len(hports) > 1:  # one container port, a host range: any one of them
                hp = f"{hports[0]}-{hports[-1]}"
            else:
                hp = str(hports[i]) if hports else ""
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": hp})
    return exposed, bindings


def build_create_body(ns: argparse.Namespace, tty_size: tuple[int, int] | None = None) -> dict[str, Any]:
    image, cmd = ns.args[0], ns.args[1:]
    env = []
    for path in ns.env_file or []:
        env += read_env_file(path)
    env += list(ns.env or [])
    attach = set(ns.attach or [])
    detach = bool(getattr(ns, "detach", False))
    exposed, bindings = _ports(ns.publish)
    for e in ns.expose or []:
        exposed[e if "/" in e else f"{e}/tcp"] = {}
    cfg: dict[str, Any] = {
        "Hostname": ns.hostname or "", "Domainname": ns.domainname or "", "User": ns.user or "",
        "AttachStdin": not detach and (ns.interactive or "stdin" in attach),
        "AttachStdout": not detach and (not attach or "stdout" in attach),
        "AttachStderr": not detach and (not attach or "stderr" in attach),
        "Tty": ns.tty, "OpenStdin": ns.interactive, "StdinOnce": ns.interactive and not detach,
        "Env": env, "Cmd": cmd or None, "Image": image, "Volumes": {}, "WorkingDir": ns.workdir or "",
        "Entrypoint": None if ns.entrypoint is None else ([ns.entrypoint] if ns.entrypoint else [""]),
        "Labels": _kv([*_file_lines(ns.label_file), *(ns.label or [])]), "ExposedPorts": exposed or None,
    }
    if ns.stop_signal:
        cfg["StopSignal"] = ns.stop_signal
    if ns.stop_timeout is not None:
        cfg["StopTimeout"] = ns.stop_timeout
    if ns.no_healthcheck:
        cfg["Healthcheck"] = {"Test": ["NONE"]}
    elif ns.health_cmd:
        hc: dict[str, Any] = {"Test": ["CMD-SHELL", ns.health_cmd]}
        for flag, key in (("health_interval", "Interval"), ("health_timeout", "Timeout"),
                          ("health_start_period", "StartPeriod"), ("health_start_interval", "StartInterval")):
            if getattr(ns, flag):
                hc[key] = parse_duration_ns(getattr(ns, flag))
        if ns.health_retries:
            hc["Retries"] = ns.health_retries
        cfg["Healthcheck"] = hc
    policy, _, count = (ns.restart or "no").partition(":")
    if ns.rm and policy not in ("", "no"):
        raise UsageError("conflicting options: cannot specify both --restart and --rm")
    ulimits = []
    for u in ns.ulimit or []:
        name, _, val = u.partition("=")
        soft, _, hard = val.partition(":")
        ulimits.append({"Name": name, "Soft": int(soft), "Hard": int(hard or soft)})
    devices = []
    for d in ns.device or []:
        parts = d.split(":")
        devices.append({"PathOnHost": parts[0], "PathInContainer": parts[1] if len(parts) > 1 else parts[0],
                        "CgroupPermissions": parts[2] if len(parts) > 2 else "rwm"})
    tmpfs = {}
    for t in ns.tmpfs or []:
        path, _, opts = t.partition(":")
        tmpfs[path] = opts
    host: dict[str, Any] = {
        "Binds": list(ns.volume or []) or None, "NetworkMode": ns.network or "default",
        "PortBindings": bindings, "RestartPolicy": {"Name": policy, "MaximumRetryCount": int(count or 0)},
        "AutoRemove": ns.rm, "VolumesFrom": ns.volumes_from, "CapAdd": _caps(ns.cap_add), "CapDrop": _caps(ns.cap_drop),
        "Dns": ns.dns or [], "DnsOptions": ns.dns_option or [], "DnsSearch": ns.dns_search or [],
        "ExtraHosts": ns.add_host, "GroupAdd": ns.group_add, "IpcMode": ns.ipc or "", "PidMode": ns.pid or "",
        "OomScoreAdj": ns.oom_score_adj, "Privileged": ns.privileged, "PublishAllPorts": ns.publish_all,
        "ReadonlyRootfs": ns.read_only, "SecurityOpt": ns.security_opt, "UTSMode": ns.uts or "",
        "UsernsMode": ns.userns or "", "ShmSize": _flag_bytes(ns.shm_size, "--shm-size"),
        "Sysctls": _kv(ns.sysctl) or None, "Runtime": ns.runtime or "", "CgroupParent": ns.cgroup_parent or "",
        "Memory": _flag_bytes(ns.memory, "-m, --memory"),
        "MemoryReservation": _flag_bytes(ns.memory_reservation, "--memory-reservation"),
        "MemorySwap": -1 if ns.memory_swap == "-1" else _flag_bytes(ns.memory_swap, "--memory-swap"),
        "NanoCpus": int(float(ns.cpus) * 1e9) if ns.cpus else 0, "CpuShares": ns.cpu_shares,
        "CpuPeriod": ns.cpu_period, "CpuQuota": ns.cpu_quota, "CpusetCpus": ns.cpuset_cpus or "",
        "CpusetMems": ns.cpuset_mems or "", "BlkioWeight": ns.blkio_weight,
        "OomKillDisable": bool(ns.oom_kill_disable), "Ulimits": ulimits, "Devices": devices,  # [] as docker sends them
        "Init": ns.init, "Mounts": [_parse_mount(m) for m in ns.mount or []] or None, "Tmpfs": tmpfs or None,
        "LogConfig": {"Type": ns.log_driver or "", "Config": _kv(ns.log_opt)},
        "Annotations": _kv(ns.annotation) or None, "CgroupnsMode": ns.cgroupns or "",
        "CpuRealtimePeriod": ns.cpu_rt_period, "CpuRealtimeRuntime": ns.cpu_rt_runtime,
        "BlkioWeightDevice": [{"Path": p, "Weight": int(w)} for p, w in _dev_pairs(ns.blkio_weight_device)],
        "BlkioDeviceReadBps": [{"Path": p, "Rate": parse_bytes(r)} for p, r in _dev_pairs(ns.device_read_bps)],
        "BlkioDeviceWriteBps": [{"Path": p, "Rate": parse_bytes(r)} for p, r in _dev_pairs(ns.device_write_bps)],
        "BlkioDeviceReadIOps": [{"Path": p, "Rate": int(r)} for p, r in _dev_pairs(ns.device_read_iops)],
        "BlkioDeviceWriteIOps": [{"Path": p, "Rate": int(r)} for p, r in _dev_pairs(ns.device_write_iops)],
        "DeviceCgroupRules": ns.device_cgroup_rule or None, "DeviceRequests": _gpus(ns.gpus),
        "Isolation": ns.isolation or "", "KernelMemory": _flag_bytes(ns.kernel_memory, "--kernel-memory"),
        "StorageOpt": _kv(ns.storage_opt) or None, "VolumeDriver": ns.volume_driver or "",
        "ConsoleSize": list(tty_size) if tty_size else [0, 0],
    }
    endpoint: dict[str, Any] = {}
    if ns.network_alias:
        endpoint["Aliases"] = ns.network_alias
    host["PidsLimit"] = ns.pids_limit or 0  # docker always sends these two (-1: the daemon's default)
    host["MemorySwappiness"] = ns.memory_swappiness
    if ns.use_api_socket:
        raise UsageError("--use-api-socket is not supported by skiff")
    ipam: dict[str, Any] = {k: v for k, v in (("IPv4Address", ns.ip), ("IPv6Address", ns.ip6)) if v}
    if ns.link_local_ip:
        ipam["LinkLocalIPs"] = list(ns.link_local_ip)
    if ipam:
        endpoint["IPAMConfig"] = ipam
    if ns.mac_address:
        endpoint["MacAddress"] = ns.mac_address
    if ns.link:
        host["Links"] = list(ns.link)
    net_name = ns.network or "default"
    return {**cfg, "HostConfig": host, "NetworkingConfig": {"EndpointsConfig": {net_name: endpoint}}}
