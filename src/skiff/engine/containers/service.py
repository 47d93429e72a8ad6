"""ContainerService: create, look up, list, inspect, rename and remove containers.

The lifecycle (start, stop, kill, wait, restart policy, pause) is in :mod:`.lifecycle`, mixed into
the same service so both share one record table, one per-container lock and the waiters. Records
are written to the state DB before a reply acknowledges them.

On disk, per container: ``<data-root>/containers/<id>/`` (``hostname``, ``hosts``, ``resolv.conf``,
``<id>-json.log``, ``bundle/config.json`` and ``bundle/rootfs``, the mounted snapshot) and
``<exec-root>/containers/<id>/`` (the monitor's state dir and socket).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from skiff.engine.config import DaemonConfig
from skiff.engine.containers.archive import Archive
from skiff.engine.containers.health import Health
from skiff.engine.containers.io import ClientStream, attach, check_attach, log_entries
from skiff.engine.containers.lifecycle import Lifecycle, parse_signal
from skiff.engine.containers.record import NAME_RE, ContainerRecord, new_id, validate_name
from skiff.engine.containers.seams import ImageProvider, NetworkHook, VolumeBackend
from skiff.engine.containers.spec import ImageConfig, merge_config, parse_create, validate_create
from skiff.engine.containers.spec_config import validate_restart_policy
from skiff.engine.containers.stats import read_stats
from skiff.engine.containers.views import inspect_json, port_list, summary_json
from skiff.engine.events import EventBus
from skiff.engine.filters import Filters
from skiff.engine.state import Codec, Repository, StateDB
from skiff.errors import Conflict, InvalidParameter, NotFound
from skiff.monitor.logdrivers import format_time, validate_log_config
from skiff.monitor.protocol import LogConfig
from skiff.storage import Snapshotter, ensure_init_layer, unmount_all

__all__ = ["ContainerService", "NoSuchContainer"]

log = logging.getLogger("skiff.containers")

LIST_FILTERS = ("id", "name", "label", "status", "ancestor", "exited", "before", "since", "health",
                "volume", "network", "publish", "expose", "is-task", "isolation")  # isolation: Windows only, no-op
_STATUSES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")  # moby's order (errors)
_HEALTHS = ("none", "starting", "healthy", "unhealthy")


def _port_filter(f: Filters, key: str) -> set[str]:
    """moby's portOp: ``80``, ``80/udp`` or ``8000-8010[/proto]`` -> {"80/tcp", ...}."""
    out: set[str] = set()
    for value in f.get(key):
        if ":" in value:
            raise InvalidParameter(f"filter for '{key}' should not contain ':': {value}")
        port, _, proto = value.partition("/")
        start, _, end = port.partition("-")
        for part in (start, end or start):
            if not part.isdigit():
                raise InvalidParameter(f"error while looking up for {key} {value}: strconv.ParseUint: parsing "
                                       f'"{part}": invalid syntax')
        out.update(f"{n}/{proto or 'tcp'}" for n in range(int(start), int(end or start) + 1))
    return out


