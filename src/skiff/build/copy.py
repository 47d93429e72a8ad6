"""COPY and ADD on a root filesystem, with the classic builder's rules and messages.

- Sources are relative to the context (or to a stage's / image's rootfs for ``--from``) and never
  leave it; wildcards follow Go's filepath.Match per path component.
- A directory source copies its *contents*; a file goes to ``dest/<name>`` when ``dest`` ends in
  ``/`` or is an existing directory, else to ``dest`` itself. Several sources need a ``dest/``.
- Everything copied is owned by 0:0 unless ``--chown`` (names looked up in the image's
  /etc/passwd and /etc/group); ``--chmod`` sets the mode; new parent dirs are 0755.
- ADD unpacks local tar archives (plain, gzip, bzip2, xz) into ``dest``.
- The content hash (not mtimes) of the sources names them in the history line and the cache key:
  dockerd's own hashes when it can be reproduced (tarsum v1 of the context tar's entries,
  ``context_hash``; the lazy-source sum for ``--from`` rootfs files, ``image_hash``), so history
  lines are byte-identical to the classic builder's; a plain content hash otherwise.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from skiff.build.context import untar
from skiff.build.dockerignore import IgnoreMatcher, go_clean
from skiff.errors import InvalidParameter, NotFound

__all__ = [
    "CopyError",
    "Source",
    "Owner",
    "copy_source",
    "find_sources",
    "context_hash",
    "image_hash",
    "hash_sources",
    "is_archive",
    "resolve_owner",
    "scoped_path",
    "write_file",
]


class CopyError(InvalidParameter):
    """A COPY/ADD cannot be done; the builder prefixes "COPY failed: "."""


class SourceNotFound(NotFound):
    pass


@dataclass(frozen=True)
class Owner:
    uid: int
    gid: int


@dataclass(frozen=True)
class Source:
    rel: str  # path relative to the source root, as matched
    path: Path  # on disk, symlinks of the top-level path resolved within the root


def scoped_path(root: Path, path: str) -> Path:
    """FollowSymlinkInScope: join ``path`` to ``root`` resolving symlinks as if root were /."""
    root = Path(root)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        cur = root.joinpath(*resolved, part)
        if cur.is_symlink():
            hops += 1
            if hops > 255:
                raise CopyError(f"too many links in {path}")
            target = os.readlink(cur)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


_WILD = re.compile(r"[*?\[\\]")


def _segment_regex(seg: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(seg):
        c = seg[i]
        i += 1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i < len(seg):
            out.append(re.escape(seg[i]))
            i += 1
        elif c == "[":
            j = seg.find("]", i + 1)
            if j == -1:
                raise CopyError("syntax error in pattern")
            body = seg[i:j]
            if body.startswith("^"):
                body = "^" + body[1:].replace("\\", "\\\\")
            else:
                body = body.replace("\\", "\\\\")
            out.append("[" + body + "]")
            i = j + 1
        else:
            out.append(re.escape(c))
    return re.compile("".join(out) + r"\Z", re.S)


def find_sources(root: Path, pattern: str, excludes: IgnoreMatcher | None = None) -> list[Source]:
    """The sources one COPY argument names (sorted when it has wildcards)."""
    clean = go_clean("/" + pattern).lstrip("/") if pattern else "."
    raw = go_clean(pattern) if pattern else "."
    if raw == ".." or raw.startswith("../"):
        raise CopyError(f"Forbidden path outside the build context: {pattern} ()")
    clean = clean or "."
    if not _WILD.search(clean):
        p = scoped_path(root, clean)
        if not os.path.lexists(p):
            raise SourceNotFound(
                f"file not found in build context or excluded by .dockerignore: stat {pattern}: file does not exist"
            )
        if excludes and clean != "." and excludes.matches(clean):
            raise SourceNotFound(
                f"file not found in build context or excluded by .dockerignore: stat {pattern}: file does not exist"
            )
        return [Source(clean, p)]
    found: list[tuple[str, Path]] = [("", Path(root))]
    for seg in clean.split("/"):
        nxt: list[tuple[str, Path]] = []
        if not _WILD.search(seg):
            for rel, _d in found:
                cand = scoped_path(root, posixpath.join(rel, seg))
                if os.path.lexists(cand):
                    nxt.append((posixpath.join(rel, seg), cand))
        else:
            rx = _segment_regex(seg)
            for rel, d in found:
                if not d.is_dir():
                    continue
                for name in sorted(os.listdir(d)):
                    if rx.match(name):
                        r = posixpath.join(rel, name)
                        nxt.append((r, scoped_path(root, r)))
        found = nxt
    out = [Source(rel, p) for rel, p in found if not (excludes and excludes.matches(rel))]
    if not out:
        raise CopyError("no source files were specified")
    return out


def is_archive(path: Path) -> bool:
    """Whether ADD should unpack ``path``: a tar, possibly gzip/bzip2/xz compressed."""
    import tarfile

    if not path.is_file():
        return False
    try:
        with tarfile.open(path, "r:*") as t:
            return t.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def _hash_file(h: hashlib._Hash, path: Path) -> None:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


def hash_source(src: Source, excludes: IgnoreMatcher | None = None) -> str:
    """``file:<sha256>`` or ``dir:<sha256>``: content, modes and names; never mtimes."""
    p = src.path
    st = os.stat(p) if os.path.exists(p) else os.lstat(p)
    h = hashlib.sha256()
    if not stat.S_ISDIR(st.st_mode):
        h.update(f"{stat.S_IMODE(st.st_mode):o}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(p).encode())
        else:
            _hash_file(h, p)
        return "file:" + h.hexdigest()
    for dirpath, dirnames, filenames in os.walk(p):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, p)
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if excludes and excludes.matches(posixpath.join(src.rel, rel)):
                continue
            lst = os.lstat(full)
            h.update(f"{rel}\0{lst.st_mode:o}\0".encode())
            if stat.S_ISLNK(lst.st_mode):
                h.update(os.readlink(full).encode())
            elif stat.S_ISREG(lst.st_mode):
                _hash_file(h, Path(full))
            h.update(b"\0")
        for d in dirnames:
            full = os.path.join(dirpath, d)
            if not os.path.islink(full):
                h.update(
                    f"{os.path.normpath(os.path.join(rel_dir, d))}/\0{os.lstat(full).st_mode:o}\0".encode()
                )
    return "dir:" + h.hexdigest()


def context_hash(root: Path, src: Source, sums: Mapping[str, str]) -> str:
    """dockerd's hash for a context source: the tarsum v1 of the file as the client sent it, or
    for a directory ``dir:`` + sha256 of the sorted sums of everything under it (copier.go)."""

    def hash_of(rel: str) -> str:
        followed = scoped_path(root, rel)
        key = os.path.relpath(followed, root).replace(os.sep, "/")
        return sums.get(key, rel)

    top = os.path.relpath(src.path, root).replace(os.sep, "/")
    if not src.path.is_dir():
        return "file:" + sums.get(top, src.rel)
    subfiles = []
    for dirpath, dirnames, filenames in os.walk(src.path):
        for name in [*dirnames, *filenames]:
            subfiles.append(hash_of(os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")))
    if top != ".":
        subfiles.append(hash_of(top))
    subfiles.sort()
    return "dir:" + hashlib.sha256(",".join(subfiles).encode()).hexdigest()


def _uname(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


def _gname(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def _lazy_sum(path: Path, rel: str) -> str:
    """dockerd's lazySource sum for a file of an image or stage (NewFileHash): a tarsum v1 header
    from the file's stat (full st_mode, names looked up on this host), then the content."""
    st = os.lstat(path)
    kind = stat.S_IFMT(st.st_mode)
    typeflag = {stat.S_IFREG: "0", stat.S_IFDIR: "5", stat.S_IFLNK: "2"}.get(kind, "0")
    link = os.readlink(path) if kind == stat.S_IFLNK else ""
    size = st.st_size if kind == stat.S_IFREG else 0
    name = rel + "/" if kind == stat.S_IFDIR and not rel.endswith("/") else rel
    header = (
        f"name{name}mode{st.st_mode}uid{st.st_uid}gid{st.st_gid}size{size}typeflag{typeflag}linkname{link}"
        f"uname{_uname(st.st_uid)}gname{_gname(st.st_gid)}devmajor0devminor0"
    )
    h = hashlib.sha256(header.encode("utf-8", "surrogateescape"))
    if kind == stat.S_IFREG and size:
        _hash_file(h, path)
    return h.hexdigest()


