"""The child side of ``create``: runs in the freshly forked, single-threaded child and becomes the
container's process (runc's nsexec + standard_init, in one place).

Never returns: on success it execs the container's process, on failure it reports ``error`` on
the sync socket and exits. Namespace entry happens here because setns into mount/user namespaces
and unshare(CLONE_NEWUSER) fail in a threaded process; the CLI parent never starts threads.
"""

from __future__ import annotations

import _signal  # the C module: ``signal`` itself imports enum (milliseconds at every start)
import os

from skiff.runtime import rootfs, sync
from skiff.runtime.config import Config
from skiff.runtime.execute import (
    apply_rlimits,
    close_stray_fds,
    exec_process,
    lookup_path,
    mark_fds_cloexec,
    prepare_env,
    set_oom_score_adj,
)
from skiff.runtime.frozen import frozen
from skiff.runtime.hooks import run_hooks
from skiff.runtime.sync import describe_error
from skiff.sys import ns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn


__all__ = ["InitContext", "child_main", "describe_error"]


@frozen
class InitContext:
    config: Config
    container_id: str
    sock: sync.Channel  # child end of the sync pair
    fifo_fd: int  # O_PATH fd of <state dir>/exec.fifo
    console: Any  # the connected --console-socket (a socket.socket), or None
    no_pivot: bool
    preserve_fds: int
    double_fork: bool  # user namespace: the child makes the pid namespace and forks again
    seccomp: tuple[bytes, list[str]] | None


def child_main(ctx: InitContext) -> NoReturn:
    try:
        _init(ctx)
    except BaseException as exc:  # report everything to the parent; never unwind into its code
        try:
            msg = describe_error(exc)
            if os.environ.get("SKIFF_RUNTIME_DEBUG"):
                import traceback

                msg += "\n" + traceback.format_exc()
            if not ctx.sock.closed:
                sync.send(ctx.sock, "error", msg=msg)
            else:  # after `ready` the parent is gone: the container's stderr is all there is
                os.write(2, f"skiff-runtime init: {msg}\n".encode())
        except BaseException:
            pass
    os._exit(1)


def _state(ctx: InitContext, status: str, pid: int) -> dict[str, Any]:
    cfg = ctx.config
    return {"ociVersion": cfg.oci_version, "id": ctx.container_id, "status": status, "pid": pid,
            "bundle": cfg.bundle, "annotations": cfg.annotations_dict()}


def _enter_namespaces(ctx: InitContext) -> None:
    cfg = ctx.config
    user = cfg.namespace("user")
    joins = sorted((n for n in cfg.namespaces if n.path and n.type != "pid"), key=lambda n: n.type != "user")
    for n in joins:
        ns.setns_path(n.path, ns.NS_FLAGS[n.type])
        if n.type == "user":
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
    if user is not None and not user.path:
        ns.unshare(ns.CLONE_NEWUSER)
        sync.send(ctx.sock, "userns")
        sync.expect(ctx.sock, "go")
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    flags = 0
    for n in cfg.namespaces:
        if not n.path and n.type not in ("user", "pid", "cgroup", "time"):
            flags |= ns.NS_FLAGS[n.type]
    if flags:
        ns.unshare(flags)
    timens = cfg.namespace("time")
    if timens is not None and not timens.path:
        ns.unshare(ns.CLONE_NEWTIME)
        if cfg.time_offsets:
            with open("/proc/self/timens_offsets", "w") as f:
                for clock, secs, nsecs in cfg.time_offsets:
                    f.write(f"{clock} {secs} {nsecs}\n")
        ns.setns_path("/proc/self/ns/time_for_children", ns.CLONE_NEWTIME)
    elif timens is not None:
        ns.setns_path(timens.path, ns.CLONE_NEWTIME)
    pidns = cfg.namespace("pid")
    if ctx.double_fork and pidns is not None:
        if pidns.path:
            ns.setns_path(pidns.path, ns.CLONE_NEWPID)
        else:
            ns.unshare(ns.CLONE_NEWPID)
        child = os.fork()
        if child:
            sync.send(ctx.sock, "pid", pid=child)
            os._exit(0)


def _setup_console(ctx: InitContext) -> None:
    import fcntl
    import socket
    import struct
    import termios

    master, slave = os.openpty()
    cs = ctx.config.process.console_size if ctx.config.process else None
    if cs:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", cs[0], cs[1], 0, 0))
    assert ctx.console is not None
    name = os.ttyname(slave)
    socket.send_fds(ctx.console, [name.encode()], [master])
    ctx.console.close()
    os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    if slave > 2:
        os.close(slave)


def _preload(ctx: InitContext) -> None:
    """Import now what runs after the root switch: the host's Python library is gone then."""
    import skiff.sys.caps
    import skiff.sys.prctl
    import skiff.sys.process

    proc = ctx.config.process
    if proc is not None and proc.rlimits:
        import resource  # noqa: F401
    if ctx.console is not None:
        import fcntl  # noqa: F401
        import struct  # noqa: F401
        import termios  # noqa: F401
    if ctx.seccomp is not None:
        import skiff.runtime.seccomp
        import skiff.sys.libseccomp  # noqa: F401
    if ctx.config.hooks.start_container:
        import subprocess  # noqa: F401
    if os.environ.get("SKIFF_RUNTIME_DEBUG"):
        import traceback  # noqa: F401


