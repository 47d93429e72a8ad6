"""The cgroup v2 manager: one directory in the unified hierarchy (runc's ``fs2``)."""

from __future__ import annotations

import os
import time

from skiff.errors import InvalidParameter
from skiff.runtime.cgroups.files import (
    UNIFIED_ROOT,
    CgroupError,
    exists,
    own_cgroup_v2,
    read,
    read_keyed,
    remove_parents,
    rmdir_tree,
    write,
)
from skiff.runtime.cgroups.v2.controllers import SETTERS, STATS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from skiff.runtime.cgroups.stats import Stats
    from skiff.runtime.specconv_resources import Resources

__all__ = ["V2Manager", "v2_path"]


def v2_path(cgroups_path: str, container_id: str, root: str = UNIFIED_ROOT, own: str | None = None) -> str:
    """As fs2's defaultDirPath: absolute paths hang from the hierarchy root; relative ones from the
    *parent* of our own cgroup (ours has tasks, so its children could not get controllers)."""
    inner = os.path.normpath(cgroups_path) if cgroups_path else container_id
    if ".." in inner.split("/"):
        raise InvalidParameter(f"invalid cgroupsPath {cgroups_path!r}")
    if os.path.isabs(inner):
        return os.path.join(root, inner.lstrip("/"))
    parent = os.path.dirname(own_cgroup_v2() if own is None else own)
    return os.path.normpath(os.path.join(root, parent.lstrip("/"), inner))


class V2Manager:
    """cgroup v2: limits are files of one directory; controllers come from the parents'
    ``cgroup.subtree_control``; freezing is ``cgroup.freeze``."""

    version = 2

    def __init__(self, cgroups_path: str, container_id: str, root: str = UNIFIED_ROOT,
                 path: str | None = None, parents: list[str] | None = None) -> None:
        self.root = root
        self._path = path if path is not None else v2_path(cgroups_path, container_id, root)
        self._parents = list(parents or ())  # directories above ours that apply() created

    def created_parents(self) -> list[str]:
        return list(self._parents)

    def paths(self) -> dict[str, str]:
        return {"": self._path}

    def path(self, controller: str = "") -> str:
        return self._path

    def apply(self, pid: int) -> None:
        """Create the directory (and parents), enabling every available controller at each level
        above it, as runc's CreateCgroupPath does; then move ``pid`` in."""
        rel = os.path.relpath(self._path, self.root)
        cur = self.root
        for part in rel.split("/"):
            _enable_all(cur)
            cur = os.path.join(cur, part)
            if not os.path.isdir(cur):
                try:
                    os.mkdir(cur)
                    if cur != self._path:
                        self._parents.append(cur)
                except FileExistsError:
                    pass
                except OSError as e:
                    raise CgroupError(f"cgroup: mkdir {cur}: {e.strerror}") from e
        if pid > 0:
            write(self._path, "cgroup.procs", pid)

    def join_self(self) -> None:
        """Move the calling process in (v2 has no cheaper per-thread path outside threaded mode)."""
        write(self._path, "cgroup.procs", "0")

    def join_files(self) -> list[str]:
        return [os.path.join(self._path, "cgroup.procs")]

    def add_pid(self, pid: int) -> None:
        write(self._path, "cgroup.procs", pid)

    def set(self, resources: Resources) -> None:
        for setter in SETTERS:
            setter(self._path, resources)
        if resources.devices is not None:
            from skiff.runtime.cgroups.v2.devices import apply_device_rules

            apply_device_rules(self._path, resources.devices)

    def freeze(self) -> None:
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def _set_frozen(self, frozen: bool, timeout: float = 10.0) -> None:
        if not exists(self._path, "cgroup.freeze"):
            raise CgroupError(f"cgroup: {self._path} has no cgroup.freeze (kernel older than 5.2?)")
        write(self._path, "cgroup.freeze", "1" if frozen else "0")
        deadline = time.monotonic() + timeout
        while read_keyed(self._path, "cgroup.events").get("frozen", 0) != int(frozen):
            if time.monotonic() > deadline:
                if frozen:
                    write(self._path, "cgroup.freeze", "0")
                raise CgroupError(f"cgroup: {self._path} did not {'freeze' if frozen else 'thaw'} in {timeout}s")
            time.sleep(0.001)

    def state(self) -> str:
        if not exists(self._path, "cgroup.freeze"):
            return "THAWED"
        return "FROZEN" if read(self._path, "cgroup.freeze").strip() == "1" else "THAWED"

    def stats(self) -> Stats:
        from skiff.runtime.cgroups.stats import Stats

        st = Stats()
        if os.path.isdir(self._path):
            for fn in STATS:
                fn(self._path, st)
        return st

    def pids(self) -> list[int]:
        pids: list[int] = []
        for dirpath, _dirs, _files in os.walk(self._path):
            try:
                pids.extend(int(x) for x in read(dirpath, "cgroup.procs").split())
            except CgroupError:
                continue
        return pids

    def oom_kill_count(self) -> int:
        return read_keyed(self._path, "memory.events").get("oom_kill", 0)

    def exists(self) -> bool:
        return os.path.isdir(self._path)

    def destroy(self) -> None:
        rmdir_tree(self._path)
        remove_parents(self._parents)


def _enable_all(path: str) -> None:
    """Enable in ``path``'s subtree_control what it has in cgroup.controllers, one by one, so that
    one refusal (a threaded controller, tasks in the way) does not block the others."""
    available = read(path, "cgroup.controllers").split()
    enabled = set(read(path, "cgroup.subtree_control").split())
    for ctrl in available:
        if ctrl not in enabled:
            try:
                write(path, "cgroup.subtree_control", f"+{ctrl}")
            except CgroupError:
                continue
