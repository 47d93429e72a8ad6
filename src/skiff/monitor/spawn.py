"""Starting a monitor detached from its spawner, and finding monitors again after a daemon restart.

``spawn_monitor`` double-forks: the child calls setsid and forks the monitor, then exits at once,
so the monitor is re-parented away from the daemon (to the nearest subreaper or PID 1) and never
gets the daemon's signals. By default the grandchild runs the monitor in the already-loaded
interpreter (cheap: call it from a small resident forker, never from a threaded daemon); with
``exec_python=True`` it execs ``python -m skiff.monitor`` instead (a clean process, ~100 ms more).
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from dataclasses import dataclass

from skiff.errors import System
from skiff.monitor.protocol import (
    OPTIONS_FILE,
    PID_FILE,
    SOCKET_FILE,
    ExitStatus,
    MonitorOptions,
    read_exit_file,
    write_json_atomic,
)

__all__ = ["MonitorHandle", "MonitorInfo", "MonitorStartError", "spawn_monitor", "find_monitors", "monitor_alive",
           "fork_monitor", "handle_from_report"]


class MonitorStartError(System):
    """The runtime refused to create or start the container; the message is the runtime's."""


@dataclass(frozen=True)
class MonitorHandle:
    container_id: str
    state_dir: str
    socket_path: str
    monitor_pid: int
    init_pid: int


@dataclass(frozen=True)
class MonitorInfo:
    """What ``find_monitors`` knows of one container's monitor after a restart."""

    container_id: str
    state_dir: str
    socket_path: str
    monitor_pid: int
    alive: bool
    exit: ExitStatus | None
    options: MonitorOptions | None


def spawn_monitor(opts: MonitorOptions, *, exec_python: bool = False, timeout: float = 60.0) -> MonitorHandle:
    """Start the monitor for ``opts``; returns once the container is created (and started if asked)."""
    pid, r = fork_monitor(opts, exec_python)
    os.waitpid(pid, 0)
    buf = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                raise MonitorStartError(f"monitor for {opts.container_id} did not report within {timeout}s")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            buf += chunk
    finally:
        os.close(r)
    return handle_from_report(opts, bytes(buf))


def fork_monitor(opts: MonitorOptions, exec_python: bool = False) -> tuple[int, int]:
    """Double-fork the monitor; returns (intermediate child pid to reap, fd of the ready report)."""
    os.makedirs(opts.state_dir, exist_ok=True)
    for stale in ("exit.json", SOCKET_FILE, PID_FILE):
        try:
            os.unlink(os.path.join(opts.state_dir, stale))
        except FileNotFoundError:
            pass
    write_json_atomic(os.path.join(opts.state_dir, OPTIONS_FILE), json.loads(opts.to_json()))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's code
        code = 1
        try:
            os.close(r)
            os.setsid()
            code = _grandchild(opts, w, exec_python) if os.fork() == 0 else 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def handle_from_report(opts: MonitorOptions, report: bytes) -> MonitorHandle:
    """The monitor's ready report -> handle, or MonitorStartError with the runtime's message."""
    try:
        msg = json.loads(report)
    except ValueError:
        raise MonitorStartError(f"monitor for {opts.container_id} died before reporting")
    if "error" in msg:
        raise MonitorStartError(msg["error"])
    return MonitorHandle(opts.container_id, opts.state_dir, os.path.join(opts.state_dir, SOCKET_FILE),
                         int(msg["monitor_pid"]), int(msg["pid"]))


def _grandchild(opts: MonitorOptions, ready_fd: int, exec_python: bool) -> int:
    # A wakeup fd inherited from the forker would get a byte per signal (SIGCHLD = 0x11) written into
    # whatever file reuses its number: the container's log file or pty. The monitor sets its own later.
    import signal

    signal.set_wakeup_fd(-1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    os.closerange(3, ready_fd)
    os.closerange(ready_fd + 1, _max_fd())
    os.chdir("/")
    if exec_python:
        os.set_inheritable(ready_fd, True)
        os.execv(sys.executable, [sys.executable, "-m", "skiff.monitor", opts.state_dir, str(ready_fd)])
    from skiff.monitor.server import run
    return run(opts, ready_fd)


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 4096


def monitor_alive(state_dir: str) -> int:
    """The monitor's pid if it is running (checked against its recorded start time), else 0."""
    try:
        with open(os.path.join(state_dir, PID_FILE)) as f:
            pid_s, start = f.read().split()
        pid = int(pid_s)
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[19] == start:
                return pid
    except (OSError, ValueError, IndexError):
        pass
    return 0


def find_monitors(state_root: str) -> list[MonitorInfo]:
    """Every container state dir under ``state_root`` that has (or had) a monitor."""
    out = []
    try:
        names = sorted(os.listdir(state_root))
    except FileNotFoundError:
        return []
    for name in names:
        sd = os.path.join(state_root, name)
        opt_path = os.path.join(sd, OPTIONS_FILE)
        if not os.path.exists(opt_path):
            continue
        try:
            with open(opt_path) as f:
                opts: MonitorOptions | None = MonitorOptions.from_json(f.read())
        except (OSError, ValueError, TypeError):
            opts = None
        pid = monitor_alive(sd)
        out.append(MonitorInfo(opts.container_id if opts else name, sd, os.path.join(sd, SOCKET_FILE), pid,
                               bool(pid), read_exit_file(sd), opts))
    return out
