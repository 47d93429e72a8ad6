"""-it with a raw terminal and detach keys: skiff and docker CLI v28, each in a pseudo-terminal we
drive, print the same bytes and exit with the same status (run's container status; detaching from
run is silent and 0, from exec/attach "read escape sequence" and 1)."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.daemon import DOCKER_CLI, Daemon

SKIFF = [sys.executable, "-m", "skiff.cli.main"]


def _in_pty(argv: list[str], env: dict[str, str], feed: list[tuple[float, bytes]]) -> tuple[bytes, int]:
    """Run argv on a new pty; after each delay write the bytes; return all output and the exit status."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once (nothing else may run here)
        os.execvpe(argv[0], argv, env)
    out = b""
    try:
        for delay, data in [*feed, (0.0, b"")]:
            end = time.monotonic() + delay
            while time.monotonic() < end:
                if select.select([fd], [], [], 0.05)[0]:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            if data:
                os.write(fd, data)
        end = time.monotonic() + 30
        while time.monotonic() < end:  # until the program exits (EIO on the pty's master side)
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        os.close(fd)
    deadline = time.monotonic() + 10
    while True:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            return out, os.waitstatus_to_exitcode(st)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)  # hung: the child we forked, by its pid
            deadline = float("inf")
        time.sleep(0.05)


def _both(d: Daemon, args: list[str], feed: list[tuple[float, bytes]]) -> tuple[tuple[bytes, int], tuple[bytes, int]]:
    env = {**d.env, "TERM": "xterm"}
    return _in_pty([*SKIFF, *args], env, feed), _in_pty([DOCKER_CLI, *args], env, feed)


@pytest.fixture(scope="module")
def sh(bbd: Daemon) -> Daemon:
    assert bbd.docker("run", "-d", "--name", "tty-web", "busybox", "sleep", "1000").returncode == 0
    return bbd


def test_run_it_exit_status(sh: Daemon) -> None:
    s, d = _both(sh, ["run", "--rm", "-it", "busybox", "sh"], [(1.5, b"echo hello\r"), (0.5, b"exit 3\r")])
    assert s == d and s[1] == 3 and b"hello\r\n" in s[0]


@pytest.mark.parametrize(("keys", "seq"), [((), b"\x10\x11"), (("--detach-keys", "ctrl-a,ctrl-b"), b"\x01\x02")])
def test_run_it_detach(sh: Daemon, keys: tuple[str, ...], seq: bytes) -> None:
    s, d = _both(sh, ["run", "-it", *keys, "busybox", "sh"], [(1.5, b"echo x\r"), (0.5, seq)])
    assert s == d and s[1] == 0


def test_exec_it_detach_and_status(sh: Daemon) -> None:
    s, d = _both(sh, ["exec", "-it", "tty-web", "sh"], [(1.5, b"echo x\r"), (0.5, b"\x10\x11")])
    assert s == d and s[1] == 1 and s[0].endswith(b"read escape sequence\r\n")
    s, d = _both(sh, ["exec", "-it", "tty-web", "sh"], [(1.5, b"exit 4\r")])
    assert s == d and s[1] == 4


def test_cp_reports_copied_size_on_a_terminal(sh: Daemon, tmp_path: Path) -> None:
    """On a terminal docker cp ends with "Successfully copied <size> to <dest>" (the size its tar
    reading consumed); skiff prints the same line."""
    env = {**sh.env, "TERM": "xterm"}
    src = tmp_path / "f.txt"
    src.write_text("hello\n")
    (tmp_path / "into").mkdir()
    for args in (["tty-web:/etc/hostname", "{d}/new"], ["tty-web:/etc", "{d}/into/"], [str(src), "tty-web:/tmp/"],
                 [str(src), "tty-web:/tmp/g.txt"]):
        outs = []
        for name, argv in (("s", SKIFF), ("d", [DOCKER_CLI])):
            d = tmp_path / name
            d.mkdir(exist_ok=True)
            (d / "into").mkdir(exist_ok=True)
            out, code = _in_pty([*argv, "cp", *(a.format(d=d) for a in args)], env, [])
            outs.append((out.replace(str(d).encode(), b"DIR"), code))
        assert outs[0] == outs[1] and outs[0][0].startswith(b"Successfully copied "), args
