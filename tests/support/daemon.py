"""Start a real skiffd on temporary roots and a temporary socket, for integration tests.

Use the context manager or the ``Daemon`` object directly::

    with running_daemon(tmp_path) as d:
        subprocess.run(["docker", "version"], env=d.env, check=True)

or, in an area's conftest.py::

    @pytest.fixture
    def skiffd(tmp_path):
        with running_daemon(tmp_path) as d:
            yield d

``d.env`` is os.environ plus DOCKER_HOST and SKIFF_HOST pointing at the socket; ``d.docker(...)``
and ``d.skiff(...)`` run the docker CLI v28 / the skiff CLI against it; ``d.restart()``
stops (or with ``kill=True`` SIGKILLs, for live-restore tests) and starts it again on the same
roots. The daemon is stopped by its PID only, even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Daemon", "running_daemon", "start_daemon", "DOCKER_CLI"]

DOCKER_CLI = "/usr/local/bin/docker"  # the real docker CLI v28 (not Debian's 20.10 in /usr/bin)


def _ping(sock_path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(str(sock_path))
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: skiff\r\nConnection: close\r\n\r\n")
        return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


@dataclass
class Daemon:
    """A skiffd process started by a test."""

    data_root: Path
    exec_root: Path
    socket: Path
    log: Path
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    _sockdir: Path | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> None:
        cmd = [sys.executable, "-m", "skiff.daemon", "--data-root", str(self.data_root),
               "--exec-root", str(self.exec_root), "-H", self.host, *self.args]  # more -H may follow
        if "--config-file" not in self.args:
            cmd += ["--config-file", str(self._empty_config())]
        logf = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"skiffd exited with {self.proc.returncode}:\n{self.read_log()}")
            if _ping(self.socket):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"skiffd did not answer on {self.socket} within {timeout}s:\n{self.read_log()}")

    def _empty_config(self) -> Path:
        path = self.data_root.parent / "daemon.json"
        if not path.exists():
            path.write_text("{}\n")
        return path

    def docker(self, *args: str, input: str | None = None, timeout: float = 120,  # noqa: A002
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the real docker CLI v28 against this daemon (never raises on a non-zero exit)."""
        return subprocess.run([DOCKER_CLI, *args], env={**self.env, **(env or {})}, input=input,
                              capture_output=True, text=True, timeout=timeout)

    def skiff(self, *args: str, input: str | None = None, timeout: float = 120,  # noqa: A002
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the skiff CLI against this daemon."""
        return subprocess.run([sys.executable, "-m", "skiff.cli.main", *args], env={**self.env, **(env or {})},
                              input=input, capture_output=True, text=True, timeout=timeout)

    def read_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-20000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit status."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(5)

    def kill(self) -> None:
        """SIGKILL the daemon only (not its children): what a crash looks like."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def restart(self, kill: bool = False) -> None:
        if kill:
            self.kill()
        else:
            self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        if self._sockdir is not None:
            shutil.rmtree(self._sockdir, ignore_errors=True)


def start_daemon(tmp: Path, args: Sequence[str] = (), timeout: float = 30.0) -> Daemon:
    """Start skiffd with roots under ``tmp`` and its socket in a short /tmp dir (sun_path limit)."""
    sockdir = Path(tempfile.mkdtemp(prefix="sk", dir="/tmp"))
    root = tmp / "skiffd"
    root.mkdir(parents=True, exist_ok=True)
    d = Daemon(data_root=root / "data", exec_root=sockdir / "exec", socket=sockdir / "skiff.sock",
               log=root / "skiffd.log", args=tuple(args), _sockdir=sockdir)
    d.env = {**os.environ, "DOCKER_HOST": d.host, "SKIFF_HOST": d.host}
    d.env.pop("DOCKER_API_VERSION", None)
    d.env.pop("DOCKER_CONTEXT", None)
    d.env.pop("DOCKER_TLS_VERIFY", None)
    try:
        d.start(timeout)
    except BaseException:
        d.cleanup()
        raise
    return d


@contextlib.contextmanager
def running_daemon(tmp: Path, args: Sequence[str] = (), timeout: float = 30.0) -> Iterator[Daemon]:
    d = start_daemon(tmp, args, timeout)
    try:
        yield d
    finally:
        d.cleanup()
