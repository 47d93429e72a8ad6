"""Fixtures for container tests: one skiffd with busybox per test module (containers removed after)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.support.daemon import Daemon
from tests.support.images import busybox_daemon


@pytest.fixture(scope="module")
def bbd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A skiffd that has busybox:latest, shared by the tests of one module."""
    tmp: Path = tmp_path_factory.mktemp("ctr")
    with busybox_daemon(tmp) as d:
        yield d


@pytest.fixture(scope="module")
def client(bbd: Daemon) -> Iterator[docker.DockerClient]:
    """The Docker SDK for Python on the module's daemon."""
    c = docker.DockerClient(base_url=bbd.host)
    yield c
    c.close()
