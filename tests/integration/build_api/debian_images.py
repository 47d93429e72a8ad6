"""Debian images for the build tests: the cached minbase tarball (tests/support/debian.py) and a
builder variant with gcc + libc6-dev, made once by debootstrap and cached beside it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from tests.support.debian import CACHE, MIRROR, SUITE, debian_rootfs_tarball

__all__ = ["debian_rootfs_tarball", "debian_gcc_tarball"]


def debian_gcc_tarball() -> Path:
    """A tar of a minbase Debian rootfs with gcc and libc6-dev (static linking works)."""
    tarball = CACHE / f"debian-{SUITE}-gcc.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix=".debootstrap-gcc-") as work:
        root = Path(work) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", "--include=gcc,libc6-dev", SUITE, str(root), MIRROR],
                       check=True, capture_output=True)
        subprocess.run(["rm", "-rf", str(root / "var/cache/apt/archives"), str(root / "var/lib/apt/lists")],
                       check=True)
        partial = Path(work) / "rootfs.tar"
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."],
                       check=True)
        os.replace(partial, tarball)
    return tarball
