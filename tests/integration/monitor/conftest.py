"""Fixtures for monitor integration tests: a runc root, busybox bundles, cleanup of containers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The OCI runtime the monitor drives: runc by default; SKIFF_TEST_RUNTIME=skiff-runtime to try ours.
RUNC = os.environ.get("SKIFF_TEST_RUNTIME") or shutil.which("runc") or "/usr/sbin/runc"
SPEC_TOOL = shutil.which("runc") or "/usr/sbin/runc"


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
    """Monitor pids started by a test; killed (SIGKILL, by pid) if still alive, then reaped.

    PID 1 here does not reap orphans, so the test process makes itself a child subreaper (what the
    engine's resident forker does): detached monitors end up as its children and are reaped here.
    """
    from skiff.monitor.server import set_child_subreaper

    set_child_subreaper()
    pids: list[int] = []
    yield pids
    for pid in pids:
        deadline = time.monotonic() + 10  # let it finish (runtime delete) before forcing it
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    time.sleep(0.1)
    _reap_orphans()
    # Stop being a subreaper, so that later tests (other areas) do not find their daemons' orphans
    # lingering as zombies of the pytest process.
    from skiff.sys.prctl import set_child_subreaper as _set

    _set(False)


def _reap_orphans() -> None:
    """Reap whatever was re-parented to this (subreaper) test process and has exited."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.fixture
def make_bundle(tmp_path: Path, busybox_rootfs: Path) -> Callable[..., Path]:
    """make_bundle(args, tty=False) -> bundle dir with a minimal runc spec over the busybox rootfs."""

    def make(args: list[str], tty: bool = False, name: str = "bundle") -> Path:
        bundle = tmp_path / name
        bundle.mkdir()
        subprocess.run([SPEC_TOOL, "spec", "--bundle", str(bundle)], check=True)
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
