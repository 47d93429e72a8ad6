"""The streaming tar reader against what GNU tar writes: long names, sparse files, odd bytes."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from pathlib import Path

import pytest

from skiff.storage import apply_layer
from skiff.storage.archive.tarstream import BadTar


def gnu_tar(src: Path, out: Path, *args: str) -> bytes:
    xa = ["--xattrs"] if "--format=posix" in args else []
    subprocess.run(["tar", *xa, "-C", str(src), "-cf", str(out), *args, "."], check=True)
    return out.read_bytes()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    s = tmp_path / "src"
    deep = s / ("d" * 120) / ("e" * 120)
    deep.mkdir(parents=True)
    (deep / ("f" * 200)).write_bytes(b"long name")
    os.symlink("x" * 300, s / "longlink")
    (s / os.fsdecode(b"caf\xe9-latin1")).write_bytes(b"not utf-8 name")
    (s / "unicode-ü").write_bytes(b"u")
    with open(s / "sparse", "wb") as f:
        f.write(b"head")
        f.seek(5 << 20)
        f.write(b"middle")
        f.seek(11 << 20)
        f.write(b"tail")
    (s / "big").write_bytes(os.urandom(3 << 20) + b"x")
    os.link(s / "big", s / "big-link")
    os.utime(s / "big", (0, 8_000_000_000))  # past 2^33 - 1: a base-256 / pax mtime
    return s


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for base, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(base, n)
            st = os.lstat(p)
            data = Path(p).read_bytes() if os.path.isfile(p) and not os.path.islink(p) else (
                os.readlink(p) if os.path.islink(p) else None)
            mt = None if os.path.isdir(p) and not os.path.islink(p) else int(st.st_mtime)
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_size, data, mt)
    return out


@pytest.mark.parametrize("fmt", [["--format=gnu"], ["--format=posix"], ["--format=gnu", "--sparse"],
                                 ["--format=posix", "--sparse", "--sparse-version=1.0"]],
                         ids=["gnu", "posix", "gnu-sparse", "pax-sparse-1.0"])
def test_gnu_tar_formats(fmt: list[str], src: Path, tmp_path: Path) -> None:
    blob = gnu_tar(src, tmp_path / "t.tar", *fmt)
    dest = tmp_path / "dest"
    dest.mkdir()
    applied = apply_layer(dest, io.BytesIO(blob), overlay_whiteouts=False)
    assert applied.diff_id == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert tree(dest) == tree(src)
    st = os.lstat(dest / "sparse")
    if "--sparse" in fmt:
        assert st.st_blocks * 512 < (1 << 20)


def test_pax_sparse_0x_refused(src: Path, tmp_path: Path) -> None:
    blob = gnu_tar(src, tmp_path / "t.tar", "--format=posix", "--sparse", "--sparse-version=0.1")
    with pytest.raises(BadTar):
        apply_layer(tmp_path, io.BytesIO(blob), overlay_whiteouts=False)


def test_corrupt_and_truncated(tmp_path: Path, src: Path) -> None:
    blob = bytearray(gnu_tar(src, tmp_path / "t.tar"))
    (tmp_path / "a").mkdir()
    with pytest.raises(BadTar):
        apply_layer(tmp_path / "a", io.BytesIO(bytes(blob[:5000])), overlay_whiteouts=False)
    blob[100] ^= 0xFF  # mode field of the first header: checksum no longer matches
    (tmp_path / "b").mkdir()
    with pytest.raises(BadTar):
        apply_layer(tmp_path / "b", io.BytesIO(bytes(blob)), overlay_whiteouts=False)


def test_untrusted_sizes_are_bounded(tmp_path: Path) -> None:
    """A header claiming a 100 MiB PAX record is refused before anything is read into memory."""
    import tarfile
    ti = tarfile.TarInfo("././@PaxHeader")
    ti.type, ti.size = tarfile.XHDTYPE, 100 << 20
    with pytest.raises(BadTar):
        apply_layer(tmp_path, io.BytesIO(ti.tobuf(tarfile.USTAR_FORMAT) + bytes(1024)), overlay_whiteouts=False)