class NoSuchContainer(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No such container: {ref}")


def image_config_of(images: ImageProvider, rec: Any) -> ImageConfig:
    return ImageConfig.from_dict(images.config_of(rec).config.to_json())


class ContainerService(Archive, Health, Lifecycle):
    def __init__(self, config: DaemonConfig, db: StateDB, events: EventBus, images: ImageProvider,
                 snapshotter: Snapshotter, *, network: NetworkHook | None = None,
                 volumes: VolumeBackend | None = None, graph_driver: str = "overlay2") -> None:
        self.config = config
        self.db = db
        self.events = events
        self.images = images
        self.snapshotter = snapshotter
        self.network = network
        self.volumes = volumes
        self.graph_driver_name = graph_driver
        self.repo: Repository[ContainerRecord] = Repository(
            db, "containers", Codec(ContainerRecord.to_json, ContainerRecord.from_json))
        self.root = config.data_root / "containers"
        self.state_root = config.exec_root / "containers"
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_root.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, ContainerRecord] = {rec.id: rec for rec in self.repo.values()}
        self._names: dict[str, str] = {rec.name: rec.id for rec in self._cache.values()}
        self._removals: set[asyncio.Task[None]] = set()
        self.removal_hooks: list[Callable[[str], None]] = []  # called with the id at destroy (exec records)
        Lifecycle.__init__(self)

    # ---- lookups -------------------------------------------------------------------------------
    def records(self) -> list[ContainerRecord]:
        return list(self._cache.values())

    def get(self, ref: str) -> ContainerRecord:
        """By full ID, name (with or without "/"), or unique ID prefix; NotFound otherwise."""
        if not ref:
            raise NoSuchContainer(ref)
        rec = self._cache.get(ref)
        if rec is not None:
            return rec
        cid = self._names.get(ref if ref.startswith("/") else "/" + ref)
        if cid is not None:
            return self._cache[cid]
        matches = [c for c in self._cache if c.startswith(ref)]
        if len(matches) == 1:
            return self._cache[matches[0]]
        if len(matches) > 1:
            raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise NoSuchContainer(ref)

    def is_running(self, cid: str) -> bool:
        rec = self._cache.get(cid)
        return rec is not None and rec.running

    def save(self, rec: ContainerRecord) -> None:
        self.repo.put(rec.id, rec)
        self._cache[rec.id] = rec

    def dir_of(self, cid: str) -> Path:
        return self.root / cid

    def rootfs_of(self, cid: str) -> Path:
        return self.root / cid / "bundle" / "rootfs"

    def attrs(self, rec: ContainerRecord, **extra: str) -> dict[str, str]:
        a = {str(k): str(v) for k, v in (rec.config.get("Labels") or {}).items()}
        a.update(image=rec.image, name=rec.short)
        a.update(extra)
        return a

    def publish(self, rec: ContainerRecord, action: str, **extra: str) -> None:
        self.events.publish("container", action, rec.id, self.attrs(rec, **extra))

    # ---- create --------------------------------------------------------------------------------
    def create(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        cfg, host = parse_create(body)
        if name:
            full = validate_name(name)
            if full in self._names:
                raise Conflict(f'Conflict. The container name "{full}" is already in use by container '
                               f'"{self._names[full]}". You have to remove (or rename) that container to be '
                               "able to reuse that name.")
        else:
            full = ""
        if not cfg.image:
            raise InvalidParameter("config.Image: must not be empty")  # moby: "No command specified" later
        validate_restart_policy(host.restart_policy, host.restart_max_retries)
        if cfg.stop_signal:
            parse_signal(cfg.stop_signal)  # moby's validateContainerConfig: "Invalid signal: FOO"
        validate_create(cfg, host, body.get("HostConfig") or {})
        if host.auto_remove and host.restart_policy not in ("no", ""):
            raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
        log_type = host.log_type or str(self.config.get("log-driver") or "json-file")
        log_opts = (dict(host.log_config) if host.log_type or host.log_config
                    else dict(self.config.get("log-opts") or {}))
        validate_log_config(LogConfig(log_type, tuple(sorted(log_opts.items()))))
        runtime = host.runtime or self.config.default_runtime
        if runtime not in self.config.runtimes:  # moby's verifyPlatformContainerSettings
            raise InvalidParameter(f"unknown or invalid runtime name: {runtime}")
        if self.network is not None:  # before anything is made, as dockerd (not at start)
            self.network.validate_endpoints((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {})
        img = self.images.resolve(cfg.image)
        image_id = str(img.id)
        icfg = image_config_of(self.images, img)
        merged = merge_config(cfg, icfg)
        args = list(merged.entrypoint or ()) + list(merged.cmd or ())
        if not args:
            raise InvalidParameter("no command specified")
        cid = new_id()
        if not full:
            full = "/" + self._generate_name()
        d = self.dir_of(cid)
        d.mkdir(parents=True)
        try:
            top = self.images.rootfs_for(image_id).top_chain_id
            self.snapshotter.prepare(cid, self._init_layer(str(top) if top else None))
        except BaseException:
            shutil.rmtree(d, ignore_errors=True)
            raise
        raw_cfg = dict(body)
        raw_cfg.pop("HostConfig", None)
        raw_cfg.pop("NetworkingConfig", None)
        if (host.network_mode == "host" or host.uts_mode == "host") and not cfg.hostname:
            raw_cfg["Hostname"] = socket.gethostname()
        config_view = self._config_view(raw_cfg, merged, cid)
        host_view = self._host_view(dict(body.get("HostConfig") or {}), log_type, log_opts)
        host_view["Runtime"] = runtime  # moby records the daemon's default when none was asked for
        rec = ContainerRecord(
            id=cid, name=full, created_ns=time.time_ns(), image=cfg.image, image_id=image_id,
            config=config_view, host_config=host_view, path=args[0], args=args[1:], snapshot_key=cid,
            log_path=str(d / f"{cid}-json.log"), log_driver=log_type,
            runtime=runtime,
            mounts=[self._mount_view(m) for m in host.mounts],
        )
        self._reference_volumes(rec, host, merged)
        self._volumes_from(rec, host)
        requested = dict((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {})
        if "default" in requested:  # the CLI names the default network "default"
            requested.setdefault("bridge", requested.pop("default"))
            requested.pop("default", None)
        rec.network = {"Requested": requested}
        self._write_etc_files(rec)
        self.save(rec)
        self._names[full] = cid
        self.images.container_created(cid, image_id)
        self.publish(rec, "create")
        warnings: list[str] = []
        return {"Id": cid, "Warnings": warnings}

    def _reference_volumes(self, rec: ContainerRecord, host: Any, merged: Any) -> None:
        """Docker's create-time step: named and anonymous volumes (incl. the image's VOLUMEs) exist
        and are held by this container; their names go into Mounts."""
        from skiff.engine.containers.spec import anonymous_volumes
        specs = [m for m in host.mounts if m.type == "volume"] + anonymous_volumes(merged, host)
        if not specs:
            return
        if self.volumes is None:
            raise InvalidParameter("volumes are not available in this daemon")
        views = [v for v in rec.mounts if v.get("Type") != "volume"]
        for m in specs:
            name, path = self.volumes.reference_volume(m.source, rec.id, driver=m.volume_driver,
                                                       options=dict(m.volume_options) or None,
                                                       labels=dict(m.volume_labels) or None)
            view = self._mount_view(m)
            view.update(Name=name, Source=path)
            if not m.source:
                view["Anonymous"] = True
            views.append(view)
        rec.mounts = views

    def _volumes_from(self, rec: ContainerRecord, host: Any) -> None:
        """``--volumes-from c[:ro|rw]``: the other container's volumes and binds, same destinations."""
        from skiff.volume.mounts import parse_volumes_from
        taken = {v.get("Destination") for v in rec.mounts}
        for spec in host.volumes_from:
            ref, mode = parse_volumes_from(spec)
            try:
                src = self.get(ref)
            except NotFound as e:  # moby: a bad parameter (400), not a 404 the CLI would answer with a pull
                raise InvalidParameter(str(e)) from None
            for view in src.mounts:
                if view.get("Type") not in ("volume", "bind") or view.get("Destination") in taken:
                    continue
                new = {k: v for k, v in view.items() if k != "Anonymous"}
                if "ro" in mode.split(","):
                    new["RW"] = False
                elif "rw" in mode.split(","):
                    new["RW"] = True
                if new["Type"] == "volume":
                    if self.volumes is None:
                        raise InvalidParameter("volumes are not available in this daemon")
                    self.volumes.reference_volume(new["Name"], rec.id)
                else:
                    new["VolumesFrom"] = True
                rec.mounts.append(new)
                taken.add(new.get("Destination"))

    def _init_layer(self, top: str | None) -> str:
        """The image's shared init layer (mount points kept out of the container's own layer, as
        Docker's "-init" layer; see skiff.storage.initlayer), made by the image's first container."""
        return ensure_init_layer(self.snapshotter, top, self.config.exec_root / "initlayer")

    def _generate_name(self) -> str:
        from skiff.engine.containers.names import random_name
        for i in range(20):
            n = random_name(i > 5)
            if "/" + n not in self._names:
                return n
        return "c" + new_id()[:12]

    @staticmethod
    def _config_view(raw: dict[str, Any], merged: Any, cid: str) -> dict[str, Any]:
        out = {
            "Hostname": raw.get("Hostname") or cid[:12], "Domainname": raw.get("Domainname") or "",
            "User": merged.user, "AttachStdin": bool(raw.get("AttachStdin")),
            "AttachStdout": bool(raw.get("AttachStdout")), "AttachStderr": bool(raw.get("AttachStderr")),
            "Tty": merged.tty, "OpenStdin": merged.open_stdin, "StdinOnce": merged.stdin_once,
            "Env": list(merged.env) or None, "Cmd": list(merged.cmd) if merged.cmd is not None else None,
            "Image": merged.image, "Volumes": {v: {} for v in merged.volumes} or None,
            "WorkingDir": merged.working_dir, "Entrypoint": list(merged.entrypoint) if merged.entrypoint else None,
            "OnBuild": None, "Labels": dict(merged.labels),
        }
        if merged.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in merged.exposed_ports}
        if merged.stop_signal:
            out["StopSignal"] = merged.stop_signal
        if merged.stop_timeout is not None:
            out["StopTimeout"] = merged.stop_timeout
        if merged.healthcheck is not None:
            h = merged.healthcheck
            out["Healthcheck"] = {"Test": list(h.test), **({"Interval": h.interval_ns} if h.interval_ns else {}),
                                  **({"Timeout": h.timeout_ns} if h.timeout_ns else {}),
                                  **({"StartPeriod": h.start_period_ns} if h.start_period_ns else {}),
                                  **({"Retries": h.retries} if h.retries else {})}
        return out

    @staticmethod
    def _host_view(h: dict[str, Any], log_type: str, log_opts: dict[str, str]) -> dict[str, Any]:
        # what a client leaves out is Go's zero value in moby's HostConfig: null for lists and maps
        defaults: dict[str, Any] = {
            "Binds": None, "ContainerIDFile": "", "NetworkMode": "bridge", "PortBindings": None,
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False, "VolumeDriver": "",
            "VolumesFrom": None, "ConsoleSize": [0, 0], "CapAdd": None, "CapDrop": None, "CgroupnsMode": "host",
            "Dns": None, "DnsOptions": None, "DnsSearch": None, "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private",
            "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False,
            "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
            "ShmSize": 67108864, "Runtime": "runc", "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0,
            "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": None, "BlkioDeviceReadBps": None,
            "BlkioDeviceWriteBps": None, "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0,
            "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
            "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0,
            "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": None, "PidsLimit": None, "Ulimits": None,
            "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": None,
            "ReadonlyPaths": None, "Init": None, "Mounts": None, "Tmpfs": None, "Sysctls": None,
        }
        out = {**defaults, **{k: v for k, v in h.items() if v is not None or k in ("Init",)}}
        if out.get("NetworkMode") in ("", "default"):
            out["NetworkMode"] = "bridge"
        if not out.get("RestartPolicy") or not out["RestartPolicy"].get("Name"):
            out["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}
        for k in ("Tmpfs", "Sysctls", "Mounts", "Init", "Annotations", "StorageOpt"):  # omitempty in moby's type
            if out.get(k) in (None, {}, []):
                out.pop(k, None)
        # moby's adaptContainerSettings / fixMemorySwappiness: the daemon's defaults, written down
        if not out.get("CgroupnsMode"):
            out["CgroupnsMode"] = "private" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "host"
        if not out.get("IpcMode"):
            out["IpcMode"] = "private"
        if out.get("MemorySwappiness") == -1:
            out["MemorySwappiness"] = None
        if isinstance(out.get("PidsLimit"), int) and out["PidsLimit"] <= 0:
            out["PidsLimit"] = None  # 0 and -1 mean unlimited: shown as unset
        if out.get("Memory") and not out.get("MemorySwap"):
            out["MemorySwap"] = int(out["Memory"]) * 2  # moby's adaptContainerSettings: swap twice the memory
        if not out.get("ShmSize"):
            out["ShmSize"] = 67108864
        if out.get("Runtime") in ("", None):
            out["Runtime"] = "runc"
        out["LogConfig"] = {"Type": log_type, "Config": dict(log_opts)}
        return out

    @staticmethod
    def _mount_view(m: Any) -> dict[str, Any]:
        if m.type == "bind":
            return {"Type": "bind", "Source": m.source, "Destination": m.target, "Mode": m.mode,
                    "RW": not m.read_only, "Propagation": m.propagation or "rprivate"}
        if m.type == "tmpfs":
            return {"Type": "tmpfs", "Source": "", "Destination": m.target, "Mode": m.mode, "RW": not m.read_only,
                    "Propagation": ""}
        return {"Type": "volume", "Name": m.source, "Source": "", "Destination": m.target, "Driver": "local",
                "Mode": m.mode or "z", "RW": not m.read_only, "Propagation": ""}

    def etc_paths(self, rec: ContainerRecord) -> dict[str, str]:
        d = self.dir_of(rec.id)
        return {"resolv": str(d / "resolv.conf"), "hostname": str(d / "hostname"), "hosts": str(d / "hosts")}

    def _write_etc_files(self, rec: ContainerRecord) -> None:
        p = self.etc_paths(rec)
        mode = rec.host_config.get("NetworkMode") or "bridge"
        hostname = rec.config.get("Hostname") or rec.id[:12]
        if mode == "host":
            hostname = socket.gethostname()
            hosts = _read("/etc/hosts")
        else:
            hosts = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
                     "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
        for entry in rec.host_config.get("ExtraHosts") or []:
            h, _, ip = entry.partition(":")
            hosts += f"{ip}\t{h}\n"
        resolv = _default_resolv(rec.host_config)
        for path, text in ((p["hostname"], hostname + "\n"), (p["hosts"], hosts), (p["resolv"], resolv)):
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, path)

    # ---- list / inspect ------------------------------------------------------------------------
    def size_of(self, rec: ContainerRecord) -> tuple[int, int]:
        try:
            rw = self.snapshotter.usage(rec.snapshot_key).size
        except Exception:
            rw = 0
        total = rw
        try:
            total += sum(int(getattr(x, "size", 0)) for x in self.images.resolve(rec.image_id).layers)
        except Exception:
            pass
        return rw, total

    def graph_driver(self, rec: ContainerRecord) -> dict[str, Any]:
        data: dict[str, Any] | None = None
        try:
            dirs = self.snapshotter.layer_dirs(rec.snapshot_key)  # type: ignore[attr-defined]
            upper = str(getattr(dirs, "upper", ""))
            lowers = [str(x) for x in getattr(dirs, "lowers", ())]
            data = {"LowerDir": ":".join(lowers), "MergedDir": str(self.rootfs_of(rec.id)),
                    "UpperDir": upper, "WorkDir": str(Path(upper).parent / "work") if upper else ""}
        except Exception:
            data = None
        return {"Data": data, "Name": self.graph_driver_name}

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        rec = self.get(ref)
        return inspect_json(rec, self.graph_driver(rec), self.etc_paths(rec), self.size_of(rec) if size else None)

    def list(self, all: bool = False, limit: int = -1, size: bool = False,  # noqa: A002
             filters: Filters | None = None) -> list[dict[str, Any]]:
        f = filters or Filters()
        f.validate(LIST_FILTERS)
        for s in f.get("status"):
            if s not in _STATUSES:
                raise InvalidParameter(f"invalid filter 'status={s}': invalid value for state ({s}): must be one "
                                       f"of {', '.join(_STATUSES)}")
        for h in f.get("health"):
            if h not in _HEALTHS:
                raise InvalidParameter(f"invalid filter 'health={h}': invalid value for health ({h}): must be one "
                                       f"of {', '.join(_HEALTHS)}")
        for x in f.get("exited"):
            if not x.lstrip("-").isdigit():
                raise InvalidParameter(f"invalid filter 'exited={x}': strconv.Atoi: parsing \"{x}\": invalid syntax")
        for key in ("expose", "publish"):  # bad values are refused even when no container is listed
            _port_filter(f, key)
        f.get_bool("is-task", False)
        show_all = all or limit > 0  # moby: -n/-l count stopped containers too
        recs = sorted(self._cache.values(), key=lambda r: r.created_ns, reverse=True)
        before = self._bound(f.get("before"))
        since = self._bound(f.get("since"))
        out = []
        for rec in recs:
            if before is not None and rec.created_ns >= before:
                continue
            if since is not None and rec.created_ns <= since:
                continue
            if not self._matches(rec, f, show_all):
                continue
            out.append(summary_json(rec, self.size_of(rec) if size else None))
            if 0 < limit <= len(out):
                break
        return out

    def _bound(self, refs: Sequence[str]) -> int | None:
        if not refs:
            return None
        return self.get(refs[0]).created_ns

    def _matches(self, rec: ContainerRecord, f: Filters, all_: bool) -> bool:
        # moby: only a status filter implies -a (exited/since/before do not)
        if not all_ and not rec.running and rec.status != "restarting" and not f.contains("status"):
            return False
        if f.contains("exited"):
            if rec.status != "exited":
                return False
            if str(rec.exit_code) not in f.get("exited"):
                return False
        if f.contains("status") and not f.exact_match("status", rec.status):
            return False
        if f.contains("id") and not any(rec.id.startswith(x) for x in f.get("id")):
            return False
        if f.contains("name") and not any(_fuzzy_name(x, rec.short) for x in f.get("name")):
            return False
        if f.contains("label") and not f.match_kv("label", {str(k): str(v) for k, v in
                                                             (rec.config.get("Labels") or {}).items()}):
            return False
        if f.contains("ancestor") and not any(self._is_ancestor(a, rec) for a in f.get("ancestor")):
            return False
        if f.contains("health"):
            hs = rec.health.status if rec.health is not None else "none"
            if hs not in f.get("health"):
                return False
        if f.contains("volume") and not any(m.get("Name") in f.get("volume") or m.get("Destination") in
                                            f.get("volume") for m in rec.mounts):
            return False
        if f.contains("network"):
            mode = rec.host_config.get("NetworkMode") or "bridge"
            nets = (rec.network or {}).get("Networks") or {mode: {}}
            ids = [str(ep.get("NetworkID") or "") for ep in nets.values()]
            # (network engineer) as moby: a network's name, or a prefix of its id; connected ones count
            if not any(v in nets or any(i and i.startswith(v) for i in ids) for v in f.get("network")):
                return False
        if f.contains("expose") or f.contains("publish"):  # moby: over the list's Ports, either may match
            expose, publish = _port_filter(f, "expose"), _port_filter(f, "publish")
            # publish matches the host port, expose the container port (moby's list.go)
            if not any(f"{p['PrivatePort']}/{p['Type']}" in expose or (
                    "PublicPort" in p and f"{p['PublicPort']}/{p['Type']}" in publish) for p in port_list(rec)):
                return False
        return not (f.contains("is-task") and f.get_bool("is-task", False))  # no swarm tasks here

    def _is_ancestor(self, ref: str, rec: ContainerRecord) -> bool:
        if rec.image == ref or rec.image_id == ref or rec.image_id.removeprefix("sha256:").startswith(ref):
            return True
        try:
            return str(self.images.resolve(ref).id) == rec.image_id
        except Exception:
            return False

    def info_fields(self) -> dict[str, Any]:
        recs = self._cache.values()
        running = sum(1 for r in recs if r.status == "running")
        paused = sum(1 for r in recs if r.status == "paused")
        return {"Containers": len(recs), "ContainersRunning": running, "ContainersPaused": paused,
                "ContainersStopped": len(recs) - running - paused}

    def disk_usage(self, types: frozenset[str]) -> dict[str, Any]:
        if types and "container" not in types:
            return {}
        return {"Containers": [summary_json(r, self.size_of(r)) for r in self.records()]}

    # ---- rename / remove -----------------------------------------------------------------------
    def rename(self, ref: str, new: str) -> None:
        """moby's ContainerRename: names checked in its order; a name that cannot be reserved is
        reported as "Error when allocating new name: ..." (the name with its leading "/")."""
        ref, new = ref.strip(), new.strip()
        if not ref.lstrip("/") or not new.lstrip("/"):
            raise InvalidParameter("Neither old nor new names may be empty")
        rec = self.get(ref)
        full = new if new.startswith("/") else "/" + new
        if full == rec.name:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        if not NAME_RE.match(full):
            raise InvalidParameter(f"Error when allocating new name: Invalid container name ({full}), only "
                                   "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if full in self._names:
            raise Conflict(f'Error when allocating new name: Conflict. The container name "{full}" is already in '
                           f'use by container "{self._names[full]}". You have to remove (or rename) that container '
                           "to be able to reuse that name.")
        old = rec.name
        rec.name = full
        self.save(rec)
        self._names.pop(old, None)
        self._names[full] = rec.id
        self.publish(rec, "rename", oldName=old)

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        rec = self.get(ref)
        async with self.lock(rec.id):  # not while a start (or a policy restart) is half done
            if rec.id not in self._cache:
                raise NoSuchContainer(ref)
            await self._remove(ref, rec, force, volumes)

    async def _remove(self, ref: str, rec: ContainerRecord, force: bool, volumes: bool) -> None:
        if rec.status == "removing":
            raise Conflict(f"removal of container {ref} is already in progress")
        if rec.running or rec.status == "restarting":
            if rec.status == "paused" and not force:
                raise Conflict(f'cannot remove container "{rec.name}": container is paused and must be '
                               "unpaused first")
            if not force:
                raise Conflict(f'cannot remove container "{rec.name}": container is {rec.status}: stop the '
                               "container before removing or force remove")  # moby's StateString()
            await self.kill_for_remove(rec)
        await self.destroy(rec, volumes)

    async def destroy(self, rec: ContainerRecord, volumes: bool = False) -> None:
        """Forget the container (its record: one commit), remove its files, snapshot and volume
        references, then tell waiters. As with moby, ``docker rm``, ``run --rm`` and ``wait
        --condition removed`` return once the files are gone: an ``rmi`` right after must find no
        container snapshot on the image's layers (it would leave them behind). A crash before the
        files are gone leaves an orphan directory, which reconcile sweeps."""
        if rec.id not in self._cache:
            return
        self.cancel_restart(rec.id)
        rec.status = "removing"
        self.repo.delete(rec.id)
        self._cache.pop(rec.id, None)
        if self._names.get(rec.name) == rec.id:
            del self._names[rec.name]
        self.images.container_removed(rec.id)
        for hook in self.removal_hooks:
            hook(rec.id)
        task = asyncio.get_running_loop().create_task(self._remove_files_async(rec))
        self._removals.add(task)
        task.add_done_callback(self._removals.discard)
        await asyncio.shield(task)  # the removal finishes even if the client goes away meanwhile
        if self.volumes is not None:
            for m in rec.mounts:
                if m.get("Type") == "volume" and m.get("Name"):
                    try:
                        self.volumes.unmount_volume(m["Name"], rec.id, release=True)
                        if volumes and m.get("Anonymous"):
                            self.volumes.remove_anonymous(m["Name"])
                    except Exception as e:
                        log.warning("volume %s of %s: %s", m.get("Name"), rec.id[:12], e)
        self.publish(rec, "destroy")
        self.notify_removed(rec)

    async def _remove_files_async(self, rec: ContainerRecord) -> None:
        try:
            await asyncio.to_thread(self._remove_files, rec)
        except Exception as e:
            log.warning("removing the files of %s: %s", rec.id[:12], e)

    def sweep_orphans(self) -> None:
        """Directories of containers that have no record any more (removal cut short by a crash)."""
        for base in (self.root, self.state_root):
            try:
                names = os.listdir(base)
            except FileNotFoundError:
                continue
            for cid in names:
                if cid in self._cache or len(cid) != 64:
                    continue
                stub = ContainerRecord(id=cid, name="", created_ns=0, image="", image_id="", config={},
                                       host_config={}, snapshot_key=cid)
                try:
                    self._remove_files(stub)
                except Exception as e:
                    log.warning("sweeping %s: %s", cid[:12], e)

    def _remove_files(self, rec: ContainerRecord) -> None:
        runtime, rargs = self.runtime_of(rec)
        if os.path.isdir(os.path.join(rargs[-1], rec.id)):  # a runtime container left (e.g. created, never started)
            import subprocess
            subprocess.run([runtime, *rargs, "delete", "-f", rec.id], capture_output=True, timeout=30)
        rootfs = self.rootfs_of(rec.id)
        try:
            unmount_all(rootfs, lazy=True)
        except OSError as e:
            log.warning("unmount %s: %s", rootfs, e)
        try:
            self.snapshotter.remove(rec.snapshot_key)
        except NotFound:
            pass
        shutil.rmtree(self.dir_of(rec.id), ignore_errors=True)
        shutil.rmtree(self.state_root / rec.id, ignore_errors=True)

    async def prune(self, filters: Filters | None = None) -> dict[str, Any]:
        f = filters or Filters()
        f.validate(("until", "label", "label!"))
        until = None
        if f.get("until"):
            from skiff.engine.containers.timeparse import parse_timestamp
            until = parse_timestamp(f.get("until")[0])
        deleted, reclaimed = [], 0
        for rec in list(self._cache.values()):
            if rec.running or rec.status in ("restarting", "removing"):
                continue
            if until is not None and rec.created_ns >= until:
                continue
            labels = {str(k): str(v) for k, v in (rec.config.get("Labels") or {}).items()}
            if f.contains("label") and not f.match_kv("label", labels):
                continue
            if f.contains("label!") and f.match_kv("label!", labels):
                continue
            reclaimed += self.size_of(rec)[0]
            await self.destroy(rec)
            deleted.append(rec.id)
        self.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def iter_ids(self) -> Iterator[str]:
        return iter(list(self._cache))

    # ---- stdio, logs, stats, exec (thin: the work is in .io, .stats, .exec) --------------------
    def is_tty(self, ref: str) -> bool:
        return bool(self.get(ref).config.get("Tty"))

    def attach_check(self, ref: str, detach_keys: str = "") -> None:
        check_attach(self, ref, detach_keys)

    async def attach_stream(self, ref: str, client: ClientStream, *, stdin: bool, stdout: bool, stderr: bool,
                            stream: bool, logs: bool, detach_keys: str = "") -> None:
        await attach(self, ref, client, stdin=stdin, stdout=stdout, stderr=stderr, stream=stream, logs=logs,
                     detach_keys=detach_keys)

    def logs(self, ref: str, *, follow: bool, stdout: bool, stderr: bool, since_ns: int, until_ns: int,
             tail: int, timestamps: bool, details: bool) -> tuple[bool, AsyncIterator[tuple[int, bytes]]]:
        rec = self.get(ref)
        if rec.log_driver not in ("json-file", "local"):
            raise InvalidParameter("configured logging driver does not support reading")
        tty = bool(rec.config.get("Tty"))

        async def gen() -> AsyncIterator[tuple[int, bytes]]:
            async for e in log_entries(self, rec.id, follow=follow, tail=tail, since_ns=since_ns,
                                       until_ns=until_ns):
                if (e.stream == 1 and not stdout) or (e.stream == 2 and not stderr):
                    continue
                data = e.data
                if details:  # moby: the record's attrs as k=v,k=v then a space (just a space if none)
                    data = ",".join(f"{k}={v}" for k, v in getattr(e, "attrs", ())).encode() + b" " + data
                if timestamps:
                    data = format_time(e.time_ns, fixed=True).encode() + b" " + data
                yield (1 if tty else e.stream), data
        return tty, gen()

    def stats(self, ref: str, stream: bool, one_shot: bool) -> AsyncIterator[dict[str, Any]]:
        rec = self.get(ref)

        async def gen() -> AsyncIterator[dict[str, Any]]:
            prev: dict[str, Any] | None = None
            first = True
            while True:
                r = self._cache.get(rec.id)
                if r is None:
                    return
                cg = self.cgroup_path(r) if r.running else None
                mode = r.host_config.get("NetworkMode") or "bridge"
                own_netns = mode != "host" and not mode.startswith("container:")
                if first and not one_shot and cg is not None and not stream:
                    prev = await asyncio.to_thread(read_stats, r.id, r.name, cg, None, r.pid, own_netns)
                    await asyncio.sleep(1.0)
                cur = await asyncio.to_thread(read_stats, r.id, r.name, cg, prev, r.pid, own_netns)
                first = False
                yield cur
                if not stream:
                    return
                prev = cur
                await asyncio.sleep(1.0)
        return gen()


def _fuzzy_name(pattern: str, name: str) -> bool:
    import re
    try:
        return re.search(pattern.lstrip("/"), name) is not None
    except re.error:
        return pattern.lstrip("/") in name


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _default_resolv(host: Mapping[str, Any]) -> str:
    """The host's resolv.conf without localhost nameservers (Docker's filter), with --dns overrides."""
    lines = []
    dns = list(host.get("Dns") or [])
    search = list(host.get("DnsSearch") or [])
    opts = list(host.get("DnsOptions") or [])
    for line in _read("/etc/resolv.conf").splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "nameserver" and (dns or len(parts) < 2 or parts[1].startswith("127.") or parts[1] == "::1"):
            continue
        if parts[0] in ("search", "domain") and search:
            continue
        if parts[0] == "options" and opts:
            continue
        lines.append(line)
    if not any(x.startswith("nameserver") for x in lines) and not dns:
        dns = ["8.8.8.8", "8.8.4.4"]
    lines += [f"nameserver {d}" for d in dns]
    if search:
        lines.append("search " + " ".join(search))
    if opts:
        lines.append("options " + " ".join(opts))
    return "\n".join(lines) + "\n"
