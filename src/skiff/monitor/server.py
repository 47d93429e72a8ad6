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
import time
from typing import Any

from skiff.monitor.inproc_exec import exec_in_process
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
from skiff.monitor.stdio import ProcIO, builtin_runtime, launch, run_runtime

__all__ = ["run"]

_READ = 64 * 1024
_CLIENT_CAP = 1 << 20
_STDIN_CAP = 1 << 20
_DRAIN_SECONDS = 3.0


def set_child_subreaper() -> None:
    """prctl(PR_SET_CHILD_SUBREAPER): orphans of the container (its init, after runtime create) are ours."""
    from skiff.sys.prctl import set_child_subreaper as _set

    _set(True)


def set_comm(name: str) -> None:
    """Name the process in ps/top (a forked monitor would otherwise show as its forker)."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(name[:15])
    except OSError:
        pass


class _Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = FrameReader()
        self.out = bytearray()
        self.streams: set[int] = set()
        self.stdin = False
        self.waiting = False
        self.exec: ProcIO | None = None


class Monitor:
    def __init__(self, opts: MonitorOptions) -> None:
        self.o = opts
        self.sel = selectors.DefaultSelector()
        self.clients: dict[int, _Client] = {}
        self.init = ProcIO("", opts.tty, opts.stdin_once)
        self.execs: dict[str, ProcIO] = {}
        self.exec_waiters: dict[str, list[_Client]] = {}  # ``V``: exec id -> clients waiting for its exit
        self.outputs: dict[int, ProcIO] = {}  # every output fd we read -> its process
        self.paused = False
        self.state = "created"
        self.cgroup_files: list[str] = []
        self.log = LogSink(open_writer(opts.log, opts.log_path, opts.log_attrs))
        self.listener: socket.socket | None = None
        self.wake_r = -1

    @property
    def exit(self) -> ExitStatus | None:
        return self.init.exit

    def runtime(self, *args: str) -> tuple[int, str]:
        return run_runtime([self.o.runtime, *self.o.runtime_args, *args])

    def _watch(self, p: ProcIO) -> None:
        for fd in p.outputs:
            self.outputs[fd] = p
            if not self.paused:
                self.sel.register(fd, selectors.EVENT_READ, ("out", fd))

    def create(self) -> None:
        o, sd = self.o, self.o.state_dir
        pidfile = os.path.join(sd, INIT_PID_FILE)
        argv = [o.runtime, *o.runtime_args, "create", "--bundle", o.bundle, "--pid-file", pidfile, o.container_id]
        launch(self.init, argv, o.open_stdin, sd, "console", o.console_size)
        with open(pidfile) as f:
            self.init.pid = int(f.read().strip())
        self.cgroup_files = _oom_files(self.init.pid)
        self._watch(self.init)

    def start(self) -> str:
        if self.state != "created":
            return "container is not in created state"
        rc, err = self.runtime("start", self.o.container_id)
        if rc != 0:
            return err or f"runtime start exited with {rc}"
        self.state, self.init.started_ns = "running", time.time_ns()
        return ""

    def exec(self, c: _Client, req: dict[str, Any]) -> str:
        """``<runtime> exec --detach`` of one process; its stdio is served on ``c``'s connection."""
        eid = str(req.get("id") or "")
        if not eid or "/" in eid or eid in self.execs:
            return f"invalid or duplicate exec id {eid!r}"
        if self.exit is not None or self.state != "running":
            return f"container {self.o.container_id} is not running"
        sd = self.o.state_dir
        proc_file = os.path.join(sd, f"exec-{eid}.json")
        pid_file = os.path.join(sd, f"exec-{eid}.pid")
        process = dict(req["process"])
        tty = bool(process.get("terminal"))
        size = req.get("console_size") or (0, 0)
        if tty and size[0] and size[1]:  # the runtime sizes the pty before the process runs
            process["consoleSize"] = {"height": int(size[0]), "width": int(size[1])}
        p = ProcIO(eid, tty, True)
        argv = [self.o.runtime, *self.o.runtime_args, "exec", "--process", proc_file, "--detach", "--pid-file",
                pid_file, self.o.container_id]
        direct = None
        if builtin_runtime(self.o.runtime):  # Skiff's runtime library in a fork of this process (inproc_exec)
            def direct(stdio: tuple[int, int, int] | None, console: str) -> int:
                return exec_in_process(self.o.runtime_args, self.o.container_id, process, stdio, console,
                                       init_pid=self.init.pid)
        else:
            with open(proc_file, "w") as f:
                json.dump(process, f)
        try:
            pid = launch(p, argv, bool(req.get("stdin")), sd, f"exec-{eid}", (int(size[0]), int(size[1])),
                         direct=direct)
            if not pid:
                with open(pid_file) as f:
                    pid = int(f.read().strip())
            p.pid = pid
        except (RuntimeError, OSError, ValueError) as e:
            p.close()
            return str(e)
        finally:
            if direct is None:
                os.unlink(proc_file)
        p.started_ns = time.time_ns()
        if not req.get("detach"):
            p.owner = c
            c.exec = p
        self.execs[eid] = p
        self._watch(p)
        return ""

    # -- output --------------------------------------------------------------------------------
    def on_output(self, fd: int) -> None:
        p = self.outputs[fd]
        stream = p.outputs[fd]
        try:
            data = os.read(fd, _READ)
        except BlockingIOError:
            return
        except OSError as e:  # EIO on a pty whose slave side is gone = EOF
            if e.errno != errno.EIO:
                raise
            data = b""
        if not data:
            if not self.paused:
                self.sel.unregister(fd)
            del self.outputs[fd]
            del p.outputs[fd]
            if fd != p.pty_fd:
                os.close(fd)
            if p is not self.init and p.exit is not None and not p.outputs:
                self.finish_exec(p)
            return
        msg = frame(b"1" if stream == 1 else b"2", data)
        if p is self.init:
            self.log.feed(stream, data, time.time_ns())
            for c in self.clients.values():
                if stream in c.streams:
                    self.send(c, msg)
        elif isinstance(p.owner, _Client):
            self.send(p.owner, msg)

    def send(self, c: _Client, data: bytes) -> None:
        if c.sock.fileno() < 0:
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
            self.init.close_stdin()
        if c.exec is not None:  # the exec runs on, its output is discarded (docker's detach)
            c.exec.close_stdin()
            c.exec.owner = None
        for waiters in self.exec_waiters.values():
            if c in waiters:
                waiters.remove(c)
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
            try:
                self.handle(c, kind, payload)
            except (ValueError, KeyError, TypeError, OSError) as e:
                self.reply(c, b"E", f"bad request {kind!r}: {e}")

    def reply(self, c: _Client, kind: bytes, obj: Any) -> None:
        self.send(c, frame(kind, obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()))

    def _target(self, c: _Client, req: dict[str, Any]) -> ProcIO | None:
        if req.get("exec"):
            return self.execs.get(str(req["exec"]))
        return c.exec or self.init

    def handle(self, c: _Client, kind: bytes, payload: bytes) -> None:
        p: ProcIO | None
        if kind == b"I":
            p = c.exec or self.init
            if p.stdin_fd >= 0:
                p.stdin_buf += payload
                p.write_stdin(_STDIN_CAP)
        elif kind == b"A":
            req = json.loads(payload or b"{}")
            c.streams = {s for s, k in ((1, "stdout"), (2, "stderr")) if req.get(k, True)}
            c.stdin = bool(req.get("stdin"))
            if self.exit is not None and not self.init.outputs:
                self.reply(c, b"X", self.exit.to_dict())
        elif kind == b"C":
            if c.exec is not None:
                c.exec.close_stdin()
            elif self.o.stdin_once:
                self.init.close_stdin()
        elif kind == b"R":
            req = json.loads(payload)
            p = self._target(c, req)
            if p is None:
                self.reply(c, b"E", f"no such exec: {req.get('exec')}")
                return
            p.resize(int(req["h"]), int(req["w"]))
            self.reply(c, b"O", {})
        elif kind == b"S":
            err = self.start()
            self.reply(c, b"E", err) if err else self.reply(c, b"O", {"pid": self.init.pid})
        elif kind == b"E":
            err = self.exec(c, json.loads(payload))
            self.reply(c, b"E", err) if err else self.reply(c, b"O", {"pid": self.execs[json.loads(payload)["id"]].pid})
        elif kind == b"K":
            req = json.loads(payload)
            p = self._target(c, req) if req.get("exec") else self.init
            if p is None or p.exit is not None:
                self.reply(c, b"E", "container is not running" if p is self.init else "exec is not running")
                return
            if p is not self.init:
                os.kill(p.pid, int(req["signal"]))
                self.reply(c, b"O", {})
                return
            args = ["kill", *(["--all"] if req.get("all") else []), self.o.container_id, str(int(req["signal"]))]
            rc, err = self.runtime(*args)
            self.reply(c, b"E", err or "kill failed") if rc else self.reply(c, b"O", {})
        elif kind == b"W":
            if self.exit is not None and not self.init.outputs:
                self.reply(c, b"X", self.exit.to_dict())
            else:
                c.waiting = True
        elif kind == b"V":
            eid = str(json.loads(payload)["exec"])
            if eid not in self.execs:
                self.reply(c, b"E", f"no such exec: {eid}")
            else:
                self.exec_waiters.setdefault(eid, []).append(c)
        elif kind == b"Q":
            req = json.loads(payload or b"{}")
            if req.get("exec"):
                p = self.execs.get(str(req["exec"]))
                if p is None:
                    self.reply(c, b"E", f"no such exec: {req['exec']}")
                    return
                self.reply(c, b"T", {"state": "exited" if p.exit else "running", "pid": p.pid,
                                     "exit": p.exit.to_dict() if p.exit else None})
                return
            state = "exited" if self.exit is not None else self.state
            self.reply(c, b"T", {"state": state, "pid": self.init.pid, "started_at_ns": self.init.started_ns,
                                 "exit": self.exit.to_dict() if self.exit else None,
                                 "execs": sorted(self.execs)})
        else:
            self.reply(c, b"E", f"unknown request {kind!r}")

    # -- exit ----------------------------------------------------------------------------------
    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            p = self.init if pid == self.init.pid else next((e for e in self.execs.values() if e.pid == pid), None)
            if p is None or p.exit is not None:
                continue
            code = os.waitstatus_to_exitcode(status)
            sig = -code if code < 0 else 0
            p.exit = ExitStatus(exit_code=128 + sig if sig else code, signal=sig, pid=pid,
                                started_at_ns=p.started_ns, finished_at_ns=time.time_ns(),
                                oom_killed=p is self.init and _oom_killed(self.cgroup_files))
            p.deadline = time.monotonic() + _DRAIN_SECONDS
            if p is self.init:
                self.state = "exited"
            elif not p.outputs:
                self.finish_exec(p)

    def finish_exec(self, p: ProcIO) -> None:
        """The exec ended and its output is drained (or the drain timed out): report and forget it."""
        for fd in list(p.outputs):
            if not self.paused:
                self.sel.unregister(fd)
            self.outputs.pop(fd, None)
        p.close()
        st = p.exit or ExitStatus(exit_code=137, signal=9, pid=p.pid, started_at_ns=p.started_ns,
                                  finished_at_ns=time.time_ns(), error="exec did not exit with its container")
        if isinstance(p.owner, _Client):  # the attached client first: it is waiting on this
            self.reply(p.owner, b"X", st.to_dict())
            p.owner.exec = None
        # Not fsync'd (runc keeps no exec record at all): the engine keeps exec records in memory
        # only, so this file matters while this boot lasts; the rename keeps it whole.
        write_json_atomic(os.path.join(self.o.state_dir, f"exec-{p.key}.exit.json"), st.to_dict(), durable=False)
        for name in (f"exec-{p.key}.pid",):
            try:
                os.unlink(os.path.join(self.o.state_dir, name))
            except FileNotFoundError:
                pass
        for c in self.exec_waiters.pop(p.key, ()):
            self.reply(c, b"X", st.to_dict())
        self.execs.pop(p.key, None)

    def finish(self) -> None:
        assert self.exit is not None
        for p in list(self.execs.values()):
            self.finish_exec(p)
        for fd in list(self.init.outputs):
            if not self.paused:
                self.sel.unregister(fd)
            self.outputs.pop(fd, None)
        self.init.close()
        self.log.flush(time.time_ns())
        self.log.close()
        sd = self.o.state_dir
        write_json_atomic(os.path.join(sd, EXIT_FILE), self.exit.to_dict())
        # Delete and let go of the socket *before* telling anyone: a waiter may restart the container
        # at once (same ID, same state dir) and must find neither the old runtime state nor have
        # its new monitor's socket removed by us. Late connections fall back to exit.json.
        self.runtime("delete", "--force", self.o.container_id)
        for name in (SOCKET_FILE, PID_FILE):
            try:
                os.unlink(os.path.join(sd, name))
            except FileNotFoundError:
                pass
        for c in list(self.clients.values()):
            if c.waiting or c.streams or c.stdin:
                self.reply(c, b"X", self.exit.to_dict())
        deadline = time.monotonic() + 2
        while any(c.out for c in self.clients.values()) and time.monotonic() < deadline:
            for key, mask in self.sel.select(0.1):
                if key.data[0] == "client":
                    self.on_client(key.data[1], mask)

    def loop(self) -> None:
        if self.wake_r < 0:
            self.wake_r, wake_w = os.pipe()
            os.set_blocking(self.wake_r, False)
            os.set_blocking(wake_w, False)
            signal.set_wakeup_fd(wake_w)
            signal.signal(signal.SIGCHLD, lambda *_: None)
            self.sel.register(self.wake_r, selectors.EVENT_READ, ("wake", 0))
        wake_r = self.wake_r
        self.reap()
        while True:
            now = time.monotonic()
            if self.exit is not None and (not self.init.outputs or now > self.init.deadline):
                break
            for p in [e for e in self.execs.values() if e.exit is not None and now > e.deadline]:
                self.finish_exec(p)
            timeout = 1.0 if self.exit is None else max(0.0, self.init.deadline - now)
            if any(e.exit is not None for e in self.execs.values()):
                timeout = min(timeout, 0.2)
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
            for p in (self.init, *self.execs.values()):
                if p.stdin_buf:
                    p.write_stdin(_STDIN_CAP)
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
    set_comm("skiff-monitor")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    sd = opts.state_dir
    m: Monitor | None = None
    try:
        if opts.log_path:
            os.makedirs(os.path.dirname(opts.log_path), exist_ok=True)
        m = Monitor(opts)
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
        if m is not None and m.init.pid:
            m.runtime("delete", "--force", opts.container_id)
        for name in (SOCKET_FILE, PID_FILE):
            try:
                os.unlink(os.path.join(sd, name))
            except FileNotFoundError:
                pass
        return 1
    os.write(ready_fd, json.dumps({"pid": m.init.pid, "monitor_pid": os.getpid()}).encode())
    os.close(ready_fd)
    for attempt in range(3):  # a bug must not orphan the container: note it and keep serving
        try:
            m.loop()
            return 0
        except Exception:
            import traceback
            with open(os.path.join(sd, "monitor.log"), "a") as f:
                f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} monitor error "
                        f"(attempt {attempt + 1}):\n{traceback.format_exc()}")
    return 1


def _starttime(pid: int) -> str:
    """Field 22 of /proc/pid/stat: tells a live monitor from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"

