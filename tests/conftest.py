"""Fixtures shared by every test area. Area-specific fixtures live in that area's conftest.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import leaks
from tests.support.daemon import Daemon, running_daemon
from tests.support.rootfs import copy_rootfs, make_busybox_rootfs


def _cgroup2_unified() -> bool:
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def _cgroup1() -> bool:
    return os.path.isdir("/sys/fs/cgroup/memory") and not _cgroup2_unified()


_BEFORE = pytest.StashKey[leaks.Snapshot]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = leaks.snapshot()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print what the session left on the machine (mounts, links, chains, cgroups, processes)."""
    before = config.stash.get(_BEFORE, None)
    if before is None:
        return
    factory = getattr(config, "_tmp_path_factory", None)
    basetemp = factory.getbasetemp() if factory is not None and factory._basetemp is not None else None
    found = leaks.report(before, basetemp)
    if found:
        terminalreporter.write_sep("=", f"LEFT ON THE MACHINE BY THIS SESSION ({len(found)})", yellow=True)
        for line in found:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip, with a reason, what this machine cannot run, instead of letting it fail."""
    skips = {
        "root": (os.geteuid() != 0, "needs root"),
        "cgroupv1": (not _cgroup1(), "needs cgroup v1 controllers"),
        "cgroupv2": (not _cgroup2_unified(), "needs a cgroup v2 unified hierarchy"),
    }
    for item in items:
        for mark, (skip, why) in skips.items():
            if skip and item.get_closest_marker(mark):
                item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture(scope="session")
def busybox_rootfs_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One busybox rootfs per test session; copy it before changing it."""
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox-cache") / "rootfs")


@pytest.fixture
def busybox_rootfs(busybox_rootfs_cache: Path, tmp_path: Path) -> Path:
    """A private, writable busybox rootfs for one test."""
    return copy_rootfs(busybox_rootfs_cache, tmp_path / "rootfs")


@pytest.fixture
def skiffd(tmp_path: Path) -> Iterator[Daemon]:
    """A real skiffd on temporary roots and socket (``d.env`` has DOCKER_HOST/SKIFF_HOST); stopped after."""
    with running_daemon(tmp_path) as d:
        yield d
