"""``exec``: run another process in a live container (runc's setns_init).

A fresh child joins the namespaces of the container's init (/proc/<pid>/ns/*: user first, mount
last), is put into the container's cgroups by the parent, then takes the process config (user,
capabilities, no_new_privs, seccomp of the container) and execs. The pid namespace is joined by
the parent before fork (setns(CLONE_NEWPID) moves only children), so one fork suffices without a
user namespace; with one, the child joins it and forks again, as with create.
"""

from __future__ import annotations

import os

from skiff.runtime import sync
from skiff.runtime.config import Process
from skiff.runtime.container import Container
from skiff.runtime.errors import InitFailed, InvalidConfig
from skiff.runtime.frozen import frozen
from skiff.sys import ns

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import NoReturn

    from skiff.runtime.tty import TtyProxy


__all__ = ["ExecOptions", "exec_in", "exec_child"]

_JOIN_ORDER = ("user", "ipc", "uts", "network", "cgroup", "time", "mount")


@frozen
class ExecOptions:
    process: Process
    detach: bool = False
    pid_file: str = ""
    console_socket: str = ""
    preserve_fds: int = 0
    # (stdin, stdout, stderr) for the process, when the caller is not a runtime process of its own
    # whose stdio it would inherit: the monitor runs exec_in in its own process (no fork + CLI).
    stdio: tuple[int, int, int] | None = None


def _join_files(paths: dict[str, str]) -> list[str]:
    """The files the exec'd process joins the container's cgroups through (CgroupManager.join_files
    without importing the cgroup code): v1's ``tasks`` (the child is single-threaded), v2's
    ``cgroup.procs``."""
    if set(paths) == {""}:
        return [os.path.join(paths[""], "cgroup.procs")]
    return [os.path.join(p, "tasks") for p in dict.fromkeys(paths.values())]


def _join_cgroup(files: list[str], pid: int) -> None:
    """Write ``pid`` (0: ourselves) to each file; a controller directory that is gone is skipped,
    as CgroupManager.add_pid does."""
    data = str(pid).encode()
    for path in files:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OSError(exc.errno, f"cgroup: join {path}: {exc.strerror}") from None
        try:
            os.write(fd, data)
        except OSError as exc:
            raise OSError(exc.errno, f"cgroup: join {path}: {exc.strerror}") from None
        finally:
            os.close(fd)


def _child(c: Container, opts: ExecOptions, sock: sync.Channel, console: socket.socket | None,
           double: bool, join: list[str]) -> NoReturn:
    try:
        if opts.stdio is not None:
            import _signal

            _signal.set_wakeup_fd(-1)  # the caller's event-loop pipe is not ours to write to
            for i, fd in enumerate(opts.stdio):
                os.dup2(fd, i)
        cfg = c.config
        pid = c.record.pid
        os.setsid()
        # Without a user namespace the child joins the cgroups itself, before any setns (the paths
        # are the host's): writing its own id to v1's ``tasks`` avoids the cgroup-wide lock that a
        # write of another pid to ``cgroup.procs`` takes (~15 ms here). No "go" is awaited then.
        _join_cgroup(join, 0)
        from skiff.runtime.execute import close_stray_fds

        close_stray_fds(3 + opts.preserve_fds,
                        {sock.rfd, sock.wfd} | ({console.fileno()} if console is not None else set()))
        types = {n.type for n in cfg.namespaces}
        # Open every namespace first: once in the container's mount namespace, /proc is its own.
        wanted = [t for t in (*_JOIN_ORDER, "pid") if t in types]
        fds = {t: os.open(f"/proc/{pid}/ns/{ns.NS_PROC_NAMES[t]}", os.O_RDONLY | os.O_CLOEXEC) for t in wanted}
        for t in _JOIN_ORDER:
            if t in fds:
                ns.setns(fds[t], ns.NS_FLAGS[t], t)
                if t == "user":
                    os.setresgid(0, 0, 0)
                    os.setresuid(0, 0, 0)
        if double and "pid" in fds:
            ns.setns(fds["pid"], ns.CLONE_NEWPID, "pid")
            child = os.fork()
            if child:
                sync.send(sock, "pid", pid=child)
                os._exit(0)
        if double:
            sync.expect(sock, "go")  # the parent has put us in the container's cgroups
        _finish(c, opts, sock, console)
    except BaseException as exc:
        try:
            sync.send(sock, "error", msg=sync.describe_error(exc))
        except BaseException:
            pass
    os._exit(127)


def _finish(c: Container, opts: ExecOptions, sock: sync.Channel, console: socket.socket | None) -> None:
    from skiff.runtime.execute import (
        apply_rlimits,
        exec_process,
        lookup_path,
        mark_fds_cloexec,
        prepare_env,
    )

    proc = opts.process
    if console is not None:
        import fcntl
        import socket
        import struct
        import termios

        master, slave = os.openpty()
        if proc.console_size:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", proc.console_size[0],
                                                                proc.console_size[1], 0, 0))
        socket.send_fds(console, [os.ttyname(slave).encode()], [master])
        console.close()
        os.close(master)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if slave > 2:
            os.close(slave)
    apply_rlimits(proc)
    os.umask(0o022 if proc.user.umask is None else proc.user.umask)
    os.chdir(proc.cwd)
    env = prepare_env(proc)
    path = lookup_path(proc.args[0], env)
    mark_fds_cloexec(3 + opts.preserve_fds)
    for fd in range(3, 3 + opts.preserve_fds):
        os.set_inheritable(fd, True)
    seccomp = None
    if c.config.seccomp:
        # compiled in the parent (_preload): the host's libseccomp and filter cache are not visible here
        seccomp = (_PRECOMPILED[0], [str(f) for f in c.config.seccomp.get("flags") or ()])
    exec_process(proc, env, path, seccomp)  # the sync socket is close-on-exec: EOF means success


