"""The snapshotter conformance suite (containerd's testsuite), run against overlay2 and vfs."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

import pytest

from skiff.errors import Conflict, InvalidParameter, NotFound
from skiff.storage import Kind, Usage, mount_all, unmount_all
from skiff.storage.base import DirSnapshotter
from skiff.storage.mount import PAGE_LIMIT
from tests.integration.storage.conftest import KINDS, Mounter, prepare_and_fill

pytestmark = pytest.mark.root


def commit_layer(sn: DirSnapshotter, mounter: Mounter, name: str, parent: str | None,
                 files: dict[str, bytes | None]) -> str:
    prepare_and_fill(sn, mounter, f"{name}-active", parent, files)
    sn.commit(name, f"{name}-active")
    return name


def test_basic(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    commit_layer(snapshotter, mounter, "base", None, {"foo": b"foo\n", "a/b": b"b\n", "a/c": b"c\n"})
    with mounter.mounted(snapshotter.prepare("next", "base")) as root:
        assert (root / "foo").read_bytes() == b"foo\n"
        assert (root / "a/b").read_bytes() == b"b\n"
        (root / "bar").write_bytes(b"bar\n")
        (root / "a/c").unlink()
    snapshotter.commit("next-c", "next")
    with mounter.mounted(snapshotter.view("v", "next-c")) as root:
        assert sorted(os.listdir(root)) == ["a", "bar", "foo"]
        assert os.listdir(root / "a") == ["b"]
    with mounter.mounted(snapshotter.view("v-base", "base")) as root:  # parent untouched
        assert sorted(os.listdir(root / "a")) == ["b", "c"]
        assert not (root / "bar").exists()
    assert snapshotter.stat("next-c").parent == "base"


def test_stat_active(snapshotter: DirSnapshotter) -> None:
    snapshotter.prepare("act", None, labels={"x": "1"})
    info = snapshotter.stat("act")
    assert (info.kind, info.name, info.parent, dict(info.labels)) == (Kind.ACTIVE, "act", None, {"x": "1"})
    with pytest.raises(Conflict):
        snapshotter.prepare("act")


def test_stat_committed(snapshotter: DirSnapshotter) -> None:
    snapshotter.prepare("act")
    snapshotter.commit("done", "act", labels={"y": "2"})
    info = snapshotter.stat("done")
    assert (info.kind, info.name, info.parent) == (Kind.COMMITTED, "done", None)
    assert info.labels["y"] == "2"
    with pytest.raises(NotFound):
        snapshotter.stat("act")
    with pytest.raises(NotFound):
        snapshotter.mounts("act")
    with pytest.raises(InvalidParameter):  # a committed snapshot has no mounts
        snapshotter.mounts("done")


def test_view_needs_committed_parent(snapshotter: DirSnapshotter) -> None:
    snapshotter.prepare("act")
    with pytest.raises(InvalidParameter):
        snapshotter.view("v", "act")
    with pytest.raises(NotFound):
        snapshotter.prepare("x", "nope")
    snapshotter.view("v2")
    with pytest.raises(InvalidParameter):  # views cannot be committed
        snapshotter.commit("c", "v2")


def test_remove(snapshotter: DirSnapshotter) -> None:
    snapshotter.prepare("a")
    snapshotter.remove("a")
    with pytest.raises(NotFound):
        snapshotter.stat("a")
    with pytest.raises(NotFound):
        snapshotter.remove("a")
    snapshotter.prepare("b")
    snapshotter.commit("b-c", "b")
    snapshotter.remove("b-c")
    assert list(snapshotter.walk()) == []
    assert os.listdir(snapshotter.root / "snapshots") == []


def test_remove_with_children_refused(snapshotter: DirSnapshotter) -> None:
    snapshotter.prepare("a")
    snapshotter.commit("a-c", "a")
    snapshotter.prepare("child", "a-c")
    snapshotter.view("view", "a-c")
    with pytest.raises(Conflict):
        snapshotter.remove("a-c")
    snapshotter.remove("child")
    with pytest.raises(Conflict):
        snapshotter.remove("a-c")
    snapshotter.remove("view")
    snapshotter.remove("a-c")


def test_walk(snapshotter: DirSnapshotter) -> None:
    snapshotter.prepare("a")
    snapshotter.commit("a-c", "a")
    snapshotter.prepare("b", "a-c")
    snapshotter.view("v", "a-c")
    got = {(i.name, i.kind, i.parent) for i in snapshotter.walk()}
    assert got == {("a-c", Kind.COMMITTED, None), ("b", Kind.ACTIVE, "a-c"), ("v", Kind.VIEW, "a-c")}


def test_restart_sees_same_snapshots(snapshotter_kind: str, tmp_path: Path) -> None:
    sn = KINDS[snapshotter_kind](tmp_path / "root")
    sn.prepare("a")
    sn.commit("a-c", "a")
    sn.prepare("b", "a-c")
    before = sorted((i.name, i.kind.value, i.parent or "") for i in sn.walk())
    sn.close()
    (tmp_path / "root/snapshots/orphan-from-a-crash").mkdir()
    sn = KINDS[snapshotter_kind](tmp_path / "root")
    try:
        assert sorted((i.name, i.kind.value, i.parent or "") for i in sn.walk()) == before
        assert not (tmp_path / "root/snapshots/orphan-from-a-crash").exists()
        sn.mounts("b")
    finally:
        sn.close()


def test_chown(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    with mounter.mounted(snapshotter.prepare("a")) as root:
        (root / "dir").mkdir()
        (root / "dir/file").write_bytes(b"x")
        os.chown(root / "dir", 1000, 1001)
        os.chown(root / "dir/file", 1002, 1003)
    snapshotter.commit("a-c", "a")
    with mounter.mounted(snapshotter.prepare("b", "a-c")) as root:
        st = os.stat(root / "dir")
        assert (st.st_uid, st.st_gid) == (1000, 1001)
        os.chown(root / "dir/file", 2000, 2001)  # copy-up of metadata only
    snapshotter.commit("b-c", "b")
    with mounter.mounted(snapshotter.view("v", "b-c")) as root:
        st = os.stat(root / "dir/file")
        assert (st.st_uid, st.st_gid) == (2000, 2001)
        assert (root / "dir/file").read_bytes() == b"x"


def test_layer_file_update(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    commit_layer(snapshotter, mounter, "l1", None, {"etc/file": b"one"})
    commit_layer(snapshotter, mounter, "l2", "l1", {"etc/file": b"two"})
    commit_layer(snapshotter, mounter, "l3", "l2", {"etc/other": b"three"})
    with mounter.mounted(snapshotter.prepare("run", "l3")) as root:
        assert (root / "etc/file").read_bytes() == b"two"
        assert (root / "etc/other").read_bytes() == b"three"
    with mounter.mounted(snapshotter.view("v1", "l1")) as root:
        assert (root / "etc/file").read_bytes() == b"one"


def test_remove_directory_in_lower_layer(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    commit_layer(snapshotter, mounter, "l1", None, {"lib/a": b"a", "lib/sub/b": b"b", "keep": b"k"})
    commit_layer(snapshotter, mounter, "l2", "l1", {"lib": None})
    commit_layer(snapshotter, mounter, "l3", "l2", {"new": b"n"})
    with mounter.mounted(snapshotter.prepare("run", "l3")) as root:
        assert sorted(os.listdir(root)) == ["keep", "new"]
        (root / "lib").mkdir()  # recreating it must not resurrect the old content
        assert os.listdir(root / "lib") == []


def test_deleted_files_in_child_snapshot(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    commit_layer(snapshotter, mounter, "l1", None, {"a": b"a", "b": b"b", "d/c": b"c"})
    commit_layer(snapshotter, mounter, "l2", "l1", {"a": None, "d/c": None})
    with mounter.mounted(snapshotter.view("v", "l2")) as root:
        assert sorted(os.listdir(root)) == ["b", "d"]
        assert os.listdir(root / "d") == []


def test_move_directory(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    commit_layer(snapshotter, mounter, "l1", None, {"old/x": b"x", "old/sub/y": b"y"})
    with mounter.mounted(snapshotter.prepare("mv", "l1")) as root:
        # overlay (without redirect_dir, like Docker) answers EXDEV for a lower dir; mv copies
        shutil.move(root / "old", root / "new")
    snapshotter.commit("l2", "mv")
    with mounter.mounted(snapshotter.prepare("run", "l2")) as root:
        assert os.listdir(root) == ["new"]
        assert (root / "new/sub/y").read_bytes() == b"y"


def test_view_is_readonly(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    commit_layer(snapshotter, mounter, "l1", None, {"a": b"a"})
    commit_layer(snapshotter, mounter, "l2", "l1", {"b": b"b"})
    for key, parent in (("v1", "l1"), ("v2", "l2")):
        with mounter.mounted(snapshotter.view(key, parent)) as root:
            with pytest.raises(OSError) as exc:
                (root / "c").write_bytes(b"c")
            assert exc.value.errno == errno.EROFS


def test_128_layers_mount(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    parent = None
    for i in range(128):
        key = f"layer-{i}"
        snapshotter.prepare(key, parent)
        layer = snapshotter.layer_dirs(key).upper
        (layer / f"f{i:03}").write_text(str(i))
        if i == 64:
            (layer / "f000").write_text("overwritten")
        snapshotter.commit(f"layer-{i}-c", key)
        parent = f"layer-{i}-c"
    mounts = snapshotter.prepare("top", parent)
    if snapshotter_is_overlay(snapshotter):
        flags_data = mounts[0].flags_and_data()[1]
        assert len(flags_data) > PAGE_LIMIT  # proves the relative-path mount is exercised
    with mounter.mounted(mounts) as root:
        names = sorted(os.listdir(root))
        assert names == [f"f{i:03}" for i in range(128)]
        assert (root / "f000").read_text() == "overwritten"
        assert (root / "f127").read_text() == "127"
        (root / "written").write_text("ok")
    assert (snapshotter.layer_dirs("top").upper / "written").read_text() == "ok"


def snapshotter_is_overlay(sn: DirSnapshotter) -> bool:
    return "rebase" in sn.capabilities


def test_usage(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    commit_layer(snapshotter, mounter, "l1", None, {"big": b"x" * (1 << 20)})
    with mounter.mounted(snapshotter.prepare("a", "l1")) as root:
        (root / "small").write_bytes(b"y" * 4096)
        (root / "dir").mkdir()
    snapshotter.prepare("empty")
    assert snapshotter.usage("empty") == Usage(0, 0)  # only content counts, not bookkeeping
    base = snapshotter.usage("l1")
    assert base.size >= 1 << 20 and base.inodes >= 1
    use = snapshotter.usage("a")
    assert use.inodes >= 2
    if snapshotter_is_overlay(snapshotter):  # own layer only
        assert 4096 <= use.size < 1 << 20
    snapshotter.commit("a-c", "a")
    assert snapshotter.usage("a-c").inodes == use.inodes


def test_unmount_all_is_idempotent(tmp_path: Path, mounter: Mounter) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    from skiff.storage import Mount
    mount_all([Mount("bind", str(tmp_path / "src"), ("rbind", "ro"))], tmp_path / "dst")
    unmount_all(tmp_path / "dst")
    unmount_all(tmp_path / "dst")


def test_root_permission(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    with mounter.mounted(snapshotter.prepare("a")) as root:
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o755


def test_directory_permission_on_commit(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    with mounter.mounted(snapshotter.prepare("a")) as root:
        (root / "priv").mkdir(mode=0o700)
        os.chown(root / "priv", 5, 6)
        (root / "sticky").mkdir()
        os.chmod(root / "sticky", 0o1777)
    snapshotter.commit("a-c", "a")
    with mounter.mounted(snapshotter.prepare("b", "a-c")) as root:
        st = os.stat(root / "priv")
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o700, 5, 6)
        assert stat.S_IMODE(os.stat(root / "sticky").st_mode) == 0o1777


def test_remove_intermediate_snapshot(snapshotter: DirSnapshotter) -> None:
    snapshotter.prepare("a")
    snapshotter.commit("a-c", "a")
    snapshotter.prepare("b", "a-c")
    snapshotter.commit("b-c", "b")
    snapshotter.prepare("c", "b-c")
    for key in ("a-c", "b-c"):
        with pytest.raises(Conflict):
            snapshotter.remove(key)
    for key in ("c", "b-c", "a-c"):
        snapshotter.remove(key)
    assert list(snapshotter.walk()) == []


def test_keys_and_names_share_one_namespace(snapshotter: DirSnapshotter) -> None:
    snapshotter.prepare("a")
    snapshotter.commit("a-c", "a")
    with pytest.raises(Conflict):
        snapshotter.prepare("a-c", None)
    with pytest.raises(Conflict):
        snapshotter.view("a-c", "a-c")
    snapshotter.prepare("b", "a-c")
    with pytest.raises(Conflict):
        snapshotter.commit("a-c", "b")
    assert snapshotter.stat("b").kind is Kind.ACTIVE  # a failed commit leaves the active snapshot


def test_move_file_from_lower_layer(snapshotter: DirSnapshotter, mounter: Mounter) -> None:
    commit_layer(snapshotter, mounter, "l1", None, {"a/f": b"f", "b/keep": b"k"})
    with mounter.mounted(snapshotter.prepare("mv", "l1")) as root:
        os.rename(root / "a/f", root / "b/f")  # files copy up, so rename works on overlay
    snapshotter.commit("l2", "mv")
    with mounter.mounted(snapshotter.view("v", "l2")) as root:
        assert os.listdir(root / "a") == [] and sorted(os.listdir(root / "b")) == ["f", "keep"]


def test_close_twice(snapshotter_kind: str, tmp_path: Path) -> None:
    sn = KINDS[snapshotter_kind](tmp_path / "x")
    sn.close()
    sn.close()


def test_overlay_supported_probe(tmp_path: Path, mounter: Mounter) -> None:
    from skiff.storage import Overlay2Snapshotter, overlay_supported
    assert overlay_supported(tmp_path / "probe")
    assert os.listdir(tmp_path / "probe") == []  # the probe cleans up after itself
    sn = Overlay2Snapshotter(tmp_path / "ov")
    try:
        sn.prepare("a")
        sn.commit("a-c", "a")
        with mounter.mounted(sn.prepare("b", "a-c")) as root:
            assert not overlay_supported(root / "nested")  # an upper dir cannot live on overlayfs
    finally:
        sn.close()


def test_mount_all_with_sub_targets_and_rollback(tmp_path: Path, mounter: Mounter) -> None:
    from skiff.storage import Mount
    for d in ("a", "a/sub", "b", "dst"):
        (tmp_path / d).mkdir()
    (tmp_path / "b/file").write_text("b")
    dst = tmp_path / "dst"
    mount_all([Mount("bind", str(tmp_path / "a"), ("rbind",)),
               Mount("bind", str(tmp_path / "b"), ("rbind", "ro"), target="sub")], dst)
    try:
        assert (dst / "sub/file").read_text() == "b"
    finally:
        unmount_all(dst)
    assert not (dst / "sub").exists()
    with open("/proc/self/mountinfo") as f:
        assert str(dst) not in f.read()
    with pytest.raises(OSError):  # the second mount fails: the first is undone
        mount_all([Mount("bind", str(tmp_path / "a"), ("rbind",)),
                   Mount("bind", str(tmp_path / "missing"), ("rbind",), target="sub")], dst)
    with open("/proc/self/mountinfo") as f:
        assert str(dst) not in f.read()


def test_driver_name_and_status(snapshotter: DirSnapshotter) -> None:
    """What ``docker info`` shows as Storage Driver and its DriverStatus lines."""
    assert snapshotter.name in ("overlay2", "vfs")
    status = dict(snapshotter.status())
    if snapshotter.name == "overlay2":
        assert status["Native Overlay Diff"] == "true" and status["Backing Filesystem"]
    else:
        assert status == {}
