"""The resident forker: one small single-threaded process that forks a monitor per container.

Why: forking from the daemon (threads, a large heap) is unsafe, and exec'ing a fresh Python per
container costs ~100 ms and ~8 MB of private memory. The forker loads the monitor code once,
freezes its heap (``gc.freeze``) so monitors share its pages, and forks one in about a millisecond;
nothing but the runtime's own start sits on the path of ``run``. It is a child subreaper, so the
monitors are re-parented to it and reaped here (PID 1 on this machine does not reap), and it
outlives the daemon, which finds it again by its socket.

Protocol on ``<exec-root>/forker.sock``: the client sends one JSON line
``{"options": <MonitorOptions>, "exec_python": false}`` and gets back one JSON line, the monitor's
ready report: ``{"pid": <init pid>, "monitor_pid": n}`` or ``{"error": "<runtime's message>"}``.
Several spawns may be in flight at once.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import time

from skiff.monitor.protocol import MonitorOptions
from skiff.monitor.sockpath import bind_unix, connect_unix
from skiff.monitor.spawn import MonitorHandle, MonitorStartError, fork_monitor, handle_from_report

__all__ = ["ForkerClient", "start_forker", "serve"]


def serve(socket_path: str) -> int:
    """The forker's main loop (runs until SIGTERM)."""
    # Preload what every monitor runs, and what a monitor's fork runs for ``docker exec`` with
    # Skiff's runtime (inproc_exec, stdio._fork_builtin): shared with every monitor (frozen below), so imported
    # once here, not at every exec (~10 ms).
    import fcntl  # noqa: F401
    import gc
    import resource  # noqa: F401
    import termios  # noqa: F401

    import skiff.monitor.inproc_exec
    import skiff.monitor.server
    import skiff.runtime.cli.exec
    import skiff.runtime.cli.log
    import skiff.runtime.cli.main
    import skiff.runtime.container
    import skiff.runtime.execute
    import skiff.runtime.seccomp
    import skiff.runtime.setns_exec
    import skiff.runtime.specconv
    import skiff.runtime.sync
    import skiff.sys.caps
    import skiff.sys.libseccomp
    import skiff.sys.prctl  # noqa: F401
    from skiff.monitor.server import set_child_subreaper, set_comm

    set_child_subreaper()
    set_comm("skiff-forker")
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    try:
        os.unlink(socket_path)
    except FileNotFoundError:
        pass
    listener = bind_unix(socket_path)
    os.chmod(socket_path, 0o600)
    my_socket = os.stat(socket_path).st_ino
    listener.listen(128)
    listener.setblocking(False)
    with open(os.path.join(os.path.dirname(socket_path), "forker.pid"), "w") as f:
        f.write(f"{os.getpid()}\n")
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, ("listen", None))
    sel.register(wake_r, selectors.EVENT_READ, ("wake", None))
    gc.collect()
    gc.freeze()  # children share the preloaded heap instead of copying it on the first collection
    pending: dict[int, tuple[socket.socket, bytearray, MonitorOptions]] = {}
    watched: dict[int, tuple[int, MonitorOptions]] = {}  # monitor pid -> (init pid, options)
    orphans: dict[int, MonitorOptions] = {}  # init pid of a container whose monitor died
    while not stop:
        if not watched and not orphans and not pending and _unreachable(socket_path, my_socket):
            break  # nobody can reach us (exec-root removed, or another forker took the socket) and idle
        for key, _ in sel.select(1.0):
            kind, obj = key.data
            if kind == "listen":
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, ("req", bytearray()))
            elif kind == "req":
                conn = key.fileobj  # type: ignore[assignment]
                try:
                    data = conn.recv(1 << 16)
                except BlockingIOError:
                    continue
                obj += data
                if data and b"\n" not in obj and len(obj) < 1 << 20:
                    continue
                sel.unregister(conn)
                try:
                    req = json.loads(obj)
                    opts = MonitorOptions.from_json(json.dumps(req["options"]))
                    _, r = fork_monitor(opts, bool(req.get("exec_python")))
                except Exception as e:  # a bad request must not take the forker down
                    _reply(conn, {"error": f"forker: {e}"})
                    continue
                pending[r] = (conn, bytearray(), opts)
                sel.register(r, selectors.EVENT_READ, ("ready", r))
            elif kind == "ready":
                conn, buf, opts = pending[obj]
                chunk = os.read(obj, 65536)
                if chunk:
                    buf += chunk
                    continue
                sel.unregister(obj)
                os.close(obj)
                del pending[obj]
                try:
                    report = json.loads(buf) if buf else {"error": "monitor died before reporting"}
                except ValueError:
                    report = {"error": "monitor sent a bad report"}
                _reply(conn, report)
                if "monitor_pid" in report:
                    watched[int(report["monitor_pid"])] = (int(report["pid"]), opts)
            else:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
        reaped = _reap()
        for pid, status in reaped:  # monitors first: their container may be in the same batch
            if pid in watched:
                init_pid, o = watched.pop(pid)
                if os.WIFSIGNALED(status) and (os.path.exists(f"/proc/{init_pid}")
                                               or any(p == init_pid for p, _ in reaped)):
                    orphans[init_pid] = o  # the monitor was killed: its container is now ours
        for pid, status in reaped:
            if pid in orphans:
                _record_orphan_exit(orphans.pop(pid), pid, status)
    listener.close()
    if not _unreachable(socket_path, my_socket):
        os.unlink(socket_path)
    return 0


