"""The monitor process itself: one per container, detached from the daemon (like conmon/containerd-shim).

Life: become child subreaper -> listen on ``monitor.sock`` -> ``<runtime> create`` with the
container's stdio (pipes, or a pty from the console socket) -> report the init pid to the spawner ->
(``start`` now or on an ``S`` request) -> copy output to the log driver and attached clients, serve
requests (see :mod:`skiff.monitor.protocol`) -> reap the init -> drain output -> record the exit in
``exit.json`` (temp + fsync + rename) -> answer waiters -> ``<runtime> delete`` -> exit.

Single-threaded, one selector loop; SIGCHLD arrives through ``signal.set_wakeup_fd``. Memory is
bounded: reads are 64 KiB, client queues are capped and the container's output is paused (not
dropped) while a client is over the cap.
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import signal
import socket
import struct
import time
from typing import Any

from skiff.monitor.logdrivers import LogSink, open_writer
from skiff.monitor.protocol import (
    EXIT_FILE,
    INIT_PID_FILE,
    PID_FILE,
    SOCKET_FILE,
    ExitStatus,
    FrameReader,
    MonitorOptions,
    frame,
    write_json_atomic,
)
from skiff.monitor.sockpath import bind_unix

__all__ = ["run"]

_READ = 64 * 1024
_CLIENT_CAP = 1 << 20
_STDIN_CAP = 1 << 20
_DRAIN_SECONDS = 3.0
PR_SET_CHILD_SUBREAPER = 36


def set_child_subreaper() -> None:
    """prctl(PR_SET_CHILD_SUBREAPER): orphans of the container (its init, after runtime create) are ours."""
    from skiff.sys.libc import call, libc
    call("prctl", libc.prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


class _Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = FrameReader()
        self.out = bytearray()
        self.streams: set[int] = set()
        self.stdin = False
        self.waiting = False
        self.closing = False


class Monitor:
    def __init__(self, opts: MonitorOptions) -> None:
        self.o = opts
        self.sel = selectors.DefaultSelector()
        self.clients: dict[int, _Client] = {}
        self.outputs: dict[int, int] = {}  # fd -> stream
        self.paused = False
        self.stdin_fd = -1
        self.stdin_buf = bytearray()
        self.pty_fd = -1
        self.init_pid = 0
        self.state = "created"
        self.started_ns = 0
        self.exit: ExitStatus | None = None
        self.exit_deadline = 0.0
        self.cgroup_files: list[str] = []
        self.log = LogSink(open_writer(opts.log, opts.log_path))
        self.listener: socket.socket | None = None

    # -- runtime -------------------------------------------------------------------------------
    def runtime(self, *args: str, stdio: tuple[int, int, int] | None = None) -> tuple[int, str]:
        """Run one runtime command to completion; returns (exit code, its stderr text)."""
        r, w = os.pipe()
        null = os.open(os.devnull, os.O_RDWR)
        fds = stdio or (null, null, w)
        acts = [(os.POSIX_SPAWN_DUP2, fds[0], 0), (os.POSIX_SPAWN_DUP2, fds[1], 1),
                (os.POSIX_SPAWN_DUP2, fds[2], 2)]
        argv = [self.o.runtime, *self.o.runtime_args, *args]
        try:
            pid = os.posix_spawnp(argv[0], argv, dict(os.environ), file_actions=acts)
        except OSError as e:
            os.close(r)
            os.close(w)
            os.close(null)
            return 127, f"{argv[0]}: {e.strerror}"
        os.close(w)
        os.close(null)
        err = bytearray()
        while len(err) < 65536:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            err += chunk
        os.close(r)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), err.decode(errors="replace").strip()

    def create(self) -> None:
        o, sd = self.o, self.o.state_dir
        pidfile = os.path.join(sd, INIT_PID_FILE)
        args = ["create", "--bundle", o.bundle, "--pid-file", pidfile]
        mine: list[int] = []
        if o.tty:
            dirfd = os.open(sd, os.O_RDONLY | os.O_DIRECTORY)
            con_path = os.path.join(sd, "console.sock")
            con = bind_unix(con_path)
            con.listen(1)
            args += ["--console-socket", f"/proc/{os.getpid()}/fd/{dirfd}/console.sock"]
            try:
                rc, err = self.runtime(*args, o.container_id)
                if rc == 0:
                    con.settimeout(10)
                    conn, _ = con.accept()
                    _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
                    conn.close()
                    self.pty_fd = fds[0]
            finally:
                con.close()
                os.close(dirfd)
                try:
                    os.unlink(con_path)
                except FileNotFoundError:
                    pass
            if rc != 0:
                raise RuntimeError(err or f"runtime create exited with {rc}")
            os.set_blocking(self.pty_fd, False)
            if o.console_size != (0, 0):
                self.resize(*o.console_size)
            self.outputs[self.pty_fd] = 1
            self.stdin_fd = self.pty_fd
        else:
            if o.open_stdin:
                in_r, in_w = os.pipe()
                self.stdin_fd = in_w
                mine.append(in_r)
            else:
                in_r = os.open(os.devnull, os.O_RDONLY)
                mine.append(in_r)
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            mine += [out_w, err_w]
            try:
                rc, err = self.runtime(*args, o.container_id, stdio=(in_r, out_w, err_w))
            finally:
                for fd in mine:
                    os.close(fd)
            if rc != 0:
                os.set_blocking(err_r, False)
                try:
                    err = (err + os.read(err_r, 65536).decode(errors="replace")).strip()
                except BlockingIOError:
                    pass
                for fd in (out_r, err_r):
                    os.close(fd)
                raise RuntimeError(err or f"runtime create exited with {rc}")
            for fd, stream in ((out_r, 1), (err_r, 2)):
                os.set_blocking(fd, False)
                self.outputs[fd] = stream
            if self.stdin_fd >= 0:
                os.set_blocking(self.stdin_fd, False)
        with open(pidfile) as f:
            self.init_pid = int(f.read().strip())
        self.cgroup_files = _oom_files(self.init_pid)
        for fd in self.outputs:
            self.sel.register(fd, selectors.EVENT_READ, ("out", fd))

    def start(self) -> str:
        if self.state != "created":
            return "container is not in created state"
        rc, err = self.runtime("start", self.o.container_id)
        if rc != 0:
            return err or f"runtime start exited with {rc}"
        self.state, self.started_ns = "running", time.time_ns()
        return ""

    def resize(self, h: int, w: int) -> None:
        if self.pty_fd >= 0:
            import fcntl
            import termios
            fcntl.ioctl(self.pty_fd, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))

    # -- output --------------------------------------------------------------------------------
    def on_output(self, fd: int) -> None:
        stream = self.outputs[fd]
        try:
            data = os.read(fd, _READ)
        except BlockingIOError:
            return
        except OSError as e:  # EIO on a pty whose slave side is gone = EOF
            if e.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self.sel.unregister(fd)
            del self.outputs[fd]
            if fd != self.pty_fd:
                os.close(fd)
            return
        self.log.feed(stream, data, time.time_ns())
        msg = frame(b"1" if stream == 1 else b"2", data)
        for c in self.clients.values():
            if stream in c.streams:
                self.send(c, msg)

    def send(self, c: _Client, data: bytes) -> None:
        if c.closing:
            return
        if not c.out:
            self.sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, ("client", c))
        c.out += data
        if len(c.out) > _CLIENT_CAP and not self.paused:
            self.paused = True
            for fd in self.outputs:
                self.sel.unregister(fd)

    def flush_client(self, c: _Client) -> None:
        try:
            n = c.sock.send(c.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.drop(c)
            return
        del c.out[:n]
        if not c.out:
            self.sel.modify(c.sock, selectors.EVENT_READ, ("client", c))
        self.maybe_resume()

    def maybe_resume(self) -> None:
        if self.paused and all(len(c.out) <= _CLIENT_CAP // 2 for c in self.clients.values()):
            self.paused = False
            for fd in self.outputs:
                self.sel.register(fd, selectors.EVENT_READ, ("out", fd))

    # -- clients -------------------------------------------------------------------------------
    def accept(self) -> None:
        assert self.listener is not None
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        c = _Client(sock)
        self.clients[sock.fileno()] = c
        self.sel.register(sock, selectors.EVENT_READ, ("client", c))

    def drop(self, c: _Client) -> None:
        if c.sock.fileno() < 0:
            return
        if c.stdin and self.o.stdin_once:
            self.close_stdin()
        self.clients.pop(c.sock.fileno(), None)
        self.sel.unregister(c.sock)
        c.sock.close()
        self.maybe_resume()

    def on_client(self, c: _Client, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.flush_client(c)
        if not mask & selectors.EVENT_READ or c.sock.fileno() < 0:
            return
        try:
            data = c.sock.recv(_READ)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(c)
            return
        try:
            frames = c.reader.feed(data)
        except ValueError:
            self.drop(c)
            return
        for kind, payload in frames:
            self.handle(c, kind, payload)

    def reply(self, c: _Client, kind: bytes, obj: Any) -> None:
        self.send(c, frame(kind, obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()))

    def handle(self, c: _Client, kind: bytes, payload: bytes) -> None:
        if kind == b"I":
            if self.stdin_fd >= 0:
                self.stdin_buf += payload
                self.write_stdin()
        elif kind == b"A":
            req = json.loads(payload or b"{}")
            c.streams = {s for s, k in ((1, "stdout"), (2, "stderr")) if req.get(k, True)}
            c.stdin = bool(req.get("stdin"))
            if self.exit is not None and not self.outputs:
                self.reply(c, b"X", self.exit.to_dict())
        elif kind == b"C":
            if self.o.stdin_once:
                self.close_stdin()
        elif kind == b"R":
            req = json.loads(payload)
            self.resize(int(req["h"]), int(req["w"]))
            self.reply(c, b"O", {})
        elif kind == b"S":
            err = self.start()
            self.reply(c, b"E", err) if err else self.reply(c, b"O", {"pid": self.init_pid})
        elif kind == b"K":
            req = json.loads(payload)
            if self.exit is not None:
                self.reply(c, b"E", "container is not running")
                return
            args = ["kill", *(["--all"] if req.get("all") else []), self.o.container_id, str(int(req["signal"]))]
            rc, err = self.runtime(*args)
            self.reply(c, b"E", err or "kill failed") if rc else self.reply(c, b"O", {})
        elif kind == b"W":
            if self.exit is not None and not self.outputs:
                self.reply(c, b"X", self.exit.to_dict())
            else:
                c.waiting = True
        elif kind == b"Q":
            state = "exited" if self.exit is not None else self.state
            self.reply(c, b"T", {"state": state, "pid": self.init_pid, "started_at_ns": self.started_ns,
                                 "exit": self.exit.to_dict() if self.exit else None})
        else:
            self.reply(c, b"E", f"unknown request {kind!r}")

    def write_stdin(self) -> None:
        while self.stdin_buf and self.stdin_fd >= 0:
            try:
                n = os.write(self.stdin_fd, self.stdin_buf[:_READ])
            except BlockingIOError:
                break
            except OSError:
                self.stdin_buf.clear()
                self.close_stdin()
                return
            del self.stdin_buf[:n]
        if len(self.stdin_buf) > _STDIN_CAP:
            del self.stdin_buf[:len(self.stdin_buf) - _STDIN_CAP]

    def close_stdin(self) -> None:
        if self.stdin_fd >= 0 and self.stdin_fd != self.pty_fd:
            self.write_stdin_blocking()
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def write_stdin_blocking(self) -> None:
        deadline = time.monotonic() + 2
        while self.stdin_buf and time.monotonic() < deadline:
            self.write_stdin()
            if self.stdin_buf:
                time.sleep(0.01)

    # -- exit ----------------------------------------------------------------------------------
    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.init_pid and self.exit is None:
                code = os.waitstatus_to_exitcode(status)
                sig = -code if code < 0 else 0
                self.exit = ExitStatus(exit_code=128 + sig if sig else code, signal=sig, pid=pid,
                                       started_at_ns=self.started_ns, finished_at_ns=time.time_ns(),
                                       oom_killed=_oom_killed(self.cgroup_files))
                self.state = "exited"
                self.exit_deadline = time.monotonic() + _DRAIN_SECONDS

    def finish(self) -> None:
        assert self.exit is not None
        for fd in list(self.outputs):
            if not self.paused:
                self.sel.unregister(fd)
            if fd != self.pty_fd:
                os.close(fd)
        self.outputs.clear()
        self.log.flush(time.time_ns())
        self.log.close()
        sd = self.o.state_dir
        write_json_atomic(os.path.join(sd, EXIT_FILE), self.exit.to_dict())
        for c in list(self.clients.values()):
            if c.waiting or c.streams or c.stdin:
                self.reply(c, b"X", self.exit.to_dict())
        deadline = time.monotonic() + 2
        while any(c.out for c in self.clients.values()) and time.monotonic() < deadline:
            for key, mask in self.sel.select(0.1):
                if key.data[0] == "client":
                    self.on_client(key.data[1], mask)
        self.runtime("delete", "--force", self.o.container_id)
        if self.pty_fd >= 0:
            os.close(self.pty_fd)
        for name in (SOCKET_FILE, PID_FILE):
            try:
                os.unlink(os.path.join(sd, name))
            except FileNotFoundError:
                pass

    def loop(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(wake_r, selectors.EVENT_READ, ("wake", 0))
        self.reap()
        while True:
            if self.exit is not None and (not self.outputs or time.monotonic() > self.exit_deadline):
                break
            timeout = 1.0 if self.exit is None else max(0.0, self.exit_deadline - time.monotonic())
            for key, mask in self.sel.select(timeout):
                kind, obj = key.data
                if kind == "out":
                    if obj in self.outputs:
                        self.on_output(obj)
                elif kind == "client":
                    self.on_client(obj, mask)
                elif kind == "listen":
                    self.accept()
                else:
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
            self.reap()
            if self.stdin_buf:
                self.write_stdin()
        self.finish()


def _oom_files(pid: int) -> list[str]:
    """Where the container's OOM-kill counter lives (v1 memory.oom_control or v2 memory.events)."""
    out = []
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if "memory" in ctrls.split(","):
                    out.append(f"/sys/fs/cgroup/memory{path}/memory.oom_control")
                elif ctrls == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                    out.append(f"/sys/fs/cgroup{path}/memory.events")
    except OSError:
        pass
    return out


