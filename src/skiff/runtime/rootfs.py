"""The container's filesystem view, built inside its new mount namespace (runc's rootfs_linux).

Steps, in order: ``prepare_root`` (propagation of /, bind the rootfs onto itself), ``mount_all``
(config mounts, each destination resolved inside the rootfs without following symlinks out of it),
``create_devices`` + ``dev_symlinks``, then ``pivot`` (or ``move_root`` for --no-pivot), then
``finish`` (maskedPaths, readonlyPaths, read-only root, root propagation). Runs only in init.
"""

from __future__ import annotations

import errno
import os
import stat

from skiff.runtime.config import Config, Device, Mount
from skiff.sys import mount as m
from skiff.sys.pivot import pivot_root

__all__ = ["secure_join", "prepare_root", "split_mounts", "mount_all", "create_devices", "dev_symlinks", "pivot",
           "move_root", "finish", "DEFAULT_DEVICES"]

DEFAULT_DEVICES: tuple[Device, ...] = (
    Device("/dev/null", "c", 1, 3), Device("/dev/zero", "c", 1, 5), Device("/dev/full", "c", 1, 7),
    Device("/dev/random", "c", 1, 8), Device("/dev/urandom", "c", 1, 9), Device("/dev/tty", "c", 5, 0),
)
_ST_TO_MS = ((os.ST_NOSUID, m.MS_NOSUID), (os.ST_NODEV, m.MS_NODEV), (os.ST_NOEXEC, m.MS_NOEXEC),
             (os.ST_NOATIME, m.MS_NOATIME), (os.ST_NODIRATIME, m.MS_NODIRATIME),
             (os.ST_RELATIME, m.MS_RELATIME), (os.ST_RDONLY, m.MS_RDONLY))


def secure_join(root: str, unsafe: str) -> str:
    """``root`` + ``unsafe`` with every symlink resolved as if ``root`` were /, never leaving it."""
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    done: list[str] = []
    links = 0
    while parts:
        p = parts.pop(0)
        if p == "..":
            if done:
                done.pop()
            continue
        cur = os.path.join(root, *done, p)
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            done.append(p)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > 255:
                raise OSError(errno.ELOOP, "too many symlinks", cur)
            target = os.readlink(cur)
            if target.startswith("/"):
                done = []
            parts = [x for x in target.split("/") if x not in ("", ".")] + parts
            continue
        done.append(p)
    return os.path.join(root, *done)


def _locked_flags(path: str) -> int:
    """Flags of the mount under ``path`` that a remount must keep (userns locks them)."""
    flags = 0
    st = os.statvfs(path).f_flag
    for stf, msf in _ST_TO_MS:
        if st & stf:
            flags |= msf
    return flags


def _mount_parent_private(path: str) -> None:
    """pivot_root fails when the rootfs' parent mount is shared; make it private (runc does)."""
    best, shared = "", False
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mp = fields[4]
            if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(best):
                best = mp
                shared = any(x.startswith("shared:") for x in fields[6:fields.index("-")])
    if best and shared:
        m.mount(None, best, None, m.MS_PRIVATE)


def prepare_root(cfg: Config) -> None:
    # rslave first whatever rootfsPropagation says: unbindable would forbid binding the rootfs, and
    # shared would leak our mounts to the host. ``finish`` applies the configured mode to the new /.
    private = cfg.rootfs_propagation & m.MS_PRIVATE
    m.mount(None, "/", None, cfg.rootfs_propagation if private else (m.MS_SLAVE | m.MS_REC))
    _mount_parent_private(cfg.root_path)
    m.mount(cfg.root_path, cfg.root_path, "bind", m.MS_BIND | m.MS_REC)


def _make_target(dest: str, source_is_file: bool) -> None:
    if source_is_file:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if not os.path.exists(dest):
            os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    else:
        os.makedirs(dest, exist_ok=True)


