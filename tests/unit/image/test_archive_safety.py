"""Uploaded archives (docker load) never write outside their extraction directory."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from skiff.image.errors import InvalidArchive
from skiff.image.transports.docker_archive import archive_sources, extract_archive


def _tar(entries: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for ti in entries:
            payload = (data or {}).get(ti.name)
            if payload is not None:
                ti.size = len(payload)
                tf.addfile(ti, io.BytesIO(payload))
            else:
                tf.addfile(ti)
    buf.seek(0)
    return buf


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = kind, link
    return ti


@pytest.mark.parametrize("entries", [
    [_entry("/abs")],
    [_entry("../up")],
    [_entry("a/../../up")],
    [_entry("ok"), _entry("evil", tarfile.SYMTYPE, "../../etc/passwd")],
    [_entry("ok"), _entry("evil", tarfile.LNKTYPE, "/etc/passwd")],
    [_entry("evil", tarfile.SYMTYPE, "/etc/passwd")],
])
def test_escapes_refused(tmp_path: Path, entries: list[tarfile.TarInfo]) -> None:
    dest = tmp_path / "x" / "dest"
    with pytest.raises(InvalidArchive):
        extract_archive(_tar(entries, {"ok": b"1", "/abs": b"1", "../up": b"1", "a/../../up": b"1"}), dest)
    assert not (tmp_path / "x" / "up").exists() and not (tmp_path / "up").exists()
    assert not (tmp_path / "abs").exists()


def test_links_inside_are_resolved(tmp_path: Path) -> None:
    entries = [_entry("a/layer.tar"), _entry("b/layer.tar", tarfile.SYMTYPE, "../a/layer.tar"),
               _entry("c", tarfile.LNKTYPE, "a/layer.tar")]
    dest = tmp_path / "d"
    extract_archive(_tar(entries, {"a/layer.tar": b"L"}), dest)
    assert (dest / "b/layer.tar").read_bytes() == b"L" and not (dest / "b/layer.tar").is_symlink()
    assert (dest / "c").read_bytes() == b"L"


def test_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(InvalidArchive):
        extract_archive(io.BytesIO(b"not a tar at all" * 100), tmp_path / "d")
    (tmp_path / "e").mkdir()
    with pytest.raises(InvalidArchive, match=r"neither manifest\.json nor index\.json"):
        archive_sources(tmp_path / "e")
