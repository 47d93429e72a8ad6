"""A build context from the API: a tar stream (plain, gzip, bzip2, xz or zstd) unpacked safely.

Nothing in the tar may land outside the destination: names are cleaned, ``..`` escapes, absolute
link targets for hard links and writes through symlinked parents are refused, device nodes are
skipped. Then the Dockerfile is located (``-f`` is a path inside the context; ``Dockerfile`` falls
back to ``dockerfile``) and, as the classic builder does, the Dockerfile and .dockerignore are
removed from the context when .dockerignore names them.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from skiff.build.dockerignore import IgnoreMatcher, go_clean, read_ignore_file
from skiff.errors import InvalidParameter, NotFound

__all__ = ["BuildContext", "ContextError", "extract_context", "open_context_dir", "untar"]

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class ContextError(InvalidParameter):
    """The context tar is malformed or tries to escape its directory."""


@dataclass(frozen=True)
class BuildContext:
    root: Path
    dockerfile_name: str  # relative to root, slash-separated
    dockerfile: bytes  # read before .dockerignore may remove it from the context
    owned: bool = True  # remove root on close()
    sums: Mapping[str, str] = field(default_factory=dict)  # tarsum v1 per entry (tar contexts only)

    def close(self) -> None:
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)


def _decompressed(stream: IO[bytes]) -> IO[bytes]:
    head = _peek(stream, 4)
    if head.startswith(_ZSTD_MAGIC):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(stream)
    return stream


class _Prefixed(io.RawIOBase):
    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self.prefix = prefix
        self.rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.prefix:
            n = min(len(b), len(self.prefix))
            b[:n] = self.prefix[:n]
            self.prefix = self.prefix[n:]
            return n
        data = self.rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def _peek(stream: IO[bytes], n: int) -> bytes:
    peek = getattr(stream, "peek", None)
    if peek is not None:
        return bytes(peek(n)[:n])
    return b""


def tarsum_v1_header(m: tarfile.TarInfo) -> bytes:
    """The header part of Docker's tarsum v1 file sum (what dockerd hashes for COPY's history)."""
    name = m.name + "/" if m.isdir() and not m.name.endswith("/") else m.name
    typeflag = m.type.decode("latin-1") if m.type != tarfile.AREGTYPE else "0"
    fields = [
        ("name", name), ("mode", str(m.mode)), ("uid", str(m.uid)), ("gid", str(m.gid)),
        ("size", str(m.size)), ("typeflag", typeflag), ("linkname", m.linkname),
        ("uname", m.uname), ("gname", m.gname), ("devmajor", str(m.devmajor)), ("devminor", str(m.devminor)),
    ]  # fmt: skip
    xattrs = sorted(
        (k.removeprefix("SCHILY.xattr."), v)
        for k, v in m.pax_headers.items()
        if k.startswith("SCHILY.xattr.")
    )
    return "".join(k + v for k, v in (*fields, *xattrs)).encode("utf-8", "surrogateescape")


def untar(stream: IO[bytes], dest: Path, *, owners: bool = False, sums: dict[str, str] | None = None) -> None:
    """Unpack a (possibly compressed) tar stream into ``dest``, refusing any escape.

    ``owners`` keeps the archive's uid/gid (ADD of a local archive does; a context does not).
    ``sums`` receives Docker's tarsum v1 of every entry, keyed by its cleaned relative path."""
    if not hasattr(stream, "peek"):
        stream = io.BufferedReader(_Prefixed(b"", stream))
    stream = _decompressed(stream)
    dest = dest.resolve()
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                h = None
                if sums is not None:
                    h = hashlib.sha256(tarsum_v1_header(member))
                _extract_member(tar, member, dest, h)
                if h is not None and sums is not None:
                    key = posixpath.normpath("/" + member.name).lstrip("/") or "."
                    sums[key] = h.hexdigest()
                if owners and os.geteuid() == 0:
                    target = _safe_target(dest, member.name)
                    if target != dest and os.path.lexists(target):
                        os.lchown(target, member.uid, member.gid)
    except tarfile.TarError as e:
        raise ContextError(f"failed to read build context: {e}") from None


