"""Fixtures for the daemon's integration tests: a skiffd per test on temporary roots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, running_daemon


@pytest.fixture
def skiffd(tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path) as d:
        yield d
