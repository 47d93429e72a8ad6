"""Removal is complete when the CLI returns, as with dockerd: an ``rmi`` right after ``rm`` or after
``run --rm`` deletes the image's layers (none is left held by a container snapshot still going)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def _snapshots(d: Daemon) -> set[str]:
    for kind in ("overlay2", "vfs"):
        p = Path(d.data_root) / kind / "snapshots"
        if p.is_dir():
            return set(os.listdir(p))
    raise AssertionError("no snapshotter directory")


def _own_image(d: Daemon, tag: str) -> str:
    """An image with a layer of its own (a commit on busybox), so rmi has layers to delete."""
    d.docker("run", "--name", f"src-{tag}", "--network", "none", "busybox", "sh", "-c", f"echo {tag} > /mark")
    iid = d.docker("commit", f"src-{tag}", tag).stdout.strip()
    assert d.docker("rm", f"src-{tag}").returncode == 0
    return iid


@pytest.mark.parametrize("how", ["rm", "run-rm"])
def test_rmi_right_after_removal_leaves_no_layer(bbd: Daemon, how: str) -> None:
    bbd.docker("run", "--rm", "--network", "none", "busybox", "true")  # busybox's own init layer exists now
    before = _snapshots(bbd)
    tag = f"rmrace-{how}"
    _own_image(bbd, tag)
    for _ in range(5):
        if how == "rm":
            bbd.docker("create", "--name", "user", "--network", "none", tag, "cat", "/mark")
            assert bbd.docker("rm", "user").returncode == 0
        else:
            r = bbd.docker("run", "--rm", "--network", "none", tag, "cat", "/mark")
            assert r.stdout == f"{tag}\n", r.stderr
    r = bbd.docker("rmi", tag)
    assert r.returncode == 0, r.stderr
    assert "Deleted: sha256:" in r.stdout
    assert _snapshots(bbd) == before
    assert json.loads(bbd.docker("ps", "-a", "--format", "{{json .}}", "--filter", f"ancestor={tag}").stdout
                      or "null") is None