def _safe_target(dest: Path, name: str) -> Path:
    clean = go_clean("/" + name).lstrip("/")
    if not clean or clean == ".":
        return dest
    target = dest / clean
    parent = target.parent.resolve()
    if parent != dest and dest not in parent.parents:
        raise ContextError(f'"{name}" is outside of "{dest}"')
    return parent / target.name


def _extract_member(tar: tarfile.TarFile, m: tarfile.TarInfo, dest: Path, h: Any = None) -> None:
    rel = go_clean(m.name)
    if rel.startswith("../") or rel == "..":
        raise ContextError(f'"{m.name}" is outside of "{dest}"')
    target = _safe_target(dest, m.name)
    if target == dest:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    _safe_target(dest, m.name)  # parents may have been created through a symlink just now
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()
    mode = m.mode & 0o7777
    if m.isdir():
        target.mkdir(exist_ok=True)
        os.chmod(target, mode or 0o755)
    elif m.isreg():
        src = tar.extractfile(m)
        assert src is not None
        with open(target, "wb") as f:
            if h is None:
                shutil.copyfileobj(src, f, 1 << 20)
            else:
                while chunk := src.read(1 << 20):
                    h.update(chunk)
                    f.write(chunk)
        os.chmod(target, mode)
        os.utime(target, (m.mtime, m.mtime))
    elif m.issym():
        os.symlink(m.linkname, target)
    elif m.islnk():
        link = _safe_target(dest, m.linkname)
        if not link.exists():
            raise ContextError(f'invalid hardlink "{m.name}" -> "{m.linkname}"')
        os.link(link, target)
    # device nodes and fifos have no place in a build context: skipped


def _locate_dockerfile(root: Path, name: str) -> tuple[Path, str]:
    name = name or "Dockerfile"
    rel = go_clean(name.replace("\\", "/")).lstrip("/")
    candidate = _safe_target(root, rel)
    if candidate.is_file():
        return candidate, rel
    if name == "Dockerfile":
        lower = root / "dockerfile"
        if lower.is_file():
            return lower, "dockerfile"
    raise NotFound(f"Cannot locate specified Dockerfile: {name}")


def _remove_ignored_build_files(root: Path, dockerfile_rel: str) -> None:
    patterns = read_ignore_file(root / ".dockerignore")
    if not patterns:
        return
    m = IgnoreMatcher(patterns)
    for rel in (".dockerignore", dockerfile_rel):
        if m.matches(rel):
            p = root / rel
            if p.is_file() or p.is_symlink():
                p.unlink()


SMALL_CONTEXT = 64 << 20
"""A context tar up to this size is unpacked in memory (/dev/shm): no disk writes for it at all."""


def _memory_dir() -> str | None:
    shm = "/dev/shm"
    try:
        st = os.statvfs(shm)
    except OSError:
        return None
    if st.f_bavail * st.f_frsize < 4 * SMALL_CONTEXT or not os.access(shm, os.W_OK):
        return None
    return shm


def extract_context(
    stream: IO[bytes], dockerfile: str = "Dockerfile", tmp_root: str | os.PathLike[str] | None = None
) -> BuildContext:
    """POST /build's body -> a BuildContext in a fresh temp dir (removed by close()).

    Without ``tmp_root``, a small context (the whole body read within SMALL_CONTEXT bytes) goes to
    /dev/shm when it has room, else to the default temp dir."""
    if tmp_root is None:
        head = stream.read(SMALL_CONTEXT + 1)
        if len(head) <= SMALL_CONTEXT:
            tmp_root = _memory_dir()
            stream = io.BytesIO(head)
        else:
            stream = io.BufferedReader(_Prefixed(head, stream))
    root = Path(tempfile.mkdtemp(prefix="skiff-build-", dir=tmp_root))
    sums: dict[str, str] = {}
    try:
        untar(stream, root, sums=sums)
        path, rel = _locate_dockerfile(root.resolve(), dockerfile)
        data = path.read_bytes()
        _remove_ignored_build_files(root.resolve(), rel)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return BuildContext(root.resolve(), rel, data, sums=sums)


def open_context_dir(root: str | os.PathLike[str], dockerfile: str = "Dockerfile") -> BuildContext:
    """A directory already on disk (tests, the CLI's local builds); never removed."""
    base = Path(root).resolve()
    path, rel = _locate_dockerfile(base, dockerfile)
    return BuildContext(base, rel, path.read_bytes(), owned=False)
