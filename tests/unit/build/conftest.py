"""Fixtures for the builder's unit tests: a fake engine and a one-call build helper."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from skiff.build.builder import Builder, BuildOptions, BuildResult
from skiff.build.cache import MemoryCacheStore
from skiff.build.context import open_context_dir
from skiff.oci.image_spec import ContainerConfig
from tests.unit.build.fake_backend import FakeBackend

BUSYBOX_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n"
BUSYBOX_GROUP = "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:\n"


@dataclass
class BuildRun:
    result: BuildResult | None
    messages: list[Mapping[str, Any]] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def stream(self) -> str:
        return "".join(m["stream"] for m in self.messages if "stream" in m)


@pytest.fixture
def backend(tmp_path: Path) -> FakeBackend:
    b = FakeBackend(tmp_path / "engine")
    b.add_image(
        "busybox",
        ContainerConfig(
            env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",), cmd=("sh",)
        ),
        {"etc/passwd": BUSYBOX_PASSWD, "etc/group": BUSYBOX_GROUP, "bin/sh": "#!fake"},
    )
    return b


@pytest.fixture
def cache() -> MemoryCacheStore:
    return MemoryCacheStore()


@pytest.fixture
def build(tmp_path: Path, backend: FakeBackend, cache: MemoryCacheStore) -> Callable[..., BuildRun]:
    counter = [0]

    def run(
        dockerfile: str,
        files: Mapping[str, str | bytes] | None = None,
        *,
        expect_error: bool = False,
        **opts: Any,
    ) -> BuildRun:
        counter[0] += 1
        ctx_dir = tmp_path / f"ctx{counter[0]}"
        ctx_dir.mkdir()
        (ctx_dir / opts.get("dockerfile", "Dockerfile")).write_text(dockerfile)
        for rel, data in (files or {}).items():
            p = ctx_dir / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, bytes):
                p.write_bytes(data)
            else:
                p.write_text(data)
        builder = Builder(backend, cache, platform="linux/amd64")
        ctx = open_context_dir(ctx_dir, opts.get("dockerfile", "Dockerfile"))
        messages: list[Mapping[str, Any]] = []
        try:
            result = builder.build(ctx, BuildOptions(**opts), messages.append)
        except Exception as exc:
            if not expect_error:
                raise
            return BuildRun(None, messages, exc)
        assert not expect_error, "the build succeeded"
        return BuildRun(result, messages)

    return run
