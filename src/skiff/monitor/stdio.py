"""Running runtime commands, and the stdio the monitor holds for a process (init or exec).

Without a TTY the process gets pipes (stdin: a pipe when open, else /dev/null); with a TTY the
runtime sends the pty master over ``--console-socket`` (SCM_RIGHTS) and that one fd is both input
and output. The runtime's own errors are read from its stderr; for a non-TTY ``create``/``exec``
that is the container's stderr pipe, so what is in it when the command fails is the error.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import time
from collections.abc import Callable, Sequence

from skiff.monitor.protocol import ExitStatus
from skiff.monitor.sockpath import bind_unix

__all__ = ["ProcIO", "run_runtime", "launch", "clean_runtime_error", "builtin_runtime"]


class ProcIO:
    """One process whose stdio the monitor holds: the container's init (key "") or an exec."""

    def __init__(self, key: str, tty: bool, stdin_once: bool) -> None:
        self.key, self.tty, self.stdin_once = key, tty, stdin_once
        self.pid = 0
        self.stdin_fd = -1
        self.stdin_buf = bytearray()
        self.pty_fd = -1
        self.outputs: dict[int, int] = {}  # fd -> stream (1 stdout, 2 stderr)
        self.exit: ExitStatus | None = None
        self.started_ns = 0
        self.deadline = 0.0
        self.owner: object | None = None  # exec: the client connection that started it

    def resize(self, h: int, w: int) -> None:
        if self.pty_fd >= 0:
            import fcntl
            import termios
            fcntl.ioctl(self.pty_fd, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))

    def write_stdin(self, cap: int) -> None:
        """Write what is queued without blocking; keep at most ``cap`` bytes queued."""
        while self.stdin_buf and self.stdin_fd >= 0:
            try:
                n = os.write(self.stdin_fd, self.stdin_buf[:65536])
            except BlockingIOError:
                break
            except OSError:
                self.stdin_buf.clear()
                self.close_stdin()
                return
            del self.stdin_buf[:n]
        if len(self.stdin_buf) > cap:
            del self.stdin_buf[:len(self.stdin_buf) - cap]

    def close_stdin(self) -> None:
        """Close the process's stdin (pipe only: a pty stays, as with docker)."""
        if self.stdin_fd >= 0 and self.stdin_fd != self.pty_fd:
            deadline = time.monotonic() + 2
            while self.stdin_buf and time.monotonic() < deadline:
                self.write_stdin(1 << 30)
                if self.stdin_buf:
                    time.sleep(0.01)
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def close(self) -> None:
        for fd in list(self.outputs):
            if fd != self.pty_fd:
                os.close(fd)
        self.outputs.clear()
        if self.stdin_fd >= 0 and self.stdin_fd != self.pty_fd:
            os.close(self.stdin_fd)
        self.stdin_fd = -1
        if self.pty_fd >= 0:
            os.close(self.pty_fd)
            self.pty_fd = -1


_RESET_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE", "SIGQUIT", "SIGXFSZ",
                                                    "SIGUSR1", "SIGUSR2", "SIGCHLD", "SIGTTOU", "SIGTTIN", "SIGTSTP"))


def builtin_runtime(runtime: str) -> bool:
    """Is ``runtime`` Skiff's own (``skiff-runtime``), whose commands this process can run itself?"""
    return os.path.basename(runtime) == "skiff-runtime"


