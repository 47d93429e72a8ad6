"""COPY and ADD as steps: sources, the content hash in the history line, the cache, the copy.

History: ``/bin/sh -c #(nop) COPY [--chown=u:g ]file:<sha256> in <dest> `` (the classic form;
``dir:`` for a directory, ``multi:`` for several sources). Errors read "COPY failed: ...".
"""

from __future__ import annotations

import hashlib
import posixpath
import time
import urllib.parse
import urllib.request
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING

from skiff.build.copy import (
    Owner,
    Source,
    context_hash,
    copy_source,
    find_sources,
    hash_source,
    hash_sources,
    image_hash,
    parse_chmod,
    resolve_owner,
    write_file,
)
from skiff.build.dispatch import nop_line_single
from skiff.build.dockerignore import IgnoreMatcher
from skiff.build.instructions import AddInstruction, CopyInstruction
from skiff.errors import InvalidParameter, SkiffError, Unimplemented

if TYPE_CHECKING:
    from skiff.build.steps import StepRunner

__all__ = ["copy_step", "is_url", "is_git"]


class CopyFailed(InvalidParameter):
    pass


def is_url(s: str) -> bool:
    return s.startswith(("http://", "https://"))


def is_git(s: str) -> bool:
    return s.startswith(("git@", "git://")) or (s.endswith(".git") and is_url(s))


def _download(url: str, dest_dir: Path, checksum: str) -> tuple[Path, str, float | None]:
    """Fetch an ADD URL; returns the file, the name Docker would use, and Last-Modified."""
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            h = hashlib.sha256()
            path = dest_dir / "download"
            with open(path, "wb") as f:
                while chunk := resp.read(1 << 20):
                    h.update(chunk)
                    f.write(chunk)
            last = resp.headers.get("Last-Modified")
    except OSError as e:
        raise CopyFailed(f"failed to GET {url}: {e}") from None
    if checksum:
        want = checksum.removeprefix("sha256:")
        if h.hexdigest() != want:
            raise CopyFailed(f"digest mismatch sha256:{h.hexdigest()}: sha256:{want}")
    mtime = None
    if last:
        try:
            mtime = parsedate_to_datetime(last).timestamp()
        except (TypeError, ValueError):
            mtime = None
    name = posixpath.basename(urllib.parse.urlparse(url).path.rstrip("/")) or "download"
    return path, name, mtime


def copy_step(runner: StepRunner, inst: CopyInstruction | AddInstruction) -> None:
    state = runner.state
    assert state is not None
    name = "ADD" if isinstance(inst, AddInstruction) else "COPY"
    _copy_step(runner, inst, name)


def _prefixed(name: str, e: SkiffError) -> CopyFailed:
    """Only source lookups say "COPY failed: ..." in the classic builder (calcCopyInfo)."""
    return CopyFailed(f"{name} failed: {e}")


def _copy_step(runner: StepRunner, inst: CopyInstruction | AddInstruction, name: str) -> None:
    state = runner.state
    assert state is not None
    inst = inst.expand_contents(state.expander())
    chmod = parse_chmod(inst.chmod)
    excludes = IgnoreMatcher(inst.excludes) if inst.excludes else None
    src_root = runner.context_root
    from_id = ""
    if isinstance(inst, CopyInstruction) and inst.from_:
        image = runner.source_image(inst.from_)
        from_id = image.id
        src_root = runner.view_of(image.id).rootfs
    items: list[tuple[str, Source | None, Path | None, str, float | None]] = []
    # (hash, source, downloaded file, file name, mtime)
    for s in inst.sources:
        if isinstance(inst, AddInstruction) and is_git(s):
            raise Unimplemented("ADD from a git repository is not supported by this builder")
        if isinstance(inst, AddInstruction) and is_url(s):
            try:
                path, fname, mtime = _download(s, runner.tmpdir(), inst.checksum)
            except SkiffError as e:
                raise _prefixed(name, e) from None
            h = hashlib.sha256(path.read_bytes()).hexdigest()
            items.append(("file:" + h, None, path, fname, mtime))
            continue
        if isinstance(inst, AddInstruction) and inst.checksum:
            raise InvalidParameter("checksum can't be specified for non-HTTP(S) sources")
        try:
            found_all = find_sources(src_root, s, excludes)
        except SkiffError as e:
            raise _prefixed(name, e) from None
        sums = runner.r.context.sums if src_root == runner.context_root else {}
        for found in found_all:
            if excludes:  # BuildKit-only flag: no classic hash to match
                h = hash_source(found, excludes)
            elif from_id:
                h = image_hash(src_root, found)
            elif sums:
                h = context_hash(src_root, found, sums)
            else:
                h = hash_source(found, excludes)
            items.append((h, found, None, "", None))
    for c in inst.contents:
        data = c.data.encode()
        items.append(("file:" + hashlib.sha256(data).hexdigest(), None, None, c.path, None))
    if len(items) > 1 and not inst.dest.endswith("/"):
        raise InvalidParameter(
            f"When using {name} with more than one source file, the destination must be a directory and end with a /"
        )
    src_hash = hash_sources([i[0] for i in items])
    chown_comment = f"--chown={inst.chown} " if inst.chown else ""
    created_by = nop_line_single(state, f"{name} {chown_comment}{src_hash} in {inst.dest} ")
    parents = isinstance(inst, CopyInstruction) and inst.parents
    extra = [f"chmod={inst.chmod}", f"from={from_id}", f"parents={parents}", f"link={inst.link}"]
    key = runner._key(created_by, *extra)
    if runner._probe(key, created_by):
        return
    workdir = state.config.working_dir or "/"
    dest = inst.dest
    if not dest.startswith("/"):
        trailing = dest.endswith("/")
        dest = posixpath.join("/", workdir, dest)
        dest = posixpath.normpath(dest) + ("/" if trailing else "")
    ws = runner.backend.prepare(state.image_id)
    try:
        owner = resolve_owner(ws.rootfs, inst.chown) if inst.chown else Owner(0, 0)
        contents = {c.path: c.data for c in inst.contents}
        unpack = isinstance(inst, AddInstruction) and inst.unpack is not False
        for _h, src, downloaded, fname, mtime in items:
            if src is not None:
                target = dest
                if parents and posixpath.dirname(src.rel):
                    target = posixpath.join(dest, posixpath.dirname(src.rel)) + "/"
                copy_source(
                    ws.rootfs, src, target, owner=owner, chmod=chmod, unpack=unpack, excludes=excludes
                )
            elif downloaded is not None:
                data = downloaded.read_bytes()
                write_file(ws.rootfs, dest, fname, data, owner=owner, mode=chmod or 0o600, mtime=mtime)
            else:
                write_file(
                    ws.rootfs, dest, fname, contents[fname].encode(), owner=owner,
                    mode=chmod if chmod is not None else 0o644, mtime=time.time(),
                )  # fmt: skip
        runner._commit(key, created_by, ws)
    except OSError as e:
        raise InvalidParameter(f"failed to copy files: {e}") from None
    finally:
        runner.backend.release(ws)
