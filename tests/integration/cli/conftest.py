"""Fixtures for the skiff CLI's integration tests: a skiffd per test and a runner for `skiff`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, running_daemon

SKIFF = [sys.executable, "-m", "skiff.cli.main"]


@pytest.fixture
def skiffd(tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path) as d:
        yield d


@pytest.fixture
def skiff(skiffd: Daemon) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*SKIFF, *args], env={**skiffd.env, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)
    return run
