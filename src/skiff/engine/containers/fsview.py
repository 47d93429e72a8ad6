"""A private view of a container's filesystem for docker cp: its rootfs with its volumes and binds.

``docker cp`` sees what is mounted in the container (moby daemon/containerfs_linux.go), but binding
volumes onto the rootfs in the daemon's mount namespace would reach into a running container (its
rootfs is that same mount) and could be left behind by a crash. So the work runs in a short-lived
thread that unshares its own mount namespace (CLONE_NEWNS implies CLONE_FS, which one thread of a
process may unshare), makes it private, mounts the rootfs there if it is not mounted and binds each
mount at its destination resolved with :func:`secure_join`. Nothing is mounted in the daemon's
namespace; the thread detaches what it mounted and its namespace goes when it ends.

As in moby, tmpfs mounts are not in the view (the rootfs below them is). Inside the thread
``/proc/self`` is the daemon's (main thread's) view; ``/proc/thread-self`` is the thread's.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from skiff.engine.containers.spec_user import secure_join
from skiff.errors import InvalidParameter, System
from skiff.storage import Mount, mount_all
from skiff.sys import mount as sysmount
from skiff.sys import ns as sysns

__all__ = ["ViewMount", "in_private_view", "writable_mount_for"]

T = TypeVar("T")

_MOUNT_ATTR_RDONLY = 0x1


@dataclass(frozen=True)
class ViewMount:
    """A host path bound at ``destination`` (a path in the container) in the view."""

    source: str
    destination: str
    writable: bool


def in_private_view(rootfs: str, rootfs_mounts: Sequence[Mount],
                    prepare: Callable[[str], Sequence[ViewMount]], fn: Callable[[str], T]) -> T:
    """``fn(rootfs)`` in a thread of its own mount namespace where ``rootfs`` is mounted (from
    ``rootfs_mounts`` if it is not already) and the mounts ``prepare(rootfs)`` returns are bound.

    ``prepare`` runs in the view once the rootfs is there (a volume's copy-up reads the image's
    directory from it). Exceptions of any step are raised in the caller."""
    out: list[T] = []
    err: list[BaseException] = []

    def body() -> None:
        try:
            sysns.unshare(sysns.CLONE_NEWNS)
            sysmount.mount(None, "/", None, sysmount.MS_REC | sysmount.MS_PRIVATE)
            out.append(_work(rootfs, rootfs_mounts, prepare, fn))
        except BaseException as e:  # handed to the caller's thread
            err.append(e)

    th = threading.Thread(target=body, name="skiff-fsview", daemon=True)
    th.start()
    th.join()
    if err:
        raise err[0]
    return out[0]


def _work(rootfs: str, rootfs_mounts: Sequence[Mount], prepare: Callable[[str], Sequence[ViewMount]],
          fn: Callable[[str], T]) -> T:
    root = os.path.abspath(rootfs)
    mounted_root = not os.path.ismount(root)
    if mounted_root:
        mount_all(list(rootfs_mounts), root)
    bound: list[str] = []
    try:
        for m in sorted(prepare(root), key=lambda v: len([p for p in v.destination.split("/") if p])):
            bound.append(_bind(root, m))
        return fn(root)
    finally:
        # Lazy detach now rather than when the thread's namespace is dropped: the overlay and the
        # volumes are let go before the caller goes on (e.g. removes the container).
        for target in [root] if mounted_root else reversed(bound):
            with contextlib.suppress(OSError):
                sysmount.umount(target, sysmount.MNT_DETACH)


def _bind(root: str, m: ViewMount) -> str:
    """Bind ``m.source`` at its destination inside ``root``; returns the mount point."""
    try:
        st = os.stat(m.source)
    except OSError as e:  # e.g. a bind's host directory removed since the start
        raise System(f"stat {m.source}: {(e.strerror or str(e)).lower()}") from None
    dest = secure_join(root, m.destination)
    if not os.path.lexists(dest):  # moby's createIfNotExists
        if stat.S_ISDIR(st.st_mode):
            os.makedirs(dest, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
            os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o755))
    # Mount on the file descriptor, not the path: a running container swapping a component for a
    # symlink after secure_join cannot send the bind elsewhere (moby does the same).
    fd = os.open(dest, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fd_path = f"/proc/thread-self/fd/{fd}"
        real = os.readlink(fd_path)
        if real != root and not real.startswith(root + "/"):
            raise InvalidParameter(f"mount destination {m.destination} resolves outside the container")
        sysmount.mount(m.source, fd_path, None, sysmount.MS_BIND | sysmount.MS_REC)
    finally:
        os.close(fd)
    if not m.writable:
        try:
            sysmount.mount_setattr(real, _MOUNT_ATTR_RDONLY, 0, recursive=True)
        except OSError:
            sysmount.mount(None, real, None, sysmount.MS_REMOUNT | sysmount.MS_BIND | sysmount.MS_RDONLY)
    return real


def writable_mount_for(abs_path: str, mounts: Sequence[tuple[str, bool]]) -> bool | None:
    """Whether the mount holding ``abs_path`` (a path in the container) is writable, the deepest
    of ``(destination, writable)`` that holds it (moby's checkWritablePath); None: in no mount."""
    best: tuple[int, bool] | None = None
    for dst, writable in mounts:
        rel = os.path.relpath(abs_path, dst)
        if rel == ".." or rel.startswith("../"):
            continue
        depth = len([p for p in dst.split("/") if p])
        if best is None or depth > best[0]:
            best = (depth, writable)
    return None if best is None else best[1]