def _mount_cgroup(mnt: Mount, dest: str, cgroupns: bool) -> None:
    """A cgroup mount: a tmpfs with each of this process' hierarchies under it (v1 or hybrid), or
    cgroup2 itself on a unified host. Without a cgroup namespace the container's own cgroup
    directories are bound there (as runc does), so it never sees its host ancestors."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        flags = mnt.flags | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC
        if cgroupns:
            m.mount("cgroup2", dest, "cgroup2", flags, None)
        else:
            unified = _own_cgroups().get("", "/")
            m.mount("/sys/fs/cgroup" + unified, dest, "bind", m.MS_BIND | m.MS_REC)
            m.mount(None, dest, None, m.MS_BIND | m.MS_REMOUNT | flags)
        return
    m.mount("tmpfs", dest, "tmpfs", m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC, "mode=755")
    own = _own_cgroups()
    with open("/proc/self/mountinfo") as f:
        lines = f.read().splitlines()
    for line in lines:
        fields = line.split()
        sep = fields.index("-")
        fstype, mp, superopts = fields[sep + 1], fields[4], fields[sep + 3]
        if not mp.startswith("/sys/fs/cgroup/") or fstype not in ("cgroup", "cgroup2"):
            continue
        name = os.path.basename(mp)
        sub = os.path.join(dest, name)
        os.makedirs(sub, exist_ok=True)
        if fstype == "cgroup2":
            key = ""
        else:
            opts = superopts.split(",")
            key = ",".join(o for o in opts if (o not in ("rw", "ro") and "=" not in o) or o.startswith("name="))
        if cgroupns:
            data = None if fstype == "cgroup2" else ",".join(
                o for o in superopts.split(",") if o not in ("rw", "ro"))
            m.mount("cgroup", sub, fstype, m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC, data)
        else:
            rel = own.get(key, "/")
            m.mount(mp + rel, sub, "bind", m.MS_BIND | m.MS_REC)
            m.mount(None, sub, None, m.MS_BIND | m.MS_REMOUNT | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC
                    | (mnt.flags & m.MS_RDONLY))
        if "," in name:  # cpu,cpuacct -> symlinks cpu and cpuacct, as on the host
            for alias in name.split(","):
                link = os.path.join(dest, alias)
                if not os.path.lexists(link):
                    os.symlink(name, link)
    if mnt.flags & m.MS_RDONLY:
        m.mount(None, dest, None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC)


def _own_cgroups() -> dict[str, str]:
    """/proc/self/cgroup as {controllers: path} ("" for the unified hierarchy)."""
    out: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            out[ctrls] = path
    return out


def _mount_one(cfg: Config, mnt: Mount, in_userns: bool, cgroupns: bool) -> None:
    dest = secure_join(cfg.root_path, mnt.destination)
    if mnt.bind:
        _make_target(dest, not os.path.isdir(mnt.source))
        m.mount(mnt.source, dest, "bind", m.MS_BIND | (m.MS_REC if mnt.recursive else 0))
        extra = mnt.flags & ~m.MS_REMOUNT
        if extra:
            keep = _locked_flags(dest) & ~m.MS_RDONLY if in_userns else 0
            m.mount(None, dest, None, m.MS_BIND | m.MS_REMOUNT | extra | keep)
    elif mnt.type == "cgroup":
        _make_target(dest, False)
        _mount_cgroup(mnt, dest, cgroupns)
    else:
        _make_target(dest, False)
        data = mnt.data or None
        if mnt.tmpcopyup and mnt.type == "tmpfs":
            _tmpfs_copyup(mnt, dest)
            return
        try:
            m.mount(mnt.source or mnt.type, dest, mnt.type, mnt.flags, data)
        except PermissionError:
            if mnt.type != "sysfs":
                raise
            # sysfs of a network namespace we do not own cannot be mounted: bind the host's.
            m.mount("/sys", dest, "bind", m.MS_BIND | m.MS_REC)
            m.mount(None, dest, None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | _locked_flags(dest))
    for p in mnt.propagation:
        m.mount(None, dest, None, p)
    if mnt.attr_set or mnt.attr_clr:
        m.mount_setattr(dest, mnt.attr_set, mnt.attr_clr, recursive=True)


def split_mounts(cfg: Config) -> tuple[tuple[Mount, ...], tuple[Mount, ...]]:
    """(mounts before the first cgroup mount, the rest): the first part needs no cgroup yet."""
    for i, mnt in enumerate(cfg.mounts):
        if mnt.type == "cgroup":
            return cfg.mounts[:i], cfg.mounts[i:]
    return cfg.mounts, ()


def _tmpfs_copyup(mnt: Mount, dest: str) -> None:
    """tmpcopyup: the tmpfs starts with what the image had at its destination (as runc does)."""
    import shutil
    import tempfile

    tmp = tempfile.mkdtemp(prefix=".skiff-copyup-", dir=os.path.dirname(dest))
    try:
        m.mount(mnt.source or "tmpfs", tmp, "tmpfs", mnt.flags, mnt.data or None)
        shutil.copytree(dest, tmp, symlinks=True, dirs_exist_ok=True)
        st = os.stat(dest)
        os.chmod(tmp, st.st_mode & 0o7777)
        os.chown(tmp, st.st_uid, st.st_gid)
        m.mount(tmp, dest, None, m.MS_MOVE)
    finally:
        os.rmdir(tmp)
    for p in mnt.propagation:
        m.mount(None, dest, None, p)


def mount_all(cfg: Config, in_userns: bool, cgroupns: bool, mounts: tuple[Mount, ...]) -> None:
    for mnt in mounts:
        try:
            _mount_one(cfg, mnt, in_userns, cgroupns)
        except OSError as exc:
            raise OSError(exc.errno, f"mount {mnt.type or 'bind'} {mnt.source or '-'} on "
                          f"{mnt.destination}: {exc.strerror}", exc.filename) from None


def _dev_is_bound(cfg: Config) -> bool:
    return any(x.destination.rstrip("/") == "/dev" and x.bind for x in cfg.mounts)


def create_devices(cfg: Config, in_userns: bool) -> None:
    """Default devices and linux.devices: mknod, or bind the host node inside a user namespace."""
    devices = list(cfg.devices)
    if not _dev_is_bound(cfg):
        paths = {d.path for d in devices}
        devices = [d for d in DEFAULT_DEVICES if d.path not in paths] + devices
    old = os.umask(0)
    try:
        for d in devices:
            dest = secure_join(cfg.root_path, d.path)
            os.makedirs(os.path.dirname(dest), 0o755, exist_ok=True)
            if in_userns:
                if not os.path.exists(d.path):
                    continue
                if not os.path.exists(dest):
                    os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
                m.mount(d.path, dest, "bind", m.MS_BIND)
                continue
            kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[d.type]
            if os.path.lexists(dest):
                os.unlink(dest)
            os.mknod(dest, kind | (d.file_mode & 0o7777), os.makedev(d.major, d.minor))
            os.chown(dest, d.uid, d.gid)
    finally:
        os.umask(old)


def dev_symlinks(cfg: Config) -> None:
    links = [("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
             ("/proc/self/fd/2", "stderr")]
    if os.path.exists(os.path.join(cfg.root_path, "proc/kcore")) or any(x.type == "proc" for x in cfg.mounts):
        links.append(("/proc/kcore", "core"))
    if os.path.exists(secure_join(cfg.root_path, "/dev/pts/ptmx")):
        links.append(("pts/ptmx", "ptmx"))
    dev = secure_join(cfg.root_path, "/dev")
    if not os.path.isdir(dev):
        return
    for target, name in links:
        path = os.path.join(dev, name)
        if name == "ptmx" and os.path.lexists(path):
            os.unlink(path)
        if not os.path.lexists(path):
            os.symlink(target, path)


def pivot(rootfs: str) -> None:
    """pivot_root(".", ".") then lazily detach the old root (runc's trick: no put_old dir)."""
    oldroot = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    newroot = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(newroot)
        pivot_root(".", ".")
        os.fchdir(oldroot)
        m.mount(None, ".", None, m.MS_SLAVE | m.MS_REC)
        m.umount(".", m.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(oldroot)
        os.close(newroot)


def move_root(rootfs: str) -> None:
    """--no-pivot: move the rootfs mount onto / and chroot into it."""
    os.chdir(rootfs)
    m.mount(rootfs, "/", None, m.MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def _mask(path: str) -> None:
    try:
        m.mount("/dev/null", path, None, m.MS_BIND)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        m.mount("tmpfs", path, "tmpfs", m.MS_RDONLY, None)
    except OSError as exc:
        if exc.errno != errno.ENOTDIR:
            raise
        m.mount("tmpfs", path, "tmpfs", m.MS_RDONLY, None)


def _readonly(path: str) -> None:
    try:
        m.mount(path, path, None, m.MS_BIND | m.MS_REC)
    except FileNotFoundError:
        return
    m.mount(None, path, None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | m.MS_REC | _locked_flags(path))


def finish(cfg: Config) -> None:
    """After the root switch: readonlyPaths, maskedPaths, read-only root, root propagation."""
    for p in cfg.readonly_paths:
        _readonly(p)
    for p in cfg.masked_paths:
        if os.path.isdir(p) and not os.path.islink(p):
            m.mount("tmpfs", p, "tmpfs", m.MS_RDONLY, None)
        else:
            _mask(p)
    if cfg.root_readonly:
        m.mount(None, "/", None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | _locked_flags("/"))
    if cfg.rootfs_propagation:
        m.mount(None, "/", None, cfg.rootfs_propagation)
