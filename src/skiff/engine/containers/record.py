"""A container's durable record (one JSON document in the state DB) and its state machine.

The record keeps the create body as the client sent it (``config`` / ``host_config``: inspect echoes
them) next to the engine's state. Every change that is acknowledged to a client is written first.

State machine (moby ``container/state.go``)::

    created --start--> running --pause--> paused --unpause--> running
    running --exit--> exited | restarting --start--> running
    any --remove--> removing --> (gone);   exited --start--> running
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from skiff.errors import Conflict, InvalidParameter

__all__ = ["ContainerRecord", "HealthState", "new_id", "validate_name", "NAME_RE", "TRANSITIONS",
           "InvalidTransition"]

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

TRANSITIONS: dict[str, frozenset[str]] = {
    "created": frozenset({"running", "removing", "exited", "dead"}),
    "running": frozenset({"paused", "exited", "restarting", "removing", "dead", "running"}),
    "paused": frozenset({"running", "exited", "removing", "dead"}),
    "restarting": frozenset({"running", "exited", "removing", "dead", "restarting"}),
    "exited": frozenset({"running", "removing", "restarting", "dead", "exited"}),
    "removing": frozenset({"dead", "removing"}),
    "dead": frozenset({"removing", "dead"}),
}


class InvalidTransition(Conflict):
    pass


def new_id() -> str:
    while True:
        cid = secrets.token_hex(32)
        if not cid[:12].isdigit():  # moby: a short ID that is all digits could be taken for a number
            return cid


def validate_name(name: str) -> str:
    """``/name`` for a valid name, else InvalidParameter with Docker's text."""
    if not NAME_RE.match(name):
        raise InvalidParameter(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name if name.startswith("/") else "/" + name


@dataclass
class HealthState:
    status: str = "starting"  # starting | healthy | unhealthy
    failing_streak: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ContainerRecord:
    id: str
    name: str  # with the leading "/"
    created_ns: int
    image: str  # as the client named it
    image_id: str
    config: dict[str, Any]  # the merged Config as inspect shows it
    host_config: dict[str, Any]  # HostConfig as inspect shows it
    path: str = ""
    args: list[str] = field(default_factory=list)
    status: str = "created"
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_ns: int = 0
    finished_ns: int = 0
    restart_count: int = 0
    has_been_started: bool = False
    manually_stopped: bool = False
    health: HealthState | None = None
    snapshot_key: str = ""
    log_path: str = ""
    log_driver: str = "json-file"
    runtime: str = "skiff"
    exec_ids: list[str] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)  # inspect's Mounts
    network: dict[str, Any] = field(default_factory=dict)  # NetworkSettings from the network hook

    # ---- state machine ----
    def transition(self, to: str) -> None:
        if to not in TRANSITIONS.get(self.status, frozenset()):
            raise InvalidTransition(f"cannot go from {self.status} to {to} for container {self.id[:12]}")
        self.status = to

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused")

    @property
    def short(self) -> str:
        return self.name.lstrip("/")

    # ---- codec ----
    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ContainerRecord:
        d = dict(d)
        h = d.get("health")
        d["health"] = HealthState(**h) if h else None
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in known})