def _fork_builtin(argv: Sequence[str], fds: tuple[int, int, int]) -> int:
    """Fork and run ``skiff-runtime argv[1:]`` in the child, as if spawned: stdio on ``fds``, default
    signal dispositions. Why: a fresh interpreter is most of an exec's cost (~10-20 ms), and the
    monitor is single-threaded, so forking it is safe. The child imports the runtime from disk."""
    import sys

    for f in (sys.stdout, sys.stderr):
        if f is not None:
            f.flush()
    pid = os.fork()
    if pid:
        return pid
    rc = 1
    try:
        for i, fd in enumerate(fds):
            os.dup2(fd, i)
        signal.set_wakeup_fd(-1)
        for sig in (*_RESET_SIGNALS, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        if sys.stdout is None:
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the process ends with os._exit
        from skiff.runtime.cli.main import main

        rc = main(list(argv[1:]))
        sys.stdout.flush()
        if sys.stderr is not None:
            sys.stderr.flush()
    except BaseException as exc:
        try:
            os.write(2, f"skiff-runtime: {exc}\n".encode())
        except OSError:
            pass
    os._exit(rc)


def run_runtime(argv: Sequence[str], stdio: tuple[int, int, int] | None = None,
                timeout: float = 120.0, in_process: bool = False) -> tuple[int, str]:
    """Run one runtime command to completion; returns (exit code, its stderr text).

    Waits on a pidfd, not on EOF of stderr (the container may inherit it), and kills the command
    after ``timeout`` seconds (exit code 124, like timeout(1)) so a hung runtime cannot wedge the
    monitor. ``in_process``: Skiff's runtime runs in a fork of this process (``_fork_builtin``).
    """
    import select

    r, w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    fds = stdio or (null, null, w)
    acts = [(os.POSIX_SPAWN_DUP2, fds[0], 0), (os.POSIX_SPAWN_DUP2, fds[1], 1), (os.POSIX_SPAWN_DUP2, fds[2], 2)]
    try:
        if in_process and builtin_runtime(argv[0]):
            pid = _fork_builtin(argv, fds)
        else:
            # Ignored signals survive exec: the monitor ignores SIGINT/SIGTERM/SIGHUP and Python
            # SIGPIPE; the runtime (and the container process it starts) must begin with defaults.
            pid = os.posix_spawnp(argv[0], list(argv), dict(os.environ), file_actions=acts,
                                  setsigdef=_RESET_SIGNALS)
    except OSError as e:
        for fd in (r, w, null):
            os.close(fd)
        return 127, f"{argv[0]}: {e.strerror}"
    os.close(w)
    os.close(null)
    pidfd = os.pidfd_open(pid)
    err = bytearray()
    deadline = time.monotonic() + timeout
    try:
        exited, r_open = False, True
        while not exited:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return 124, f"{argv[0]} {' '.join(argv[1:3])}: timed out after {timeout:g}s"
            ready = select.select([pidfd, r] if r_open else [pidfd], [], [], left)[0]
            exited = pidfd in ready
            if r_open and (r in ready or exited):
                os.set_blocking(r, False)
                try:
                    while chunk := os.read(r, 65536):
                        if len(err) < 65536:
                            err += chunk
                    r_open = False  # EOF
                except BlockingIOError:
                    pass
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
        os.close(r)
    return os.waitstatus_to_exitcode(status), clean_runtime_error(err.decode(errors="replace"))


def clean_runtime_error(text: str) -> str:
    """runc-style logrus lines (``time=… level=error msg="…"``) -> the last error message itself."""
    import json
    import re

    found = re.findall(r'level=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"', text)
    if not found:
        return text.strip()
    try:
        return str(json.loads(f'"{found[-1]}"'))
    except ValueError:
        return str(found[-1])


Direct = Callable[[tuple[int, int, int] | None, str], int]


def _start(argv: list[str], stdio: tuple[int, int, int] | None, in_process: bool, direct: Direct | None,
           console: str) -> tuple[int, str, int]:
    """(exit code, error text, pid or 0): the runtime command, or ``direct`` (stdio, console socket)
    when the caller runs the runtime's library itself."""
    if direct is None:
        return (*run_runtime(argv, stdio=stdio, in_process=in_process), 0)
    from skiff.monitor.inproc_exec import describe_error

    try:
        return 0, "", direct(stdio, console)
    except Exception as exc:  # the runtime's own failure, reported as its command would
        return 1, describe_error(exc), 0


def launch(p: ProcIO, argv: list[str], open_stdin: bool, sock_dir: str, name: str,
           console_size: tuple[int, int] = (0, 0), in_process: bool = False, direct: Direct | None = None) -> int:
    """Run ``argv`` (runtime create/exec, ID last) with ``p``'s stdio; RuntimeError on failure.
    Returns the pid ``direct`` gave (0 for a runtime command: it writes a pid file)."""
    if p.tty:
        dirfd = os.open(sock_dir, os.O_RDONLY | os.O_DIRECTORY)
        con_path = os.path.join(sock_dir, f"{name}.sock")
        con = bind_unix(con_path)
        con.listen(1)
        con_arg = f"/proc/{os.getpid()}/fd/{dirfd}/{name}.sock"
        argv = [*argv[:-1], "--console-socket", con_arg, argv[-1]]
        try:
            rc, err, pid = _start(argv, None, in_process, direct, con_arg)
            if rc == 0:
                con.settimeout(10)
                conn, _ = con.accept()
                _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
                conn.close()
                p.pty_fd = fds[0]
        finally:
            con.close()
            os.close(dirfd)
            try:
                os.unlink(con_path)
            except FileNotFoundError:
                pass
        if rc != 0:
            raise RuntimeError(err or f"runtime {argv[0]} exited with {rc}")
        os.set_blocking(p.pty_fd, False)
        if console_size != (0, 0):
            p.resize(*console_size)
        p.outputs[p.pty_fd] = 1
        p.stdin_fd = p.pty_fd
        return pid
    mine: list[int] = []
    if open_stdin:
        in_r, in_w = os.pipe()
        p.stdin_fd = in_w
    else:
        in_r = os.open(os.devnull, os.O_RDONLY)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    mine += [in_r, out_w, err_w]
    try:
        rc, err, pid = _start(argv, (in_r, out_w, err_w), in_process, direct, "")
    finally:
        for fd in mine:
            os.close(fd)
    if rc != 0:
        os.set_blocking(err_r, False)
        try:
            err = clean_runtime_error(err + "\n" + os.read(err_r, 65536).decode(errors="replace"))
        except BlockingIOError:
            pass
        for fd in (out_r, err_r):
            os.close(fd)
        if p.stdin_fd >= 0:
            os.close(p.stdin_fd)
            p.stdin_fd = -1
        raise RuntimeError(err or f"runtime exited with {rc}")
    for fd, stream in ((out_r, 1), (err_r, 2)):
        os.set_blocking(fd, False)
        p.outputs[fd] = stream
    if p.stdin_fd >= 0:
        os.set_blocking(p.stdin_fd, False)
    return pid
