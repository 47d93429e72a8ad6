"""Untrusted layers never write outside their directory: each escape is refused, canary untouched."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from skiff.errors import InvalidParameter
from skiff.storage import UnsafeEntry, apply_layer
from tests.integration.storage.tarbuild import E, d, file, hard, make_tar, sym, wh


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """A directory beside the destination that no layer may touch (checked after each test)."""
    c = tmp_path / "canary"
    c.mkdir()
    (c / "passwd").write_text("root:x:0:0\n")
    return c


def snapshot(p: Path) -> dict[str, tuple[int, int, bytes]]:
    out = {}
    for root, dirs, files in os.walk(p):
        for n in dirs + files:
            full = os.path.join(root, n)
            st = os.lstat(full)
            data = Path(full).read_bytes() if os.path.isfile(full) and not os.path.islink(full) else b""
            out[os.path.relpath(full, p)] = (st.st_mode, st.st_nlink, data)
    return out


MALICIOUS = {
    "dotdot": [file("../canary/evil", b"x")],
    "dotdot-deep": [d("a"), file("a/../../canary/evil", b"x")],
    "absolute": [file("/tmp/skiff-evil-absolute", b"x")],
    "symlink-then-write": [sym("link", "../canary"), file("link/evil", b"x")],
    "symlink-abs-then-write": [sym("link", "/"), file("link/tmp/skiff-evil", b"x")],
    "symlink-dir-outside-then-file": [sym("etc", "../canary"), d("etc/sub"), file("etc/sub/evil", b"x")],
    "hardlink-etc-passwd": [hard("pw", "/etc/passwd")],
    "hardlink-dotdot": [hard("pw", "../canary/passwd")],
    "hardlink-through-symlink": [sym("l", "../canary"), hard("pw", "l/passwd")],
    "whiteout-dotdot": [wh("../.wh.canary")],
    "whiteout-name-dotdot": [d("a"), wh("a/.wh..")],
    "whiteout-through-symlink": [sym("l", "../canary"), wh("l/.wh.passwd")],
    "opaque-through-symlink": [sym("l", "../canary"), wh("l/.wh..wh..opq")],
}


@pytest.mark.parametrize("overlay", [False, True], ids=["vfs", "overlay"])
@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_layer_refused(case: str, overlay: bool, tmp_path: Path, canary: Path) -> None:
    if overlay and os.geteuid() != 0:
        pytest.skip("overlay whiteouts need root")
    dest = tmp_path / "dest"
    dest.mkdir()
    before = snapshot(canary)
    with pytest.raises(InvalidParameter) as exc:
        apply_layer(dest, io.BytesIO(make_tar(MALICIOUS[case])), overlay_whiteouts=overlay)
    assert isinstance(exc.value, UnsafeEntry)
    assert any(f"refusing layer entry {e.name!r}" in str(exc.value) for e in MALICIOUS[case][1:] or MALICIOUS[case])
    assert snapshot(canary) == before
    assert not os.path.lexists("/tmp/skiff-evil-absolute") and not os.path.lexists("/tmp/skiff-evil")


def test_symlink_planted_in_lower_layer_refused(tmp_path: Path, canary: Path) -> None:
    """vfs applies onto a copy of the parent: a symlink already there cannot be walked through."""
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink("../canary", dest / "lib")
    before = snapshot(canary)
    with pytest.raises(UnsafeEntry):
        apply_layer(dest, io.BytesIO(make_tar([file("lib/evil", b"x")])), overlay_whiteouts=False)
    with pytest.raises(UnsafeEntry):
        apply_layer(dest, io.BytesIO(make_tar([wh("lib/.wh.passwd")])), overlay_whiteouts=False)
    assert snapshot(canary) == before


def test_replacing_a_symlink_writes_inside(tmp_path: Path, canary: Path) -> None:
    """An entry at a symlink's own path replaces the link; it never writes to the link's target."""
    dest = tmp_path / "dest"
    dest.mkdir()
    layer = make_tar([sym("f", "../canary/passwd"), file("f", b"mine"), sym("g", "../canary"), d("g")])
    apply_layer(dest, io.BytesIO(layer), overlay_whiteouts=False)
    assert (dest / "f").read_bytes() == b"mine" and not (dest / "f").is_symlink()
    assert (dest / "g").is_dir() and not (dest / "g").is_symlink()
    assert (canary / "passwd").read_text() == "root:x:0:0\n"


def test_device_nodes_need_root(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("runs as non-root only")
    with pytest.raises(UnsafeEntry):
        apply_layer(tmp_path, io.BytesIO(make_tar([E("null", "char", dev=(1, 3))])),
                    overlay_whiteouts=False)


def test_aufs_metadata_is_skipped(tmp_path: Path) -> None:
    """Old AUFS-era layers carry .wh..wh..plnk/.wh..wh..aufs bookkeeping; Docker skips it."""
    layer = make_tar([d(".wh..wh..plnk"), file(".wh..wh..plnk/123.456", b"x"), file(".wh..wh..aufs"),
                      d("a"), file("a/.wh..wh..orph", b""), file("a/real", b"r")])
    apply_layer(tmp_path, io.BytesIO(layer), overlay_whiteouts=False)
    assert sorted(os.listdir(tmp_path)) == ["a"] and os.listdir(tmp_path / "a") == ["real"]
