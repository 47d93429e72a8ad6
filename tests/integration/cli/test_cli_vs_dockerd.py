"""skiff -H against the reference dockerd (20.10, /run/docker.sock, shared with other sessions): the same
output as docker CLI v28 for ps/images/volume ls/inspect/logs/exec/run. Only containers this test
creates (named skiffcli-<random>, --network none) are touched, and they are removed afterwards."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.daemon import DOCKER_CLI

SOCK = "/run/docker.sock"
HOST = f"unix://{SOCK}"


def _dockerd_answers() -> bool:
    """The reference dockerd is up (a socket file left by a stopped one does not count)."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(SOCK)
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.")
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _dockerd_answers(),
                                reason="reference dockerd not running (../shared/reference-engines/setup.sh)")
_ENV = {**{k: v for k, v in os.environ.items() if k not in ("SKIFF_HOST",)}, "DOCKER_HOST": HOST}


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOCKER_CLI, *args], env=_ENV, capture_output=True, text=True, timeout=120)


def _skiff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skiff.cli.main", "-H", HOST, *args], env=_ENV,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def names() -> Iterator[tuple[str, str]]:
    if _docker("image", "inspect", "busybox").returncode != 0:
        pytest.skip("no busybox image on the reference dockerd")
    tag = os.urandom(3).hex()
    web, ex = f"skiffcli-{tag}-web", f"skiffcli-{tag}-ex"
    try:
        assert _docker("run", "-d", "--network", "none", "--name", web, "-l", "a=b", "busybox",
                       "sleep", "600").returncode == 0
        _docker("run", "--network", "none", "--name", ex, "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
        yield web, ex
    finally:
        _docker("rm", "-f", web, ex)


def _same(*args: str) -> subprocess.CompletedProcess[str]:
    for _ in range(3):  # other sessions change this daemon's state: retry a racing pair
        s, d = _skiff(*args), _docker(*args)
        if (s.stdout, s.returncode) == (d.stdout, d.returncode):
            break
    d_err = re.sub(r"\bdocker\b", "skiff", d.stderr).replace("skiff daemon", "docker daemon")
    assert (s.stdout, s.stderr, s.returncode) == (d.stdout, d_err, d.returncode), args
    return s


def test_lists(names: tuple[str, str]) -> None:
    web, ex = names
    _same("ps", "-a", "--filter", f"name={web}")
    _same("ps", "-a", "--filter", f"name={ex}", "--format", "{{json .}}")
    _same("ps", "-a", "--filter", f"name={web}", "--format", "table {{.Names}}\t{{.Label \"a\"}}\t{{.Status}}")
    _same("images", "busybox")
    _same("volume", "ls", "--filter", "name=skiffcli-none")


def test_inspect_logs_exec_run(names: tuple[str, str]) -> None:
    web, ex = names
    _same("inspect", "-f", "{{.Name}} {{.Config.Labels}} {{.State.ExitCode}}", web, ex)
    _same("inspect", "-f", "{{.Nope}}", web)
    _same("inspect", "nosuch-skiffcli")
    _same("logs", ex)
    r = _same("exec", web, "sh", "-c", "echo a; echo b >&2; exit 2")  # non-TTY output is demultiplexed
    assert r.stdout == "a\n" and r.returncode == 2
    r = _same("run", "--rm", "--network", "none", "busybox", "echo", "hi")
    assert r.stdout == "hi\n"
    _same("run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 5")
