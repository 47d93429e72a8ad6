"""process.terminal: the pty master is sent over --console-socket (SCM_RIGHTS), as runc does."""

from __future__ import annotations

import array
import json
import os
import socket
from pathlib import Path

import pytest
from tests.integration.runtime.conftest import Runtime
from tests.support.bundle import edit_config

pytestmark = pytest.mark.root


def _recv_fd(server: socket.socket) -> tuple[bytes, int]:
    conn, _ = server.accept()
    with conn:
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_LEN(fds.itemsize))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        return msg, fds[0]


def _read_all(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO once the slave side is gone
            break
        if not chunk:
            break
        out += chunk
    return out


def test_terminal_via_console_socket(rt: Runtime, bundle: Path, cid: str, tmp_path: Path) -> None:
    edit_config(bundle, lambda c: c["process"].update(
        terminal=True, consoleSize={"height": 33, "width": 101},
        args=["sh", "-c", "tty; stty size; test -t 0 && echo is-a-tty"]))
    path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    try:
        rt.ok("create", "--console-socket", path, "-b", str(bundle), cid)
        name, master = _recv_fd(server)
    finally:
        server.close()
    try:
        assert name.startswith(b"/dev/pts/")
        rt.ok("start", cid)
        out = _read_all(master).decode().replace("\r", "").split("\n")
    finally:
        os.close(master)
    assert out[0].startswith("/dev/pts/")
    assert out[1:3] == ["33 101", "is-a-tty"]
    for _ in range(300):
        if json.loads(rt.ok("state", cid).out)["status"] == "stopped":
            break


def test_terminal_without_console_socket_refused(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: c["process"].update(terminal=True))
    r = rt("create", "-b", str(bundle), cid)
    assert r.rc == 1 and "console socket" in r.err
    assert not (rt.root / cid).exists()


def test_exec_tty_via_console_socket(rt: Runtime, bundle: Path, cid: str, tmp_path: Path) -> None:
    edit_config(bundle, lambda c: c["process"].update(args=["sleep", "30"]))
    rt.ok("run", "-d", "-b", str(bundle), cid)
    path = str(tmp_path / "exec-console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    import subprocess
    import threading

    from tests.support.bundle import RUNTIME

    got: dict[str, tuple[bytes, int]] = {}
    t = threading.Thread(target=lambda: got.update(fd=_recv_fd(server)))
    t.start()
    p = subprocess.run([RUNTIME, "--root", str(rt.root), "exec", "-t", "--console-socket", path, cid,
                        "sh", "-c", "test -t 1 && echo exec-tty"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    t.join(10)
    server.close()
    assert p.returncode == 0, p.stderr
    _, master = got["fd"]
    try:
        assert "exec-tty" in _read_all(master).decode()
    finally:
        os.close(master)


def test_run_terminal_in_foreground(rt: Runtime, bundle: Path, cid: str) -> None:
    """Without --console-socket, `run` holds the pty itself and copies it to its stdout (runc too)."""
    edit_config(bundle, lambda c: c["process"].update(terminal=True, args=["sh", "-c", "test -t 0 && echo tty-ok; exit 4"]))
    r = rt("run", "-b", str(bundle), cid)
    assert r.rc == 4, r.err
    assert "tty-ok" in r.out


def test_exec_terminal_in_foreground(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: c["process"].update(args=["sleep", "30"]))
    rt.ok("run", "-d", "-b", str(bundle), cid)
    r = rt("exec", "-t", cid, "sh", "-c", "test -t 1 && echo exec-tty-ok")
    assert r.rc == 0, r.err
    assert "exec-tty-ok" in r.out
