"""Reading and writing cgroup files, finding hierarchies, removing cgroup directories.

Every failure becomes a ``CgroupError`` naming the file and the value, because "write: invalid
argument" alone does not tell the user which limit the kernel refused.
"""

from __future__ import annotations

import errno
import os
import time

from skiff.errors import System

__all__ = [
    "CgroupError", "exists", "read", "read_int", "read_keyed", "write", "rmdir_tree",
    "own_cgroup_v1", "own_cgroup_v2", "v1_mounts", "UNIFIED_ROOT", "missing_parents", "remove_parents",
]

UNIFIED_ROOT = "/sys/fs/cgroup"


class CgroupError(System):
    """The kernel refused a cgroup operation."""


def write(dirpath: str, name: str, value: str | int) -> None:
    path = os.path.join(dirpath, name)
    data = str(value).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise CgroupError(f"cgroup: open {path}: {e.strerror}") from e
    try:
        os.write(fd, data)
    except OSError as e:
        raise CgroupError(f"cgroup: write {value!r} to {path}: {e.strerror}") from e
    finally:
        os.close(fd)


def read(dirpath: str, name: str) -> str:
    path = os.path.join(dirpath, name)
    try:
        with open(path, "rb") as f:  # not encoding="ascii": that codec is one more import
            return f.read().decode()
    except OSError as e:
        raise CgroupError(f"cgroup: read {path}: {e.strerror}") from e


def exists(dirpath: str, name: str) -> bool:
    return os.path.exists(os.path.join(dirpath, name))


def read_int(dirpath: str, name: str, default: int = 0) -> int:
    """One number; "max" reads as -1; a missing file as ``default``."""
    if not exists(dirpath, name):
        return default
    text = read(dirpath, name).strip()
    if text == "max":
        return -1
    return int(text) if text else default


def read_keyed(dirpath: str, name: str) -> dict[str, int]:
    """A flat keyed file (``cpu.stat``, ``memory.stat``, ``memory.events``): "key value" lines."""
    out: dict[str, int] = {}
    if not exists(dirpath, name):
        return out
    for line in read(dirpath, name).splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def rmdir_tree(path: str, attempts: int = 8) -> None:
    """Remove a cgroup and its child cgroups, deepest first. A missing cgroup is fine; EBUSY (the
    last task is still exiting) is retried, as runc's RemovePath does, for up to ~1.3 s: a killed
    task can take that long to exit on a loaded machine."""
    if not os.path.isdir(path):
        return
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            rmdir_tree(entry.path, attempts)
    delay = 0.01
    for i in range(attempts):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or i == attempts - 1:
                raise CgroupError(f"cgroup: remove {path}: {e.strerror}") from e
            time.sleep(delay)
            delay *= 2


def missing_parents(path: str) -> list[str]:
    """The ancestors of ``path`` that do not exist yet, deepest first: what creating it makes."""
    out: list[str] = []
    parent = os.path.dirname(path)
    while parent not in ("", "/") and not os.path.isdir(parent):
        out.append(parent)
        parent = os.path.dirname(parent)
    return out


def remove_parents(parents: list[str]) -> None:
    """Remove the parent directories a manager created (deepest first), as far as they are empty:
    one still holding another container's cgroup stays (EBUSY/ENOTEMPTY), as does a vanished one."""
    for path in sorted(set(parents), key=lambda p: p.count("/"), reverse=True):
        try:
            os.rmdir(path)
        except OSError:
            continue


def _proc_cgroup(pid: str = "self") -> list[tuple[str, str, str]]:
    with open(f"/proc/{pid}/cgroup", "rb") as f:
        return [tuple(line.rstrip("\n").split(":", 2)) for line in f.read().decode().splitlines()  # type: ignore[misc]
                if line.strip()]


def own_cgroup_v1() -> dict[str, str]:
    """Controller (or ``name=systemd``) -> this process's cgroup path in that hierarchy."""
    out: dict[str, str] = {}
    for _hid, ctrls, path in _proc_cgroup():
        for c in ctrls.split(","):
            if c:
                out[c] = path
    return out


def own_cgroup_v2() -> str:
    for hid, ctrls, path in _proc_cgroup():
        if hid == "0" and ctrls == "":
            return path
    return "/"


def v1_mounts() -> dict[str, tuple[str, str]]:
    """Controller -> (mountpoint, root inside the hierarchy) for every v1 cgroup mount."""
    out: dict[str, tuple[str, str]] = {}
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields, tail = pre.split(), post.split()
            if len(tail) < 3 or tail[0] != "cgroup":
                continue
            root, mnt = fields[3], fields[4].replace("\\040", " ")
            for opt in tail[2].split(","):
                if opt in ("rw", "ro") or opt.startswith(("release_agent=", "clone_children")):
                    continue
                out.setdefault(opt, (mnt, root))
    return out
