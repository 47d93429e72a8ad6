"""Mount specs and the one helper that turns them into kernel mounts.

Snapshotters return ``list[Mount]`` and never mount; callers (the engine, tests, the builder) call
``mount_all(mounts, target)`` and later ``unmount_all(target)``. A runtime may instead copy the specs
into an OCI ``root`` + ``mounts``.

Overlay lowerdir chains of many layers can exceed the one page (4096 bytes) the kernel accepts for
mount options. Like containerd's ``compactLowerdirOption`` we then make every directory relative to
their common parent and call mount(2) from a forked child that has ``chdir``-ed there: the working
directory is per process, so the daemon's threads never see it change.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field

from skiff.errors import InvalidParameter
from skiff.sys import mount as sysmount

__all__ = ["Mount", "filesystem_of", "mount_all", "unmount_all", "PAGE_LIMIT"]

PAGE_LIMIT = os.sysconf("SC_PAGE_SIZE") - 1  # option string plus its NUL must fit in a page

_FLAGS = {
    "ro": (sysmount.MS_RDONLY, True), "rw": (sysmount.MS_RDONLY, False),
    "nosuid": (sysmount.MS_NOSUID, True), "suid": (sysmount.MS_NOSUID, False),
    "nodev": (sysmount.MS_NODEV, True), "dev": (sysmount.MS_NODEV, False),
    "noexec": (sysmount.MS_NOEXEC, True), "exec": (sysmount.MS_NOEXEC, False),
    "bind": (sysmount.MS_BIND, True), "rbind": (sysmount.MS_BIND | sysmount.MS_REC, True),
    "noatime": (sysmount.MS_NOATIME, True), "relatime": (sysmount.MS_RELATIME, True),
}
_DIR_KEYS = ("lowerdir", "upperdir", "workdir")


@dataclass(frozen=True)
class Mount:
    """One mount: ``type`` ("overlay", "bind"), ``source``, options as mount(8) would take them.

    ``target`` is relative to the directory passed to ``mount_all`` (None = that directory).
    """

    type: str
    source: str
    options: tuple[str, ...] = field(default_factory=tuple)
    target: str | None = None

    def flags_and_data(self) -> tuple[int, str]:
        """Split options into mount(2) flags and the filesystem's data string."""
        flags, data = 0, []
        for opt in self.options:
            if opt in _FLAGS:
                bit, on = _FLAGS[opt]
                flags = flags | bit if on else flags & ~bit
            else:
                data.append(opt)
        if self.type == "bind":
            flags |= sysmount.MS_BIND
        return flags, ",".join(data)


def _compact(data: str) -> tuple[str, str | None]:
    """Return (data, chdir): overlay dirs made relative to their common parent if data is too long."""
    if len(data) <= PAGE_LIMIT:
        return data, None
    opts = data.split(",")
    dirs: list[str] = []
    for opt in opts:
        key, _, value = opt.partition("=")
        if key in _DIR_KEYS:
            dirs.extend(value.split(":"))
    if not dirs or not all(d.startswith("/") for d in dirs):
        raise InvalidParameter(f"mount options too long ({len(data)} bytes)")
    common = os.path.commonpath([os.path.dirname(d) for d in dirs])
    out = []
    for opt in opts:
        key, _, value = opt.partition("=")
        if key in _DIR_KEYS:
            value = ":".join(os.path.relpath(d, common) for d in value.split(":"))
            opt = f"{key}={value}"
        out.append(opt)
    compact = ",".join(out)
    if len(compact) > PAGE_LIMIT:
        raise InvalidParameter(f"mount options too long even relative to {common} ({len(compact)} bytes)")
    return compact, common


def _mount_in_dir(chdir: str, source: str, target: str, fstype: str, flags: int, data: str) -> None:
    """mount(2) from a forked child whose cwd is ``chdir``, so relative overlay paths resolve there."""
    pid = os.fork()
    if pid == 0:  # child: no Python-level locks are touched below
        code = 0
        try:
            os.chdir(chdir)
            sysmount.mount(source, target, fstype, flags, data)
        except OSError as exc:
            code = exc.errno or 1
        except BaseException:
            code = 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        err = code if 0 < code < 255 else errno.EIO
        raise OSError(err, f"mount: {os.strerror(err)}", target)


def _mount_one(m: Mount, target: str) -> None:
    flags, data = m.flags_and_data()
    if flags & sysmount.MS_BIND:
        sysmount.mount(m.source, target, None, flags & (sysmount.MS_BIND | sysmount.MS_REC))
        if flags & ~(sysmount.MS_BIND | sysmount.MS_REC):  # bind ignores other flags: remount
            sysmount.mount(None, target, None, flags | sysmount.MS_REMOUNT | sysmount.MS_BIND)
        return
    data, chdir = _compact(data)
    if chdir is None:
        sysmount.mount(m.source, target, m.type, flags, data or None)
    else:
        _mount_in_dir(chdir, m.source, os.path.abspath(target), m.type, flags, data)


def mount_all(mounts: list[Mount], target: str | os.PathLike[str]) -> None:
    """Mount each spec on ``target`` (or ``target/m.target``) in order; undo all on failure."""
    root = os.fspath(target)
    done: list[str] = []
    try:
        for m in mounts:
            where = root if not m.target else os.path.join(root, m.target.lstrip("/"))
            _mount_one(m, where)
            done.append(where)
    except BaseException:
        for where in reversed(done):
            try:
                sysmount.umount(where, sysmount.MNT_DETACH)
            except OSError:
                pass
        raise


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def filesystem_of(path: str | os.PathLike[str]) -> str:
    """The filesystem type (as in /proc/self/mountinfo: "ext4", "xfs", "tmpfs") holding ``path``."""
    target = os.path.realpath(os.fspath(path))
    best, fstype = "", ""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields, _, tail = line.partition(" - ")
            point = _unescape(fields.split(" ")[4])
            inside = target == point or target.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, fstype = point, tail.split(" ", 1)[0]
    return fstype


def _mounts_under(path: str) -> list[str]:
    """Mount points at or below ``path`` from /proc/self/mountinfo, deepest first."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            point = _unescape(line.split(" ", 5)[4])
            if point == path or point.startswith(path.rstrip("/") + "/"):
                found.append(point)
    return sorted(set(found), key=len, reverse=True)


def unmount_all(target: str | os.PathLike[str], *, lazy: bool = False) -> None:
    """Unmount every mount at or below ``target``, deepest first; a no-op if nothing is mounted."""
    path = os.path.realpath(os.fspath(target))
    flags = sysmount.MNT_DETACH if lazy else 0
    for _ in range(64):
        points = _mounts_under(path)
        if not points:
            return
        for point in points:
            try:
                sysmount.umount(point, flags)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOENT):
                    raise
