"""BuildService: the engine side of ``docker build`` (the classic builder's ``POST /build``).

It implements ``skiff.build.backend.BuildBackend`` over the daemon's own stores, so a build shares
images, layers and the runtime with everything else:

- workspaces are snapshots of the image's layer chain (overlay2 or vfs) mounted under
  ``<data-root>/builds/ws/<key>/rootfs``; ``commit`` writes the snapshot's diff as the new layer
  and hands the snapshot itself to ``ImageService.commit(snapshot_key=...)``, so nothing is
  extracted again;
- RUN is a container on the daemon's runtime (``skiff-runtime run`` with an OCI bundle made by
  ``engine.containers.spec.build_spec``, Docker's defaults), with the step's env, user, workdir,
  network mode and ``RUN --mount`` binds / tmpfs as OCI mounts; its output is piped to the step;
- tags go through ``ImageEngine.tag`` (image ``tag`` events, as dockerd);
- the step containers publish container events on the daemon's EventBus as dockerd's classic
  builder's do (``builder/dockerfile``: containerManager.Create/Run, RemoveAll): a RUN container
  ``create``, ``attach``, ``start``, ``die`` (exitCode), then ``destroy`` once the step is committed;
  the container of a metadata step (LABEL, ENV, CMD, ...) or WORKDIR ``create`` and ``destroy``;
  COPY/ADD none. Attributes as dockerd's: the step config's labels, ``image`` (the ID the step
  starts from), ``name`` (a generated one). Unlike dockerd (without ``--force-rm``) a failed RUN's
  container is not kept, so it gets its ``destroy`` too.

Network modes: ``none`` = a private namespace with ``lo`` only, ``host`` = the host's; ``default``
is Docker's bridge (and a network name a user network) through the network engine's NetworkHook,
as containers get it (:attr:`BuildService.network_for_default`; ``host`` when the daemon has no
network engine).

One :class:`_BuildSession` per build records its RUN containers, so ``POST /build/cancel`` and a
client that goes away kill the RUN in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import selectors
import shutil
import subprocess
import tempfile
import threading
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from skiff.build.backend import Image, OutputSink, ProgressSink, RunMount, RunSpec, Workspace
from skiff.build.builder import Builder
from skiff.build.cache import JsonCacheStore
from skiff.build.context import extract_context
from skiff.build.options import BuildError, BuildOptions, error_message
from skiff.engine.config import DaemonConfig
from skiff.engine.containers.names import random_name
from skiff.engine.containers.runtimes import runtime_command, runtime_path
from skiff.engine.containers.seams import NetworkHook, NetworkRequest
from skiff.engine.containers.spec import ImageConfig as SpecImageConfig
from skiff.engine.containers.spec import SpecContext, build_spec, ensure_working_dir, parse_create
from skiff.engine.events import EventBus
from skiff.engine.images import registry_domain
from skiff.errors import InvalidParameter, NotFound, SkiffError
from skiff.image import reference
from skiff.image.registry.auth import AuthConfig
from skiff.oci.digest import Digest
from skiff.oci.image_spec import History, ImageConfig
from skiff.storage import LayerAccess, Snapshotter, mount_all, unmount_all, write_diff

__all__ = ["BuildService"]

log = logging.getLogger("skiff.builds")

_ETC_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/hostname")
_DEFAULT_MOUNT_POINTS = ("/proc", "/dev", "/sys", "/etc")
_STDERR_ON, _STDERR_OFF = b"\x1b[91m", b"\x1b[0m"
_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


class BuildService:
    """The daemon's builds: ``build`` (POST /build), ``cancel``, ``prune``; the BuildBackend."""

    def __init__(self, config: DaemonConfig, images: Any, snapshotter: Snapshotter,
                 network: NetworkHook | None = None, events: EventBus | None = None) -> None:
        self.config = config
        self.events = events
        self.images = images  # engine.images.ImageEngine (tag events) with .service: ImageService
        self.service = images.service
        self.sn = snapshotter
        self.root = config.data_root / "builds"
        self.ws_root = self.root / "ws"
        self.run_root = self.root / "run"
        self.cache_mounts = self.root / "cache-mounts"
        for d in (self.ws_root, self.run_root, self.cache_mounts):
            d.mkdir(parents=True, exist_ok=True)
        self.cache = JsonCacheStore(config.data_root / "buildcache")
        runtime = str(config.default_runtime or "skiff")
        self.runtime = runtime_command(runtime_path(runtime, dict(config.runtimes)), config.exec_root / "runtime")
        self.runtime_args = ("--root", str(config.exec_root / "runtime" / runtime))
        self.network = network  # the network engine (bridge and user networks), when the daemon has one
        self.network_for_default = "bridge" if network is not None else "host"  # Docker's default: bridge
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._sessions: dict[str, _BuildSession] = {}
        self._parents: dict[tuple[Any, ...], str] = {}
        self._configs: dict[str, Image] = {}
        self._ran: dict[str, tuple[str, dict[str, str]]] = {}  # workspace id -> its RUN container, attributes

    # ---- daemon hooks ----------------------------------------------------------------------------
    async def reconcile(self) -> None:
        """At start: kill and delete the RUN containers a killed daemon left (their bundle dirs are
        named by container id), detach them from their network, unmount and drop the workspaces."""
        for d in list(self.run_root.iterdir()):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                await asyncio.to_thread(
                    subprocess.run, [self.runtime, *self.runtime_args, "delete", "--force", d.name],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
            if self.network is not None:
                with contextlib.suppress(Exception):
                    await self.network.detach_network(d.name)
        await asyncio.to_thread(self._remove_leftovers)

    def _remove_leftovers(self) -> None:
        for d in list(self.ws_root.iterdir()) + list(self.run_root.iterdir()):
            with contextlib.suppress(OSError):
                unmount_all(d, lazy=True)
            if d.parent == self.ws_root:
                with contextlib.suppress(SkiffError):
                    self.sn.remove(d.name)
            shutil.rmtree(d, ignore_errors=True)

    def close(self) -> None:
        for s in list(self._sessions.values()):
            s.kill_all()

    # ---- API verbs -------------------------------------------------------------------------------
    async def build(self, body: AsyncIterable[bytes], options: BuildOptions,
                    auths: Mapping[str, AuthConfig] | None = None) -> AsyncIterator[dict[str, Any]]:
        """POST /build: the context tar in, Docker's JSON messages out. Errors found before the first
        message (bad context, Dockerfile parse errors) raise from the first ``__anext__``."""
        self._loop = asyncio.get_running_loop()
        for t in options.tags:
            _check_tag(t)
        self._network_mode(options.network_mode)  # an unknown mode fails before the build starts
        tmp = Path(tempfile.mkdtemp(prefix="ctx-", dir=self.root))
        try:
            tar = tmp / "context.tar"
            with open(tar, "wb") as f:
                async for chunk in body:
                    f.write(chunk)
            _terminate_tar(tar)
            with open(tar, "rb") as rf:
                ctx = await asyncio.to_thread(extract_context, rf, options.dockerfile)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        build_id = options.build_id or secrets.token_hex(16)
        options = replace(options, build_id=build_id)
        session = _BuildSession(self, build_id, auths or {})
        builder = Builder(session, self.cache)
        session.builder_cancel = lambda: builder.cancel(build_id)
        with self._lock:
            self._sessions[build_id] = session
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        closed = threading.Event()
        done = object()
        failure: list[BaseException] = []

        def emit(msg: Mapping[str, Any]) -> None:
            if closed.is_set():
                raise BuildError("Build cancelled")
            loop.call_soon_threadsafe(queue.put_nowait, dict(msg))

        def work() -> None:  # its own thread: a build may run for long, the default pool is small
            try:
                builder.build(ctx, options, emit)
            except BaseException as exc:
                failure.append(exc)
            finally:
                ctx.close()
                with contextlib.suppress(RuntimeError):  # the loop is gone at daemon exit
                    loop.call_soon_threadsafe(queue.put_nowait, done)

        threading.Thread(target=work, name=f"build-{build_id[:12]}", daemon=True).start()

        async def gen() -> AsyncGenerator[dict[str, Any]]:
            try:
                while True:
                    msg = await queue.get()
                    if msg is done:
                        if failure:
                            raise failure[0]
                        return
                    yield msg
            finally:
                closed.set()
                session.kill_all()
                with self._lock:
                    self._sessions.pop(build_id, None)

        g = gen()
        try:
            first = await anext(g)
        except StopAsyncIteration:
            first = None
        except BaseException:
            await g.aclose()
            raise

        async def relay() -> AsyncIterator[dict[str, Any]]:
            if first is not None:
                yield first
            try:
                async for m in g:
                    yield m
            except SkiffError as exc:  # after the first message: in-band, with a failed RUN's code
                yield error_message(exc)
        return relay()

    def cancel(self, build_id: str) -> None:
        """POST /build/cancel?id=: stop the build and kill its running RUN (no-op if unknown)."""
        with self._lock:
            session = self._sessions.get(build_id)
        if session is not None:
            session.cancelled.set()
            session.builder_cancel()
            session.kill_all()

    def prune(self, all: bool = False, filters: Mapping[str, Any] | None = None) -> dict[str, Any]:  # noqa: A002
        """POST /build/prune: forget the cache index and empty the cache mounts."""
        ids = self.cache.prune()
        reclaimed = 0
        for d in list(self.cache_mounts.iterdir()):
            reclaimed += _du(d)
            shutil.rmtree(d, ignore_errors=True)
        return {"CachesDeleted": ids or None, "SpaceReclaimed": reclaimed}

    def disk_usage(self, types: frozenset[str]) -> Mapping[str, Any]:
        if types and "build-cache" not in types:
            return {}
        items = []
        for d in sorted(self.cache_mounts.iterdir()) if self.cache_mounts.exists() else []:
            items.append({"ID": d.name, "Type": "exec.cachemount", "Description": "cached mount",
                          "InUse": False, "Shared": False, "Size": _du(d), "UsageCount": 0})
        return {"BuildCache": items}

    # ---- BuildBackend ------------------------------------------------------------------------------
    def _image(self, rec: Any) -> Image:
        """The builder's view of an image record; configs are immutable by ID, so kept (bounded)."""
        iid = str(rec.id)
        img = self._configs.get(iid)
        if img is None:
            img = Image(iid, self.service.config_of(rec))
            with self._lock:
                if len(self._configs) >= 1024:
                    self._configs.clear()
                self._configs[iid] = img
        self._remember(img)
        return img

    def _remember(self, img: Image) -> None:
        key = (tuple(img.config.diff_ids), tuple(img.config.history))
        with self._lock:
            if len(self._parents) >= 4096:
                self._parents.clear()
            self._parents[key] = img.id

    def resolve_image(self, ref: str, *, platform: str, pull: bool, progress: ProgressSink,
                      auths: Mapping[str, AuthConfig] | None = None) -> Image:
        if not pull:
            with contextlib.suppress(NotFound):
                return self._image(self.service.resolve(ref))
        parsed = reference.parse(ref)
        name = parsed.familiar if (parsed.tag or parsed.digest) else parsed.with_default_tag().familiar
        auth = next((a for reg, a in (auths or {}).items() if registry_domain(reg) == parsed.domain), None)
        asyncio.run(self._pull(name, platform, progress, auth))  # the build's own thread: no loop here
        return self._image(self.service.resolve(ref))

    async def _pull(self, ref: str, platform: str, progress: ProgressSink, auth: AuthConfig | None) -> None:
        async for msg in await self.images.pull(ref, platform=platform, auth=auth):
            progress(msg)

    def get_image(self, image_id: str) -> Image | None:
        rec = self.service.images.get(image_id)
        return self._image(rec) if rec is not None else None

    def _top_chain(self, image_id: str) -> str | None:
        if not image_id:
            return None
        top = self.service.rootfs_for(image_id).top_chain_id
        return str(top) if top is not None else None

    def _workspace(self, image_id: str, writable: bool) -> Workspace:
        key = ("build-" if writable else "buildview-") + secrets.token_hex(12)
        parent = self._top_chain(image_id)
        d = self.ws_root / key
        rootfs = d / "rootfs"
        rootfs.mkdir(parents=True)
        try:
            if writable:
                mounts = self.sn.prepare(key, parent)
            elif parent is None:
                return Workspace(key, rootfs, image_id, writable=False)
            else:
                mounts = self.sn.view(key, parent)
            try:
                mount_all(mounts, rootfs)
            except BaseException:
                with contextlib.suppress(SkiffError):
                    self.sn.remove(key)
                raise
        except BaseException:
            shutil.rmtree(d, ignore_errors=True)
            raise
        return Workspace(key, rootfs, image_id, writable=writable)

    def prepare(self, image_id: str) -> Workspace:
        return self._workspace(image_id, True)

    def view(self, image_id: str) -> Workspace:
        return self._workspace(image_id, False)

    def _container_attrs(self, image_id: str, labels: Mapping[str, str] | None = None) -> dict[str, str]:
        """A step container's event attributes, as dockerd's: its labels (the step's config), the
        image it starts from, a generated name."""
        if labels is None:
            img = self.get_image(image_id) if image_id else None
            labels = img.config.config.labels if img is not None else {}
        attrs = {str(k): str(v) for k, v in labels.items()}
        attrs.update(image=image_id, name=random_name())
        return attrs

    def _publish(self, action: str, cid: str, attrs: Mapping[str, str], **extra: str) -> None:
        if self.events is not None:
            self.events.publish("container", action, cid, {**attrs, **extra})

    def release(self, workspace: Workspace) -> None:
        with self._lock:
            ran = self._ran.pop(workspace.id, None)
        try:
            self._release(workspace)
        finally:
            if ran is not None:
                self._publish("destroy", *ran)

    def _release(self, workspace: Workspace) -> None:
        d = self.ws_root / workspace.id
        if not d.exists():
            return
        with contextlib.suppress(OSError):
            unmount_all(workspace.rootfs)
        with contextlib.suppress(SkiffError):
            self.sn.remove(workspace.id)  # gone already when committed
        shutil.rmtree(d, ignore_errors=True)

    def commit(self, config: ImageConfig, history: History, workspace: Workspace | None,
               container_id: str = "") -> Image:
        """See BuildBackend.commit. A step container that did not run (metadata steps, WORKDIR)
        is created and destroyed around the commit, for its events."""
        with self._lock:
            ran = any(cid == container_id for cid, _ in self._ran.values())
        if not container_id or ran:
            return self._commit(config, history, workspace)
        start = workspace.image_id if workspace is not None else \
            self._parents.get((tuple(config.diff_ids), tuple(config.history)), "")
        attrs = self._container_attrs(start, config.config.labels)
        self._publish("create", container_id, attrs)
        try:
            return self._commit(config, history, workspace)
        finally:
            self._publish("destroy", container_id, attrs)

    def _commit(self, config: ImageConfig, history: History, workspace: Workspace | None) -> Image:
        parent = self._parents.get((tuple(config.diff_ids), tuple(config.history)), "")
        if workspace is None:
            rec = self.service.commit(config, None, history=history, parent=parent)
            return self._image(rec)
        parent = workspace.image_id or parent
        unmount_all(workspace.rootfs)
        d = self.ws_root / workspace.id
        dirs = cast(LayerAccess, self.sn).layer_dirs(workspace.id)
        if dirs.overlay:
            _prune_copy_ups(dirs.upper, dirs.lowers)
        with tempfile.TemporaryFile(dir=d) as tar:
            write_diff(dirs, cast(Any, tar))
            tar.seek(0)
            rec = self.service.commit(config, cast(Any, tar), history=history, parent=parent,
                                      snapshot_key=workspace.id)
        return self._image(rec)

    def tag(self, image_id: str, ref: str) -> str:
        parsed = reference.parse(ref)
        repo = parsed.familiar_name
        tag = parsed.tag or "latest"
        return str(self.images.tag(image_id, repo, tag))

    def cache_mount_dir(self, cache_id: str) -> Path:
        d = self.cache_mounts / Digest.of(cache_id.encode()).hex[:24]
        d.mkdir(parents=True, exist_ok=True)
        return d

    def run(self, workspace: Workspace, spec: RunSpec, output: OutputSink,
            track: Callable[[str, subprocess.Popen[bytes] | None], None] | None = None) -> int:
        rootfs = str(workspace.rootfs)
        bundle = self.run_root / spec.container_id
        bundle.mkdir(parents=True)
        attached = False
        attrs = self._container_attrs(workspace.image_id)
        with self._lock:
            self._ran[workspace.id] = (spec.container_id, attrs)  # destroy when the workspace goes
        self._publish("create", spec.container_id, attrs)
        self._publish("attach", spec.container_id, attrs)  # the builder attaches before it starts
        try:
            network = self._network_mode(spec.network)
            missing = [p for p in (*_DEFAULT_MOUNT_POINTS, *_ETC_FILES)
                       if not os.path.lexists(os.path.join(rootfs, p.lstrip("/")))]
            netns, resolv, hosts = "", "", ""
            if network not in ("none", "host"):
                att = self._call(self.network.attach_network(NetworkRequest(  # type: ignore[union-attr]
                    container_id=spec.container_id, name=f"build-{spec.container_id[:12]}", mode=network,
                    hostname=spec.container_id[:12], extra_hosts=spec.extra_hosts)))
                attached = True
                netns, resolv, hosts = att.netns_path, att.resolv_conf, att.hosts
            etc = self._etc_files(bundle, network, spec, resolv, hosts)
            res = spec.resources
            body = {
                "Cmd": list(spec.args), "Env": list(spec.env), "User": spec.user,
                "WorkingDir": spec.workdir or "/",
                "HostConfig": {
                    "NetworkMode": network, "Memory": int(res.get("memory") or 0),
                    "MemorySwap": int(res.get("memswap") or 0), "CpuShares": int(res.get("cpushares") or 0),
                    "CpuPeriod": int(res.get("cpuperiod") or 0), "CpuQuota": int(res.get("cpuquota") or 0),
                    "CpusetCpus": str(res.get("cpusetcpus") or ""), "CpusetMems": str(res.get("cpusetmems") or ""),
                    "ShmSize": int(res.get("shmsize") or 0),
                    "Privileged": spec.insecure,
                },
            }
            cfg, host = parse_create(body)
            ensure_working_dir(rootfs, spec.workdir or "/")
            ctx = SpecContext(container_id=spec.container_id, rootfs=rootfs, resolv_conf=etc["resolv"],
                              hosts=etc["hosts"], hostname_file=etc["hostname"], netns_path=netns,
                              cgroups_path=f"/skiff/build-{spec.container_id}")
            oci = build_spec(SpecImageConfig(), cfg, host, ctx)
            oci["mounts"].extend(_oci_mount(m) for m in spec.mounts)
            oci["mounts"].sort(key=lambda m: len([p for p in m["destination"].split("/") if p]))
            with open(bundle / "config.json", "w") as f:
                json.dump(oci, f)
            self._publish("start", spec.container_id, attrs)
            try:
                code = self._run_runtime(spec.container_id, bundle, output, track)
            except BaseException:
                self._publish("die", spec.container_id, attrs, exitCode="137")  # killed (cancelled)
                raise
            self._publish("die", spec.container_id, attrs, exitCode=str(code if code >= 0 else 128 - code))
            for p in sorted(missing, key=len, reverse=True):
                _remove_mountpoint(Path(rootfs) / p.lstrip("/"))
            return code
        finally:
            if attached:
                with contextlib.suppress(Exception):
                    self._call(self.network.detach_network(spec.container_id))  # type: ignore[union-attr]
            shutil.rmtree(bundle, ignore_errors=True)

    def _network_mode(self, mode: str) -> str:
        """RUN's network: none, host, or (with the network engine) bridge / a user network."""
        network = mode or "default"
        if network == "default":
            network = self.network_for_default
        if network in ("none", "host"):
            return network
        if self.network is None or self._loop is None:
            raise InvalidParameter(f'network mode "{mode}" not supported by the classic builder: '
                                   "use default, none or host")
        if network.startswith("container:"):
            raise InvalidParameter(f"network mode {network} is not supported for RUN")
        return network

    def _call(self, coro: Any) -> Any:
        """Run a coroutine of the network engine on the daemon's loop from a build thread."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=120)

    def _etc_files(self, bundle: Path, network: str, spec: RunSpec, resolv: str = "",
                   net_hosts: str = "") -> dict[str, str]:
        hosts = net_hosts or _HOSTS
        hostname = spec.container_id[:12]
        if network != "none" and not resolv:
            with contextlib.suppress(OSError):
                resolv = Path("/etc/resolv.conf").read_text()
        if network == "host":
            with contextlib.suppress(OSError):
                hosts = Path("/etc/hosts").read_text()
            with contextlib.suppress(OSError):
                resolv = Path("/etc/resolv.conf").read_text()
            hostname = os.uname().nodename
        for h in spec.extra_hosts if not net_hosts else ():  # the network engine wrote them
            name, _, ip = h.partition(":")
            if ip.startswith("[") and ip.endswith("]"):
                ip = ip[1:-1]
            hosts += f"{ip}\t{name}\n"
        paths = {"hosts": bundle / "hosts", "resolv": bundle / "resolv.conf", "hostname": bundle / "hostname"}
        paths["hosts"].write_text(hosts)
        paths["resolv"].write_text(resolv)
        paths["hostname"].write_text(hostname + "\n")
        return {k: str(v) for k, v in paths.items()}

    def _run_runtime(self, cid: str, bundle: Path, output: OutputSink,
                     track: Callable[[str, subprocess.Popen[bytes] | None], None] | None) -> int:
        """Run the container; stdout as is, stderr wrapped in red as dockerd's classic builder
        does (streamformatter's stderr writer: ESC[91m ... ESC[0m per write)."""
        proc = subprocess.Popen([self.runtime, *self.runtime_args, "run", "--bundle", str(bundle), cid],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=str(bundle), start_new_session=True)
        if track is not None:
            track(cid, proc)
        try:
            assert proc.stdout is not None and proc.stderr is not None
            out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
            with selectors.DefaultSelector() as sel:
                sel.register(out_fd, selectors.EVENT_READ)
                sel.register(err_fd, selectors.EVENT_READ)
                while sel.get_map():
                    for key, _ in sel.select():
                        chunk = os.read(key.fd, 65536)
                        if not chunk:
                            sel.unregister(key.fd)
                        elif key.fd == err_fd:
                            output(_STDERR_ON + chunk + _STDERR_OFF)
                        else:
                            output(chunk)
            return proc.wait()
        except BaseException:
            self._kill(cid, proc)
            raise
        finally:
            if track is not None:
                track(cid, None)
            for f in (proc.stdout, proc.stderr):
                if f is not None:
                    f.close()

    def _kill(self, cid: str, proc: subprocess.Popen[bytes]) -> None:
        """Kill a RUN container (the runtime forwards nothing to it once killed itself)."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([self.runtime, *self.runtime_args, "kill", cid, "KILL"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            proc.wait(timeout=10)
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()


class _BuildSession:
    """The BuildBackend one build sees: the service, plus the RUN containers it has running."""

    def __init__(self, service: BuildService, build_id: str, auths: Mapping[str, AuthConfig]) -> None:
        self.s = service
        self.auths = auths
        self.build_id = build_id
        self.cancelled = threading.Event()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self.builder_cancel: Callable[[], object] = lambda: None

    def _track(self, cid: str, proc: subprocess.Popen[bytes] | None) -> None:
        with self._lock:
            if proc is None:
                self._procs.pop(cid, None)
            else:
                self._procs[cid] = proc

    def kill_all(self) -> None:
        with self._lock:
            procs = list(self._procs.items())
        for cid, proc in procs:
            if proc.poll() is None:
                self.s._kill(cid, proc)

    def resolve_image(self, ref: str, *, platform: str, pull: bool, progress: ProgressSink) -> Image:
        return self.s.resolve_image(ref, platform=platform, pull=pull, progress=progress, auths=self.auths)

    def get_image(self, image_id: str) -> Image | None:
        return self.s.get_image(image_id)

    def prepare(self, image_id: str) -> Workspace:
        return self.s.prepare(image_id)

    def view(self, image_id: str) -> Workspace:
        return self.s.view(image_id)

    def release(self, workspace: Workspace) -> None:
        self.s.release(workspace)

    def run(self, workspace: Workspace, spec: RunSpec, output: OutputSink) -> int:
        if self.cancelled.is_set():
            raise InvalidParameter("Build cancelled")
        return self.s.run(workspace, spec, output, self._track)

    def commit(self, config: ImageConfig, history: History, workspace: Workspace | None,
               container_id: str = "") -> Image:
        return self.s.commit(config, history, workspace, container_id)

    def tag(self, image_id: str, ref: str) -> str:
        return self.s.tag(image_id, ref)

    def cache_mount_dir(self, cache_id: str) -> Path:
        return self.s.cache_mount_dir(cache_id)


def _oci_mount(m: RunMount) -> dict[str, Any]:
    if m.type == "tmpfs":
        opts = ["nosuid", "nodev", "mode=1777"] + ([f"size={m.size}"] if m.size else [])
        return {"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": opts}
    return {"destination": m.target, "type": "bind", "source": str(m.source),
            "options": ["rbind", "ro" if m.readonly else "rw", "rprivate"]}


def _prune_copy_ups(upper: Path, lowers: tuple[Path, ...]) -> None:
    """Drop directories overlay copied up without a change (a mount point made and removed in
    them): empty, not opaque, same owner and mode as below. Docker keeps mount points in an init
    layer, so they never show in its diffs; neither should they in ours."""
    for dirpath, _dirs, _files in os.walk(upper, topdown=False):
        if dirpath == str(upper):
            continue
        with contextlib.suppress(OSError):
            if os.listdir(dirpath):
                continue
            if os.getxattr(dirpath, "trusted.overlay.opaque", follow_symlinks=False) == b"y":
                continue
        rel = os.path.relpath(dirpath, upper)
        st = os.lstat(dirpath)
        for lower in lowers:
            below = lower / rel
            try:
                lst = os.lstat(below)
            except OSError:
                continue
            if (lst.st_mode, lst.st_uid, lst.st_gid) == (st.st_mode, st.st_uid, st.st_gid):
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)
            break


def _remove_mountpoint(p: Path) -> None:
    """A default mount point the runtime made (empty dir or file): keep it out of the layer."""
    with contextlib.suppress(OSError):
        if p.is_symlink():
            return
        if p.is_dir():
            p.rmdir()
        elif p.is_file() and p.stat().st_size == 0:
            p.unlink()


_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")


def _terminate_tar(path: Path) -> None:
    """The docker CLI's ``-f -`` context (ReplaceFileTarWrapper) ends without the last entry's
    padding and the end-of-archive blocks; Go's reader accepts that, Python's does not. Pad an
    uncompressed tar to a block and add the two zero blocks (harmless after a proper end)."""
    with open(path, "r+b") as f:
        head = f.read(6)
        if not head or head.startswith(_COMPRESSED):
            return
        size = f.seek(0, os.SEEK_END)
        f.write(b"\0" * ((-size) % 512 + 1024))


def _check_tag(tag: str) -> None:
    """dockerd validates every ``t=`` before reading the context (400 with its text)."""
    try:
        ref = reference.parse(tag)
    except SkiffError:
        raise InvalidParameter(f"invalid reference format: repository name ({tag}) must be lowercase"
                               if tag.lower() != tag else "invalid reference format") from None
    if ref.digest is not None:
        raise InvalidParameter("refusing to create a tag with a digest reference")


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total
