"""Fixtures for volume tests: a skiffd with busybox per module, and a per-test one for restarts.

Whatever the tests mounted under the daemon's ``volumes/`` (tmpfs or bind volumes of containers that
were still around when the daemon stopped) is unmounted after the daemon is gone, even on failure."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon
from tests.support.images import busybox_daemon


def _mounts_under(root: Path) -> list[str]:
    prefix = os.path.realpath(root) + os.sep
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                out.append(point)
    return sorted(out, key=len, reverse=True)


def unmount_volumes(d: Daemon) -> None:
    for point in _mounts_under(d.data_root / "volumes"):
        subprocess.run(["umount", "-l", point], capture_output=True)


@contextlib.contextmanager
def volume_daemon(tmp: Path) -> Iterator[Daemon]:
    d: Daemon | None = None
    try:
        with busybox_daemon(tmp) as d:
            yield d
    finally:
        if d is not None:
            unmount_volumes(d)


@pytest.fixture(scope="module")
def vd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A skiffd with busybox:latest shared by the tests of one module."""
    with volume_daemon(tmp_path_factory.mktemp("vol")) as d:
        yield d


@pytest.fixture
def vd_own(tmp_path: Path) -> Iterator[Daemon]:
    """A skiffd of this test alone (for restarts)."""
    with volume_daemon(tmp_path) as d:
        yield d