def _unreachable(socket_path: str, inode: int) -> bool:
    try:
        return os.stat(socket_path).st_ino != inode
    except FileNotFoundError:
        return True


def _reply(conn: socket.socket, obj: dict[str, object]) -> None:
    try:
        conn.setblocking(True)
        conn.settimeout(5)
        conn.sendall(json.dumps(obj).encode() + b"\n")
    except OSError:
        pass
    conn.close()


def _reap() -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return out
        if pid == 0:
            return out
        out.append((pid, status))


def _record_orphan_exit(opts: MonitorOptions, pid: int, status: int) -> None:
    """A container outlived its (killed) monitor and has now exited: leave its exit record and delete it."""
    from skiff.monitor.protocol import EXIT_FILE, ExitStatus, write_json_atomic
    from skiff.monitor.stdio import run_runtime

    code = os.waitstatus_to_exitcode(status)
    sig = -code if code < 0 else 0
    st = ExitStatus(exit_code=128 + sig if sig else code, signal=sig, pid=pid, finished_at_ns=time.time_ns(),
                    error="monitor died; exit recorded by the forker")
    path = os.path.join(opts.state_dir, EXIT_FILE)
    try:
        if not os.path.exists(path):
            write_json_atomic(path, st.to_dict())
    except OSError:
        pass
    run_runtime([opts.runtime, *opts.runtime_args, "delete", "--force", opts.container_id])


class ForkerClient:
    """Ask the resident forker at ``socket_path`` for monitors."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def spawn(self, opts: MonitorOptions, exec_python: bool = False, timeout: float = 60.0) -> MonitorHandle:
        s = connect_unix(self.socket_path, timeout)
        try:
            s.sendall(json.dumps({"options": json.loads(opts.to_json()), "exec_python": exec_python}).encode() + b"\n")
            buf = bytearray()
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except TimeoutError:
            raise MonitorStartError(f"monitor for {opts.container_id} did not report within {timeout}s")
        finally:
            s.close()
        return handle_from_report(opts, bytes(buf))

    async def aspawn(self, opts: MonitorOptions, exec_python: bool = False) -> MonitorHandle:
        import asyncio

        s = connect_unix(self.socket_path, 5.0)
        s.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=s)
        try:
            writer.write(json.dumps({"options": json.loads(opts.to_json()), "exec_python": exec_python}).encode()
                         + b"\n")
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
        return handle_from_report(opts, line)

    def alive(self) -> bool:
        try:
            connect_unix(self.socket_path, 2.0).close()
            return True
        except OSError:
            return False


def start_forker(socket_path: str, timeout: float = 10.0) -> int:
    """Start a forker detached from the caller; returns its pid.

    The caller (a threaded daemon) never forks: it posix_spawns ``python -m skiff.monitor.forker
    --detach``, which forks once, single-threaded, and exits, leaving the forker in its own session.
    If one already answers on ``socket_path`` it is reused and its pid returned.
    """
    pid_path = os.path.join(os.path.dirname(socket_path), "forker.pid")
    if ForkerClient(socket_path).alive():
        with open(pid_path) as f:
            return int(f.read())
    os.makedirs(os.path.dirname(socket_path), exist_ok=True)
    try:
        os.unlink(pid_path)
    except FileNotFoundError:
        pass
    null = os.open(os.devnull, os.O_RDWR)
    try:
        pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "skiff.monitor.forker", "--detach", socket_path],
                             dict(os.environ), file_actions=[(os.POSIX_SPAWN_DUP2, null, 0),
                                                             (os.POSIX_SPAWN_DUP2, null, 1),
                                                             (os.POSIX_SPAWN_DUP2, null, 2)])
    finally:
        os.close(null)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ForkerClient(socket_path).alive():
            try:
                with open(pid_path) as f:
                    return int(f.read())
            except (FileNotFoundError, ValueError):
                pass
        time.sleep(0.02)
    raise MonitorStartError(f"forker did not start on {socket_path}")


def _main(argv: list[str]) -> int:
    if argv[0] == "--detach":  # leave the spawner: one fork here, single-threaded, then a new session
        argv = argv[1:]
        if os.fork():
            os._exit(0)
        os.setsid()
        os.chdir("/")
    return serve(argv[0])


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
