"""A container as later commands see it: its record on disk plus its live status.

Interfaces (for cli/ modules written by others, e.g. pause/resume/update/events/ps):

    from skiff.runtime import container
    c = container.load(root, container_id)   # raises ContainerNotFound
    c.status()        -> Status (creating/created/running/paused/stopped, derived live)
    c.record          -> ContainerRecord (pid, bundle, created, annotations, cgroups_path, config)
    c.config          -> Config (validated, from the raw spec kept in state.json)
    c.cgroup()        -> CgroupManager | None (skiff.runtime.cgroups.new_manager, when available)
    c.transition(op)  -> Status: the state machine; raises InvalidState (a Conflict) when ``op``
                         ("start", "kill", "delete", "pause", "resume", "exec", "update") is not
                         allowed now, and returns the status it leads to
    c.oci_state()     -> dict: the runtime-spec state (what `state` prints and hooks read)
    container.list_ids(root) -> list[str]

The status is derived, as runc does: no live init -> stopped; exec fifo still there -> created;
cgroup frozen -> paused; else running. A recycled pid is caught by comparing start times.
"""

from __future__ import annotations

import os
import time

from skiff.runtime.errors import ContainerNotFound, InvalidState
from skiff.runtime.state import FIFO_NAME, ContainerRecord, read_record, remove_state_dir, validate_id
from skiff.sys.process import proc_stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar


__all__ = ["Status", "Container", "load", "list_ids", "validate_id", "DEFAULT_ROOT", "TRANSITIONS"]

DEFAULT_ROOT = "/run/skiff-runtime"
_SIGKILL = 9  # not from ``signal``: it imports enum


