"""The monitor's options, exit record and wire protocol (shared by the monitor and its clients).

Wire protocol on ``<state_dir>/monitor.sock`` (a SOCK_STREAM unix socket). Every message, in both
directions, is one frame::

    [kind: 1 byte ASCII][length: 4 bytes big-endian][payload: length bytes]

Client -> monitor:
    ``A`` attach   JSON {"stdin": bool, "stdout": bool, "stderr": bool}; output frames follow.
    ``I`` stdin    raw bytes for the container's stdin (or the pty); on an exec connection, the exec's.
    ``C`` close    the client's stdin ended: closes the exec's stdin, or the container's if StdinOnce.
    ``R`` resize   JSON {"h": rows, "w": cols, "exec": id?}: TIOCSWINSZ on the pty; reply ``O``.
    ``S`` start    run ``<runtime> start``; reply ``O`` {"pid": n} or ``E``.
    ``K`` kill     JSON {"signal": n, "all": bool, "exec": id?}: ``<runtime> kill`` (kill(2) for an exec).
    ``W`` wait     reply ``X`` (the exit record) once the container has exited and its output drained.
    ``Q`` query    JSON {"exec": id?}; reply ``T`` {"state": "created"|"running"|"exited", "pid": n,
                   "exit": {...}|null, "execs": [ids]}.
    ``E`` exec     JSON {"id", "process": OCI process, "stdin": bool, "detach": bool, "console_size":
                   [h, w]}: ``<runtime> exec --detach``; reply ``O`` {"pid": n} or ``E``, then (unless
                   detached) that connection carries the exec's ``1``/``2`` output and ends with ``X``.
                   Every finished exec leaves ``exec-<id>.exit.json`` in the state dir.
    ``V`` exec wait JSON {"exec": id}: reply ``X`` (the exec's exit record) once that exec has
                   finished and its exit file is written; ``E`` if the monitor has no such exec (it
                   finished before: read its exit file).
Monitor -> client:
    ``1``/``2``    stdout / stderr bytes (TTY output is all ``1``); ``X`` exit record JSON;
    ``O`` ok JSON; ``E`` error text; ``T`` status JSON.

The monitor never blocks on a client: output to a slow client is queued up to a cap, and above it the
monitor stops reading the container's output (back-pressure, like a pipe), so memory stays flat.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "MonitorOptions", "ExitStatus", "LogConfig", "HEADER", "frame", "FrameReader",
    "write_json_atomic", "read_exit_file", "EXIT_FILE", "SOCKET_FILE", "PID_FILE", "OPTIONS_FILE",
    "INIT_PID_FILE",
]

HEADER = struct.Struct(">cI")
EXIT_FILE = "exit.json"
SOCKET_FILE = "monitor.sock"
PID_FILE = "monitor.pid"
OPTIONS_FILE = "monitor.json"
INIT_PID_FILE = "init.pid"
MAX_FRAME = 1 << 20


@dataclass(frozen=True)
class LogConfig:
    """``HostConfig.LogConfig``: driver ``json-file`` | ``local`` | ``none`` and its options."""

    type: str = "json-file"
    config: tuple[tuple[str, str], ...] = ()

    def opt(self, key: str, default: str = "") -> str:
        return dict(self.config).get(key, default)


@dataclass(frozen=True)
class MonitorOptions:
    """Everything a monitor needs to run one container; stored as ``monitor.json`` in state_dir."""

    container_id: str
    bundle: str
    state_dir: str
    runtime: str = "skiff-runtime"
    runtime_args: tuple[str, ...] = ()
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    log: LogConfig = field(default_factory=LogConfig)
    log_path: str = ""
    start: bool = False
    console_size: tuple[int, int] = (0, 0)
    log_attrs: tuple[tuple[str, str], ...] = ()  # json-file "attrs" (logdrivers.log_attrs) for --details

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> MonitorOptions:
        d = json.loads(text)
        d["runtime_args"] = tuple(d.get("runtime_args", ()))
        lg = d.get("log") or {}
        d["log"] = LogConfig(lg.get("type", "json-file"), tuple(tuple(x) for x in lg.get("config", ())))
        d["console_size"] = tuple(d.get("console_size", (0, 0)))
        d["log_attrs"] = tuple(tuple(x) for x in d.get("log_attrs", ()))
        # Unknown keys are dropped: a monitor or forker from an older Skiff may read a newer file.
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ExitStatus:
    """How a container ended: ``exit_code`` is 128+n when killed by signal n, as Docker reports."""

    exit_code: int
    signal: int = 0
    oom_killed: bool = False
    pid: int = 0
    started_at_ns: int = 0
    finished_at_ns: int = 0
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExitStatus:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


class FrameReader:
    """Incremental decoder: feed bytes, take complete (kind, payload) frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER.size:
            kind, n = HEADER.unpack_from(self._buf)
            if n > MAX_FRAME:
                raise ValueError(f"frame too large: {n}")
            if len(self._buf) < HEADER.size + n:
                break
            out.append((kind, bytes(self._buf[HEADER.size:HEADER.size + n])))
            del self._buf[:HEADER.size + n]
        return out


def write_json_atomic(path: str, obj: Any, durable: bool = True) -> None:
    """temp + fsync + rename + fsync(dir): the file is either the old or the whole new content.
    ``durable=False`` skips the fsyncs (the rename still keeps the file whole) for records that
    need not survive a machine crash."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, json.dumps(obj).encode())
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    if not durable:
        return
    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_exit_file(state_dir: str) -> ExitStatus | None:
    try:
        with open(os.path.join(state_dir, EXIT_FILE), "rb") as f:
            return ExitStatus.from_dict(json.loads(f.read()))
    except (FileNotFoundError, ValueError):
        return None
