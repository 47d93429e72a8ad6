"""Offline test images: a busybox root filesystem made from Debian's busybox-static."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = "root:x:0:\ntty:x:5:\nnobody:x:65534:\n"


def make_busybox_rootfs(dest: Path) -> Path:
    """Lay out a minimal busybox root at ``dest``: applets as symlinks, passwd/group, /tmp 1777."""
    dest.mkdir(parents=True, exist_ok=True)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "proc", "sys", "dev", "root", "home",
              "var/www", "run"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, dest / "bin/busybox")
    applets = subprocess.run([str(BUSYBOX), "--list-full"], check=True, capture_output=True, text=True)
    for rel in applets.stdout.split():
        link = dest / rel
        if rel == "bin/busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("/bin/busybox", link)
    (dest / "tmp").chmod(0o1777)
    (dest / "etc/passwd").write_text(PASSWD)
    (dest / "etc/group").write_text(GROUP)
    return dest


def copy_rootfs(src: Path, dest: Path) -> Path:
    """A private copy of a cached rootfs (cp -a keeps links, modes and owners)."""
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    return dest