def _oom_killed(files: list[str]) -> bool:
    for path in files:
        try:
            with open(path) as f:
                for line in f:
                    k, _, v = line.partition(" ")
                    if k == "oom_kill" and int(v) > 0:
                        return True
        except (OSError, ValueError):
            continue
    return False


def run(opts: MonitorOptions, ready_fd: int) -> int:
    """The monitor's main: report {"pid": n} or {"error": text} on ``ready_fd``, then serve."""
    os.set_inheritable(ready_fd, False)  # else the runtime and the container hold it and EOF never comes
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    sd = opts.state_dir
    m = Monitor(opts)
    try:
        set_child_subreaper()
        with open(os.path.join(sd, PID_FILE), "w") as f:
            f.write(f"{os.getpid()} {_starttime(os.getpid())}\n")
        sock_path = os.path.join(sd, SOCKET_FILE)
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass
        m.listener = bind_unix(sock_path)
        m.listener.listen(64)
        m.listener.setblocking(False)
        m.sel.register(m.listener, selectors.EVENT_READ, ("listen", 0))
        m.create()
        if opts.start:
            err = m.start()
            if err:
                raise RuntimeError(err)
    except Exception as e:  # report to the spawner, leave nothing behind
        os.write(ready_fd, json.dumps({"error": str(e)}).encode())
        os.close(ready_fd)
        if m.init_pid:
            m.runtime("delete", "--force", opts.container_id)
        for name in (SOCKET_FILE, PID_FILE):
            try:
                os.unlink(os.path.join(sd, name))
            except FileNotFoundError:
                pass
        return 1
    os.write(ready_fd, json.dumps({"pid": m.init_pid, "monitor_pid": os.getpid()}).encode())
    os.close(ready_fd)
    m.loop()
    return 0


def _starttime(pid: int) -> str:
    """Field 22 of /proc/pid/stat: tells a live monitor from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"