_PRECOMPILED: list[bytes] = [b""]


def _preload(opts: ExecOptions, seccomp: bool, c: Container | None = None) -> None:
    """Import before fork what the child runs after joining the mount namespace (the host's
    Python library is not visible there)."""
    import skiff.runtime.execute
    import skiff.sys.caps
    import skiff.sys.prctl

    if opts.process.rlimits:
        import resource  # noqa: F401
    if opts.console_socket:
        import fcntl  # noqa: F401
        import socket  # noqa: F401
        import struct  # noqa: F401
        import termios  # noqa: F401
    if seccomp:
        import skiff.runtime.seccomp
        import skiff.sys.libseccomp

        if c is not None:
            _PRECOMPILED[0] = skiff.runtime.seccomp.compile_filter(c.config.seccomp)


def exec_child(c: Container, opts: ExecOptions, sock: sync.Channel) -> NoReturn:
    """The exec'd process's side when the caller has already forked it inside the container's pid
    namespace (no user namespace): what ``exec_in``'s child does, errors reported on ``sock``.
    The monitor uses it to skip the runtime's own fork (monitor/inproc_exec.py)."""
    console = _connect_console(opts.console_socket)
    _preload(opts, bool(c.config.seccomp), c)
    join = _join_files(c.record.cgroup_paths) if c.record.cgroup_paths else []
    _child(c, opts, sock, console, False, join)


def _connect_console(path: str) -> socket.socket | None:
    """The ``--console-socket`` the pty master is sent to (None without one)."""
    if not path:
        return None
    import socket  # only here: importing it (enum, selectors) costs milliseconds of every exec

    console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    console.connect(path)
    return console


def exec_in(c: Container, opts: ExecOptions) -> int:
    """Start ``opts.process`` in ``c``; return its pid when detached, else its exit code."""
    c.transition("exec")
    proxy = None
    if opts.process.terminal and not opts.console_socket:
        if opts.detach:
            raise InvalidConfig("exec -t -d needs --console-socket")
        from skiff.runtime.frozen import replace
        from skiff.runtime.tty import TtyProxy

        proxy = TtyProxy()  # foreground: we hold the pty master and copy our stdio through it
        opts = replace(opts, console_socket=proxy.path)
        try:
            return _exec_in(c, opts, proxy)
        finally:
            proxy.close()
    return _exec_in(c, opts, None)


def _exec_in(c: Container, opts: ExecOptions, proxy: TtyProxy | None) -> int:
    cfg = c.config
    types = {n.type for n in cfg.namespaces}
    double = "user" in types and "pid" in types
    console = _connect_console(opts.console_socket)
    _preload(opts, bool(c.config.seccomp), c)
    cg_files = _join_files(c.record.cgroup_paths) if c.record.cgroup_paths else []
    parent_sock, child_sock = sync.pair()
    saved = -1
    if not double and "pid" in types:
        saved = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        ns.setns_path(f"/proc/{c.record.pid}/ns/pid", ns.CLONE_NEWPID)
    if double or not opts.detach:
        from skiff.sys.prctl import set_child_subreaper

        set_child_subreaper(True)
    try:
        pid = os.fork()
        if pid == 0:
            parent_sock.close()
            _child(c, opts, child_sock, console, double, [] if double else cg_files)
    finally:
        if saved >= 0:
            ns.setns(saved, ns.CLONE_NEWPID)
            os.close(saved)
    child_sock.close()
    if console is not None:
        console.close()
    target = pid
    try:
        if double:
            target = int(sync.expect(parent_sock, "pid")["pid"])
            os.waitpid(pid, 0)
            # in the user namespace the child may not write host cgroup files: we place it
            _join_cgroup([f.rsplit("/", 1)[0] + "/cgroup.procs" for f in cg_files], target)
            sync.send(parent_sock, "go")
        msg = sync.recv(parent_sock)
        if msg.get("t") == "error":
            raise InitFailed(f"exec failed: {msg.get('msg')}")
    except RuntimeError as exc:
        raise InitFailed(f"exec failed: {exc}") from None
    except BaseException:
        try:
            os.kill(target, 9)
            os.waitpid(target, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        raise
    finally:
        parent_sock.close()
    if opts.pid_file:
        from skiff.runtime.create import write_pid_file

        write_pid_file(opts.pid_file, target)
    if opts.detach:
        return target
    if proxy is not None:
        import gc

        proxy.receive()
        gc.enable()  # the proxy lives as long as the process
        return proxy.proxy(target)
    from skiff.runtime.wait import wait_forwarding

    return wait_forwarding(target)
