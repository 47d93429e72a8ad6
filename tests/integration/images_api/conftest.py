"""Fixtures for the image API tests: a skiffd with its own docker config dir, a busybox
docker-archive made by hand (independent of Skiff's writer), and the image tests' registries."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.image.conftest import registry, start_registry  # noqa: F401 - reused fixtures
from tests.support.daemon import Daemon, running_daemon
from tests.support.images import busybox_tar


@pytest.fixture
def d(tmp_path: Path) -> Iterator[Daemon]:
    """skiffd with DOCKER_CONFIG in the test's temp dir (logins never touch ~/.docker)."""
    with running_daemon(tmp_path) as daemon:
        cfg = tmp_path / "docker-config"
        cfg.mkdir()
        daemon.env["DOCKER_CONFIG"] = str(cfg)
        yield daemon


def make_archive(dest: Path, tags: list[str], layer: bytes | None = None, cmd: list[str] | None = None,
                 labels: dict[str, str] | None = None) -> str:
    """A docker-archive (legacy layout: manifest.json + <id>/layer.tar + config); returns the image ID."""
    layer = busybox_tar() if layer is None else layer
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {"architecture": "amd64", "os": "linux", "created": "2024-05-01T10:00:00Z",
              "config": {"Cmd": cmd or ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                         "Labels": labels or None},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]},
              "history": [{"created": "2024-05-01T10:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:busybox in / "},
                          {"created": "2024-05-01T10:00:00Z", "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                           "empty_layer": True}]}
    cfg_bytes = json.dumps(config).encode()
    image_id = hashlib.sha256(cfg_bytes).hexdigest()
    layer_dir = diff_id[7:]
    manifest = [{"Config": f"{image_id}.json", "RepoTags": tags, "Layers": [f"{layer_dir}/layer.tar"]}]

    def add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, 1_700_000_000
        tf.addfile(ti, io.BytesIO(data))
    with tarfile.open(dest, "w") as tf:
        add(tf, f"{layer_dir}/layer.tar", layer)
        add(tf, f"{image_id}.json", cfg_bytes)
        add(tf, "manifest.json", json.dumps(manifest).encode())
    return "sha256:" + image_id


@pytest.fixture
def busybox_archive(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "busybox.tar"
    return path, make_archive(path, ["busybox:latest"])
