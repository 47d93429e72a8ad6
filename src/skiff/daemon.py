"""skiffd: the composition root. Reads config, builds stores, drivers and services, serves the API.

This is the only module that chooses concrete classes. ``build_engine(config)`` makes the state
store, the event bus and the services and registers them in ``Services`` for the API; a resource
engineer adds one block there for their service (see docs/DEVELOPING.md, "API handlers").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import skiff
from skiff.api import routes as api_routes
from skiff.api.backends import EventsBackend, Services, SystemBackend
from skiff.api.server import ApiServer, TLSFiles, make_app
from skiff.engine.config import DaemonConfig, load_config
from skiff.engine.events import EventBus
from skiff.engine.state import StateDB
from skiff.engine.system import SystemService
from skiff.errors import SkiffError, System

__all__ = ["main", "build_engine", "Engine", "parse_args", "Args", "reload", "serve"]

log = logging.getLogger("skiffd")

DEFAULT_CONFIG_FILE = "/etc/skiff/daemon.json"

Hook = Callable[[], Awaitable[None] | None]


@dataclass
class Engine:
    """Everything the daemon built: shared stores, services, and start/stop hooks."""

    config: DaemonConfig
    db: StateDB
    events: EventBus
    system: SystemService
    services: Services
    on_start: list[Hook] = field(default_factory=list)   # run in order once the loop runs
    on_stop: list[Hook] = field(default_factory=list)    # run in reverse order at shutdown
    images: Any = None        # skiff.image.service.ImageService, set by the images block
    snapshotter: Any = None   # the storage snapshotter images are unpacked into (overlay2 or vfs)


def build_engine(config: DaemonConfig) -> Engine:
    """Build the stores and services and register them for the API. Add new services here."""
    for root, mode in ((config.data_root, 0o711), (config.exec_root, 0o711)):
        root.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(root, mode)
    db = StateDB.open(config.data_root)
    events = EventBus(db)
    system = SystemService(config, events)
    services = Services()
    system_backend: SystemBackend = system  # the annotations make mypy check the Protocols
    events_backend: EventsBackend = events
    services.provide(SystemBackend, system_backend)
    services.provide(EventsBackend, events_backend)
    engine = Engine(config=config, db=db, events=events, system=system, services=services)
    engine.on_stop.append(db.close)
    engine.on_stop.append(events.close)  # stop hooks run in reverse: events close before the db
    # ---- resource services: one block each (construct, provide its Protocols, add sources/hooks)
    _images_block(engine)
    _volumes_block(engine)
    _networks_block(engine)
    _containers_block(engine)
    _builds_block(engine)
    return engine


def _images_block(engine: Engine) -> None:
    """Images (engine/images.py): the ImageService over overlay2 (vfs fallback) under <data-root>;
    sets ``engine.images`` (the ImageService) and ``engine.snapshotter`` for the containers block."""
    from skiff.api.auth import AuthBackend
    from skiff.api.distribution import DistributionBackend
    from skiff.api.images import ImageBackend
    from skiff.engine.images import build_image_engine

    images = build_image_engine(engine.config, engine.events)
    i_backend: ImageBackend = images
    a_backend: AuthBackend = images
    d_backend: DistributionBackend = images
    engine.services.provide(ImageBackend, i_backend)
    engine.services.provide(AuthBackend, a_backend)
    engine.services.provide(DistributionBackend, d_backend)
    engine.system.add_info_source(images)
    engine.system.add_disk_usage_source(images)
    engine.on_stop.append(images.close)
    engine.images, engine.snapshotter = images.service, images.snapshotter


def _volumes_block(engine: Engine) -> None:
    """Volumes (engine/volumes.py): local driver under <data-root>/volumes; sets ``engine.volume_backend``
    (the containers block's VolumeBackend)."""
    from skiff.api.volumes import VolumeBackend
    from skiff.engine.volumes import VolumeEngine

    volumes = VolumeEngine(engine.config, engine.db, engine.events)
    v_backend: VolumeBackend = volumes
    engine.services.provide(VolumeBackend, v_backend)
    engine.system.add_disk_usage_source(volumes)
    engine.volume_backend = volumes  # type: ignore[attr-defined]


def _networks_block(engine: Engine) -> None:
    """Networks (engine/networks.py) over skiff.network; also the containers' NetworkHook
    (``engine.network_hook``), so it runs before the containers block."""
    from skiff.api.containers import ContainerBackend
    from skiff.api.networks import NetworkBackend
    from skiff.engine.containers.seams import NetworkHook
    from skiff.engine.networks import ContainerLookup, NetworkEngine

    def containers() -> ContainerLookup | None:
        found: Any = engine.services.get(ContainerBackend) if engine.services.has(ContainerBackend) else None
        return found  # the ContainerService, once the containers block has provided it

    svc = NetworkEngine(engine.config, engine.events, containers)
    n_backend: NetworkBackend = svc
    hook: NetworkHook = svc
    engine.services.provide(NetworkBackend, n_backend)
    engine.network_hook = hook  # type: ignore[attr-defined]
    engine.on_start.append(svc.start)   # before the containers' reconcile (restart policies)
    engine.on_stop.append(svc.close)    # after the containers stopped (hooks run in reverse)


def _containers_block(engine: Engine) -> None:
    """Containers and exec (engine/containers) over the images block's ImageService and snapshotter."""
    from skiff.api.containers import ArchiveBackend, ContainerBackend, ContainerIOBackend
    from skiff.api.exec import ExecBackend
    from skiff.engine.containers.exec import ExecManager
    from skiff.engine.containers.service import ContainerService
    from skiff.storage import Overlay2Snapshotter

    config = engine.config
    images, snapshotter = engine.images, engine.snapshotter
    # the network and volume blocks (when present, placed before this one) may set these seams:
    # engine.network_hook (engine.containers.seams.NetworkHook), engine.volume_backend (VolumeBackend)
    svc = ContainerService(config, engine.db, engine.events, images, snapshotter,
                           network=getattr(engine, "network_hook", None),
                           volumes=getattr(engine, "volume_backend", None),
                           graph_driver="overlay2" if isinstance(snapshotter, Overlay2Snapshotter) else "vfs")
    images.is_running = svc.is_running
    execs = ExecManager(svc)
    c_backend: ContainerBackend = svc
    io_backend: ContainerIOBackend = svc
    exec_backend: ExecBackend = execs
    engine.services.provide(ContainerBackend, c_backend)
    engine.services.provide(ContainerIOBackend, io_backend)
    engine.services.provide(ExecBackend, exec_backend)
    archive_backend: ArchiveBackend = svc
    engine.services.provide(ArchiveBackend, archive_backend)
    engine.system.add_info_source(svc)
    engine.system.add_disk_usage_source(svc)
    engine.on_start.append(svc.reconcile)
    engine.on_start.append(execs.reconcile)  # after the containers': how execs that ran across a restart ended
    engine.on_stop.append(svc.close)


def _builds_block(engine: Engine) -> None:
    """Builds (engine/builds.py): POST /build over the images block's ImageEngine and snapshotter."""
    from skiff.api.build import BuildAPIBackend
    from skiff.api.images import ImageBackend
    from skiff.engine.builds import BuildService

    svc = BuildService(engine.config, engine.services.get(ImageBackend), engine.snapshotter,
                       network=getattr(engine, "network_hook", None),  # RUN on bridge / user networks
                       events=engine.events)  # the step containers' events
    b_backend: BuildAPIBackend = svc
    engine.services.provide(BuildAPIBackend, b_backend)
    engine.system.add_disk_usage_source(svc)
    engine.on_start.append(svc.reconcile)
    engine.on_stop.append(svc.close)


async def _run_hook(hook: Hook) -> None:
    result = hook()
    if inspect.isawaitable(result):
        await result


# ---- command line ----------------------------------------------------------------------------

def _bool(v: str) -> bool:
    low = v.lower()
    if low in ("1", "true", "t", "yes"):
        return True
    if low in ("0", "false", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {v!r}")


def _kv(v: str) -> tuple[str, str]:
    k, sep, val = v.partition("=")
    if not sep or not k:
        raise argparse.ArgumentTypeError(f"bad format {v!r}: want key=value")
    return k, val


# (flags, daemon.json key, kind): kind is str, bool, int, list, kv (list of k=v -> dict)
_FLAGS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("--data-root",), "data-root", "str"),
    (("--exec-root",), "exec-root", "str"),
    (("-H", "--host"), "hosts", "list"),
    (("--tls",), "tls", "bool"),
    (("--tlsverify",), "tlsverify", "bool"),
    (("--tlscacert",), "tlscacert", "str"),
    (("--tlscert",), "tlscert", "str"),
    (("--tlskey",), "tlskey", "str"),
    (("-D", "--debug"), "debug", "bool"),
    (("-l", "--log-level"), "log-level", "str"),
    (("-G", "--group"), "group", "str"),
    (("-p", "--pidfile"), "pidfile", "str"),
    (("--live-restore",), "live-restore", "bool"),
    (("--default-runtime", "--runtime"), "default-runtime", "str"),
    (("--add-runtime",), "runtimes", "kv"),
    (("--experimental",), "experimental", "bool"),
    (("--label",), "labels", "list"),
    (("-s", "--storage-driver"), "storage-driver", "str"),
    (("--storage-opt",), "storage-opts", "list"),
    (("--log-driver",), "log-driver", "str"),
    (("--log-opt",), "log-opts", "kv"),
    (("--default-shm-size",), "default-shm-size", "str"),
    (("--dns",), "dns", "list"),
    (("--dns-opt",), "dns-opts", "list"),
    (("--dns-search",), "dns-search", "list"),
    (("--bip",), "bip", "str"),
    (("--fixed-cidr",), "fixed-cidr", "str"),
    (("--default-address-pool",), "default-address-pools", "list"),
    (("--iptables-chain-prefix",), "iptables-chain-prefix", "str"),
    (("-b", "--bridge"), "bridge", "str"),
    (("--ip",), "ip", "str"),
    (("--iptables",), "iptables", "bool"),
    (("--ip-forward",), "ip-forward", "bool"),
    (("--ip-masq",), "ip-masq", "bool"),
    (("--ipv6",), "ipv6", "bool"),
    (("--mtu",), "mtu", "int"),
    (("--icc",), "icc", "bool"),
    (("--userland-proxy",), "userland-proxy", "bool"),
    (("--insecure-registry",), "insecure-registries", "list"),
    (("--registry-mirror",), "registry-mirrors", "list"),
    (("--max-concurrent-downloads",), "max-concurrent-downloads", "int"),
    (("--max-concurrent-uploads",), "max-concurrent-uploads", "int"),
    (("--max-download-attempts",), "max-download-attempts", "int"),
    (("--cgroup-parent",), "cgroup-parent", "str"),
    (("--exec-opt",), "exec-opts", "list"),
    (("--init",), "init", "bool"),
    (("--init-path",), "init-path", "str"),
    (("--no-new-privileges",), "no-new-privileges", "bool"),
    (("--seccomp-profile",), "seccomp-profile", "str"),
    (("--userns-remap",), "userns-remap", "str"),
    (("--default-cgroupns-mode",), "default-cgroupns-mode", "str"),
    (("--default-ipc-mode",), "default-ipc-mode", "str"),
    (("--shutdown-timeout",), "shutdown-timeout", "int"),
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="skiffd", description="A self-sufficient runtime for containers.")
    p.add_argument("--config-file", default=None,
                   help=f"Daemon configuration file (default \"{DEFAULT_CONFIG_FILE}\")")
    p.add_argument("-v", "--version", action="store_true", help="Print version information and quit")
    p.add_argument("--validate", action="store_true", help="Validate daemon configuration and exit")
    for names, key, kind in _FLAGS:
        kw: dict[str, Any] = {"dest": key, "default": argparse.SUPPRESS}
        if kind == "bool":
            kw.update(nargs="?", const=True, type=_bool, metavar="BOOL")
        elif kind == "int":
            kw.update(type=int)
        elif kind == "list":
            kw.update(action="append")
        elif kind == "kv":
            kw.update(action="append", type=_kv)
        p.add_argument(*names, **kw)
    return p


