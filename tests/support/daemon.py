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

Unless the test sets networking itself (``--bridge``/``--bip``/``--iptables``... as flags or in its
``--config-file``), the daemon gets a bridge and subnet of its own and no iptables, so daemons
alive at the same time (module-scoped fixtures) never share skiff0 or the SKIFF chains. Cleanup
removes the daemon's containers through its API, stops it, then kills by recorded pid (pid files
under its exec root, checked against /proc/<pid>/cmdline) the forker, monitors and container inits
it left, waits for them, unmounts what is left under its roots and deletes its private bridge.
``STARTED`` lists every daemon started in this process, for the session's leak report.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Daemon", "running_daemon", "start_daemon", "private_network_args", "DOCKER_CLI", "STARTED"]

DOCKER_CLI = "/usr/local/bin/docker"  # the real docker CLI v28 (not Debian's 20.10 in /usr/bin)

_NET_KEYS = ("bridge", "bip", "fixed-cidr", "iptables", "iptables-chain-prefix", "default-address-pools")
_NET_FLAGS = ("-b", "--bridge", "--bip", "--fixed-cidr", "--iptables", "--iptables-chain-prefix",
              "--default-address-pool")


def private_network_args() -> tuple[str, ...]:
    """A bridge and subnet of this daemon's own, no iptables: test daemons running at the same time
    (other areas' too) do not fight over skiff0 and the SKIFF chains. Subnets in 10.160.0.0/11, which no
    test names (tests use fixed subnets in 10.201-209 and 10.240-255)."""
    tag = os.urandom(3).hex()
    n = int(tag, 16)
    return ("--bridge", f"skb{tag}", "--bip", f"10.{160 + n % 32}.{(n >> 8) % 256}.1/24", "--iptables=false")


def _sets_network(args: Sequence[str]) -> bool:
    """Whether the test chose the daemon's networking (flags, or keys of its --config-file)."""
    for i, a in enumerate(args):
        if a.split("=", 1)[0] in _NET_FLAGS:
            return True
        if a.split("=", 1)[0] == "--config-file":
            path = a.split("=", 1)[1] if "=" in a else (args[i + 1] if i + 1 < len(args) else "")
            try:
                conf = json.loads(Path(path).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(conf, dict) and any(k in conf for k in _NET_KEYS):
                return True
    return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


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
    bridge: str | None = None  # the private bridge start_daemon chose (deleted by cleanup)

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

    def remove_containers(self) -> None:
        """``docker rm -f`` every container of the running daemon (best effort)."""
        if self.proc is None or self.proc.poll() is not None or not os.path.exists(DOCKER_CLI):
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            ids = self.docker("ps", "-aq", timeout=30).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, timeout=60)

    def helper_pids(self) -> list[int]:
        """Live processes this daemon left, by their pid files: forker, monitors (same cmdline,
        naming this exec root) and container inits (in a pid namespace other than ours)."""
        found: list[int] = []
        root = str(self.exec_root)
        for pidfile in [self.exec_root / "forker.pid", *self.exec_root.glob("containers/*/monitor.pid")]:
            pid = _read_pid(pidfile)
            if pid and _alive(pid) and root in _cmdline(pid):
                found.append(pid)
        with contextlib.suppress(OSError):
            own_ns = os.readlink("/proc/self/ns/pid")
            for pidfile in self.exec_root.glob("containers/*/init.pid"):
                pid = _read_pid(pidfile)
                with contextlib.suppress(OSError):
                    if pid and _alive(pid) and os.readlink(f"/proc/{pid}/ns/pid") != own_ns:
                        found.append(pid)
        return found

    def stop_helpers(self, timeout: float = 5.0) -> None:
        """SIGKILL what the daemon left (by recorded pid), wait for it, unmount under its roots."""
        pids = self.helper_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid in pids:  # our zombies when this process is a child subreaper (runtime tests)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            if not any(_alive(p) for p in pids):
                break
            time.sleep(0.02)
        left = mounts_under(self.data_root, self.exec_root)
        if left:  # skiffd removed its containers and stopped: what stays mounted is its leak
            warnings.warn(f"skiffd ({self.exec_root}) left {len(left)} mounts: {left[:5]}", stacklevel=2)
        for mnt in reversed(left):
            if subprocess.run(["umount", mnt], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", mnt], capture_output=True)

    def cleanup(self) -> None:
        try:
            self.remove_containers()
        finally:
            self.stop()
            self.stop_helpers()
            if self.bridge is not None:
                subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            if self._sockdir is not None:
                shutil.rmtree(self._sockdir, ignore_errors=True)


def mounts_under(*roots: Path) -> list[str]:
    """Mount points under any of ``roots``, in /proc/mounts order (parents first)."""
    prefixes = [str(r).rstrip("/") + "/" for r in roots]
    out = []
    with open("/proc/mounts") as f:
        for line in f:
            point = line.split()[1].replace("\\040", " ")
            if any(point.startswith(p) or point + "/" == p for p in prefixes):
                out.append(point)
    return out


STARTED: list[Daemon] = []


def start_daemon(tmp: Path, args: Sequence[str] = (), timeout: float = 30.0) -> Daemon:
    """Start skiffd with roots under ``tmp`` and its socket in a short /tmp dir (sun_path limit)."""
    sockdir = Path(tempfile.mkdtemp(prefix="sk", dir="/tmp"))
    root = tmp / "skiffd"
    root.mkdir(parents=True, exist_ok=True)
    net = () if _sets_network(args) else private_network_args()
    d = Daemon(data_root=root / "data", exec_root=sockdir / "exec", socket=sockdir / "skiff.sock",
               log=root / "skiffd.log", args=(*net, *args), _sockdir=sockdir, bridge=net[1] if net else None)
    STARTED.append(d)
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
