"""``create`` and ``start`` as library calls (the CLI commands are thin wrappers).

create: validate the bundle, make <root>/<id>/ (exclusively: a second create of the same id
fails), fork the init child, write its uid/gid maps, put it in its cgroup, run prestart and
createRuntime hooks when it asks, and record state.json once it reports ``ready``. On any failure
everything made so far is undone: the child is killed, the cgroup and the state dir removed.

Start-up time: only what must precede the fork is imported before it. The parent then imports and
sets up the cgroup while the child, on the other core, enters its namespaces and mounts the rootfs
(every mount before the first cgroup mount: those wait for the cgroup, as a cgroup namespace
does). The child imports its own code after the fork.

start: open the exec fifo for reading (which releases the waiting init), then poststart hooks. A
container created without ``process`` (allowed by the spec) cannot start: its init exits when
released and ``start`` fails.
"""

from __future__ import annotations

import errno
import os
import time

from skiff.runtime import sync
from skiff.runtime.errors import ContainerExists, InitFailed, InvalidConfig, InvalidState
from skiff.runtime.frozen import frozen
from skiff.runtime.state import FIFO_NAME, ContainerRecord, validate_id, write_record
from skiff.sys.process import proc_stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from skiff.runtime.config import Config, IdMap
    from skiff.runtime.container import Container

__all__ = ["CreateOptions", "create", "start", "write_pid_file"]


@frozen
class CreateOptions:
    root: str
    container_id: str
    bundle: str
    console_socket: str = ""
    pid_file: str = ""
    no_pivot: bool = False
    preserve_fds: int = 0
    durable: bool = True  # fsync state.json; foreground `run` need not (its record dies with it)


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def _write_maps(pid: int, cfg: Config) -> None:
    def fmt(maps: tuple[IdMap, ...]) -> bytes:
        return "".join(f"{x.container_id} {x.host_id} {x.size}\n" for x in maps).encode()

    for name, maps in (("uid_map", cfg.uid_mappings), ("gid_map", cfg.gid_mappings)):
        path = f"/proc/{pid}/{name}"
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, fmt(maps))
        except OSError as exc:
            raise InitFailed(f"writing {path}: {exc.strerror}") from None
        finally:
            os.close(fd)


def _host_id(maps: tuple[IdMap, ...], cid: int) -> int:
    for x in maps:
        if x.container_id <= cid < x.container_id + x.size:
            return x.host_id + cid - x.container_id
    return cid


def _check_caps(caps: Any) -> None:
    """Refuse at create, clearly, capabilities this process cannot give (here root lacks
    CAP_SYS_RESOURCE): capset would fail in the container after `start`, far from the cause."""
    from skiff.errors import Forbidden
    from skiff.sys.caps import CAP_NAMES, capget

    _, have, _ = capget()
    missing = [CAP_NAMES[n] for n in sorted({*caps.permitted, *caps.effective, *caps.ambient})
               if not (have >> n) & 1 and n < len(CAP_NAMES)]
    if missing:
        raise Forbidden(f"process.capabilities asks for {', '.join(missing)}, which skiff-runtime itself "
                        "does not have")


def _seccomp(cfg: Config) -> tuple[bytes, list[str]] | None:
    if not cfg.seccomp:
        return None
    from skiff.runtime.seccomp import compile_filter

    bpf = compile_filter(cfg.seccomp)
    flags = [str(f) for f in cfg.seccomp.get("flags") or ()]
    return bpf, flags


def _hook_state(cfg: Config, cid: str, pid: int, status: str) -> dict[str, Any]:
    return {"ociVersion": cfg.oci_version, "id": cid, "status": status, "pid": pid,
            "bundle": cfg.bundle, "annotations": cfg.annotations_dict()}