@dataclass(frozen=True)
class Args:
    """The command line: options given explicitly (by daemon.json key), the config file, actions."""

    flags: dict[str, Any]
    config_file: Path | None
    version: bool = False
    validate: bool = False


def parse_args(argv: Sequence[str]) -> Args:
    ns = vars(_parser().parse_args(list(argv)))
    version = ns.pop("version")
    validate_only = ns.pop("validate")
    cfg = ns.pop("config_file")
    flags: dict[str, Any] = {}
    kinds = {key: kind for _, key, kind in _FLAGS}
    for key, value in ns.items():
        flags[key] = dict(value) if kinds[key] == "kv" else value
    if cfg is not None:
        config_file: Path | None = Path(cfg)
    else:
        config_file = Path(DEFAULT_CONFIG_FILE) if os.path.exists(DEFAULT_CONFIG_FILE) else None
    return Args(flags, config_file, version, validate_only)


# ---- process ---------------------------------------------------------------------------------

_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "error": logging.ERROR, "fatal": logging.CRITICAL, "panic": logging.CRITICAL}


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=_LEVELS[level], stream=sys.stderr,
                        format="time=\"%(asctime)s\" level=%(levelname)s msg=\"%(message)s\" "
                               "logger=%(name)s")


def _write_pidfile(path: Path) -> None:
    try:
        old = int(path.read_text().strip() or "0")
    except (OSError, ValueError):
        old = 0
    if old and old != os.getpid():
        try:
            os.kill(old, 0)
        except ProcessLookupError:
            pass
        except PermissionError:
            raise System(f"pid file found, ensure skiffd is not running or delete {path}") from None
        else:
            raise System(f"pid file found, ensure skiffd is not running or delete {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{os.getpid()}")
    os.replace(tmp, path)