#: While it waits for `start`, these end the init at once (even when the caller left them ignored).
_WAIT_SIGNALS = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1,
                 _signal.SIGUSR2)


def _join_cgroup(files: Sequence[str]) -> None:
    """CgroupManager.join_self, from the files the parent's manager named (``join_files``): the
    cgroup code need not be imported here."""
    for path in files:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        except OSError as exc:
            raise OSError(exc.errno, f"cgroup: join {path}: {exc.strerror}") from None


def _die_on_signal(signum: int, _frame: Any) -> None:
    os._exit(128 + signum)


def _init(ctx: InitContext) -> None:
    cfg = ctx.config
    proc = cfg.process  # None: created without one; `start` releases us only to exit
    os.setsid()
    keep = {ctx.sock.rfd, ctx.sock.wfd, ctx.fifo_fd}
    if ctx.console is not None:
        keep.add(ctx.console.fileno())
    close_stray_fds(3 + ctx.preserve_fds, keep)
    _enter_namespaces(ctx)
    in_userns = cfg.namespace("user") is not None
    cgns = cfg.namespace("cgroup")
    # Without a mount namespace every mount would land on the host: none is made (create warned).
    own_mnt = cfg.namespace("mount") is not None
    early, late = rootfs.split_mounts(cfg) if own_mnt else ((), ())
    if own_mnt:
        rootfs.prepare_root(cfg)
    rootfs.mount_all(cfg, in_userns, cgns is not None, early)  # while the parent makes the cgroup
    devices_early = all(m.type == "cgroup" for m in late)  # nothing mounted over /dev later
    if devices_early and own_mnt:
        rootfs.create_devices(cfg, in_userns)
        rootfs.dev_symlinks(cfg)
    # Idle until the parent has the cgroup ready: import now what comes after.
    _preload(ctx)
    go = sync.expect(ctx.sock, "go")  # our cgroup exists (and we are in it, unless we join it now)
    host_pid = int(go["pid"])
    _join_cgroup(go.get("join") or ())
    if cgns is not None and not cgns.path:
        ns.unshare(ns.CLONE_NEWCGROUP)
    rootfs.mount_all(cfg, in_userns, cgns is not None, late)
    if not devices_early and own_mnt:
        rootfs.create_devices(cfg, in_userns)
        rootfs.dev_symlinks(cfg)
    if cfg.hooks.prestart or cfg.hooks.create_runtime:  # no round trip when there is nothing to run
        sync.send(ctx.sock, "hooks")
        sync.expect(ctx.sock, "go")  # prestart and createRuntime hooks have run
    run_hooks("createContainer", cfg.hooks.create_container, _state(ctx, "created", host_pid))
    if not own_mnt:
        pass  # chroot after the fifo wait, which reopens the fifo through the host's /proc
    elif ctx.no_pivot:
        rootfs.move_root(cfg.root_path)
    else:
        rootfs.pivot(cfg.root_path)
    if ctx.console is not None:
        _setup_console(ctx)
    from skiff.sys import process as sysproc

    if cfg.hostname:
        sysproc.sethostname(cfg.hostname)
    if cfg.domainname:
        sysproc.setdomainname(cfg.domainname)
    for key, value in cfg.sysctl:
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    if own_mnt:
        rootfs.finish(cfg)
    if cfg.personality is not None:
        sysproc.personality(cfg.personality)
    env: dict[str, str] = {}
    path = ""
    if proc is not None:
        set_oom_score_adj(proc.oom_score_adj)
        apply_rlimits(proc)
        os.umask(0o022 if proc.user.umask is None else proc.user.umask)
        env = prepare_env(proc)
        if own_mnt:
            os.chdir(proc.cwd)
            path = lookup_path(proc.args[0], env)
    mark_fds_cloexec(3 + ctx.preserve_fds)
    for fd in range(3, 3 + ctx.preserve_fds):
        os.set_inheritable(fd, True)
    for sig in _WAIT_SIGNALS:
        _signal.signal(sig, _die_on_signal)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])  # a mask inherited from our caller would keep them out
    sync.send(ctx.sock, "ready")
    ctx.sock.close()
    # Wait for `start`: opening the fifo for writing blocks until it is opened for reading.
    # Once a second, check that the fifo still has a name: if the state dir was removed without
    # `delete`, nobody can start us any more and we would wait forever, so leave.
    def orphan_check(_sig: int, _frame: Any) -> None:
        if os.fstat(ctx.fifo_fd).st_nlink == 0:
            os._exit(1)

    _signal.signal(_signal.SIGALRM, orphan_check)
    _signal.setitimer(_signal.ITIMER_REAL, 1.0, 1.0)
    fd = os.open(f"/proc/self/fd/{ctx.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
    _signal.setitimer(_signal.ITIMER_REAL, 0)  # timers survive execve: stop it first
    os.write(fd, b"0")
    os.close(fd)
    os.close(ctx.fifo_fd)
    if proc is None:
        os._exit(0)  # nothing to run: `start` reports the missing process
    if not own_mnt:
        os.chroot(cfg.root_path)
        os.chdir(proc.cwd)
        env = prepare_env(proc)  # HOME from the container's /etc/passwd
        path = lookup_path(proc.args[0], env)
    if cfg.hooks.start_container:
        run_hooks("startContainer", cfg.hooks.start_container, _state(ctx, "created", host_pid))
    exec_process(proc, env, path, ctx.seccomp)
