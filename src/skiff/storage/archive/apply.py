"""Apply one layer tar stream to a directory: the untrusted-input side of image unpacking.

Why our own reader (``tarstream``) and not GNU tar: the safety rules (no ``..``, no absolute names, never write
through a symlink, hard links only inside, whiteouts only inside) and the whiteout conversion have to
look at every entry in order while the filesystem changes under it. GNU tar would need a validating
pre-pass over the stream (so either buffering or reading it twice) and still decides on its own how
to treat symlinked directories. Here ``TarReader`` only *parses* the stream (sequential, constant
memory) and we do every filesystem operation ourselves through ``SafeDir``: openat-style,
``O_NOFOLLOW`` on every component, so a symlink can never be walked through whoever planted it.
The diff ID is hashed from the uncompressed bytes as they are read; the stream is read to its end so
the hash covers the tar's trailing padding too.

Whiteouts (OCI image-spec layer.md):
* ``overlay_whiteouts=True`` (overlay2: the directory is a layer's own upper dir): ``.wh.x`` becomes
  a char device 0:0 named ``x``, ``.wh..wh..opq`` sets ``trusted.overlay.opaque=y`` on its directory.
* ``overlay_whiteouts=False`` (vfs: the directory is a full copy of the parent): ``.wh.x`` deletes
  ``x``; ``.wh..wh..opq`` deletes every child of its directory that this layer did not itself add.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from typing import BinaryIO

from skiff.errors import InvalidParameter
from skiff.storage.archive.compression import Compression, decompressed
from skiff.storage.archive.safedir import SafeDir, UnsafeEntry, split_name
from skiff.storage.archive.tarstream import BLK, CHR, DIR, FIFO, LNK, REG, SYM, Header, TarReader
from skiff.sys import xattr

__all__ = ["AppliedLayer", "DiffIDMismatch", "apply_layer", "WHITEOUT_PREFIX", "WHITEOUT_OPAQUE"]

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
WHITEOUT_META = ".wh..wh."
OPAQUE_XATTR = "trusted.overlay.opaque"
_CHUNK = 1 << 20
_ZERO = bytes(_CHUNK)
_HOLE = 1 << 16  # only zero runs this long become holes
_IS_ROOT = os.geteuid() == 0
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class AppliedLayer:
    """What applying a layer found: ``diff_id`` ("sha256:<hex>" of the uncompressed tar), its size.

    ``implicit_dirs`` (overlay mode only): directories made only because entries were put under
    them, e.g. ``bin`` for ``bin/app``. If a lower layer has a symlink there (merged /usr:
    ``bin -> usr/bin``) the layer meant to write through it, which is refused; overlay mode cannot
    see lower layers, so the caller checks these against them (``unpack_layers`` does).
    """

    diff_id: str
    size: int
    compression: Compression
    implicit_dirs: tuple[str, ...] = ()
    #: the sum of the entries' sizes (moby's UnpackLayer size, what dockerd reports for a layer
    #: it applied on vfs); -1 if not known
    content_size: int = -1


class DiffIDMismatch(InvalidParameter):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"layer diff ID mismatch: expected {expected}, got {actual}")


def _xattrs(ti: Header) -> list[tuple[str, bytes]]:
    # only we decide overlay's metadata: a layer may not carry trusted.overlay.* itself
    return [(k, v) for k, v in ti.xattrs if not k.startswith("trusted.overlay.")]


def _set_xattrs(ti: Header, target: int | str) -> None:
    """Like Docker: a filesystem or file type without support (ENOTSUP; EPERM for user.* on a
    symlink, or when not root) skips the attribute; any other failure fails the layer."""
    for name, value in _xattrs(ti):
        try:
            xattr.set(target, name, value)
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP) or (
                    exc.errno == errno.EPERM and (not _IS_ROOT or ti.type == SYM)):
                continue
            raise


def _mtime_ns(ti: Header) -> int:
    return ti.mtime_ns


class _Applier:
    def __init__(self, sd: SafeDir, overlay: bool) -> None:
        self.sd, self.overlay = sd, overlay
        self.unpacked: set[tuple[str, ...]] = set()
        self.dir_times: list[tuple[tuple[str, ...], int]] = []

    # -- helpers ---------------------------------------------------------------------------
    def _remove(self, fd: int, name: str, parts: tuple[str, ...]) -> None:
        """Delete ``name`` in ``fd`` whatever it is; never follows a symlink."""
        try:
            st = os.lstat(name, dir_fd=fd)
        except FileNotFoundError:
            return
        self.sd.forget(parts)
        if stat.S_ISDIR(st.st_mode):
            try:
                shutil.rmtree(name, dir_fd=fd)
            except RecursionError:  # deeper than Python recurses: GNU rm has no such limit
                subprocess.run(["rm", "-rf", "--", self.sd.proc_path(fd, name)], pass_fds=(fd,), check=True)
        else:
            os.unlink(name, dir_fd=fd)

    def _owner_mode(self, ti: Header, target: int | tuple[int, str], symlink: bool = False) -> None:
        """Owner, then mode (chown clears set-id bits), then xattrs (chown drops capabilities)."""
        if isinstance(target, int):
            if _IS_ROOT:
                os.chown(target, ti.uid, ti.gid)
            os.chmod(target, stat.S_IMODE(ti.mode))
            _set_xattrs(ti, target)
            return
        fd, name = target
        if _IS_ROOT:
            os.chown(name, ti.uid, ti.gid, dir_fd=fd, follow_symlinks=False)
        if not symlink:
            os.chmod(name, stat.S_IMODE(ti.mode), dir_fd=fd)
        if ti.xattrs:
            _set_xattrs(ti, self.sd.proc_path(fd, name))

    # -- entries ---------------------------------------------------------------------------
    def entry(self, ti: Header, tar: TarReader) -> None:
        parts = split_name(ti.name)
        if not parts:
            if ti.type != DIR:
                raise UnsafeEntry(ti.name, "the root can only be a directory")
            self._owner_mode(ti, self.sd.root_fd)
            self.dir_times.append(((), _mtime_ns(ti)))
            return
        base = parts[-1]
        if WHITEOUT_META in ti.name and any(
                p.startswith(WHITEOUT_META) for p in parts if p != WHITEOUT_OPAQUE):
            return  # AUFS bookkeeping (.wh..wh..plnk, .wh..wh..aufs) in old images: skipped as Docker does
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(ti, parts)
            return
        fd = self.sd.dir_fd(parts[:-1], ti.name)
        if not self.overlay:
            self.unpacked.add(parts)
        if ti.type == REG:  # the common case: create optimistically, replace only if it exists
            try:
                out = os.open(base, _FILE_FLAGS, 0o600, dir_fd=fd)
            except FileExistsError:
                self._remove(fd, base, parts)
                out = os.open(base, _FILE_FLAGS, 0o600, dir_fd=fd)
            self.regular(ti, tar, out)
            return
        try:
            existing: os.stat_result | None = os.lstat(base, dir_fd=fd)
        except FileNotFoundError:
            existing = None
        if existing is not None and not (ti.type == DIR and stat.S_ISDIR(existing.st_mode)):
            self._remove(fd, base, parts)
        if ti.type == DIR:
            self.sd.created.discard(parts)
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(base, 0o700, dir_fd=fd)
            self._owner_mode(ti, (fd, base))
            self.dir_times.append((parts, _mtime_ns(ti)))
        elif ti.type == SYM:
            os.symlink(ti.linkname, base, dir_fd=fd)
            self._owner_mode(ti, (fd, base), symlink=True)
            os.utime(base, ns=(_mtime_ns(ti),) * 2, dir_fd=fd, follow_symlinks=False)
        elif ti.type == LNK:
            self.hardlink(ti, parts, fd, base)
        elif ti.type in (CHR, BLK, FIFO):
            if ti.type != FIFO and not _IS_ROOT:
                raise UnsafeEntry(ti.name, "device nodes can only be created as root")
            kind = {CHR: stat.S_IFCHR, BLK: stat.S_IFBLK, FIFO: stat.S_IFIFO}[ti.type]
            os.mknod(base, kind | 0o600, os.makedev(ti.devmajor, ti.devminor), dir_fd=fd)
            self._owner_mode(ti, (fd, base))
            os.utime(base, ns=(_mtime_ns(ti),) * 2, dir_fd=fd, follow_symlinks=False)
        else:
            raise InvalidParameter(f"layer entry {ti.name!r}: unsupported tar type {ti.type!r}")

    def regular(self, ti: Header, tar: TarReader, out: int) -> None:
        """Write the data into the new file ``out`` (closed here), then its metadata."""
        try:
            whole = tar.buffered_data(ti) if ti.size < _HOLE else None
            if whole is not None:  # fast path: a small file, all in the buffer
                if whole:
                    _write_all(out, whole)
                self._owner_mode(ti, out)
                os.utime(out, ns=(ti.mtime_ns, ti.mtime_ns))
                return
            tar_sparse, holes = ti.sparse is not None, False
            end = 0
            for pos, chunk in tar.data(ti):
                if tar_sparse:
                    os.pwrite(out, chunk, pos)
                elif len(chunk) >= _HOLE and bytes(chunk) == _ZERO[:len(chunk)]:
                    os.lseek(out, len(chunk), os.SEEK_CUR)  # keep big zero runs sparse
                    holes = True
                else:
                    _write_all(out, chunk)
                end = pos + len(chunk)
            if tar_sparse or holes or end != ti.realsize:
                os.ftruncate(out, ti.realsize)
            self._owner_mode(ti, out)
            os.utime(out, ns=(_mtime_ns(ti),) * 2)
        finally:
            os.close(out)

    def hardlink(self, ti: Header, parts: tuple[str, ...], fd: int, base: str) -> None:
        tparts = split_name(ti.linkname, ti.name)
        if not tparts or tparts == parts:
            raise UnsafeEntry(ti.name, f"bad hard link target {ti.linkname!r}")
        fd = os.dup(fd)  # the cache may close it while resolving the target
        try:
            tfd = self.sd.dir_fd(tparts[:-1], ti.name, create=False)
            try:
                st = os.lstat(tparts[-1], dir_fd=tfd)
            except FileNotFoundError:
                raise UnsafeEntry(ti.name, f"hard link target {ti.linkname!r} does not exist") from None
            if stat.S_ISDIR(st.st_mode):
                raise UnsafeEntry(ti.name, f"hard link target {ti.linkname!r} is a directory")
            os.link(tparts[-1], base, src_dir_fd=tfd, dst_dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            raise UnsafeEntry(ti.name, f"hard link target {ti.linkname!r} does not exist") from None
        finally:
            os.close(fd)

    def whiteout(self, ti: Header, parts: tuple[str, ...]) -> None:
        dparts = parts[:-1]
        if parts[-1] == WHITEOUT_OPAQUE:
            if self.overlay:
                dfd = self.sd.dir_fd(dparts, ti.name)
                xattr.set(dfd, OPAQUE_XATTR, b"y")
            else:
                try:
                    dfd = self.sd.dir_fd(dparts, ti.name, create=False)
                except FileNotFoundError:
                    return
                self._clear_opaque(dfd, dparts)
            return
        target = parts[-1][len(WHITEOUT_PREFIX):]
        if target in ("", ".", "..") or target.startswith(WHITEOUT_PREFIX):
            raise UnsafeEntry(ti.name, "bad whiteout name")
        tparts = (*dparts, target)
        if self.overlay:
            dfd = self.sd.dir_fd(dparts, ti.name)
            self._remove(dfd, target, tparts)
            os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dfd)
            return
        try:
            dfd = self.sd.dir_fd(dparts, ti.name, create=False)
        except FileNotFoundError:
            return
        self._remove(dfd, target, tparts)

    def _clear_opaque(self, dfd: int, dparts: tuple[str, ...]) -> None:
        """vfs opaque dir: drop what lower layers put there, keep what this layer added."""
        dfd = os.dup(dfd)  # deeper dir_fd calls may evict the cached fd we were given
        try:
            for name in os.listdir(dfd):
                cparts = (*dparts, name)
                if cparts not in self.unpacked:
                    self._remove(dfd, name, cparts)
                    continue
                try:
                    st = os.lstat(name, dir_fd=dfd)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    self._clear_opaque(self.sd.dir_fd(cparts, name, create=False), cparts)
        finally:
            os.close(dfd)

    def finish(self) -> None:
        """Directory mtimes last (creating children changed them), deepest first."""
        for parts, ns in reversed(self.dir_times):
            try:
                if not parts:
                    os.utime(self.sd.root_fd, ns=(ns, ns))
                    continue
                fd = self.sd.dir_fd(parts[:-1], "/".join(parts), create=False)
                os.utime(parts[-1], ns=(ns, ns), dir_fd=fd, follow_symlinks=False)
            except (FileNotFoundError, UnsafeEntry):
                continue  # replaced or deleted later in the same layer


def _write_all(fd: int, data: memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def apply_layer(dest: str | os.PathLike[str], stream: BinaryIO, *, overlay_whiteouts: bool,
                expected_diff_id: str | None = None) -> AppliedLayer:
    """Apply the (gzip/zstd/plain) layer tar ``stream`` onto ``dest``; return its diff ID and size.

    Raises ``UnsafeEntry`` (InvalidParameter) naming the first entry that would escape ``dest``
    (nothing outside is written; ``dest`` is left partly applied, so discard it), ``DiffIDMismatch``
    if ``expected_diff_id`` is given and differs, ``InvalidParameter`` for a corrupt tar.
    """
    raw, compression = decompressed(stream)
    tar = TarReader(raw, _CHUNK)
    try:
        with SafeDir(dest) as sd:
            applier = _Applier(sd, overlay_whiteouts)
            content = 0
            for ti in tar:
                content += ti.realsize if ti.sparse is not None else ti.size
                applier.entry(ti, tar)
            applier.finish()
        tar.finish()
    finally:
        tar.close()
        if compression is not Compression.NONE:
            raw.close()  # stops the decompressor's reader thread even when we fail half way
    diff_id = "sha256:" + tar.sha256.hexdigest()
    if expected_diff_id is not None and expected_diff_id != diff_id:
        raise DiffIDMismatch(expected_diff_id, diff_id)
    implicit = tuple(sorted("/".join(p) for p in sd.created)) if overlay_whiteouts else ()
    return AppliedLayer(diff_id, tar.size, compression, implicit, content)