def image_hash(root: Path, src: Source) -> str:
    """dockerd's hash for a ``COPY --from`` source (an image's or a stage's rootfs)."""

    def sum_of(p: Path) -> str:
        followed = scoped_path(root, os.path.relpath(p, root))
        return _lazy_sum(followed, os.path.relpath(followed, root).replace(os.sep, "/"))

    if not src.path.is_dir():
        return "file:" + sum_of(src.path)
    subfiles = []
    for dirpath, dirnames, filenames in os.walk(src.path):
        for name in [*dirnames, *filenames]:
            try:
                subfiles.append(sum_of(Path(dirpath) / name))
            except OSError:
                continue
    if src.path != root:
        subfiles.append(sum_of(src.path))
    subfiles.sort()
    return "dir:" + hashlib.sha256(",".join(subfiles).encode()).hexdigest()


def hash_sources(hashes: list[str]) -> str:
    """One source keeps its hash; several become ``multi:<sha256 of the list>`` (the classic way)."""
    if len(hashes) == 1:
        return hashes[0]
    return "multi:" + hashlib.sha256(",".join(hashes).encode()).hexdigest()


def _lookup(path: Path, name: str, what: str) -> int:
    try:
        return int(name)
    except ValueError:
        pass
    try:
        lines = path.read_text(errors="replace").splitlines()
    except (FileNotFoundError, NotADirectoryError):
        lines = []
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name:
            try:
                return int(fields[2])
            except ValueError:
                break
    raise CopyError(f"no such {what}: {name}")


