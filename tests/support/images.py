"""A skiffd that has ``busybox:latest``, offline, and that cleans up its containers afterwards.

The busybox image is the rootfs of tests/support/rootfs.py imported as a one-layer image. It goes
in before skiffd starts, through skiff.image's library on the daemon's own data root (the layout
daemon.py's build_engine uses: ``<data-root>/image`` + the overlay2 (or vfs) snapshotter)::

    with busybox_daemon(tmp_path) as d:
        d.docker("run", "--rm", "busybox", "echo", "hi")

On exit every container is removed (``docker rm -f``), skiffd is stopped, and the forker it started
(found by its pid file in the exec root) is killed by PID, with any monitor left.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.support.daemon import Daemon, private_network_args, start_daemon
from tests.support.rootfs import make_busybox_rootfs

__all__ = ["busybox_tar", "seed_busybox", "busybox_daemon", "cleanup_containers"]

_CACHE: dict[str, bytes] = {}


def busybox_tar() -> bytes:
    """An uncompressed tar of the busybox rootfs (made once per process)."""
    if "busybox" not in _CACHE:
        import tempfile
        with tempfile.TemporaryDirectory(prefix="skiff-bb-") as tmp:
            root = make_busybox_rootfs(Path(tmp) / "rootfs")
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tf:
                for entry in sorted(root.rglob("*")):
                    tf.add(entry, arcname=str(entry.relative_to(root)), recursive=False)
            _CACHE["busybox"] = buf.getvalue()
    return _CACHE["busybox"]


def seed_busybox(data_root: Path, refs: Sequence[str] = ("busybox:latest",)) -> None:
    """Import busybox into a (stopped) daemon's data root."""
    from skiff.image.service import ImageService
    from skiff.image.unpack import SnapshotUnpacker
    from skiff.oci.image_spec import ContainerConfig
    from skiff.storage import Overlay2Snapshotter, VfsSnapshotter, overlay_supported

    data_root.mkdir(parents=True, exist_ok=True)
    ov = data_root / "overlay2"
    sn = Overlay2Snapshotter(ov) if overlay_supported(ov) else VfsSnapshotter(data_root / "vfs")
    svc = ImageService(data_root / "image", SnapshotUnpacker(sn))
    try:
        cfg = ContainerConfig(cmd=("sh",), env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",))
        for ref in refs:
            repo, _, tag = ref.partition(":")
            asyncio.run(svc.import_image(io.BytesIO(busybox_tar()), repo=repo, tag=tag or "latest", config=cfg))
    finally:
        svc.close()
        with contextlib.suppress(Exception):
            sn.close()


def cleanup_containers(d: Daemon) -> None:
    """Remove every container of a running daemon (best effort)."""
    if d.proc is None or d.proc.poll() is not None:
        return
    ids = d.docker("ps", "-aq", timeout=30).stdout.split()
    if ids:
        d.docker("rm", "-f", *ids, timeout=60)


def _kill_pidfile(path: Path) -> None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def stop_helpers(d: Daemon) -> None:
    """Kill the forker and any monitor this daemon started (by their pid files), unmount rootfs."""
    state = d.exec_root / "containers"
    if state.is_dir():
        for sd in state.iterdir():
            _kill_pidfile(sd / "monitor.pid")
    _kill_pidfile(d.exec_root / "forker.pid")
    runtime = Path(sys.executable).parent / "skiff-runtime"
    rroot = d.exec_root / "runtime" / "skiff"
    if rroot.is_dir():  # containers whose monitor is gone (created, never started)
        for cid in os.listdir(rroot):
            subprocess.run([str(runtime), "--root", str(rroot), "delete", "-f", cid], capture_output=True, timeout=30)
    time.sleep(0.1)
    containers = d.data_root / "containers"
    if containers.is_dir():
        for cd in containers.iterdir():
            rootfs = cd / "bundle" / "rootfs"
            if os.path.ismount(rootfs):
                subprocess.run(["umount", "-l", str(rootfs)], capture_output=True)


@contextlib.contextmanager
def busybox_daemon(tmp: Path, args: Sequence[str] = ()) -> Iterator[Daemon]:
    seed_busybox(tmp / "skiffd" / "data")
    net = private_network_args() if "--bridge" not in args else ()
    d = start_daemon(tmp, (*net, *args))
    try:
        yield d
    finally:
        try:
            cleanup_containers(d)
        finally:
            d.stop()
            stop_helpers(d)
            d.cleanup()
            if net:
                subprocess.run(["ip", "link", "del", net[1]], capture_output=True)
