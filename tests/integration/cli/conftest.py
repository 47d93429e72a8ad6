"""Fixtures for the skiff CLI's integration tests: a runner for `skiff` against the ``skiffd`` fixture."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.support.daemon import Daemon

SKIFF = [sys.executable, "-m", "skiff.cli.main"]


@pytest.fixture
def skiff(skiffd: Daemon) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*SKIFF, *args], env={**skiffd.env, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)
    return run
