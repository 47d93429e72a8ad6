"""Layer apply/diff: whiteouts through real mounts, metadata kept, compression, diff round trip."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest
import zstandard

from skiff.storage import (
    ChangeKind,
    Compression,
    DiffIDMismatch,
    LayerSource,
    UnsafeEntry,
    apply_layer,
    changes,
    unpack_layers,
    write_diff,
    write_tree,
)
from skiff.storage.base import DirSnapshotter
from skiff.sys import xattr
from tests.integration.storage.conftest import Mounter
from tests.integration.storage.tarbuild import E, d, file, hard, make_tar, sym, wh

pytestmark = pytest.mark.root


def source(data: bytes) -> LayerSource:
    return LayerSource("sha256:" + hashlib.sha256(data).hexdigest(), lambda: io.BytesIO(data))


def opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: path.open("rb")


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything a layer may carry, per path: type, mode, owner, content, link, device, xattrs."""
    out: dict[str, tuple[object, ...]] = {}
    for base, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(base, n)
            st = os.lstat(p)
            content: object = None
            if stat.S_ISREG(st.st_mode):
                content = Path(p).read_bytes()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(p)
            mtime = None if stat.S_ISDIR(st.st_mode) else int(st.st_mtime)
            xa = {k: xattr.get(p, k) for k in xattr.list_names(p) if not k.startswith("trusted.overlay.")}
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid, content, st.st_rdev, mtime,
                                             tuple(sorted(xa.items())))
    return out


LAYER1 = make_tar([d("a"), file("a/x", b"x"), file("a/y", b"y"), d("b"), file("b/z", b"z"), file("f", b"f"),
                   d("c"), file("c/keep", b"k")])
LAYER2 = make_tar([d("a"), wh("a/.wh.x"), wh(".wh.f"), d("b"), wh("b/.wh..wh..opq"), file("b/new", b"n"),
                   wh(".wh.c")])
LAYER3 = make_tar([file("f", b"f again"), d("c"), file("c/fresh", b"fr")])


def test_whiteouts_across_layers_through_a_real_mount(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    got = unpack_layers(snapshotter, [source(LAYER1), source(LAYER2), source(LAYER3)])
    assert [g.reused for g in got] == [False, False, False]
    with mounter.mounted(snapshotter.prepare("run", got[-1].chain_id)) as root:
        assert sorted(os.listdir(root)) == ["a", "b", "c", "f"]
        assert os.listdir(root / "a") == ["y"]
        assert os.listdir(root / "b") == ["new"]           # opaque: z is gone
        assert os.listdir(root / "c") == ["fresh"]         # deleted then recreated: keep is gone
        assert (root / "f").read_bytes() == b"f again"
    with mounter.mounted(snapshotter.view("mid", got[1].chain_id)) as root:
        assert sorted(os.listdir(root)) == ["a", "b"]
    if snapshotter.layer_dirs(got[1].chain_id).overlay:   # stored as overlay whiteouts
        upper = snapshotter.layer_dirs(got[1].chain_id).upper
        st = os.lstat(upper / "a/x")
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
        assert xattr.get(str(upper / "b"), "trusted.overlay.opaque") == b"y"
    again = unpack_layers(snapshotter, [source(LAYER1), source(LAYER2)])
    assert [g.reused for g in again] == [True, True]


def test_unpack_progress_in_threads(snapshotter: DirSnapshotter) -> None:
    blob = gzip.compress(LAYER1)
    seen: list[tuple[int, int]] = []
    unpack_layers(snapshotter, [LayerSource(source(LAYER1).diff_id, lambda: io.BytesIO(blob))],
                  progress=lambda i, n: seen.append((i, n)))
    assert seen and seen[-1] == (0, len(blob))


def test_unpack_refuses_bad_diff_id_and_leaves_nothing(snapshotter: DirSnapshotter) -> None:
    bad = LayerSource("sha256:" + "0" * 64, lambda: io.BytesIO(LAYER2))
    with pytest.raises(DiffIDMismatch):
        unpack_layers(snapshotter, [source(LAYER1), bad])
    names = [i.name for i in snapshotter.walk()]
    assert names == [source(LAYER1).diff_id] or names == []
    assert len(os.listdir(snapshotter.root / "snapshots")) == len(names)


def test_metadata_preserved(tmp_path: Path) -> None:
    cap = b"\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    layer = make_tar([
        d("dir", uid=1000, gid=1001, mtime=1_500_000_000),
        file("dir/suid", b"#!/bin/sh\n", mode=0o4755, uid=1002, gid=1003, mtime=1_400_000_000,
             xattrs={"user.note": b"hello", "security.capability": cap, "trusted.skiff": b"t"}),
        hard("dir/suid-link", "dir/suid"),
        sym("dir/ln", "suid"),
        E("dev/null", "char", mode=0o666, dev=(1, 3)),
        E("dev/loop9", "block", mode=0o660, dev=(7, 9), gid=6),
        E("dev/fifo", "fifo", mode=0o640),
        file("sparse", b"\0" * (3 << 20) + b"end"),
    ])
    dest = tmp_path / "dest"
    dest.mkdir()
    applied = apply_layer(dest, io.BytesIO(layer), overlay_whiteouts=False)
    assert applied.diff_id == "sha256:" + hashlib.sha256(layer).hexdigest()
    assert applied.size == len(layer)
    st = os.lstat(dest / "dir/suid")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)) == (0o4755, 1002, 1003, 1_400_000_000)
    assert st.st_nlink == 2 and os.lstat(dest / "dir/suid-link").st_ino == st.st_ino
    assert xattr.get(str(dest / "dir/suid"), "user.note") == b"hello"
    assert xattr.get(str(dest / "dir/suid"), "security.capability") == cap
    assert xattr.get(str(dest / "dir/suid"), "trusted.skiff") == b"t"
    dst = os.lstat(dest / "dir")
    assert (dst.st_uid, dst.st_gid, int(dst.st_mtime)) == (1000, 1001, 1_500_000_000)
    assert os.readlink(dest / "dir/ln") == "suid"
    nul = os.lstat(dest / "dev/null")
    assert stat.S_ISCHR(nul.st_mode) and os.major(nul.st_rdev) == 1 and os.minor(nul.st_rdev) == 3
    assert stat.S_IMODE(nul.st_mode) == 0o666
    loop = os.lstat(dest / "dev/loop9")
    assert stat.S_ISBLK(loop.st_mode) and loop.st_rdev == os.makedev(7, 9) and loop.st_gid == 6
    assert stat.S_ISFIFO(os.lstat(dest / "dev/fifo").st_mode)
    sp = os.lstat(dest / "sparse")
    assert sp.st_size == (3 << 20) + 3 and sp.st_blocks * 512 < (1 << 20)


