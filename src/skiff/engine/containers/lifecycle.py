"""The container lifecycle: start, stop, kill, wait, restart (policies), pause, update, reconcile.

Mixed into :class:`skiff.engine.containers.service.ContainerService`. A running container is one
monitor process (skiff.monitor) spawned by the resident forker; the daemon keeps one watcher task per
container that waits for the monitor's exit record and then runs :meth:`_on_exit` (record, events,
waiters, restart policy, AutoRemove). After a daemon restart :meth:`reconcile` finds the monitors
again (``find_monitors``) and re-creates the watchers; a container that ended meanwhile gets its
recorded exit status (137 if its monitor was killed too).

Restart policy back-off is Docker's: 100 ms doubling up to 1 minute, reset once the container ran
for 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal as _signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skiff.engine.containers.record import ContainerRecord, HealthState
from skiff.engine.containers.runtimes import runtime_command, runtime_path
from skiff.engine.containers.seams import NetworkRequest
from skiff.engine.containers.spec import (
    ResolvedMount,
    SpecContext,
    build_spec,
    ensure_working_dir,
    parse_create,
    validate_update,
)
from skiff.errors import Conflict, InvalidParameter, NotModified, SkiffError, System
from skiff.monitor.aclient import AsyncMonitorClient
from skiff.monitor.client import MonitorGone
from skiff.monitor.forker import ForkerClient, start_forker
from skiff.monitor.logdrivers import log_attrs
from skiff.monitor.protocol import ExitStatus, LogConfig, MonitorOptions
from skiff.monitor.spawn import MonitorStartError, find_monitors
from skiff.storage import mount_all, unmount_all

if TYPE_CHECKING:
    from skiff.engine.containers.service import ContainerService

__all__ = ["Lifecycle", "parse_signal", "StartError"]

log = logging.getLogger("skiff.containers")

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
BACKOFF_RESET_AFTER = 10.0


class StartError(System):
    """The runtime refused to start the container (message as the docker CLI expects it)."""


class StartCommandError(InvalidParameter):
    """The command is missing or not executable (moby answers 400; the CLI exits 127/126)."""


def _start_error(msg: str) -> SkiffError:
    text = _runtime_message(msg)
    low = text.lower()
    if "executable file not found" in low or "no such file or directory" in low or "permission denied" in low:
        return StartCommandError(text)
    return StartError(text)


class NotRunning(Conflict):
    pass


def restarting_text(cid: str) -> str:
    """moby's errContainerIsRestarting."""
    return f"Container {cid} is restarting, wait until the container is running"


def parse_signal(value: str | int | None, default: int = _signal.SIGKILL) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, int):
        return value
    v = value.strip().upper()
    if v.isdigit():
        n = int(v)
        if n <= 0 or n > 64:
            raise InvalidParameter(f"Invalid signal: {value}")
        return n
    v = v.removeprefix("SIG")
    if v.startswith("RTMIN+"):
        return int(_signal.SIGRTMIN) + int(v[6:])
    try:
        return int(getattr(_signal, "SIG" + v))
    except AttributeError:
        raise InvalidParameter(f"Invalid signal: {value}") from None


