"""state.json under ``<root>/<id>/``: what outlives the ``create`` process.

Written atomically (temp file, fsync, rename), so a reader sees the old or the new record, never
half of one (foreground `run` skips the fsync: see ``write_record``). The record holds what later
commands need: the init pid and its start time (to tell a live init from a recycled pid), the
bundle, the raw spec (for ``exec``) and the cgroup paths.
"""

from __future__ import annotations

import os

from skiff.runtime import fastjson
from skiff.runtime.frozen import asdict, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ContainerRecord", "write_record", "read_record", "remove_state_dir", "validate_id", "STATE_FILE", "FIFO_NAME"]

STATE_FILE = "state.json"
FIFO_NAME = "exec.fifo"


def validate_id(container_id: str) -> None:
    """runc's rule: letters, digits, ``_+-.``; never a path. (No ``re``: it costs start-up time.)"""
    from skiff.runtime.errors import InvalidConfig

    if not container_id:
        raise InvalidConfig("container id cannot be empty")
    if container_id in (".", "..") or not all(ch.isalnum() or ch in "_+-." for ch in container_id):
        raise InvalidConfig(f"invalid container id format: {container_id}")


@record
class ContainerRecord:
    id: str
    bundle: str
    rootfs: str
    pid: int = 0
    start_time: int = 0  # clock ticks since boot, from /proc/<pid>/stat
    created: str = ""  # RFC 3339, UTC
    owner: str = ""
    status: str = "creating"  # last recorded; the live status is derived in container.py
    annotations: dict[str, str] = {}
    cgroups_path: str = ""
    cgroup_paths: dict[str, str] = {}
    cgroup_parents: list[str] = []  # directories above cgroup_paths that create made (delete removes them)
    config: dict[str, Any] = {}  # the raw OCI spec
    console_socket: str = ""


def write_record(state_dir: str, rec: ContainerRecord, durable: bool = True) -> None:
    """Atomically replace ``state_dir``/state.json. ``durable``: fsync before the rename, so that
    a machine crash cannot leave an empty record behind; `run` in the foreground skips it (as runc
    never syncs): its record dies with it, and an fsync can wait long on a busy disk."""
    path = os.path.join(state_dir, STATE_FILE)
    tmp = path + ".tmp"
    data = fastjson.dumps(asdict(rec)).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def remove_state_dir(state_dir: str) -> None:
    """Remove a container's (flat) state dir; idempotent. Not shutil: it is slow to import."""
    try:
        names = os.listdir(state_dir)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(state_dir, name))
        except IsADirectoryError:
            import shutil

            shutil.rmtree(os.path.join(state_dir, name), ignore_errors=True)
        except FileNotFoundError:
            pass
    try:
        os.rmdir(state_dir)
    except FileNotFoundError:
        pass


def read_record(state_dir: str) -> ContainerRecord | None:
    """The record in ``state_dir``, or None when there is none (yet)."""
    try:
        with open(os.path.join(state_dir, STATE_FILE), "rb") as f:
            raw = fastjson.loads(f.read())
    except (FileNotFoundError, ValueError):
        return None
    known = set(ContainerRecord.__skiff_fields__)  # type: ignore[attr-defined]
    return ContainerRecord(**{k: v for k, v in raw.items() if k in known})
