"""Cgroup managers: one interface, v1 and v2 implementations chosen at start (runc's manager/new.go).

The runtime core calls ``new_manager(cgroups_path, container_id)`` and then only the
``CgroupManager`` methods; later commands rebuild it with ``from_paths(recorded paths())``.

Fast create on v1: ``apply(pid)`` from the parent writes the pid to every hierarchy's cgroup.procs,
which takes a global lock and waits for an RCU grace period (~15 ms here). Cheaper: ``apply(0)``
in the parent before fork (just the directories), then ``join_self()`` as the first thing in the
single-threaded child, before it unshares user/cgroup namespaces (~0.3 ms); ``set()`` in the parent. The version is decided by the host: unified mode (``cgroup.controllers``
at the hierarchy root) is v2; anything else, including a hybrid layout, is v1.
"""

from __future__ import annotations

import os

from skiff.runtime.cgroups.files import UNIFIED_ROOT, CgroupError

TYPE_CHECKING = False  # neither typing nor dataclasses (stats) at runtime start: ~15 ms
if TYPE_CHECKING:
    from typing import Protocol

    from skiff.runtime.cgroups.stats import Stats
    from skiff.runtime.specconv_resources import Resources
else:
    Protocol = object


def __getattr__(name: str) -> object:
    if name == "Stats":  # re-exported lazily
        from skiff.runtime.cgroups.stats import Stats

        return Stats
    raise AttributeError(name)

__all__ = ["CgroupError", "CgroupManager", "Stats", "from_paths", "is_unified", "new_manager"]


class CgroupManager(Protocol):
    """What a container's cgroup can do. Paths in ``paths()`` are keyed by controller on v1 and by
    "" on v2 (as runc's GetPaths)."""

    version: int

    def apply(self, pid: int) -> None: ...  # create the cgroup(s) and move pid in (0: create only)
    def add_pid(self, pid: int) -> None: ...  # join an existing cgroup (exec)
    def join_self(self) -> None: ...  # the calling single-threaded process joins (cheap on v1)
    def join_files(self) -> list[str]: ...  # what join_self writes "0" to (for a child without this code)
    def set(self, resources: Resources) -> None: ...
    def freeze(self) -> None: ...
    def thaw(self) -> None: ...
    def state(self) -> str: ...  # "THAWED" | "FROZEN"
    def stats(self) -> Stats: ...
    def pids(self) -> list[int]: ...
    def oom_kill_count(self) -> int: ...
    def exists(self) -> bool: ...
    def paths(self) -> dict[str, str]: ...
    def destroy(self) -> None: ...  # idempotent; kills nothing, removes the directories
    def created_parents(self) -> list[str]: ...  # dirs above the cgroup(s) apply() made; destroy removes them


def is_unified(root: str = UNIFIED_ROOT) -> bool:
    return os.path.exists(os.path.join(root, "cgroup.controllers"))


def new_manager(cgroups_path: str, container_id: str) -> CgroupManager:
    """The manager for this host. An empty ``cgroups_path`` means ``<own cgroup>/<container_id>``
    (v1) or ``<parent of own cgroup>/<container_id>`` (v2), as runc does.

    ``SKIFF_CGROUP_MANAGER=v2`` forces the v2 manager on a hybrid host (its cgroup2 mount at
    /sys/fs/cgroup/unified): only what that hierarchy offers works there (freezer, device filter,
    hugetlb), so this is for testing the v2 path, not for production."""
    forced = os.environ.get("SKIFF_CGROUP_MANAGER", "")
    if forced == "v2" or (forced != "v1" and is_unified()):
        from skiff.runtime.cgroups.v2 import V2Manager

        return V2Manager(cgroups_path, container_id, root=_v2_root())
    from skiff.runtime.cgroups.v1 import V1Manager

    return V1Manager(cgroups_path, container_id)


def _v2_root() -> str:
    return UNIFIED_ROOT if is_unified() else os.path.join(UNIFIED_ROOT, "unified")


def from_paths(paths: dict[str, str], parents: list[str] | None = None) -> CgroupManager:
    """The manager of an existing container from the ``paths()`` (and ``created_parents()``)
    recorded at create. Later commands (pause, update, events, delete...) must use this rather than
    ``new_manager``: a relative cgroupsPath resolves against the *caller's* cgroup, which may differ
    from the creator's."""
    if set(paths) == {""}:
        from skiff.runtime.cgroups.v2 import V2Manager

        return V2Manager("", "", root=_v2_root(), path=paths[""], parents=parents)
    from skiff.runtime.cgroups.v1 import V1Manager

    return V1Manager("", "", paths=dict(paths), parents=parents)
