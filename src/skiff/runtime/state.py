"""state.json under ``<root>/<id>/``: what outlives the ``create`` process.

Written atomically (temp file, fsync, rename), so a reader sees the old or the new record, never
half of one. The record holds what later commands need: the init pid and its start time (to tell a
live init from a recycled pid), the bundle, the raw spec (for ``exec``) and the cgroup paths.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ContainerRecord", "write_record", "read_record", "STATE_FILE", "FIFO_NAME"]

STATE_FILE = "state.json"
FIFO_NAME = "exec.fifo"


@dataclass
class ContainerRecord:
    id: str
    bundle: str
    rootfs: str
    pid: int = 0
    start_time: int = 0  # clock ticks since boot, from /proc/<pid>/stat
    created: str = ""  # RFC 3339, UTC
    owner: str = ""
    status: str = "creating"  # last recorded; the live status is derived in container.py
    annotations: dict[str, str] = field(default_factory=dict)
    cgroups_path: str = ""
    cgroup_paths: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # the raw OCI spec
    console_socket: str = ""


def write_record(state_dir: str, rec: ContainerRecord) -> None:
    """Atomically replace ``state_dir``/state.json."""
    path = os.path.join(state_dir, STATE_FILE)
    tmp = path + ".tmp"
    data = json.dumps(asdict(rec), separators=(",", ":")).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def read_record(state_dir: str) -> ContainerRecord | None:
    """The record in ``state_dir``, or None when there is none (yet)."""
    try:
        with open(os.path.join(state_dir, STATE_FILE), "rb") as f:
            raw = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    known = ContainerRecord.__dataclass_fields__
    return ContainerRecord(**{k: v for k, v in raw.items() if k in known})