@pytest.mark.parametrize("kind", [Compression.NONE, Compression.GZIP, Compression.ZSTD])
def test_compression_detected(kind: Compression, tmp_path: Path) -> None:
    blob = {Compression.NONE: LAYER1, Compression.GZIP: gzip.compress(LAYER1),
            Compression.ZSTD: zstandard.ZstdCompressor().compress(LAYER1)}[kind]
    applied = apply_layer(tmp_path, io.BytesIO(blob), overlay_whiteouts=False)
    assert applied.compression is kind
    assert applied.diff_id == "sha256:" + hashlib.sha256(LAYER1).hexdigest()
    assert (tmp_path / "a/x").read_bytes() == b"x"


def test_expected_diff_id_checked(tmp_path: Path) -> None:
    with pytest.raises(DiffIDMismatch):
        apply_layer(tmp_path, io.BytesIO(LAYER1), overlay_whiteouts=False, expected_diff_id="sha256:00")


def _mutate(root: Path) -> None:
    (root / "a/y").write_bytes(b"changed")            # modify
    (root / "a/x").unlink()                           # delete file
    shutil.rmtree(root / "b")                         # delete dir, then recreate: opaque on overlay
    (root / "b").mkdir()
    (root / "b/again").write_bytes(b"again")
    (root / "new/deep").mkdir(parents=True)           # add
    (root / "new/deep/file").write_bytes(b"n")
    os.link(root / "new/deep/file", root / "new/hl")
    os.symlink("../a/y", root / "new/sym")
    os.chown(root / "f", 1234, 4321)                  # metadata only
    os.setxattr(root / "c/keep", "user.k", b"v")
    os.mknod(root / "new/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))


def test_diff_round_trip(snapshotter: DirSnapshotter, mounter: Mounter, tmp_path: Path) -> None:
    """apply(diff(x)) == x: the parent's tree plus the diff equals the snapshot seen mounted."""
    base = unpack_layers(snapshotter, [source(LAYER1)])[-1].chain_id
    with mounter.mounted(snapshotter.prepare("ctr", base)) as root:
        _mutate(root)
        expected = tree(root)
    out = io.BytesIO()
    written = write_diff(snapshotter.layer_dirs("ctr"), out)
    blob = out.getvalue()
    assert written.diff_id == "sha256:" + hashlib.sha256(blob).hexdigest() and written.size == len(blob)
    again = io.BytesIO()
    assert write_diff(snapshotter.layer_dirs("ctr"), again).diff_id == written.diff_id  # deterministic
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    apply_layer(rebuilt, io.BytesIO(LAYER1), overlay_whiteouts=False)
    apply_layer(rebuilt, io.BytesIO(blob), overlay_whiteouts=False)
    assert tree(rebuilt) == expected
    # and as a new layer in the same snapshotter, seen through a real mount
    top = unpack_layers(snapshotter, [source(LAYER1), source(blob)])[-1].chain_id
    with mounter.mounted(snapshotter.view("check", top)) as root:
        assert tree(root) == expected

    got = {c.path: c.kind for c in changes(snapshotter.layer_dirs("ctr"))}
    assert got["/a/y"] == ChangeKind.MODIFIED and got["/a/x"] == ChangeKind.DELETED
    assert got["/new"] == ChangeKind.ADDED and got["/new/deep/file"] == ChangeKind.ADDED
    assert got["/f"] == ChangeKind.MODIFIED and got["/a"] == ChangeKind.MODIFIED
    assert got["/b/z"] == ChangeKind.DELETED and got["/b/again"] == ChangeKind.ADDED
    assert "/c" in got and got["/c/keep"] == ChangeKind.MODIFIED


def test_unpack_in_child_processes(snapshotter: DirSnapshotter, mounter: Mounter, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Blob files are extracted by worker processes; their errors come back as the same classes."""
    monkeypatch.setattr("skiff.storage.unpack.PROCESS_MIN_BYTES", 0)
    blobs = []
    for i, layer in enumerate((LAYER1, gzip.compress(LAYER2), zstandard.ZstdCompressor().compress(LAYER3))):
        (tmp_path / f"blob{i}").write_bytes(layer)
        blobs.append(tmp_path / f"blob{i}")
    diff_ids = [source(x).diff_id for x in (LAYER1, LAYER2, LAYER3)]
    layers = [LayerSource(d, opener(p)) for d, p in zip(diff_ids, blobs, strict=True)]
    seen: dict[int, int] = {}
    got = unpack_layers(snapshotter, layers, progress=lambda i, n: seen.__setitem__(i, max(n, seen.get(i, 0))))
    assert [g.diff_id for g in got] == diff_ids and got[0].size == len(LAYER1)
    assert seen == {i: p.stat().st_size for i, p in enumerate(blobs)}
    with mounter.mounted(snapshotter.view("v", got[-1].chain_id)) as root:
        assert sorted(os.listdir(root)) == ["a", "b", "c", "f"]
        assert os.listdir(root / "b") == ["new"]

    evil = tmp_path / "evil"
    evil.write_bytes(make_tar([sym("l", "/"), file("l/tmp/skiff-evil-worker", b"x")]))
    with pytest.raises(UnsafeEntry) as exc:
        unpack_layers(snapshotter, [LayerSource(source(evil.read_bytes()).diff_id, lambda: evil.open("rb"))])
    assert "refusing layer entry 'l/tmp/skiff-evil-worker'" in str(exc.value)
    assert not os.path.lexists("/tmp/skiff-evil-worker")
    with pytest.raises(DiffIDMismatch):
        unpack_layers(snapshotter, [LayerSource("sha256:" + "1" * 64, lambda: blobs[0].open("rb"))])


def test_write_tree_exports_the_merged_view(snapshotter: DirSnapshotter, mounter: Mounter, tmp_path: Path) -> None:
    top = unpack_layers(snapshotter, [source(LAYER1), source(LAYER2), source(LAYER3)])[-1].chain_id
    out = io.BytesIO()
    with mounter.mounted(snapshotter.view("export", top)) as root:
        write_tree(root, out)
        expected = tree(root)
    (tmp_path / "x").mkdir()
    apply_layer(tmp_path / "x", io.BytesIO(out.getvalue()), overlay_whiteouts=False)
    assert tree(tmp_path / "x") == expected


def test_child_snapshot_keeps_everything(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    """vfs copies (cp -a) and overlay lowers must both show the layer's metadata unchanged."""
    cap = b"\x01\x00\x00\x02\x00\x04\x00\x00" + b"\x00" * 12
    layer = make_tar([
        d("bin", mtime=1_500_000_000),
        file("bin/ping", b"elf", mode=0o4755, uid=0, gid=0, xattrs={"security.capability": cap}),
        hard("bin/ping6", "bin/ping"),
        file("home/u/.profile", b"p", mode=0o600, uid=1000, gid=1000,
             xattrs={"user.a": b"1", "trusted.b": b"2"}),
        E("dev/console", "char", mode=0o620, dev=(5, 1), gid=5),
        sym("lib", "usr/lib"),
        file("sparse", b"\0" * (2 << 20)),
    ])
    top = unpack_layers(snapshotter, [source(layer)])[-1].chain_id
    with mounter.mounted(snapshotter.prepare("child", top)) as root:
        expected = tree(root)
        ping = os.lstat(root / "bin/ping")
        assert stat.S_IMODE(ping.st_mode) == 0o4755 and ping.st_nlink == 2
        assert xattr.get(str(root / "bin/ping"), "security.capability") == cap
        assert xattr.get(str(root / "home/u/.profile"), "trusted.b") == b"2"
        assert os.lstat(root / "dev/console").st_rdev == os.makedev(5, 1)
        assert os.readlink(root / "lib") == "usr/lib"
        assert int(os.lstat(root / "bin").st_mtime) == 1_500_000_000
    snapshotter.commit("child-c", "child")
    with mounter.mounted(snapshotter.view("grandchild", "child-c")) as root:
        assert tree(root) == expected


@pytest.mark.slow
def test_very_deep_tree_applies_and_is_removed(snapshotter: DirSnapshotter) -> None:
    """Deeper than Python recursion: applying, replacing and removing still work."""
    deep = "/".join(["d"] * 1100)
    layer = make_tar([file(f"{deep}/f", b"x")])
    top = unpack_layers(snapshotter, [source(layer)])[-1].chain_id
    replace = make_tar([file("d", b"now a file")])  # on vfs this removes the whole deep tree
    top2 = unpack_layers(snapshotter, [source(layer), source(replace)])[-1].chain_id
    snapshotter.remove(top2)
    snapshotter.remove(top)
    assert os.listdir(snapshotter.root / "snapshots") == []


def test_opaque_dir_with_many_kept_subdirs(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    """More directories than the walker caches: opaque clearing must keep its own handles."""
    low = make_tar([d("o"), *[file(f"o/s{i}/old", b"o") for i in range(100)], file("o/gone", b"g")])
    up = make_tar([d("o"), *[e for i in range(100) for e in (d(f"o/s{i}"), file(f"o/s{i}/new", b"n"))],
                   wh("o/.wh..wh..opq")])
    top = unpack_layers(snapshotter, [source(low), source(up)])[-1].chain_id
    with mounter.mounted(snapshotter.view("v", top)) as root:
        assert len(os.listdir(root / "o")) == 100
        assert all(os.listdir(root / "o" / f"s{i}") == ["new"] for i in range(100))


MERGED_USR = make_tar([d("usr"), d("usr/bin"), file("usr/bin/sh", b"sh"), sym("bin", "usr/bin")])


@pytest.mark.parametrize("workers", [False, True], ids=["threads", "processes"])
@pytest.mark.parametrize("same_call", [True, False], ids=["one-unpack", "base-already-there"])
def test_writing_through_a_lower_symlink_is_refused(snapshotter: DirSnapshotter, same_call: bool, workers: bool,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bin/app over a base where bin -> usr/bin: refused by both snapshotters, never shadowed."""
    monkeypatch.setattr("skiff.storage.unpack.PROCESS_MIN_BYTES", 0 if workers else 1 << 62)
    (tmp_path / "base").write_bytes(MERGED_USR)
    (tmp_path / "app").write_bytes(make_tar([file("bin/app", b"app")]))
    base, app = (LayerSource(source(p.read_bytes()).diff_id, opener(p)) for p in (tmp_path / "base", tmp_path / "app"))
    if not same_call:
        unpack_layers(snapshotter, [base])
    with pytest.raises(UnsafeEntry) as exc:
        unpack_layers(snapshotter, [base, app])
    assert "bin" in str(exc.value) and "symlink" in str(exc.value)
    assert {i.name for i in snapshotter.walk()} <= {source(MERGED_USR).diff_id}


def test_explicit_dir_replaces_a_lower_symlink(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    app = make_tar([d("bin"), file("bin/app", b"app")])
    top = unpack_layers(snapshotter, [source(MERGED_USR), source(app)])[-1].chain_id
    with mounter.mounted(snapshotter.view("v", top)) as root:
        assert not (root / "bin").is_symlink() and os.listdir(root / "bin") == ["app"]
        assert (root / "usr/bin/sh").exists()


def test_concurrent_unpacks_of_one_image_share_the_layers(snapshotter: DirSnapshotter) -> None:
    from concurrent.futures import ThreadPoolExecutor
    srcs = [source(LAYER1), source(LAYER2), source(LAYER3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: unpack_layers(snapshotter, srcs), range(3)))
    assert len({tuple(u.chain_id for u in r) for r in results}) == 1
    assert sorted(i.name for i in snapshotter.walk()) == sorted(u.chain_id for u in results[0])
    assert len(os.listdir(snapshotter.root / "snapshots")) == 3
