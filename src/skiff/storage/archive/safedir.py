"""Resolve paths from an untrusted layer inside one directory, never leaving it.

Every operation is done relative to a directory file descriptor that was reached from the root by
opening one component at a time with ``O_NOFOLLOW | O_DIRECTORY`` (openat-style walking). A path
component that is a symlink (planted by this layer, or by a lower layer in a vfs copy) therefore
cannot be walked through: the open fails with ELOOP/ENOTDIR and we refuse the entry. Names are
checked before any walking: absolute paths and ``..`` components are refused outright.

Parent directory fds are cached (entries of a tar come grouped by directory); whenever an entry
replaces or deletes a path, cached fds at or under it are dropped.
"""

from __future__ import annotations

import errno
import os

from skiff.errors import InvalidParameter

__all__ = ["SafeDir", "UnsafeEntry", "split_name"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeEntry(InvalidParameter):
    """A layer entry that would write outside its directory; the message names the entry."""

    def __init__(self, entry: str, why: str) -> None:
        super().__init__(f"refusing layer entry {entry!r}: {why}")


def split_name(name: str, entry: str | None = None) -> tuple[str, ...]:
    """The components of a tar member name, "./" and empty parts dropped; refuse "/x" and "..".

    ``entry`` is the member to name in the error (for link targets it differs from ``name``).
    """
    who = name if entry is None else entry
    if name.startswith("/"):
        raise UnsafeEntry(who, "absolute path")
    if "\x00" in name:
        raise UnsafeEntry(who, "NUL in name")
    parts = tuple([p for p in name.split("/") if p and p != "."])
    if ".." in parts:
        raise UnsafeEntry(who, "'..' path component")
    return parts


class SafeDir:
    """A root directory and a cache of verified directory fds beneath it."""

    def __init__(self, root: str | os.PathLike[str], *, max_cached: int = 64) -> None:
        self.root_fd = os.open(os.fspath(root), _DIR_FLAGS)
        self._cache: dict[tuple[str, ...], int] = {}
        #: directories made because an entry needed them as a parent (no entry of their own yet)
        self.created: set[tuple[str, ...]] = set()
        self._max = max_cached

    def close(self) -> None:
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()
        os.close(self.root_fd)

    def __enter__(self) -> SafeDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def dir_fd(self, parts: tuple[str, ...], entry: str, *, create: bool = True) -> int:
        """An fd of directory ``parts`` (made 0755 if missing and ``create``); never via a symlink.

        The fd belongs to the cache: do not close it. Walks from the deepest cached ancestor.
        """
        if not parts:
            return self.root_fd
        cached = self._cache.get(parts)
        if cached is not None:
            return cached
        depth = len(parts) - 1
        while depth > 0 and parts[:depth] not in self._cache:
            depth -= 1
        fd = self._cache[parts[:depth]] if depth else self.root_fd
        owned = False  # whether fd is ours to close (not the root's, not the cache's)
        for i in range(depth, len(parts)):
            name = parts[i]
            try:
                try:
                    nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    try:
                        os.mkdir(name, 0o755, dir_fd=fd)
                        self.created.add(parts[:i + 1])
                    except FileExistsError:
                        pass
                    nfd = self._open_dir(name, fd, entry, parts[:i + 1])
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise UnsafeEntry(entry, f"{'/'.join(parts[:i + 1])} is a symlink or not a directory") \
                            from exc
                    raise
            finally:
                if owned:  # only the deepest directory is kept: never hold a path's worth of fds
                    os.close(fd)
            fd, owned = nfd, True
        if len(self._cache) >= self._max:
            self._drop_all()
        self._cache[parts] = fd
        return fd

    def _open_dir(self, name: str, parent: int, entry: str, parts: tuple[str, ...]) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafeEntry(entry, f"{'/'.join(parts)} is a symlink or not a directory") from exc
            raise

    def _drop_all(self) -> None:
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()

    def forget(self, parts: tuple[str, ...]) -> None:
        """Drop cached fds for ``parts`` and everything below it (it is being replaced)."""
        n = len(parts)
        for key in [k for k in self._cache if k[:n] == parts]:
            os.close(self._cache.pop(key))

    def proc_path(self, dir_fd: int, name: str) -> str:
        """A path naming ``name`` in ``dir_fd`` for calls without dir_fd (xattrs, lstat-safe)."""
        return f"/proc/self/fd/{dir_fd}/{name}"
