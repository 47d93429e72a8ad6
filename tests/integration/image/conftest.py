"""Fixtures for image integration tests: real registries on 127.0.0.1 and a fresh ImageService."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skiff.image.service import ImageService
from skiff.image.unpack import DigestOnlyUnpacker
from tests.integration.image.registry_fixture import Registry


@pytest.fixture
def start_registry(tmp_path: Path) -> Iterator[Callable[[str], Registry]]:
    started: list[Registry] = []

    def start(auth: str = "") -> Registry:
        r = Registry(tmp_path / f"registry-{len(started)}", auth=auth)
        started.append(r)
        r.start()
        return r
    try:
        yield start
    finally:
        for r in started:
            r.stop()


@pytest.fixture
def registry(start_registry: Callable[[str], Registry]) -> Registry:
    return start_registry("")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ImageService]:
    svc = ImageService(tmp_path / "image", DigestOnlyUnpacker())
    try:
        yield svc
    finally:
        svc.close()
