"""An offline Debian root filesystem for tests, made once by debootstrap and cached across runs.

debootstrap --variant=minbase takes minutes, so its output is kept as a tarball under
SKIFF_TEST_CACHE (default /var/cache/skiff-test) and reused by later runs, CI included.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

CACHE = Path(os.environ.get("SKIFF_TEST_CACHE", "/var/cache/skiff-test"))
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"


def debian_rootfs_tarball() -> Path:
    """Path to a tar of a minbase Debian rootfs; built (once, atomically) when missing."""
    tarball = CACHE / f"debian-{SUITE}-minbase.tar"
    if tarball.exists():
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix=".debootstrap-") as work:
        root = Path(work) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(root), MIRROR],
                       check=True, capture_output=True)
        partial = Path(work) / "rootfs.tar"
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."],
                       check=True)
        os.replace(partial, tarball)
    return tarball