def resolve_owner(rootfs: Path, chown: str) -> Owner:
    """``--chown=user[:group]``; a lone user is used as the group too (numeric or looked up)."""
    parts = chown.split(":")
    if len(parts) > 2:
        raise CopyError("invalid chown string format: " + chown)
    user, group = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    passwd = scoped_path(rootfs, "etc/passwd")
    grp = scoped_path(rootfs, "etc/group")
    prefix = "unable to convert uid/gid chown string to host mapping: "
    try:
        uid = _lookup(passwd, user, "user")
    except CopyError as e:
        raise CopyError(f"{prefix}can't find uid for user {user}: {e}") from None
    try:
        gid = _lookup(grp, group, "group")
    except CopyError as e:
        raise CopyError(f"{prefix}can't find gid for group {group}: {e}") from None
    return Owner(uid, gid)


def parse_chmod(chmod: str) -> int | None:
    if not chmod:
        return None
    try:
        mode = int(chmod, 8)
    except ValueError:
        raise CopyError(f"invalid chmod parameter: {chmod}") from None
    if mode > 0o7777:
        raise CopyError(f"invalid chmod parameter: {chmod}")
    return mode


def _chown(path: str | Path, owner: Owner) -> None:
    if os.geteuid() == 0:
        os.lchown(path, owner.uid, owner.gid)


def _mkdir_all(rootfs: Path, path: Path, owner: Owner) -> None:
    """MkdirAllAndChownNew: create missing parents 0755, chowning only the new ones."""
    missing = []
    p = path
    while not p.exists() and p != rootfs and rootfs in p.parents:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o755)
        os.chmod(d, 0o755)
        _chown(d, owner)


