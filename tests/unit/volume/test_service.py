"""VolumeService over the local driver with the kernel faked (skiff.sys.mount recorded, not called):
names, labels, references, mounts counted per container, removal rules, copy-up, persistence."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from skiff.errors import Conflict, InvalidParameter, NotFound, System
from skiff.volume.drivers import check_driver
from skiff.volume.drivers import local as local_mod
from skiff.volume.drivers.local import LocalDriver
from skiff.volume.service import ANONYMOUS_LABEL, VolumeMeta, VolumeService, copy_up, dir_size


class MemoryCatalog:
    def __init__(self) -> None:
        self.rows: dict[str, VolumeMeta] = {}

    def load(self) -> list[VolumeMeta]:
        return list(self.rows.values())

    def put(self, meta: VolumeMeta) -> None:
        self.rows[meta.name] = meta

    def delete(self, name: str) -> None:
        self.rows.pop(name, None)


class FakeKernel:
    """Stands in for mount(2)/umount2(2) and mountinfo: a set of mounted paths."""

    def __init__(self) -> None:
        self.mounted: set[str] = set()
        self.calls: list[tuple[str, ...]] = []

    def mount(self, device: str, target: str, fstype: str, options: str) -> None:
        self.calls.append(("mount", device, target, fstype, options))
        self.mounted.add(os.path.realpath(target))

    def umount(self, target: str) -> None:
        self.calls.append(("umount", target))
        self.mounted.discard(os.path.realpath(target))


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> FakeKernel:
    k = FakeKernel()
    monkeypatch.setattr(local_mod, "is_mountpoint", lambda p: os.path.realpath(p) in k.mounted)
    return k


@pytest.fixture
def svc(tmp_path: Path, kernel: FakeKernel) -> Iterator[VolumeService]:
    driver = LocalDriver(tmp_path / "volumes", mounter=kernel.mount, unmounter=kernel.umount)
    yield VolumeService(driver, MemoryCatalog())


def test_create_layout_and_idempotence(svc: VolumeService, tmp_path: Path) -> None:
    meta, created = svc.create("data", labels={"a": "b"})
    assert created and meta.labels == {"a": "b"} and meta.options is None
    root = tmp_path / "volumes" / "data"
    assert (root / "_data").is_dir()
    assert stat.S_IMODE(root.stat().st_mode) == 0o701
    assert stat.S_IMODE((root / "_data").stat().st_mode) == 0o755
    assert not (root / "opts.json").exists()
    again, created = svc.create("data", "local", labels={"other": "x"})
    assert not created and again.labels == {"a": "b"}
    assert svc.mountpoint("data") == str(root / "_data")


def test_names_and_drivers_refused_with_dockers_text(svc: VolumeService) -> None:
    with pytest.raises(InvalidParameter, match="volume name is too short"):
        svc.create("a")
    with pytest.raises(InvalidParameter, match='includes invalid characters for a local volume name'):
        svc.create("bad/name")
    with pytest.raises(NotFound, match='error looking up volume plugin nfsplugin: plugin "nfsplugin" not found'):
        svc.create("x1", "nfsplugin")
    assert check_driver("") == "local"


def test_anonymous_volume(svc: VolumeService) -> None:
    meta, created = svc.create("", ref="c1")
    assert created and len(meta.name) == 64 and all(c in "0123456789abcdef" for c in meta.name)
    assert meta.labels == {ANONYMOUS_LABEL: ""} and meta.anonymous and meta.refs == {"c1"}


def test_opts_validated_as_moby(svc: VolumeService) -> None:
    with pytest.raises(InvalidParameter, match='invalid option: "bogus"'):
        svc.create("v1", opts={"bogus": "1"})
    with pytest.raises(InvalidParameter, match='missing required option: "device"'):
        svc.create("v1", opts={"type": "tmpfs"})
    with pytest.raises(InvalidParameter, match='missing required option: "type"'):
        svc.create("v1", opts={"o": "size=1m", "device": "tmpfs"})
    with pytest.raises(InvalidParameter, match="quota size requested but no quota support"):
        svc.create("v1", opts={"size": "10m"})
    assert not svc.exists("v1")


def test_opts_json_written_and_reloaded(svc: VolumeService, tmp_path: Path, kernel: FakeKernel) -> None:
    svc.create("tv", opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"})
    doc = json.loads((tmp_path / "volumes" / "tv" / "opts.json").read_text())
    assert doc["MountType"] == "tmpfs" and doc["MountDevice"] == "tmpfs" and doc["MountOpts"] == "size=1m,uid=1000"
    assert stat.S_IMODE((tmp_path / "volumes" / "tv" / "opts.json").stat().st_mode) == 0o600
    again = LocalDriver(tmp_path / "volumes", mounter=kernel.mount, unmounter=kernel.umount)
    assert again.needs_mount("tv") and again.exists("tv")


def test_mount_on_first_use_unmount_after_last(svc: VolumeService, kernel: FakeKernel) -> None:
    svc.create("tv", opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000,gid=1000"})
    path = svc.mount("tv", "c1")
    svc.mount("tv", "c1")  # a restart of the same container: still one mount
    svc.mount("tv", "c2")
    assert [c for c in kernel.calls if c[0] == "mount"] == [("mount", "tmpfs", path, "tmpfs", "size=1m,uid=1000,gid=1000")]
    svc.unmount("tv", "c1")
    assert not [c for c in kernel.calls if c[0] == "umount"]
    svc.unmount("tv", "c2")
    assert [c for c in kernel.calls if c[0] == "umount"] == [("umount", path)]
    assert svc.get("tv").refs == {"c1", "c2"}  # unmounted, still referenced


def test_plain_volume_never_mounts(svc: VolumeService, kernel: FakeKernel) -> None:
    svc.create("plain")
    svc.mount("plain", "c1")
    svc.release("plain", "c1")
    assert kernel.calls == []


def test_in_use_refused_then_removed(svc: VolumeService, tmp_path: Path) -> None:
    svc.create("data")
    svc.mount("data", "b" * 64)
    svc.acquire("data", "a" * 64)
    with pytest.raises(Conflict) as e:
        svc.remove("data")
    assert str(e.value) == f"remove data: volume is in use - [{'a' * 64}, {'b' * 64}]"
    with pytest.raises(Conflict):
        svc.remove("data", force=True)  # force does not override "in use" (as Docker)
    svc.release("data", "a" * 64)
    svc.forget_ref("b" * 64)
    svc.remove("data")
    assert not (tmp_path / "volumes" / "data").exists()
    with pytest.raises(NotFound, match=r"^get data: no such volume$"):
        svc.get("data")
    with pytest.raises(NotFound, match=r"^get data: no such volume$"):
        svc.remove("data")
    assert svc.remove("data", force=True) is None


def test_remove_unmounts_first_and_never_deletes_through_a_mount(svc: VolumeService, kernel: FakeKernel,
                                                                 tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "keep").write_text("precious")
    svc.create("bv", opts={"type": "none", "o": "bind", "device": str(host)})
    svc.mount("bv", "c1")
    kernel.mounted.add(os.path.realpath(svc.mountpoint("bv")))
    svc.release("bv", "c1")
    assert ("umount", svc.mountpoint("bv")) in kernel.calls
    # a mount the service did not see go away: removal refuses rather than delete through it
    svc.mount("bv", "c2")
    svc.driver._umount = lambda p: None  # type: ignore[attr-defined]
    svc.release("bv", "c2")
    with pytest.raises(System):
        svc.remove("bv")
    assert (host / "keep").read_text() == "precious"


def test_persistence_through_catalog(tmp_path: Path, kernel: FakeKernel) -> None:
    cat = MemoryCatalog()
    d = LocalDriver(tmp_path / "volumes", mounter=kernel.mount, unmounter=kernel.umount)
    s = VolumeService(d, cat)
    s.create("keep", labels={"k": "v"})
    s.mount("keep", "c1")
    s2 = VolumeService(LocalDriver(tmp_path / "volumes"), cat)
    assert s2.get("keep").labels == {"k": "v"} and s2.get("keep").refs == {"c1"}
    with pytest.raises(Conflict):
        s2.remove("keep")


def test_orphan_directory_adopted_and_vanished_record_dropped(tmp_path: Path, kernel: FakeKernel) -> None:
    (tmp_path / "volumes" / "orphan" / "_data").mkdir(parents=True)
    cat = MemoryCatalog()
    cat.put(VolumeMeta("gone", created_ns=1))
    s = VolumeService(LocalDriver(tmp_path / "volumes"), cat)
    assert [v.name for v in s.volumes()] == ["orphan"]
    assert "gone" not in cat.rows


def test_copy_up_only_into_empty_volume_with_owner_and_mode(tmp_path: Path) -> None:
    src = tmp_path / "img" / "etc-app"
    (src / "sub").mkdir(parents=True)
    (src / "file").write_text("hello")
    os.chmod(src / "file", 0o640)
    (src / "sub" / "deep").write_text("d")
    os.symlink("/etc/passwd", src / "link")
    os.link(src / "file", src / "hard")
    os.chmod(src, 0o750)
    if os.geteuid() == 0:
        os.chown(src, 1234, 2345)
        os.chown(src / "file", 1000, 1000)
    dest = tmp_path / "vol"
    dest.mkdir()
    assert copy_up(str(src), str(dest))
    assert (dest / "file").read_text() == "hello" and stat.S_IMODE((dest / "file").stat().st_mode) == 0o640
    assert (dest / "sub" / "deep").read_text() == "d"
    assert os.readlink(dest / "link") == "/etc/passwd"
    assert (dest / "hard").stat().st_ino == (dest / "file").stat().st_ino
    assert stat.S_IMODE(dest.stat().st_mode) == 0o750
    if os.geteuid() == 0:
        assert (dest.stat().st_uid, dest.stat().st_gid) == (1234, 2345)
        assert (dest / "file").stat().st_uid == 1000
    assert not copy_up(str(src), str(dest))  # not empty any more
    assert not copy_up(str(tmp_path / "missing"), str(dest))
    assert not copy_up(str(src / "file"), str(tmp_path))  # a file is not copied
    assert dir_size(str(dest)) == len("hello") + len("d") + len("/etc/passwd")


def test_concurrent_users_mount_once_and_unmount_once(svc: VolumeService, kernel: FakeKernel) -> None:
    from concurrent.futures import ThreadPoolExecutor

    svc.create("shared", opts={"type": "tmpfs", "device": "tmpfs"})
    refs = [f"c{i:02d}" for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: svc.mount("shared", r), refs))
    assert [c[0] for c in kernel.calls] == ["mount"] and svc.get("shared").mounts == set(refs)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda r: svc.release("shared", r), refs))
    assert [c[0] for c in kernel.calls] == ["mount", "umount"]
    assert svc.get("shared").refs == frozenset() and svc.remove("shared") is not None
