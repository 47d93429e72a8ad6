"""Real consumers drive skiff-runtime: podman (--runtime) and containerd's ctr (--runc-binary,
through containerd-shim-runc-v2), each with private storage in the test's temp dir."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.bundle import RUNTIME

pytestmark = [pytest.mark.root, pytest.mark.slow]

# This machine's hard limits (nofile 20000) are below podman's defaults (1048576).
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def _podman(tmp: Path) -> list[str]:
    run = tempfile.mkdtemp(prefix="skiff-test-podman-")  # podman wants a runroot under 50 characters
    return ["podman", "--root", str(tmp / "root"), "--runroot", run, "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime", RUNTIME]


@pytest.fixture
def podman(tmp_path: Path, busybox_rootfs: Path) -> Iterator[list[str]]:
    if not shutil.which("podman"):
        pytest.skip("podman not installed")
    cmd = _podman(tmp_path / "podman")
    tar = subprocess.Popen(["tar", "-C", str(busybox_rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run([*cmd, "import", "-", "localhost/skiff-test-busybox:latest"], stdin=tar.stdout, check=True,
                   capture_output=True)
    tar.wait()
    try:
        yield cmd
    finally:
        subprocess.run([*cmd, "rm", "-af"], capture_output=True)
        subprocess.run([*cmd, "system", "reset", "-f"], capture_output=True)
        shutil.rmtree(cmd[cmd.index("--runroot") + 1], ignore_errors=True)


def test_podman_run(podman: list[str]) -> None:
    p = subprocess.run([*podman, "run", "--rm", *ULIMITS, "localhost/skiff-test-busybox", "echo", "hello"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello\n"
    p = subprocess.run([*podman, "run", "--rm", *ULIMITS, "localhost/skiff-test-busybox", "sh", "-c", "exit 3"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 3


@pytest.fixture
def containerd(tmp_path: Path, busybox_rootfs: Path) -> Iterator[list[str]]:
    if not shutil.which("containerd") or not shutil.which("podman"):
        pytest.skip("containerd (and podman, to build the image archive) needed")
    base = tmp_path / "ctrd"
    base.mkdir()
    sock = base / "containerd.sock"
    (base / "config.toml").write_text(
        f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
        f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{sock}.ttrpc"\n')
    proc = subprocess.Popen(["containerd", "--config", str(base / "config.toml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    ctr = ["ctr", "-a", str(sock), "-n", "skiff-test"]
    try:
        for _ in range(100):
            if subprocess.run([*ctr, "version"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        pod = _podman(tmp_path / "podman")
        tar = subprocess.Popen(["tar", "-C", str(busybox_rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run([*pod, "import", "-", "localhost/skiff-test-busybox:latest"], stdin=tar.stdout,
                       check=True, capture_output=True)
        tar.wait()
        archive = base / "busybox.tar"
        subprocess.run([*pod, "save", "--format", "oci-archive", "-o", str(archive),
                        "localhost/skiff-test-busybox:latest"], check=True, capture_output=True)
        subprocess.run([*pod, "system", "reset", "-f"], capture_output=True)
        shutil.rmtree(pod[pod.index("--runroot") + 1], ignore_errors=True)
        subprocess.run([*ctr, "images", "import", "--index-name", "localhost/skiff-test-busybox:latest",
                        str(archive)], capture_output=True)
        yield ctr
    finally:
        subprocess.run([*ctr, "task", "kill", "-s", "KILL", "skiff-test-ctr"], capture_output=True)
        subprocess.run([*ctr, "task", "rm", "-f", "skiff-test-ctr"], capture_output=True)
        subprocess.run([*ctr, "c", "rm", "skiff-test-ctr"], capture_output=True)
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        subprocess.run(["umount", "-R", str(base / "root")], capture_output=True)


def _ctr_run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """containerd's snapshot GC can race the re-unpack right after a ``run --rm`` removed the
    previous container ("parent snapshot ... does not exist"), before any runtime is called:
    that containerd-side failure is retried once; every other outcome is returned as it is."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0 and "parent snapshot" in p.stderr and "does not exist" in p.stderr:
        time.sleep(1)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p


def test_ctr_run(containerd: list[str]) -> None:
    base = [*containerd, "run", "--rm", "--runc-binary", RUNTIME, "localhost/skiff-test-busybox:latest",
            "skiff-test-ctr"]
    p = _ctr_run([*base, "echo", "hello"])
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello\n"
    assert _ctr_run([*base, "sh", "-c", "exit 3"]).returncode == 3