def _copy_entry(src: str, dst: str, owner: Owner, chmod: int | None) -> None:
    st = os.lstat(src)
    if os.path.lexists(dst) and not (
        stat.S_ISDIR(st.st_mode) and os.path.isdir(dst) and not os.path.islink(dst)
    ):
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        else:
            os.unlink(dst)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISDIR(st.st_mode):
        if not os.path.isdir(dst):
            os.mkdir(dst)
        os.chmod(dst, chmod if chmod is not None else stat.S_IMODE(st.st_mode))
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
        os.chmod(dst, chmod if chmod is not None else stat.S_IMODE(st.st_mode))
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    else:
        return
    _chown(dst, owner)


def _copy_dir_contents(
    src: Path, dst: Path, owner: Owner, chmod: int | None, excludes: IgnoreMatcher | None, rel_base: str
) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, src)
        target_dir = dst if rel_dir == "." else dst / rel_dir
        keep = []
        for d in dirnames:
            rel = posixpath.normpath(posixpath.join(rel_base, rel_dir, d))
            full = os.path.join(dirpath, d)
            if excludes and excludes.matches(rel) and not excludes.may_reinclude_below(rel):
                continue
            if os.path.islink(full):
                _copy_entry(full, str(target_dir / d), owner, chmod)
                continue
            _copy_entry(full, str(target_dir / d), owner, chmod)
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = posixpath.normpath(posixpath.join(rel_base, rel_dir, name))
            if excludes and excludes.matches(rel):
                continue
            _copy_entry(os.path.join(dirpath, name), str(target_dir / name), owner, chmod)


def copy_source(
    rootfs: Path,
    src: Source,
    dest: str,
    *,
    owner: Owner,
    chmod: int | None = None,
    unpack: bool = False,
    excludes: IgnoreMatcher | None = None,
) -> None:
    """performCopyForInfo: one source into ``dest`` (absolute in the image, may end with /)."""
    dest_path = scoped_path(rootfs, dest)
    target = src.path  # already resolved inside its root by scoped_path
    if not target.exists():
        raise SourceNotFound(
            f"file not found in build context or excluded by .dockerignore: stat {src.rel}: file does not exist"
        )
    if target.is_dir():
        _mkdir_all(rootfs, dest_path.parent, owner)
        existed = dest_path.is_dir()
        if not existed:
            dest_path.mkdir()
            os.chmod(dest_path, chmod if chmod is not None else 0o755)
            _chown(dest_path, owner)
        _copy_dir_contents(target, dest_path, owner, chmod, excludes, src.rel)
        return
    if unpack and is_archive(target):
        _mkdir_all(rootfs, dest_path, owner)
        if not dest_path.exists():
            dest_path.mkdir(mode=0o755)
        with open(target, "rb") as f:
            untar(f, dest_path, owners=True)
        return
    if dest.endswith("/") or (dest_path.is_dir() and not dest_path.is_symlink()):
        dest_path = dest_path / posixpath.basename(src.rel.rstrip("/") or src.path.name)
    _mkdir_all(rootfs, dest_path.parent, owner)
    if dest_path.is_dir() and not dest_path.is_symlink():
        raise CopyError(f"cannot copy to non-directory: {dest_path}")
    if os.path.lexists(dest_path):
        os.unlink(dest_path)
    st = os.stat(target)
    shutil.copyfile(target, dest_path)
    os.chmod(dest_path, chmod if chmod is not None else stat.S_IMODE(st.st_mode))
    os.utime(dest_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    _chown(dest_path, owner)


def write_file(
    rootfs: Path, dest: str, name: str, data: bytes, *, owner: Owner, mode: int, mtime: float | None = None
) -> None:
    """A file made by the builder (a heredoc source, an ADD URL download) placed like a COPY."""
    dest_path = scoped_path(rootfs, dest)
    if dest.endswith("/") or (dest_path.is_dir() and not dest_path.is_symlink()):
        dest_path = dest_path / name
    _mkdir_all(rootfs, dest_path.parent, owner)
    if os.path.lexists(dest_path):
        os.unlink(dest_path)
    dest_path.write_bytes(data)
    os.chmod(dest_path, mode)
    if mtime is not None:
        os.utime(dest_path, (mtime, mtime))
    _chown(dest_path, owner)
