"""Fixtures for the build API tests: one skiffd with busybox per module, Debian images imported
through the API on demand, and helpers that build a context directory with either CLI.

Every build runs twice where it matters: ``DOCKER_BUILDKIT=0 docker build`` (the docker CLI v28's
classic path, POST /build) and ``skiff build`` against the same daemon.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon
from tests.support.images import busybox_daemon

CLIS = ("docker", "skiff")


@pytest.fixture(scope="module")
def bd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A skiffd that has busybox:latest, shared by the tests of one module."""
    tmp: Path = tmp_path_factory.mktemp("build")
    with busybox_daemon(tmp) as d:
        d.env["DOCKER_BUILDKIT"] = "0"
        yield d


def import_image(d: Daemon, tarball: Path, ref: str) -> None:
    """``docker import`` a rootfs tarball (through POST /images/create?fromSrc=-)."""
    if d.docker("image", "inspect", ref).returncode == 0:
        return
    r = d.docker("import", "--change", 'CMD ["bash"]', str(tarball), ref, timeout=600)
    assert r.returncode == 0, r.stderr


def build(d: Daemon, cli: str, ctx: Path, *args: str, input: str | None = None,  # noqa: A002
          timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``<cli> build <args> <ctx>`` against the daemon (plain output: not a terminal)."""
    run = d.docker if cli == "docker" else d.skiff
    return run("build", *args, str(ctx), input=input, timeout=timeout, env=env)


def write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def run_image(d: Daemon, image: str, *cmd: str) -> str:
    r = d.docker("run", "--rm", "--network", "none", image, *cmd)
    assert r.returncode == 0, r.stderr
    return r.stdout


def tags(d: Daemon) -> set[str]:
    out = d.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    return {t for t in out if not t.startswith("<none>")}