def _kill_and_reap(pid: int, direct_child: bool) -> None:
    try:
        os.kill(pid, 9)  # SIGKILL (``signal`` imports enum: milliseconds)
    except ProcessLookupError:
        return
    if direct_child:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        return
    for _ in range(2000):
        st = proc_stat(pid)
        if st is None or st[0] in ("Z", "X"):
            break
        time.sleep(0.001)
    try:  # a subreaper inherits the orphan: collect it
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def create(opts: CreateOptions, bundle: tuple[Config, dict[str, Any]] | None = None) -> Container:
    """Create the container and leave its init waiting for ``start``; return it. ``bundle``: the
    bundle's config, when the caller has already loaded it (``specconv.load_bundle``)."""
    validate_id(opts.container_id)
    if bundle is None:
        from skiff.runtime.specconv import load_bundle

        bundle = load_bundle(opts.bundle)
    cfg, raw = bundle
    proc = cfg.process  # may be absent at create (the spec requires it only for `start`)
    terminal = proc is not None and proc.terminal
    if cfg.namespace("mount") is None and (cfg.mounts or cfg.masked_paths or cfg.readonly_paths
                                           or cfg.root_readonly):
        from skiff.runtime.hooks import warn

        # They would land on the host: the container only gets chroot into its rootfs.
        warn("no mount namespace: mounts, maskedPaths, readonlyPaths and root.readonly are not applied")
    if terminal and not opts.console_socket:
        raise InvalidConfig("cannot allocate tty if skiff-runtime will detach without setting console socket")
    if opts.console_socket and not terminal:
        raise InvalidConfig("cannot use console socket if skiff-runtime will not detach or allocate tty")
    if proc is not None and proc.capabilities is not None and cfg.namespace("user") is None:
        _check_caps(proc.capabilities)
    seccomp = _seccomp(cfg)
    os.makedirs(opts.root, 0o711, exist_ok=True)
    state_dir = os.path.join(opts.root, opts.container_id)
    try:
        os.mkdir(state_dir, 0o711)
    except FileExistsError:
        raise ContainerExists(opts.container_id) from None
    cleanup = _Cleanup(state_dir)
    try:
        return _create(opts, cfg, raw, seccomp, state_dir, cleanup)
    except BaseException:
        cleanup.run()
        raise


class _Cleanup:
    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.pids: list[tuple[int, bool]] = []
        self.cgroup: Any = None

    def run(self) -> None:
        from skiff.runtime.state import remove_state_dir

        for pid, direct in reversed(self.pids):
            _kill_and_reap(pid, direct)
        if self.cgroup is not None:
            try:
                self.cgroup.destroy()
            except Exception:
                pass
        remove_state_dir(self.state_dir)


