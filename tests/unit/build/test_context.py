"""The API's context tar: compression, Dockerfile lookup, .dockerignore removal, no escapes."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from pathlib import Path

import pytest

from skiff.build.context import ContextError, extract_context, open_context_dir
from skiff.errors import NotFound

Entry = tuple[str, bytes | None, bytes, str]


def tar_of(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data, kind, link in entries:
            ti = tarfile.TarInfo(name)
            ti.type = kind
            ti.linkname = link
            ti.mode = 0o644
            if data is not None:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    return buf.getvalue()


def reg(name: str, data: bytes = b"x") -> Entry:
    return (name, data, tarfile.REGTYPE, "")


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, bz2.compress, lzma.compress])
def test_compressed_contexts(compress) -> None:  # type: ignore[no-untyped-def]
    raw = tar_of([reg("Dockerfile", b"FROM x\n"), reg("src/a.txt", b"hi")])
    ctx = extract_context(io.BytesIO(compress(raw)))
    try:
        assert ctx.dockerfile == b"FROM x\n" and ctx.dockerfile_name == "Dockerfile"
        assert (ctx.root / "src/a.txt").read_bytes() == b"hi"
    finally:
        ctx.close()
    assert not ctx.root.exists()


def test_dockerfile_path_and_lowercase_fallback() -> None:
    ctx = extract_context(
        io.BytesIO(tar_of([reg("build/app.Dockerfile", b"FROM y\n")])), "build/app.Dockerfile"
    )
    assert ctx.dockerfile == b"FROM y\n"
    ctx.close()
    ctx = extract_context(io.BytesIO(tar_of([reg("dockerfile", b"FROM z\n")])))
    assert ctx.dockerfile_name == "dockerfile"
    ctx.close()
    with pytest.raises(NotFound, match="Cannot locate specified Dockerfile: Other"):
        extract_context(io.BytesIO(tar_of([reg("Dockerfile")])), "Other")


def test_ignored_dockerfile_and_dockerignore_are_removed_from_the_context() -> None:
    data = tar_of(
        [reg("Dockerfile", b"FROM x\n"), reg(".dockerignore", b"Dockerfile\n.dockerignore\n"), reg("a")]
    )
    ctx = extract_context(io.BytesIO(data))
    try:
        assert ctx.dockerfile == b"FROM x\n"
        assert sorted(p.name for p in ctx.root.iterdir()) == ["a"]
    finally:
        ctx.close()


@pytest.mark.parametrize(
    "entries",
    [
        [reg("../escape")],
        [("l", None, tarfile.SYMTYPE, "/etc"), reg("l/passwd")],
        [("l", None, tarfile.SYMTYPE, "../../.."), reg("l/x")],
    ],
)
def test_escapes_are_refused(entries: list[Entry], tmp_path: Path) -> None:
    with pytest.raises(ContextError, match="is outside of"):
        extract_context(io.BytesIO(tar_of([reg("Dockerfile"), *entries])), tmp_root=tmp_path)
    assert list(tmp_path.iterdir()) == []  # the temp dir is cleaned up


def test_hardlink_outside_is_refused() -> None:
    with pytest.raises(ContextError, match="invalid hardlink"):
        extract_context(
            io.BytesIO(tar_of([reg("Dockerfile"), ("h", None, tarfile.LNKTYPE, "../../etc/passwd")]))
        )


def test_garbage_is_a_clear_error() -> None:
    with pytest.raises(ContextError, match="failed to read build context"):
        extract_context(io.BytesIO(b"not a tar at all" * 100))


def test_open_context_dir_is_not_removed(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    ctx = open_context_dir(tmp_path)
    ctx.close()
    assert (tmp_path / "Dockerfile").exists()


def test_small_contexts_in_memory_large_ones_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    import skiff.build.context as c

    data = tar_of([reg("Dockerfile", b"FROM x\n"), reg("big", b"y" * 4096)])
    ctx = extract_context(io.BytesIO(data))
    try:
        if c._memory_dir():
            assert str(ctx.root).startswith("/dev/shm/")
    finally:
        ctx.close()
    monkeypatch.setattr(c, "SMALL_CONTEXT", 1024)  # the body is bigger: prefix + rest streamed to disk
    ctx = extract_context(io.BytesIO(data))
    try:
        assert not str(ctx.root).startswith("/dev/shm/")
        assert (ctx.root / "big").read_bytes() == b"y" * 4096 and ctx.dockerfile == b"FROM x\n"
    finally:
        ctx.close()
