"""attach / -t / detach keys / resize, through the docker CLI (a pty from `script`) and the SDK socket."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.support.daemon import DOCKER_CLI, Daemon

pytestmark = pytest.mark.root


def _script(d: Daemon, cmd: str, stdin: bytes = b"", timeout: float = 20) -> subprocess.CompletedProcess[bytes]:
    """Run a docker command in a pty of its own (util-linux script), 30x100."""
    return subprocess.run(["script", "-qec", f"stty rows 30 cols 100; {DOCKER_CLI} {cmd}", "/dev/null"],
                          env=d.env, input=stdin, capture_output=True, timeout=timeout)


def test_run_tty_exit_code_and_size(bbd: Daemon) -> None:
    r = _script(bbd, "run -it --rm busybox sh -c 'stty size; tty; exit 4'")
    assert r.returncode == 4
    out = r.stdout.decode(errors="replace")
    assert "30 100" in out and "/dev/pts/0" in out


def test_exec_tty(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "tty1", "-t", "busybox", "sh")
    r = _script(bbd, "exec -it tty1 sh -c 'echo $TERM; stty size'")
    assert r.returncode == 0
    assert "xterm" in r.stdout.decode() and "30 100" in r.stdout.decode()


def test_attach_detach_keys(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "-it", "--name", "att", "busybox", "sh")
    p = subprocess.Popen(["script", "-qec", f"{DOCKER_CLI} attach att", "/dev/null"], env=bbd.env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdin is not None
    time.sleep(1)
    p.stdin.write(b"echo attached-$((40+2))\n")
    p.stdin.flush()
    time.sleep(1)
    p.stdin.write(b"\x10\x11")
    p.stdin.flush()
    out, _ = p.communicate(timeout=15)
    assert b"attached-42" in out
    assert json.loads(bbd.docker("inspect", "att").stdout)[0]["State"]["Running"] is True


def test_start_attach(bbd: Daemon) -> None:
    bbd.docker("create", "-i", "--name", "sa", "busybox", "sh", "-c", "read x; echo got-$x; exit 6")
    r = bbd.docker("start", "-ai", "sa", input="val\n")
    assert r.returncode == 6 and r.stdout == "got-val\n"


def test_sdk_attach_socket(bbd: Daemon) -> None:
    import docker

    c = docker.DockerClient(base_url=bbd.host)
    ct = c.containers.create("busybox", ["sh", "-c", "sleep 0.3; echo sdk-out; echo sdk-err >&2"])
    s = c.api.attach_socket(ct.id, params={"stdout": 1, "stderr": 1, "stream": 1})
    ct.start()
    data = b""
    s._sock.settimeout(10)
    while True:
        chunk = s._sock.recv(4096)
        if not chunk:
            break
        data += chunk
    assert b"\x01\x00\x00\x00\x00\x00\x00\x08sdk-out\n" in data
    assert b"\x02\x00\x00\x00\x00\x00\x00\x08sdk-err\n" in data
    ct.remove(force=True)
    c.close()
