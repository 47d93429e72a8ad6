"""An image built by Skiff, saved with ``docker save`` and loaded into podman, runs there with
the same output as on Skiff (podman with its default runtime, runc, and its own storage)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.build_api.conftest import build, run_image, write
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root

CONF = "/work/shared/reference-engines/containers.conf"
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[list[str]]:
    if not shutil.which("podman"):
        pytest.skip("podman not installed")
    run = tempfile.mkdtemp(prefix="skiff-test-podman-")  # podman wants a short runroot
    cmd = ["podman", "--root", str(tmp_path / "podman-root"), "--runroot", run, "--storage-driver", "vfs",
           "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
    try:
        yield cmd
    finally:
        env = dict(os.environ, CONTAINERS_CONF=CONF) if os.path.exists(CONF) else None
        subprocess.run([*cmd, "rm", "-af"], capture_output=True, env=env)
        subprocess.run([*cmd, "system", "reset", "-f"], capture_output=True, env=env)
        shutil.rmtree(run, ignore_errors=True)


def test_built_image_runs_in_podman(bd: Daemon, tmp_path: Path, podman: list[str]) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\n"
        "ENV GREETING=hello\n"
        "WORKDIR /srv\n"
        "COPY msg.txt .\n"
        "RUN echo \"built at step 5\" > stamp && chmod 0600 stamp\n"
        "USER 1000:1000\n"
        "ENTRYPOINT [\"sh\", \"-c\", \"echo $GREETING $(cat msg.txt) from $(pwd) as $(id -u); ls -l stamp | cut -c1-10\"]\n"),
        "msg.txt": "world\n"})
    r = build(bd, "skiff", ctx, "-t", "skiff-test/podman-app:1")
    assert r.returncode == 0, r.stderr
    expected = run_image(bd, "skiff-test/podman-app:1")
    assert expected == "hello world from /srv as 1000\n-rw-------\n"
    archive = tmp_path / "app.tar"
    assert bd.docker("save", "-o", str(archive), "skiff-test/podman-app:1").returncode == 0
    env = dict(os.environ, CONTAINERS_CONF=CONF)
    p = subprocess.run([*podman, "load", "-i", str(archive)], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([*podman, "run", "--rm", "--network", "none", *ULIMITS, "skiff-test/podman-app:1"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout == expected


def test_multistage_c_image_runs_in_podman(bd: Daemon, tmp_path: Path, podman: list[str]) -> None:
    """The guide-style multi-stage image (static C from a gcc stage, in busybox), built with the skiff
    CLI, behaves the same in podman."""
    from tests.integration.build_api.conftest import import_image
    from tests.integration.build_api.debian_images import debian_gcc_tarball
    from tests.integration.build_api.test_debian_apps import C_SOURCE, MULTISTAGE

    import_image(bd, debian_gcc_tarball(), "debian:gcc")
    ctx = write(tmp_path / "c", {"Dockerfile": MULTISTAGE, "hello.c": C_SOURCE})
    r = build(bd, "skiff", ctx, "-t", "skiff-test/hello-c:1")
    assert r.returncode == 0, r.stdout + r.stderr
    expected = run_image(bd, "skiff-test/hello-c:1", "x", "y", "z")
    assert expected == "hello from static C, 3 args\n"
    archive = tmp_path / "hello.tar"
    assert bd.skiff("save", "-o", str(archive), "skiff-test/hello-c:1").returncode == 0
    env = dict(os.environ, CONTAINERS_CONF=CONF)
    p = subprocess.run([*podman, "load", "-i", str(archive)], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([*podman, "run", "--rm", "--network", "none", *ULIMITS, "skiff-test/hello-c:1", "x", "y", "z"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout == expected
