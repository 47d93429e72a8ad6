"""The volume service: names, labels, options and who uses each volume, over one driver.

Docker's volume store, reduced to the local driver: a volume is *referenced* by the containers that
use it (a referenced volume cannot be removed: "remove v: volume is in use - [ids]") and *mounted*
while a container runs with it (a ``type=``/``device=`` volume's filesystem is mounted on the first
mount and unmounted after the last). Both sets are written through a :class:`Catalog` (the engine
keeps them in the state database) before the call returns, so they survive a daemon restart.

Also here: Docker's copy-up (a new, empty volume gets the image's content at the mount target, with
the ownership and mode of the image's directory) and the size walk for ``/system/df``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from skiff.errors import Conflict, InvalidParameter, NotFound
from skiff.volume.drivers import Driver, check_driver
from skiff.volume.mounts import validate_volume_name

__all__ = ["VolumeService", "VolumeMeta", "Catalog", "ANONYMOUS_LABEL", "copy_up", "dir_size"]

ANONYMOUS_LABEL = "com.docker.volume.anonymous"


@dataclass(frozen=True)
class VolumeMeta:
    """One volume's record. ``labels``/``options`` keep None apart from {} (inspect shows null or {})."""

    name: str
    driver: str = "local"
    labels: Mapping[str, str] | None = None
    options: Mapping[str, str] | None = None
    created_ns: int = 0
    refs: frozenset[str] = field(default=frozenset())
    mounts: frozenset[str] = field(default=frozenset())

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in (self.labels or {})


class Catalog(Protocol):
    """Durable storage of volume records (engine.volumes: the state database)."""

    def load(self) -> list[VolumeMeta]: ...

    def put(self, meta: VolumeMeta) -> None:
        """Insert or replace the record with its refs and mounts, atomically."""
        ...

    def delete(self, name: str) -> None: ...


class VolumeService:
    """Create/get/list/remove plus references and mounts; thread-safe (one lock, short holds)."""

    def __init__(self, driver: Driver, catalog: Catalog) -> None:
        self.driver = driver
        self.catalog = catalog
        self._lock = threading.RLock()
        self._name_locks: dict[str, threading.Lock] = {}
        self._vols: dict[str, VolumeMeta] = {v.name: v for v in catalog.load()}
        # Volumes the driver has but the catalog lost (or made by an older layout): adopt them.
        for name in driver.names():
            if name not in self._vols:
                meta = VolumeMeta(name, driver.name, created_ns=_ctime_ns(driver.path(name)))
                self._vols[name] = meta
                catalog.put(meta)
        # Records whose directory is gone (deleted by hand) are dropped if nothing uses them.
        for name, meta in list(self._vols.items()):
            if not driver.exists(name) and not meta.refs:
                del self._vols[name]
                catalog.delete(name)

    def _name_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._name_locks.setdefault(name, threading.Lock())

    def _save(self, meta: VolumeMeta) -> VolumeMeta:
        self.catalog.put(meta)
        self._vols[meta.name] = meta
        return meta

    # ---- create / get / list --------------------------------------------------------------------
    def create(self, name: str = "", driver: str = "", opts: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None, ref: str = "") -> tuple[VolumeMeta, bool]:
        """Create ``name`` ("" = anonymous, a random 64-hex name) or return the existing one.

        Returns (volume, created). ``ref`` (a container id) is added to its references at once.
        """
        anonymous = not name
        if anonymous:
            name = secrets.token_hex(32)
            labels = {**(labels or {}), ANONYMOUS_LABEL: ""}
        else:
            validate_volume_name(name)
        with self._name_lock(name), self._lock:
            existing = self._vols.get(name)
            if existing is not None and self.driver.exists(name):
                if driver and check_driver(driver) != existing.driver:
                    raise Conflict(f"create {name}: driver '{existing.driver}' already has volume '{name}': "
                                   "volume name must be unique")
                if ref and ref not in existing.refs:
                    existing = self._save(replace(existing, refs=existing.refs | {ref}))
                return existing, False
            try:
                drv = check_driver(driver)
                self.driver.create(name, dict(opts or {}))
            except (NotFound, InvalidParameter) as e:  # moby's OpErr: "create <name>: <cause>"
                raise type(e)(f"create {name}: {e}") from e
            refs = (existing.refs if existing is not None else frozenset()) | ({ref} if ref else set())
            meta = VolumeMeta(name, drv, dict(labels) if labels is not None else None,
                              dict(opts) if opts is not None else None, time.time_ns(), refs=frozenset(refs))
            try:
                return self._save(meta), True
            except BaseException:
                with contextlib.suppress(Exception):
                    self.driver.remove(name)
                raise

    def get(self, name: str) -> VolumeMeta:
        with self._lock:
            meta = self._vols.get(name)
        if meta is None:
            raise NotFound(f"get {name}: no such volume")
        return meta

    def exists(self, name: str) -> bool:
        with self._lock:
            return name in self._vols

    def volumes(self) -> list[VolumeMeta]:
        with self._lock:
            return [self._vols[n] for n in sorted(self._vols)]

    def mountpoint(self, name: str) -> str:
        return self.driver.path(name)

    def in_use(self, name: str) -> list[str]:
        return sorted(self.get(name).refs)

    def has_mount_options(self, name: str) -> bool:
        return bool(self.get(name).options)

    # ---- references and mounts --------------------------------------------------------------------
    def acquire(self, name: str, ref: str) -> VolumeMeta:
        with self._name_lock(name), self._lock:
            meta = self.get(name)
            return meta if ref in meta.refs else self._save(replace(meta, refs=meta.refs | {ref}))

    def release(self, name: str, ref: str) -> None:
        """Drop ``ref``'s reference and its mount (the filesystem is unmounted with the last mount)."""
        self.unmount(name, ref)
        with self._name_lock(name), self._lock:
            meta = self._vols.get(name)
            if meta is not None and ref in meta.refs:
                self._save(replace(meta, refs=meta.refs - {ref}))

    def mount(self, name: str, ref: str) -> str:
        """Mount for ``ref`` (idempotent per ref); also takes a reference. Returns the host path."""
        with self._name_lock(name):
            with self._lock:
                meta = self.get(name)
            path = self.driver.mount(name)  # mounts only if not mounted yet (the kernel is the truth)
            with self._lock:
                meta = self.get(name)
                if ref not in meta.mounts or ref not in meta.refs:
                    self._save(replace(meta, mounts=meta.mounts | {ref}, refs=meta.refs | {ref}))
            return path

    def unmount(self, name: str, ref: str) -> None:
        """``ref`` no longer has it mounted; the last one out unmounts the filesystem."""
        with self._name_lock(name):
            with self._lock:
                meta = self._vols.get(name)
                if meta is None:
                    return
                if ref in meta.mounts:
                    meta = self._save(replace(meta, mounts=meta.mounts - {ref}))
                last = not meta.mounts
            if last:
                self.driver.unmount(name)

    def forget_ref(self, ref: str) -> list[str]:
        """Drop every reference and mount of ``ref`` (a container that is gone); names touched."""
        with self._lock:
            names = [n for n, v in self._vols.items() if ref in v.refs or ref in v.mounts]
        for n in names:
            self.release(n, ref)
        return names

    # ---- remove ---------------------------------------------------------------------------------
    def remove(self, name: str, force: bool = False) -> VolumeMeta | None:
        """Remove an unreferenced volume. ``force`` only ignores a missing one (Docker's PurgeOnError).

        The per-name lock keeps references out while the tree is deleted, without holding up the rest."""
        with self._name_lock(name):
            with self._lock:
                meta = self._vols.get(name)
                if meta is None:
                    if force:
                        return None
                    raise NotFound(f"get {name}: no such volume")
                if meta.refs:
                    raise Conflict(f"remove {name}: volume is in use - [{', '.join(sorted(meta.refs))}]")
            try:
                self.driver.remove(name)
            except Exception:
                if not force:
                    raise
            with self._lock:
                self.catalog.delete(name)
                self._vols.pop(name, None)
        return meta

    # ---- content ----------------------------------------------------------------------------------
    def copy_up(self, name: str, source: str) -> bool:
        """Docker's copy of image content into the volume: only a directory, only into an empty volume."""
        with self._name_lock(name):
            return copy_up(source, self.driver.path(name))

    def size(self, name: str) -> int:
        try:
            return dir_size(self.driver.path(name))
        except OSError:
            return -1


