"""Run code inside another network namespace, given its path, without forking.

Why a thread: setns(CLONE_NEWNET) changes the namespace of the calling *thread* only, so a short-lived
helper thread can enter the container's netns, make a socket or a netlink request there, and end;
the daemon's own threads never move. A socket keeps the namespace it was created in, which is how
the embedded DNS server listens on 127.0.0.11 inside each container while living in the daemon.

Also holds the sysctl helpers (plain /proc/sys files) so that every "what the kernel had before"
record lives in one place.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from skiff.sys.mount import MNT_DETACH, MS_BIND, mount, umount
from skiff.sys.ns import CLONE_NEWNET, setns_path, unshare

__all__ = ["CLONE_NEWNET", "run_in_netns", "socket_in_netns", "read_sysctl", "write_sysctl", "create_netns",
           "delete_netns"]

T = TypeVar("T")


def _enter(path: str) -> None:
    setns_path(path, CLONE_NEWNET)


def run_in_netns(path: str | None, fn: Callable[[], T]) -> T:
    """Call fn() in the network namespace at path (None: here) and return its result or raise."""
    if path is None:
        return fn()
    box: dict[str, object] = {}

    def worker() -> None:
        try:
            _enter(path)
            box["result"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=worker, name="skiff-netns", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


def socket_in_netns(path: str | None, family: int, kind: int) -> socket.socket:
    """A socket created in the netns at path; it stays bound to that namespace for its life."""
    return run_in_netns(path, lambda: socket.socket(family, kind))


def _in_thread(fn: Callable[[], T]) -> T:
    box: dict[str, object] = {}

    def worker() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=worker, name="skiff-netns", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


def create_netns(path: str) -> str:
    """A new, empty network namespace kept alive by a bind mount on path (what ``ip netns add``
    does, and dockerd under /var/run/docker/netns); returns path. unshare(CLONE_NEWNET) in a helper
    thread moves only that thread, whose namespace file is then bind-mounted."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(exist_ok=True)

    def make() -> None:
        unshare(CLONE_NEWNET)
        mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path, None, MS_BIND)

    try:
        _in_thread(make)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return path


def delete_netns(path: str) -> None:
    """Unmount and remove a namespace file made by create_netns (idempotent)."""
    try:
        umount(path, MNT_DETACH)
    except OSError:
        pass
    Path(path).unlink(missing_ok=True)


def _sysctl_path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def read_sysctl(key: str, netns: str | None = None) -> str:
    """The value of a sysctl such as net.ipv4.ip_forward (in netns when given)."""
    return run_in_netns(netns, lambda: _sysctl_path(key).read_text().strip())


def write_sysctl(key: str, value: str, netns: str | None = None) -> str:
    """Set a sysctl; returns the previous value so the caller can restore it."""

    def do() -> str:
        path = _sysctl_path(key)
        old = path.read_text().strip()
        if old != value:
            path.write_text(value + "\n")
        return old

    return run_in_netns(netns, do)