class Status(str):
    """A container status: the str itself ("created"), with enum-like names (``Status.CREATED``)
    and ``.value``. Not ``enum.StrEnum``: importing enum costs every runtime command milliseconds."""

    __slots__ = ()
    CREATING: ClassVar[Status]
    CREATED: ClassVar[Status]
    RUNNING: ClassVar[Status]
    PAUSED: ClassVar[Status]
    STOPPED: ClassVar[Status]

    @property
    def value(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"Status.{str(self).upper()}"


Status.CREATING = Status("creating")
Status.CREATED = Status("created")
Status.RUNNING = Status("running")
Status.PAUSED = Status("paused")
Status.STOPPED = Status("stopped")


S = Status
#: operation -> {status it is allowed from: status it leads to}
TRANSITIONS: dict[str, dict[Status, Status]] = {
    "start": {S.CREATED: S.RUNNING},
    "kill": {S.CREATED: S.STOPPED, S.RUNNING: S.STOPPED, S.PAUSED: S.STOPPED},
    "delete": {S.STOPPED: S.STOPPED},  # the spec: deleting a created container is an error
    "force-delete": {S.STOPPED: S.STOPPED, S.CREATED: S.STOPPED, S.RUNNING: S.STOPPED,
                     S.PAUSED: S.STOPPED, S.CREATING: S.STOPPED},
    "pause": {S.RUNNING: S.PAUSED},
    "resume": {S.PAUSED: S.RUNNING},
    "exec": {S.CREATED: S.CREATED, S.RUNNING: S.RUNNING},
    "update": {S.CREATED: S.CREATED, S.RUNNING: S.RUNNING, S.PAUSED: S.PAUSED},
}
_REFUSALS = {
    ("start", S.RUNNING): "cannot start an already running container",
    ("start", S.STOPPED): "cannot start a container that has stopped",
    ("start", S.PAUSED): "cannot start a paused container",
    ("start", S.CREATING): "cannot start a container that is still being created",
    ("kill", S.STOPPED): "container not running",
    ("pause", S.PAUSED): "container already paused",
    ("resume", S.RUNNING): "container not paused",
    ("exec", S.PAUSED): "cannot exec in a paused container",
    ("exec", S.STOPPED): "cannot exec in a stopped container",
}


class Container:
    def __init__(self, root: str, record: ContainerRecord) -> None:
        self.root = root
        self.id = record.id
        self.state_dir = os.path.join(root, record.id)
        self.record = record
        self._config: Any = None
        self._cgroup: Any = None

    @property
    def config(self) -> Any:
        """The validated Config (parsed lazily: most commands never need it)."""
        if self._config is None:
            from skiff.runtime.specconv import from_spec

            self._config = from_spec(self.record.config, self.record.bundle)
        return self._config

    def cgroup(self) -> Any:
        """The container's cgroup manager, rebuilt from the paths recorded at create."""
        if self._cgroup is None:
            if not self.record.cgroup_paths:
                return None
            from skiff.runtime.cgroups import from_paths

            self._cgroup = from_paths(self.record.cgroup_paths, self.record.cgroup_parents)
        return self._cgroup

    def init_alive(self) -> bool:
        pid = self.record.pid
        if pid <= 0:
            return False
        st = proc_stat(pid)
        return st is not None and st[1] == self.record.start_time and st[0] not in ("Z", "X")

    def status(self) -> Status:
        if self.record.pid <= 0:
            return S.CREATING if self.record.status == "creating" else S.STOPPED
        if not self.init_alive():
            return S.STOPPED
        if os.path.exists(os.path.join(self.state_dir, FIFO_NAME)):
            return S.CREATED
        if self._frozen():
            return S.PAUSED
        return S.RUNNING

    def _frozen(self) -> bool:
        paths = self.record.cgroup_paths
        fz = paths.get("freezer")
        try:
            if fz:
                with open(os.path.join(fz, "freezer.state")) as f:
                    return f.read().strip() in ("FROZEN", "FREEZING")
            unified = paths.get("") or paths.get("unified")
            if unified and os.path.exists(os.path.join(unified, "cgroup.freeze")):
                with open(os.path.join(unified, "cgroup.freeze")) as f:
                    return f.read().strip() == "1"
        except OSError:
            return False
        mgr = self.cgroup() if not paths else None
        if mgr is not None:
            try:
                return bool(mgr.state() == "FROZEN")
            except Exception:
                return False
        return False

    def transition(self, op: str) -> Status:
        """Check ``op`` against the state machine; return the status it leads to."""
        cur = self.status()
        target = TRANSITIONS[op].get(cur)
        if target is None:
            if op == "delete":
                raise InvalidState(f"cannot delete container {self.id} that is not stopped: {cur.value}")
            raise InvalidState(_REFUSALS.get((op, cur), f"cannot {op} a {cur.value} container"))
        return target

    def oci_state(self, status: Status | None = None) -> dict[str, Any]:
        st = status or self.status()
        out: dict[str, Any] = {
            "ociVersion": self.record.config.get("ociVersion", "1.0.2"),
            "id": self.id,
            "pid": 0 if st == S.STOPPED else self.record.pid,
            "status": st.value,
            "bundle": self.record.bundle,
            "rootfs": self.record.rootfs,
            "created": self.record.created,
            "owner": self.record.owner,
        }
        if self.record.annotations:
            out["annotations"] = self.record.annotations
        return out

    def hook_state(self, status: Status) -> dict[str, Any]:
        return {"ociVersion": self.record.config.get("ociVersion", "1.0.2"), "id": self.id,
                "status": status.value, "pid": self.record.pid, "bundle": self.record.bundle,
                "annotations": self.record.annotations}

    # --- actions -----------------------------------------------------------------------------

    def signal(self, sig: int, all_processes: bool = False) -> None:
        self.transition("kill")
        if all_processes:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            return
        try:
            os.kill(self.record.pid, sig)
        except ProcessLookupError:
            raise InvalidState("container not running") from None

    def pids(self) -> list[int]:
        mgr = self.cgroup()
        if mgr is not None:
            try:
                return list(mgr.pids())
            except Exception:
                pass
        for path in self.record.cgroup_paths.values():
            try:
                with open(os.path.join(path, "cgroup.procs")) as f:
                    return [int(x) for x in f.read().split()]
            except OSError:
                continue
        return [self.record.pid] if self.init_alive() else []

    def wait_stopped(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.init_alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def destroy(self) -> None:
        """Kill what is left, remove the cgroup and the state dir, then run poststop hooks."""
        if self.init_alive():
            if self.status() == S.PAUSED and self.cgroup() is not None:
                for pid in self.pids():
                    try:
                        os.kill(pid, _SIGKILL)
                    except ProcessLookupError:
                        pass
                self.cgroup().thaw()
            try:
                os.kill(self.record.pid, _SIGKILL)
            except ProcessLookupError:
                pass
            self.wait_stopped()
        mgr = self.cgroup()
        if mgr is not None:
            # What the init left in its cgroup (no pid namespace to take it down; or still dying):
            # killed, as runc's destroy does, so that the cgroup can go.
            for pid in self.pids():
                try:
                    os.kill(pid, _SIGKILL)
                except ProcessLookupError:
                    pass
            mgr.destroy()
        cfg = None
        try:
            cfg = self.config if self.record.config else None
        except Exception:
            cfg = None
        remove_state_dir(self.state_dir)
        if cfg is not None and cfg.hooks.poststop:
            from skiff.runtime.hooks import run_hooks_warn

            run_hooks_warn("poststop", cfg.hooks.poststop, self.hook_state(S.STOPPED))


def load(root: str, container_id: str) -> Container:
    """The container ``container_id`` under ``root``; raises ContainerNotFound."""
    validate_id(container_id)
    rec = read_record(os.path.join(root, container_id))
    if rec is None:
        raise ContainerNotFound(container_id)
    return Container(root, rec)


def list_ids(root: str) -> list[str]:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if os.path.isfile(os.path.join(root, n, "state.json"))]