class Lifecycle:
    """See the module docstring. Requires the attributes ContainerService sets."""

    def _start_health(self, rec: ContainerRecord) -> None:  # Health overrides it
        return None

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._exit_waiters: dict[str, list[asyncio.Future[ContainerRecord]]] = {}
        self._remove_waiters: dict[str, list[asyncio.Future[ContainerRecord]]] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._restart_timers: dict[str, asyncio.TimerHandle | asyncio.Task[None]] = {}
        self._backoff: dict[str, float] = {}
        self._pending_attach: dict[str, list[Callable[[str], Awaitable[None]]]] = {}
        self._health_tasks: dict[str, asyncio.Task[None]] = {}
        self._cleanup: dict[str, asyncio.Event] = {}
        self._closing = False

    # helpers typed against the service
    @property
    def _svc(self) -> ContainerService:
        return self  # type: ignore[return-value]

    def lock(self, cid: str) -> asyncio.Lock:
        lk = self._locks.get(cid)
        if lk is None:
            lk = self._locks[cid] = asyncio.Lock()
        return lk

    @property
    def forker_socket(self) -> str:
        return str(self._svc.config.exec_root / "forker.sock")

    def runtime_of(self, rec: ContainerRecord) -> tuple[str, tuple[str, ...]]:
        cfg = self._svc.config
        name = rec.runtime or cfg.default_runtime
        path = runtime_command(runtime_path(name, dict(cfg.runtimes)), cfg.exec_root / "runtime")
        root = cfg.exec_root / "runtime" / name
        return path, ("--root", str(root))

    def state_dir(self, cid: str) -> Path:
        return self._svc.state_root / cid

    def monitor(self, rec: ContainerRecord) -> AsyncMonitorClient:
        return AsyncMonitorClient(str(self.state_dir(rec.id) / "monitor.sock"))

    # ---- daemon start / stop -------------------------------------------------------------------
    async def reconcile(self) -> None:
        """Start (or find) the forker, then match records with the monitors that still run."""
        await asyncio.to_thread(start_forker, self.forker_socket)
        asyncio.get_running_loop().run_in_executor(None, _preload_netlink)
        svc = self._svc
        infos = {i.container_id: i for i in await asyncio.to_thread(find_monitors, str(svc.state_root))}
        await asyncio.to_thread(svc.sweep_orphans)
        # image uses are written without an fsync of their own (image/store.py): re-state them
        await asyncio.to_thread(svc.images.sync_container_uses, {r.id: r.image_id for r in svc.records()})
        for rec in svc.records():
            if rec.status == "removing":
                await svc.destroy(rec)
                continue
            if rec.status not in ("running", "paused", "restarting"):
                await self._finish_interrupted_cleanup(rec)
                if self._policy_restarts_on_boot(rec):
                    self._schedule_restart(rec, 0.0)
                continue
            info = infos.get(rec.id)
            if info is not None and info.alive:
                self._watch(rec)
                self._start_health(rec)
                continue
            st = info.exit if info is not None else None
            if st is None:
                st = ExitStatus(exit_code=137, signal=9, finished_at_ns=time.time_ns())
            await self._on_exit(rec.id, st, boot=True)

    async def _finish_interrupted_cleanup(self, rec: ContainerRecord) -> None:
        """A daemon killed between a container's exit and the end of its cleanup leaves the
        network endpoint (a SandboxKey still recorded; detach clears it) and maybe the rootfs
        mount: finish both now, as the exit path would have."""
        svc = self._svc
        mode = rec.host_config.get("NetworkMode") or "bridge"
        if svc.network is None or mode in ("none", "host") or mode.startswith("container:"):
            return
        if not (rec.network or {}).get("SandboxKey"):
            return
        await asyncio.to_thread(self._unmount_rootfs, rec)
        with contextlib.suppress(Exception):
            await svc.network.detach_network(rec.id)

    def _policy_restarts_on_boot(self, rec: ContainerRecord) -> bool:
        pol = (rec.host_config.get("RestartPolicy") or {}).get("Name") or "no"
        if pol == "always":  # Docker: even a manually stopped one comes back when the daemon starts
            return rec.has_been_started
        if pol == "unless-stopped":
            return rec.has_been_started and not rec.manually_stopped
        return False

    async def close(self) -> None:
        """Daemon shutdown: containers keep running (live restore); only our tasks end."""
        self._closing = True
        # A container that just exited may still be unmounting its rootfs and leaving its network:
        # let that finish (bounded), or its netns mount and endpoint outlive the daemon.
        pending = [asyncio.ensure_future(e.wait()) for e in self._cleanup.values()]
        if pending:
            _done, late = await asyncio.wait(pending, timeout=10)
            for waiter in late:
                waiter.cancel()
        for t in list(self._watchers.values()) + list(self._health_tasks.values()):
            t.cancel()
        for h in list(self._restart_timers.values()):
            h.cancel()
        for t in list(self._watchers.values()):
            with contextlib.suppress(BaseException):
                await t
        removals = list(getattr(self._svc, "_removals", ()))
        if removals:
            await asyncio.wait(removals, timeout=10)

    # ---- start ---------------------------------------------------------------------------------
    async def start(self, ref: str) -> None:
        svc = self._svc
        rec = svc.get(ref)
        async with self.lock(rec.id):
            rec = svc.get(rec.id)
            if rec.status == "paused":  # moby checks paused first: a paused container is also running
                raise Conflict("cannot start a paused container, try unpause instead")
            if rec.status == "running":
                raise NotModified("container already started")
            if rec.status in ("removing", "dead"):
                raise Conflict(f"cannot start a {'dead' if rec.status == 'dead' else 'removed'} container")
            self.cancel_restart(rec.id)
            rec.manually_stopped = False
            await self._start(rec)

    def add_pending_attach(self, cid: str, connect: Callable[[str], Awaitable[None]]) -> Callable[[], None]:
        """Run ``connect(monitor_socket)`` right before the next start of ``cid``; returns an undo."""
        lst = self._pending_attach.setdefault(cid, [])
        lst.append(connect)

        def undo() -> None:
            with contextlib.suppress(ValueError):
                lst.remove(connect)
        return undo

    async def _start(self, rec: ContainerRecord) -> None:
        svc = self._svc
        pending = self._cleanup.get(rec.id)
        if pending is not None:  # the last exit's unmount/network detach is still running
            await pending.wait()
        cfg, host = parse_create({**rec.config, "HostConfig": rec.host_config})
        rootfs = svc.rootfs_of(rec.id)
        bundle = rootfs.parent
        mounts = svc.snapshotter.mounts(rec.snapshot_key)

        def prep() -> None:
            rootfs.mkdir(parents=True, exist_ok=True)
            if not os.path.ismount(rootfs):
                mount_all(mounts, str(rootfs))
        await asyncio.to_thread(prep)
        try:
            if cfg.working_dir.startswith("/"):  # moby's SetupWorkingDirectory: made at start, in the container's layer
                await asyncio.to_thread(ensure_working_dir, str(rootfs), cfg.working_dir)
            resolved = await asyncio.to_thread(self._resolve_mounts, rec, host)
            netns = ""
            mode = host.network_mode or "bridge"
            if mode not in ("none", "host") and not mode.startswith("container:"):
                netns = await self._attach_network(rec, cfg, host)
            elif svc.network is not None and mode in ("none", "host"):
                svc.network.announce_mode(rec.id, mode, "connect")
            elif mode.startswith("container:"):  # (network engineer) the other container's netns
                netns = await asyncio.to_thread(self._joined_netns, rec, mode.split(":", 1)[1])
            paths = svc.etc_paths(rec)
            init_default = bool(svc.config.get("init"))
            if host.init is None and init_default:
                host = _replace_init(host)
            parent = host.cgroup_parent or str(svc.config.get("cgroup-parent") or "") or "/skiff"
            ctx = SpecContext(container_id=rec.id, rootfs=str(rootfs), mounts=tuple(resolved), netns_path=netns,
                              resolv_conf=paths["resolv"], hosts=paths["hosts"], hostname_file=paths["hostname"],
                              cgroups_path=f"{parent.rstrip('/')}/{rec.id}" if parent.startswith("/")
                              else f"/{parent.rstrip('/')}/{rec.id}")
            image_cfg = _empty_image()
            spec = await asyncio.to_thread(build_spec, image_cfg, cfg, host, ctx)
            with open(bundle / "config.json", "w") as f:
                json.dump(spec, f)
            runtime, rargs = self.runtime_of(rec)
            logcfg = LogConfig(rec.log_driver, tuple(sorted((rec.host_config.get("LogConfig") or {})
                                                            .get("Config", {}).items())))
            attrs = log_attrs(logcfg, {str(k): str(v) for k, v in (rec.config.get("Labels") or {}).items()},
                              list(rec.config.get("Env") or []))
            opts = MonitorOptions(
                container_id=rec.id, bundle=str(bundle), state_dir=str(self.state_dir(rec.id)), runtime=runtime,
                runtime_args=rargs, tty=cfg.tty, open_stdin=cfg.open_stdin, stdin_once=cfg.stdin_once,
                log=logcfg, log_path=rec.log_path, console_size=host.console_size, start=False, log_attrs=attrs)
            try:
                handle = await ForkerClient(self.forker_socket).aspawn(opts)
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.to_thread(start_forker, self.forker_socket)
                handle = await ForkerClient(self.forker_socket).aspawn(opts)
        except MonitorStartError as e:
            await self._start_failed(rec, str(e.message))
            raise _start_error(str(e.message)) from None
        except BaseException as e:
            await self._start_failed(rec, getattr(e, "message", str(e)))
            raise
        if not netns and mode not in ("host",) and not mode.startswith("container:"):
            try:  # a fresh network namespace (none, or no network hook): lo up, as Docker's sandbox
                await asyncio.to_thread(_lo_up, handle.init_pid)
            except Exception as e:
                log.warning("lo up in %s: %s", rec.id[:12], e)
        for connect in self._pending_attach.pop(rec.id, []):
            try:
                await asyncio.wait_for(connect(handle.socket_path), 5)
            except Exception as e:  # an attach client that went away must not block the start
                log.debug("pending attach of %s: %s", rec.id[:12], e)
        client = AsyncMonitorClient(handle.socket_path)
        started_ns = time.time_ns()
        try:
            pid = await client.start()
        except Exception as e:
            msg = getattr(e, "message", str(e))
            with contextlib.suppress(Exception):
                await client.signal(_signal.SIGKILL)
            await self._start_failed(rec, msg)
            raise _start_error(msg) from None
        rec.transition("running")
        rec.pid = pid or handle.init_pid
        rec.started_ns = started_ns
        rec.has_been_started = True
        rec.error = ""
        rec.oom_killed = False
        if cfg.healthcheck is not None and cfg.healthcheck.test and cfg.healthcheck.test[0] != "NONE":
            rec.health = HealthState()
        else:
            rec.health = None
        svc.save(rec)
        svc.publish(rec, "start")
        self._watch(rec)
        self._start_health(rec)

    async def _start_failed(self, rec: ContainerRecord, message: str) -> None:
        svc = self._svc
        rec.error = _runtime_message(message)
        low = message.lower()
        if "executable file not found" in low or "no such file or directory" in low:
            rec.exit_code = 127
        elif "permission denied" in low:
            rec.exit_code = 126
        else:
            rec.exit_code = 128
        if rec.status not in ("created",):
            rec.status = "exited"
            rec.finished_ns = time.time_ns()
        svc.save(rec)
        await asyncio.to_thread(self._unmount_rootfs, rec)
        mode = rec.host_config.get("NetworkMode") or "bridge"
        if self._svc.network is not None and mode not in ("none", "host"):
            with contextlib.suppress(Exception):
                await self._svc.network.detach_network(rec.id)
        elif self._svc.network is not None and mode in ("none", "host"):
            self._svc.network.announce_mode(rec.id, mode, "disconnect")
        self._pending_attach.pop(rec.id, None)
        if rec.host_config.get("AutoRemove") and not self._closing:
            # --rm removes the container's anonymous volumes too (moby: RemoveVolume: true)
            asyncio.get_running_loop().create_task(self._svc.destroy(rec, volumes=True))

    def publish_die_waiters(self, rec: ContainerRecord) -> None:
        for fut in self._exit_waiters.pop(rec.id, []):
            if not fut.done():
                fut.set_result(rec)

    def _unmount_rootfs(self, rec: ContainerRecord) -> None:
        rootfs = self._svc.rootfs_of(rec.id)
        with contextlib.suppress(OSError):
            unmount_all(rootfs, lazy=True)
        self._release_volumes(rec)

    def _resolve_mounts(self, rec: ContainerRecord, host: Any) -> list[ResolvedMount]:
        from dataclasses import replace

        from skiff.engine.containers.archive import secure_join
        from skiff.engine.containers.spec import MountSpec
        out = []
        vol = self._svc.volumes
        rootfs = str(self._svc.rootfs_of(rec.id))
        for m in host.mounts:
            if m.type == "bind":
                if not os.path.exists(m.source):
                    if m.create_source:
                        os.makedirs(m.source, exist_ok=True)
                    else:
                        raise InvalidParameter(f"invalid mount config for type \"bind\": bind source path does "
                                               f"not exist: {m.source}")
                out.append(ResolvedMount(m, m.source))
            elif m.type == "tmpfs":
                out.append(ResolvedMount(m))
        for view in rec.mounts:
            if view.get("Type") == "bind" and view.get("VolumesFrom"):  # a bind taken by --volumes-from
                out.append(ResolvedMount(MountSpec(type="bind", target=view["Destination"], source=view["Source"],
                                                   read_only=not view.get("RW", True)), view["Source"]))
                continue
            if view.get("Type") != "volume" or not view.get("Name"):
                continue
            if vol is None:
                raise InvalidParameter("volumes are not available in this daemon")
            target = view["Destination"]
            spec = next((m for m in host.mounts if m.type == "volume" and m.target == target), None)
            if spec is None:
                spec = MountSpec(type="volume", target=target, read_only=not view.get("RW", True))
            src_in_image = secure_join(rootfs, target)
            copy = "" if spec.nocopy or not os.path.isdir(src_in_image) else src_in_image
            name, path = vol.mount_volume(view["Name"], rec.id, dict(spec.volume_options), copy_from=copy,
                                          destination=target, read_write=view.get("RW", True))
            view["Source"] = path
            out.append(ResolvedMount(replace(spec, source=name), path))
        return out

    def _release_volumes(self, rec: ContainerRecord) -> None:
        vol = self._svc.volumes
        if vol is None:
            return
        for view in rec.mounts:
            if view.get("Type") == "volume" and view.get("Name"):
                with contextlib.suppress(Exception):
                    vol.unmount_volume(view["Name"], rec.id, release=False)

    def _joined_netns(self, rec: ContainerRecord, ref: str) -> str:
        """--network container:<ref>: its netns, and its /etc/hosts and /etc/resolv.conf (as Docker)."""
        other = self._svc.get(ref)
        if other.id == rec.id:
            raise InvalidParameter("cannot join own network namespace")
        if not other.running or not other.pid:
            raise Conflict(f"cannot join network of a non running container: {other.id}")
        mine, theirs = self._svc.etc_paths(rec), self._svc.etc_paths(other)
        for key in ("hosts", "resolv"):
            with contextlib.suppress(OSError):
                shutil.copyfile(theirs[key], mine[key])
        return f"/proc/{other.pid}/ns/net"

    async def _attach_network(self, rec: ContainerRecord, cfg: Any, host: Any) -> str:
        hook = self._svc.network
        if hook is None:
            if not getattr(self, "_warned_net", False):
                log.warning("no network hook: containers in mode %r get a private netns with only lo",
                            host.network_mode or "bridge")
                self._warned_net = True
            return ""
        req = NetworkRequest(container_id=rec.id, name=rec.short, mode=host.network_mode or "bridge",
                             hostname=rec.config.get("Hostname") or rec.id[:12],
                             endpoints_config=rec.network.get("Requested") or {},
                             port_bindings=rec.host_config.get("PortBindings") or {}, dns=host.dns,
                             dns_search=host.dns_search, dns_options=host.dns_options, extra_hosts=host.extra_hosts)
        att = await hook.attach_network(req)
        rec.network = {**rec.network, **dict(att.settings)}
        paths = self._svc.etc_paths(rec)
        for key, text in (("resolv", att.resolv_conf), ("hosts", att.hosts)):
            if text:
                with open(paths[key], "w") as f:
                    f.write(text)
        return att.netns_path

    # ---- watching exits ------------------------------------------------------------------------
    def _watch(self, rec: ContainerRecord) -> None:
        old = self._watchers.get(rec.id)
        if old is not None and not old.done():
            return
        client = self.monitor(rec)
        cid = rec.id

        async def watch() -> None:
            try:
                st = await client.wait()
            except MonitorGone:
                st = ExitStatus(exit_code=137, signal=9, finished_at_ns=time.time_ns())
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.error("waiting for %s: %s", cid[:12], e)
                st = ExitStatus(exit_code=137, signal=9, finished_at_ns=time.time_ns())
            self._watchers.pop(cid, None)
            await self._on_exit(cid, st)

        self._watchers[cid] = asyncio.get_running_loop().create_task(watch())

    async def _on_exit(self, cid: str, st: ExitStatus, boot: bool = False) -> None:
        svc = self._svc
        rec = svc._cache.get(cid)
        if rec is None:
            return
        ht = self._health_tasks.pop(cid, None)
        if ht is not None:
            ht.cancel()
        rec.status = "exited"
        rec.exit_code = st.exit_code
        rec.oom_killed = st.oom_killed
        rec.finished_ns = max(st.finished_at_ns or time.time_ns(), rec.started_ns + 1)
        rec.pid = 0
        if st.error:
            rec.error = st.error
        if rec.health is not None:
            rec.health.status = "unhealthy" if rec.health.status == "unhealthy" else rec.health.status
        ran = (rec.finished_ns - rec.started_ns) / 1e9 if rec.started_ns else 0.0
        restart, delay = self._should_restart(rec, ran)
        if restart:
            rec.status = "restarting"
        svc.save(rec)
        if st.oom_killed:
            svc.publish(rec, "oom")
        svc.publish(rec, "die", exitCode=str(st.exit_code), execDuration=str(int(ran)))
        cleaned = self._cleanup[cid] = asyncio.Event()
        self.publish_die_waiters(rec)  # the record is saved: `docker run` may return now
        try:
            await asyncio.to_thread(self._unmount_rootfs, rec)
            mode = rec.host_config.get("NetworkMode") or "bridge"
            if svc.network is not None and mode not in ("none", "host"):
                with contextlib.suppress(Exception):
                    await svc.network.detach_network(rec.id)
            elif svc.network is not None and mode in ("none", "host"):
                svc.network.announce_mode(rec.id, mode, "disconnect")
        finally:
            cleaned.set()
            if self._cleanup.get(cid) is cleaned:
                del self._cleanup[cid]
        if restart:
            self._schedule_restart(rec, delay)
        elif rec.host_config.get("AutoRemove") and not self._closing:
            with contextlib.suppress(Exception):
                await svc.destroy(rec, volumes=True)

    def _should_restart(self, rec: ContainerRecord, ran: float) -> tuple[bool, float]:
        if self._closing or rec.manually_stopped:
            return False, 0.0
        pol = rec.host_config.get("RestartPolicy") or {}
        name = pol.get("Name") or "no"
        if name == "no":
            return False, 0.0
        if name == "on-failure":
            if rec.exit_code == 0:
                return False, 0.0
            mx = int(pol.get("MaximumRetryCount") or 0)
            if mx and rec.restart_count >= mx:
                return False, 0.0
        prev = self._backoff.get(rec.id, 0.0)
        delay = BACKOFF_START if (ran >= BACKOFF_RESET_AFTER or not prev) else min(prev * 2, BACKOFF_MAX)
        self._backoff[rec.id] = delay
        return True, delay

    def _schedule_restart(self, rec: ContainerRecord, delay: float) -> None:
        cid = rec.id

        async def go() -> None:
            await asyncio.sleep(delay)
            self._restart_timers.pop(cid, None)
            r = self._svc._cache.get(cid)
            if r is None or r.running:
                return
            async with self.lock(cid):
                r = self._svc._cache.get(cid)
                if r is None or r.running or r.status not in ("restarting", "exited", "created"):
                    return
                r.restart_count += 1
                r.status = "exited" if r.status == "restarting" else r.status
                try:
                    await self._start(r)
                    self._svc.publish(r, "restart")
                except Exception as e:
                    log.warning("restart of %s failed: %s", cid[:12], e)

        self.cancel_restart(cid)
        self._restart_timers[cid] = asyncio.get_running_loop().create_task(go())

    def cancel_restart(self, cid: str) -> None:
        t = self._restart_timers.pop(cid, None)
        if t is not None:
            t.cancel()

    # ---- wait ----------------------------------------------------------------------------------
    def wait_future(self, ref: str, condition: str) -> Awaitable[ContainerRecord]:
        """An awaitable for the condition (registered now, so a start right after is not missed)."""
        svc = self._svc
        rec = svc.get(ref)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[ContainerRecord] = loop.create_future()
        if condition in ("", "not-running"):
            if not rec.running and rec.status != "restarting":
                fut.set_result(rec)
            else:
                self._exit_waiters.setdefault(rec.id, []).append(fut)
        elif condition == "next-exit":
            self._exit_waiters.setdefault(rec.id, []).append(fut)
        elif condition == "removed":
            self._remove_waiters.setdefault(rec.id, []).append(fut)
        else:
            raise InvalidParameter(f"invalid condition: \"{condition}\"")
        return fut

    def notify_removed(self, rec: ContainerRecord) -> None:
        # moby's SetRemoved clears the error: a wait woken by the removal reports no Error (else
        # `docker run --rm` of a container that failed to start logs "Error waiting for container")
        gone = dataclasses.replace(rec, error="")
        for fut in self._exit_waiters.pop(rec.id, []):
            if not fut.done():
                fut.set_result(gone)
        for fut in self._remove_waiters.pop(rec.id, []):
            if not fut.done():
                fut.set_result(gone)
        self._pending_attach.pop(rec.id, None)
        self._locks.pop(rec.id, None)
        self._backoff.pop(rec.id, None)

    async def wait_exit(self, rec: ContainerRecord, timeout: float | None) -> bool:
        fut = self.wait_future(rec.id, "not-running")
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False

    # ---- stop / kill / restart -----------------------------------------------------------------
    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        svc = self._svc
        rec = svc.get(ref)
        if rec.status == "restarting":
            self.cancel_restart(rec.id)
            rec.status = "exited"
            rec.manually_stopped = True
            svc.save(rec)
            return
        if not rec.running:
            raise NotModified("container already stopped")
        rec.manually_stopped = True
        svc.save(rec)
        await self._stop(rec, timeout, signal)
        svc.publish(rec, "stop")

    async def _stop(self, rec: ContainerRecord, timeout: int | None, signal: str | None) -> None:
        stop_sig = parse_signal(signal or rec.config.get("StopSignal") or "", _signal.SIGTERM)
        if timeout is None:
            st = rec.config.get("StopTimeout")
            timeout = int(st) if st is not None else 10
        client = self.monitor(rec)
        if rec.status == "paused":
            await self._runtime_call(rec, "resume")
        if timeout != 0:
            with contextlib.suppress(Exception):
                await client.signal(stop_sig)
                self._svc.publish(rec, "kill", signal=str(stop_sig))
            if await self.wait_exit(rec, None if timeout < 0 else float(timeout)):
                return
        with contextlib.suppress(Exception):
            await client.signal(_signal.SIGKILL, all_processes=True)
            self._svc.publish(rec, "kill", signal=str(int(_signal.SIGKILL)))
        if not await self.wait_exit(rec, 30.0):
            raise System(f"container {rec.id[:12]} did not exit after SIGKILL")

    async def kill(self, ref: str, signal: str | None = None) -> None:
        """moby's router wraps every kill error: "cannot kill container: <ref>: <cause>"."""
        try:
            await self._kill(ref, signal)
        except SkiffError as e:
            base = next(c for c in type(e).__mro__ if c.__module__ == SkiffError.__module__)
            raise base(f"cannot kill container: {ref}: {e}") from e

    async def _kill(self, ref: str, signal: str | None) -> None:
        svc = self._svc
        raw = (signal or "").strip()
        if raw.lstrip("-").isdigit() and int(raw) != 0 and not (1 <= int(raw) <= 31 or 34 <= int(raw) <= 64):
            # moby's ValidSignalForPlatform: its SignalMap has 1-31 and SIGRTMIN (34) to SIGRTMAX (64)
            raise InvalidParameter(f"the linux daemon does not support signal {int(raw)}")
        sig = parse_signal(signal, _signal.SIGKILL)  # moby checks the signal before the container
        rec = svc.get(ref)
        if rec.status == "restarting":  # moby: no process to signal; the restart is called off
            self.cancel_restart(rec.id)
            rec.status = "exited"
            rec.manually_stopped = True
            svc.save(rec)
            return
        if not rec.running:
            raise NotRunning(f"container {rec.id} is not running")
        if sig == _signal.SIGKILL:
            rec.manually_stopped = True  # moby: an explicit kill does not trigger the restart policy... for KILL
            svc.save(rec)
        client = self.monitor(rec)
        if rec.status == "paused" and sig == _signal.SIGKILL:
            await client.signal(sig, all_processes=True)
        else:
            await client.signal(sig)
        svc.publish(rec, "kill", signal=str(sig))
        if sig == _signal.SIGKILL:
            await self.wait_exit(rec, 10.0)

    async def kill_for_remove(self, rec: ContainerRecord) -> None:
        self.cancel_restart(rec.id)
        if rec.status == "restarting":
            rec.status = "exited"
            return
        rec.manually_stopped = True
        with contextlib.suppress(Exception):
            await self.monitor(rec).signal(_signal.SIGKILL, all_processes=True)
        self._svc.publish(rec, "kill", signal="9")
        if not await self.wait_exit(rec, 15.0):
            await self._on_exit(rec.id, ExitStatus(exit_code=137, signal=9, finished_at_ns=time.time_ns()))

    async def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        svc = self._svc
        rec = svc.get(ref)
        if rec.running:
            rec.manually_stopped = True
            svc.save(rec)
            await self._stop(rec, timeout, signal)
            svc.publish(rec, "stop")
        await self.start(rec.id)
        svc.publish(svc.get(rec.id), "restart")

    # ---- pause / resize / update / top ---------------------------------------------------------
    async def _runtime_call(self, rec: ContainerRecord, *args: str, stdin: bytes | None = None) -> str:
        runtime, rargs = self.runtime_of(rec)
        proc = await asyncio.create_subprocess_exec(
            runtime, *rargs, *args, rec.id, stdin=asyncio.subprocess.PIPE if stdin is not None else
            asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate(stdin)
        if proc.returncode != 0:
            raise System((err or out).decode(errors="replace").strip() or f"{args[0]} failed")
        return out.decode(errors="replace")

    async def pause(self, ref: str) -> None:
        svc = self._svc
        rec = svc.get(ref)
        if rec.status == "restarting":
            raise Conflict(restarting_text(rec.id))
        if not rec.running:
            raise NotRunning(f"container {rec.id} is not running")  # moby's errNotRunning
        if rec.status == "paused":
            raise Conflict(f"Container {rec.id} is already paused")
        await self._runtime_call(rec, "pause")
        rec.status = "paused"
        svc.save(rec)
        svc.publish(rec, "pause")

    async def unpause(self, ref: str) -> None:
        svc = self._svc
        rec = svc.get(ref)
        if rec.status != "paused":
            raise Conflict(f"Container {rec.id} is not paused")
        await self._runtime_call(rec, "resume")
        rec.status = "running"
        svc.save(rec)
        svc.publish(rec, "unpause")

    async def resize(self, ref: str, h: int, w: int) -> None:
        svc = self._svc
        rec = svc.get(ref)
        if not rec.running:
            raise NotRunning(f"container {rec.id} is not running")  # moby's errNotRunning
        with contextlib.suppress(MonitorGone):
            await self.monitor(rec).resize(h, w)
        svc.publish(rec, "resize", height=str(h), width=str(w))

    async def update(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        validate_update(body)
        svc = self._svc
        rec = svc.get(ref)
        new_memory = int(body.get("Memory") or 0)
        if new_memory and not body.get("MemorySwap") and new_memory > int(rec.host_config.get("MemorySwap") or 0):
            raise Conflict(f"Cannot update container {rec.id}: Memory limit should be smaller than already set "
                           "memoryswap limit, update the memoryswap at the same time")
        for new, old, what in (("NanoCpus", "CpuPeriod", "Nano CPUs cannot be updated as CPU Period"),
                               ("NanoCpus", "CpuQuota", "Nano CPUs cannot be updated as CPU Quota"),
                               ("CpuPeriod", "NanoCpus", "CPU Period cannot be updated as NanoCPUs"),
                               ("CpuQuota", "NanoCpus", "CPU Quota cannot be updated as NanoCPUs")):
            if int(body.get(new) or 0) > 0 and int(rec.host_config.get(old) or 0) > 0:  # moby's UpdateContainer
                raise Conflict(f"Cannot update container {rec.id}: Conflicting options: {what} has already been set")
        rp = body.get("RestartPolicy")
        if rp and rp.get("Name") is not None:
            if rec.host_config.get("AutoRemove") and rp.get("Name") not in ("", "no"):
                raise Conflict(f"Cannot update container {rec.id}: Restart policy cannot be updated because "
                               "AutoRemove is enabled for the container")
            rec.host_config["RestartPolicy"] = {"Name": rp.get("Name") or "no",
                                                "MaximumRetryCount": int(rp.get("MaximumRetryCount") or 0)}
        res: dict[str, Any] = {}
        keys = ("Memory", "MemoryReservation", "MemorySwap", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota",
                "CpusetCpus", "CpusetMems", "BlkioWeight")
        for k in keys:
            if k in body and body[k] not in (None, 0, ""):
                res[k] = body[k]
        if body.get("PidsLimit") is not None:  # moby: 0 and any negative value mean unlimited, kept as 0
            res["PidsLimit"] = max(int(body["PidsLimit"]), 0)
        if rec.running and res:
            mem: dict[str, Any] = {}
            cpu: dict[str, Any] = {}
            if "Memory" in res:
                mem["limit"] = int(res["Memory"])
                if "MemorySwap" not in res and not rec.host_config.get("MemorySwap"):
                    mem["swap"] = int(res["Memory"]) * 2
            if "MemoryReservation" in res:
                mem["reservation"] = int(res["MemoryReservation"])
            if "MemorySwap" in res:
                mem["swap"] = int(res["MemorySwap"])
            if "NanoCpus" in res:
                cpu["period"] = 100000
                cpu["quota"] = int(res["NanoCpus"]) * 100000 // 1_000_000_000
            for k, key in (("CpuShares", "shares"), ("CpuPeriod", "period"), ("CpuQuota", "quota"),
                           ("CpusetCpus", "cpus"), ("CpusetMems", "mems")):
                if k in res:
                    cpu[key] = res[k]
            resources: dict[str, Any] = {}
            if mem:
                resources["memory"] = mem
            if cpu:
                resources["cpu"] = cpu
            if "PidsLimit" in res:
                resources["pids"] = {"limit": int(res["PidsLimit"]) or -1}  # runc's "unlimited" on update
            if "BlkioWeight" in res:
                resources["blockIO"] = {"weight": int(res["BlkioWeight"])}
            try:
                await self._runtime_call(rec, "update", "-r", "-", stdin=json.dumps(resources).encode())
            except System as e:  # moby's errCannotUpdate
                raise System(f"Cannot update container {rec.id}: {e}") from e
        rec.host_config.update(res)
        svc.save(rec)
        svc.publish(rec, "update")
        return {"Warnings": None}  # moby: a nil slice when nothing was discarded

    async def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
        svc = self._svc
        rec = svc.get(ref)
        if rec.status == "restarting":
            raise Conflict(restarting_text(rec.id))
        if not rec.running:
            raise NotRunning(f"container {rec.id} is not running")  # moby's errNotRunning
        pids = set(await asyncio.to_thread(self.container_pids, rec))
        proc = await asyncio.create_subprocess_exec("ps", *ps_args.split(), stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:  # moby: "ps: " and the first line of ps's stderr
            first = err.decode(errors="replace").split("\n", 1)[0]
            raise System(f"ps: {first or f'exit status {proc.returncode}'}")
        lines = out.decode(errors="replace").splitlines()
        titles = lines[0].split()
        try:
            pid_col = titles.index("PID")
        except ValueError:
            raise InvalidParameter("Couldn't find PID field in ps output") from None
        procs = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
                procs.append(fields)
        svc.publish(rec, "top")
        return {"Titles": titles, "Processes": procs}

    def cgroup_path(self, rec: ContainerRecord) -> str:
        parent = (rec.host_config.get("CgroupParent") or str(self._svc.config.get("cgroup-parent") or "")
                  or "/skiff")
        return f"/{parent.strip('/')}/{rec.id}"

    def container_pids(self, rec: ContainerRecord) -> list[int]:
        rel = self.cgroup_path(rec).lstrip("/")
        for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup"):
            p = os.path.join(base, rel, "cgroup.procs")
            if os.path.exists(p):
                with open(p) as f:
                    return [int(x) for x in f.read().split()]
        return [rec.pid] if rec.pid else []


def _preload_netlink() -> None:
    """pyroute2 takes a few hundred ms to import: not on the first `run`."""
    with contextlib.suppress(Exception):
        from skiff.network import netlink  # noqa: F401


def _lo_up(pid: int) -> None:
    from skiff.network import netlink
    netlink.set_up("lo", netns=f"/proc/{pid}/ns/net")


def _runtime_message(msg: str) -> str:
    m = msg.strip()
    if m.startswith("failed to create task"):
        return m
    return f"failed to create task for container: failed to create shim task: OCI runtime create failed: {m}: unknown"


def _empty_image() -> Any:
    from skiff.engine.containers.spec import ImageConfig
    return ImageConfig()


def _replace_init(host: Any) -> Any:
    from dataclasses import replace
    return replace(host, init=True)