def _create(opts: CreateOptions, cfg: Config, raw: dict[str, Any], seccomp: tuple[bytes, list[str]] | None,
            state_dir: str, cleanup: _Cleanup) -> Container:
    fifo = os.path.join(state_dir, FIFO_NAME)
    os.mkfifo(fifo, 0o622)
    os.chmod(fifo, 0o622)  # not narrowed by the umask
    root_uid, root_gid = _host_id(cfg.uid_mappings, 0), _host_id(cfg.gid_mappings, 0)
    if (root_uid, root_gid) != (0, 0):
        os.chown(fifo, root_uid, root_gid)  # the init reopens it as the container's root (runc does too)
    fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
    console = None
    if opts.console_socket:
        import socket

        console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            console.connect(opts.console_socket)
        except OSError as exc:
            raise InvalidConfig(f"cannot connect to console socket {opts.console_socket}: {exc.strerror}")
    from skiff.sys import ns

    parent_ch, child_ch = sync.pair()
    userns = cfg.namespace("user")
    pidns = cfg.namespace("pid")
    double = userns is not None and pidns is not None
    saved_pidns = -1
    if userns is None and pidns is not None:
        # unshare/setns(CLONE_NEWPID) changes only where *children* go: one fork makes pid 1.
        saved_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if pidns.path:
                ns.setns_path(pidns.path, ns.CLONE_NEWPID)
            else:
                ns.unshare(ns.CLONE_NEWPID)
        except BaseException:
            os.close(saved_pidns)
            raise
    if double:
        from skiff.sys.prctl import set_child_subreaper

        set_child_subreaper(True)  # the double-forked init is re-parented to us
    try:
        pid = os.fork()
        if pid == 0:
            parent_ch.close()
            _child(cfg, opts, child_ch, fifo_fd, console, double, seccomp)
    finally:
        if saved_pidns >= 0:
            ns.setns(saved_pidns, ns.CLONE_NEWPID)
            os.close(saved_pidns)
    child_ch.close()
    os.close(fifo_fd)
    if console is not None:
        console.close()
    cleanup.pids.append((pid, True))
    try:
        init_pid = pid
        if userns is not None and not userns.path:
            sync.expect(parent_ch, "userns")
            _write_maps(pid, cfg)
            sync.send(parent_ch, "go")
        if double:
            init_pid = int(sync.expect(parent_ch, "pid")["pid"])
            cleanup.pids.append((init_pid, False))
            os.waitpid(pid, 0)
        # While the child mounts the rootfs: the cgroup (imports included).
        from skiff.runtime.cgroups import new_manager
        from skiff.runtime.specconv import parse_resources

        resources = parse_resources(cfg)
        mgr = new_manager(cfg.cgroups_path, opts.container_id)
        cleanup.cgroup = mgr
        # The init joins by itself (CgroupManager.join_self: no global cgroup lock, ~15 ms less
        # than writing its pid here); inside a user namespace it may not write host cgroup files.
        self_join = userns is None
        mgr.apply(0 if self_join else init_pid)
        mgr.set(resources)
        sync.send(parent_ch, "go", pid=init_pid, join=mgr.join_files() if self_join else None)
        # Record the state while the child finishes the rootfs (fsync costs milliseconds). A reader
        # may see "created" a little early: harmless, `start` waits on the fifo, which the init only
        # opens once it is really ready; and a failure below removes the whole state dir.
        st = proc_stat(init_pid)
        rec = ContainerRecord(
            id=opts.container_id, bundle=cfg.bundle, rootfs=cfg.root_path, pid=init_pid,
            start_time=st[1] if st else 0, created=_now(), owner="", status="created",
            annotations=cfg.annotations_dict(), cgroups_path=cfg.cgroups_path,
            cgroup_paths=dict(mgr.paths()), cgroup_parents=mgr.created_parents(), config=raw,
            console_socket=opts.console_socket,
        )
        write_record(state_dir, rec, durable=opts.durable)
        import select  # noqa: F401  (start: imported while the child finishes)

        import skiff.runtime.container  # noqa: F401
        if cfg.hooks.prestart or cfg.hooks.create_runtime:
            from skiff.runtime.hooks import run_hooks

            sync.expect(parent_ch, "hooks")
            state = _hook_state(cfg, opts.container_id, init_pid, "created")  # what runtime-tools expects
            run_hooks("prestart", cfg.hooks.prestart, state)
            run_hooks("createRuntime", cfg.hooks.create_runtime, state)
            sync.send(parent_ch, "go")
        sync.expect(parent_ch, "ready")
    except RuntimeError as exc:
        raise InitFailed(f"container init failed: {exc}") from None
    finally:
        parent_ch.close()
    if opts.pid_file:
        write_pid_file(opts.pid_file, init_pid)
    from skiff.runtime.container import Container

    c = Container(opts.root, rec)
    c._config = cfg
    return c


def _child(cfg: Config, opts: CreateOptions, ch: sync.Channel, fifo_fd: int, console: Any, double: bool,
           seccomp: tuple[bytes, list[str]] | None) -> None:
    """The forked child: import the init code here (in parallel with the parent) and run it."""
    try:
        from skiff.runtime.init import InitContext, child_main
    except BaseException as exc:
        sync.send(ch, "error", msg=f"cannot load init: {exc}")
        os._exit(1)
    child_main(InitContext(config=cfg, container_id=opts.container_id, sock=ch, fifo_fd=fifo_fd,
                           console=console, no_pivot=opts.no_pivot, preserve_fds=opts.preserve_fds,
                           double_fork=double, seccomp=seccomp))


def write_pid_file(path: str, pid: int) -> None:
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def start(c: Container) -> None:
    """Release the waiting init; then poststart hooks (failures are warnings, as the spec says)."""
    from skiff.runtime.container import Status
    c.transition("start")
    fifo = os.path.join(c.state_dir, FIFO_NAME)
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidState("cannot start an already running container") from None
    try:
        import select

        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            if poller.poll(50):
                try:
                    data = os.read(fd, 1)
                except BlockingIOError:
                    data = b""
                if data:
                    break
            if not c.init_alive():
                raise InvalidState("cannot start a container that has stopped")
    finally:
        os.close(fd)
    try:
        os.unlink(fifo)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
    if c.record.config.get("process") is None:
        c.wait_stopped(2.0)  # released, an init without a process just exits
        raise InvalidConfig("cannot start a container without a process: its config.json has no "
                            "\"process\" (the runtime-spec allows that for create only)")
    if c.config.hooks.poststart:
        from skiff.runtime.hooks import run_hooks_warn

        run_hooks_warn("poststart", c.config.hooks.poststart, c.hook_state(Status.RUNNING))