def reload(engine: Engine, flags: dict[str, Any], config_file: Path | None) -> None:
    """SIGHUP, as dockerd: re-read and validate the configuration, apply what can change live
    (the log level), and publish a ``daemon reload`` event. A bad file is logged, not fatal."""
    try:
        new = load_config(flags, config_file)
    except SkiffError as exc:
        log.error("Error reloading configuration: %s", exc)
        return
    logging.getLogger().setLevel(_LEVELS[new.log_level])
    attrs = {"debug": "true" if new.debug else "false", "labels": json.dumps(list(new.labels)),
             "live-restore": "true" if new.live_restore else "false", "default-runtime": new.default_runtime,
             "log-level": new.log_level, "name": socket.gethostname()}
    engine.events.publish("daemon", "reload", engine.system.id, attrs)
    log.info("Reloaded configuration from %s", config_file or "flags")


async def serve(config: DaemonConfig, ready: Callable[[], None] | None = None,
                flags: dict[str, Any] | None = None, config_file: Path | None = None) -> None:
    """Run the daemon until SIGTERM/SIGINT; SIGHUP reloads the configuration."""
    loop = asyncio.get_running_loop()
    engine = build_engine(config)
    engine.events.bind_loop(loop)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload, engine, dict(flags or {}), config_file)
    for hook in engine.on_start:
        await _run_hook(hook)
    app = make_app(api_routes.collect(engine.services), debug=config.debug)
    server = ApiServer(app, debug=config.debug)
    tls = None
    if config.tlsverify and config.tlscacert and config.tlscert and config.tlskey:
        tls = TLSFiles(config.tlscacert, config.tlscert, config.tlskey)
    try:
        await server.start(config.hosts, tls=tls, group=config.group, group_explicit=config.group_explicit)
        log.info("Daemon has completed initialization (skiffd %s, data-root %s)", skiff.__version__,
                 config.data_root)
        if ready is not None:
            ready()
        await stop.wait()
        log.info("Processing signal: shutting down")
    finally:
        await server.stop()
        for hook in reversed(engine.on_stop):
            try:
                await _run_hook(hook)
            except Exception:
                log.exception("error during shutdown")


def main(argv: Sequence[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    parsed = parse_args(args)
    flags, config_file = parsed.flags, parsed.config_file
    if parsed.version:
        print(f"Skiff version {skiff.__version__}")
        return
    try:
        config = load_config(flags, config_file)
    except SkiffError as exc:
        print(f"skiffd: {exc}", file=sys.stderr)
        sys.exit(1)
    if parsed.validate:
        print("configuration OK")
        return
    _setup_logging(config.log_level)
    pidfile = config.effective_pidfile
    try:
        _write_pidfile(pidfile)
        asyncio.run(serve(config, flags=flags, config_file=config_file))
    except SkiffError as exc:
        log.error("%s", exc)
        print(f"failed to start daemon: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(OSError, ValueError):
            if int(pidfile.read_text().strip()) == os.getpid():
                pidfile.unlink()


if __name__ == "__main__":
    main()