def _ctime_ns(path: str) -> int:
    try:
        return os.stat(os.path.dirname(path)).st_ctime_ns
    except OSError:
        return time.time_ns()


# ---- copy-up -------------------------------------------------------------------------------------

def copy_up(source: str, dest: str) -> bool:
    """Copy ``source``'s tree into the empty directory ``dest`` (continuity's fs.CopyDir): regular files,
    directories, symlinks (never followed), hard links, device nodes and fifos, with owner, mode and
    times; ``dest`` itself takes ``source``'s owner and mode. Returns False when nothing was copied
    (source missing or not a directory, dest not empty)."""
    try:
        st = os.lstat(source)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    if os.listdir(dest):
        return False
    links: dict[tuple[int, int], str] = {}
    _copy_dir(source, dest, st, links)
    return True


def _copy_meta(path: str, st: os.stat_result, is_link: bool = False) -> None:
    with contextlib.suppress(OSError):
        os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
    if not is_link:
        os.chmod(path, stat.S_IMODE(st.st_mode))
    with contextlib.suppress(OSError, NotImplementedError):
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_dir(src: str, dst: str, st: os.stat_result, links: dict[tuple[int, int], str]) -> None:
    for entry in sorted(os.listdir(src)):
        s, d = os.path.join(src, entry), os.path.join(dst, entry)
        est = os.lstat(s)
        mode = est.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(d, 0o700)
            _copy_dir(s, d, est, links)
            continue
        key = (est.st_dev, est.st_ino)
        if est.st_nlink > 1 and key in links:
            os.link(links[key], d)
            continue
        if stat.S_ISREG(mode):
            shutil.copyfile(s, d, follow_symlinks=False)
            _copy_meta(d, est)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(s), d)
            _copy_meta(d, est, is_link=True)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            os.mknod(d, mode, est.st_rdev)
            _copy_meta(d, est)
        else:
            continue  # sockets are not copied
        if est.st_nlink > 1:
            links[key] = d
    _copy_meta(dst, st)


def dir_size(path: str) -> int:
    """Bytes used by files under ``path`` (each inode once, symlinks by their own size)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [path]
    while stack:
        p = stack.pop()
        with os.scandir(p) as it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                total += st.st_size
    return total
