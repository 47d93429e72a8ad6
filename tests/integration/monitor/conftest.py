"""Fixtures for monitor integration tests: a runc root, busybox bundles, cleanup of containers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

RUNC = shutil.which("runc") or "/usr/sbin/runc"


@pytest.fixture
def runc_root(tmp_path: Path) -> Iterator[Path]:
    """A private runc --root; every container left in it is force-deleted afterwards."""
    root = tmp_path / "runc-root"
    root.mkdir()
    yield root
    out = subprocess.run([RUNC, "--root", str(root), "list", "-q"], capture_output=True, text=True)
    for cid in out.stdout.split():
        subprocess.run([RUNC, "--root", str(root), "delete", "-f", cid], capture_output=True)


@pytest.fixture
def monitor_pids() -> Iterator[list[int]]:
    """Monitor pids started by a test; killed (SIGKILL, by pid) if still alive at the end."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def make_bundle(tmp_path: Path, busybox_rootfs: Path) -> Callable[..., Path]:
    """make_bundle(args, tty=False) -> bundle dir with a minimal runc spec over the busybox rootfs."""

    def make(args: list[str], tty: bool = False, name: str = "bundle") -> Path:
        bundle = tmp_path / name
        bundle.mkdir()
        subprocess.run([RUNC, "spec", "--bundle", str(bundle)], check=True)
        spec = json.loads((bundle / "config.json").read_text())
        spec["root"] = {"path": str(busybox_rootfs), "readonly": False}
        spec["process"]["terminal"] = tty
        spec["process"]["args"] = args
        spec["hostname"] = "skiff-test"
        (bundle / "config.json").write_text(json.dumps(spec))
        return bundle

    return make


def new_id() -> str:
    return "skiff-test-" + uuid.uuid4().hex[:12]
