"""Pulled images are unpacked into real snapshotters (overlay2, vfs), one committed snapshot per
chain ID, and a container snapshot can be prepared on top of ``rootfs_for``; rmi removes them."""

from __future__ import annotations

import asyncio
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skiff.errors import Conflict
from skiff.image.service import ImageService
from skiff.image.unpack import SnapshotUnpacker
from skiff.oci.image_spec import ContainerConfig
from skiff.storage.overlay2 import Overlay2Snapshotter
from skiff.storage.snapshot import Kind
from skiff.storage.vfs import VfsSnapshotter
from tests.integration.image.registry_fixture import Registry, layer_tar


def drain(it: Any) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        return [m async for m in it]
    return asyncio.run(go())


def _rootfs_tar(root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(root, arcname=".")
    return buf.getvalue()


@pytest.fixture(params=["overlay2", "vfs"])
def real_service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ImageService]:
    kind = request.param
    sn = (Overlay2Snapshotter if kind == "overlay2" else VfsSnapshotter)(tmp_path / kind)
    svc = ImageService(tmp_path / "image", SnapshotUnpacker(sn),
                       graph_driver=lambda rec: {"Data": None, "Name": kind})
    try:
        yield svc
    finally:
        svc.close()
        sn.close()


@pytest.mark.root
def test_pull_unpacks_into_snapshots(registry: Registry, service: ImageService, real_service: ImageService,
                                     busybox_rootfs: Path) -> None:
    ref = f"{registry.host}/unpack/bb:1"
    rec = asyncio.run(service.import_image(io.BytesIO(_rootfs_tar(busybox_rootfs)), repo=ref,
                                           config=ContainerConfig(cmd=("sh",))))
    top = asyncio.run(service.commit_image(str(rec.id), io.BytesIO(layer_tar({"etc/motd": b"skiff\n"})),
                                           service.config_of(rec), refs=[ref]))
    drain(service.push(ref))

    msgs = drain(real_service.pull(ref))
    assert [m["status"] for m in msgs].count("Pull complete") == 2
    spec = real_service.rootfs_for(ref)
    assert str(spec.image_id) == str(top.id) and len(spec.chain_ids) == 2
    unpacker = real_service.unpacker
    assert isinstance(unpacker, SnapshotUnpacker)
    sn = unpacker.sn
    assert all(sn.stat(str(c)).kind is Kind.COMMITTED for c in spec.chain_ids)
    assert spec.top_chain_id is not None
    # a container's writable layer on top (what the container engine does)
    sn.prepare("skiff-test-ctr", str(spec.top_chain_id))
    dirs = sn.layer_dirs("skiff-test-ctr")  # type: ignore[attr-defined]
    files = [d / "etc/motd" for d in (dirs.upper, *dirs.lowers)]
    assert any(f.exists() and f.read_bytes() == b"skiff\n" for f in files)
    assert any((d / "bin/busybox").exists() for d in (dirs.upper, *dirs.lowers))
    real_service.container_created("skiff-test-ctr", str(top.id))
    with pytest.raises(Conflict):
        real_service.remove(ref)
    # forced: the record goes, the layers under the container stay
    out = real_service.remove(ref, force=True)
    assert {"Deleted": str(top.id)} in out
    assert sn.stat(str(spec.top_chain_id)).kind is Kind.COMMITTED
    sn.remove("skiff-test-ctr")
    real_service.container_removed("skiff-test-ctr")
    # pulled again (layers reused, as docker says: "Already exists", no "Pull complete"), then
    # removed: snapshots go too
    msgs = drain(real_service.pull(ref))
    assert [m["status"] for m in msgs if m.get("id") in {c.short() for c in (
        *(x.blob for x in real_service.resolve(ref).layers if x.blob),)}] == ["Already exists"] * 2
    out = real_service.remove(ref)
    assert {"Deleted": str(spec.top_chain_id)} in out
    assert not unpacker.has(spec.chain_ids[0])


@pytest.mark.root
def test_commit_adopts_the_workspace_snapshot(real_service: ImageService, busybox_rootfs: Path,
                                              tmp_path: Path) -> None:
    """What the engine does for a build step or docker commit: the workspace snapshot becomes the
    new layer (no second extraction) and its diff tar becomes the layer blob."""
    from skiff.oci.image_spec import History
    from skiff.storage.archive import write_diff

    base = asyncio.run(real_service.import_image(io.BytesIO(_rootfs_tar(busybox_rootfs)), repo="bb:1"))
    unpacker = real_service.unpacker
    assert isinstance(unpacker, SnapshotUnpacker)
    sn = unpacker.sn
    key = "skiff-test-build-step"
    sn.prepare(key, str(real_service.rootfs_for("bb:1").top_chain_id))
    dirs = sn.layer_dirs(key)  # type: ignore[attr-defined]
    (dirs.upper / "etc").mkdir(exist_ok=True)
    (dirs.upper / "etc" / "built").write_text("by a RUN step\n")
    diff = tmp_path / "diff.tar"
    with open(diff, "wb") as f:
        write_diff(dirs, f)
    with open(diff, "rb") as f:
        rec = real_service.commit(real_service.config_of(base), f, history=History(created_by="RUN echo"),
                                  refs=["built:1"], snapshot_key=key, parent=str(base.id))
    top = real_service.rootfs_for("built:1").top_chain_id
    assert top is not None and sn.stat(str(top)).kind is Kind.COMMITTED
    assert [i.name for i in sn.walk() if i.name == key] == []  # the workspace became the layer
    assert len(rec.layers) == 2


@pytest.mark.root
def test_shared_layers_are_fetched_and_unpacked_once(registry: Registry, service: ImageService,
                                                     real_service: ImageService) -> None:
    base = asyncio.run(service.import_image(io.BytesIO(layer_tar({"base": b"shared" * 1000})),
                                            repo=f"{registry.host}/shared/a:1"))
    for name, content in (("a", b"A"), ("b", b"B")):
        asyncio.run(service.commit_image(str(base.id), io.BytesIO(layer_tar({name: content})),
                                         service.config_of(base), refs=[f"{registry.host}/shared/{name}:1"]))
        drain(service.push(f"{registry.host}/shared/{name}:1"))
    drain(real_service.pull(f"{registry.host}/shared/a:1"))
    msgs = drain(real_service.pull(f"{registry.host}/shared/b:1"))
    base_id = real_service.resolve(f"{registry.host}/shared/b:1").layers[0].blob
    assert base_id is not None
    assert {"status": "Already exists", "progressDetail": {}, "id": base_id.short()} in msgs
    assert [m["status"] for m in msgs].count("Pull complete") == 1
    unpacker = real_service.unpacker
    assert isinstance(unpacker, SnapshotUnpacker)
    assert len([i for i in unpacker.sn.walk() if i.kind is Kind.COMMITTED]) == 3  # base + a + b


@pytest.mark.root
def test_layer_size_is_the_same_fresh_or_reused(real_service: ImageService, busybox_rootfs: Path) -> None:
    """A layer reports one size however it arrived, and on overlay2 it is Docker's DiffSize:
    the apparent size of its non-directory entries, each inode once (not tar bytes, not blocks)."""
    tar = _rootfs_tar(busybox_rootfs)
    first = asyncio.run(real_service.import_image(io.BytesIO(tar), repo="size/a:1",
                                                  config=ContainerConfig(cmd=("sh",))))
    second = asyncio.run(real_service.import_image(io.BytesIO(tar), repo="size/b:1",
                                                   config=ContainerConfig(cmd=("sh",), env=("X=1",))))
    assert first.id != second.id and first.layers[0].chain_id == second.layers[0].chain_id
    assert first.layers[0].size == second.layers[0].size == first.size == second.size
    if real_service.unpacker.usage(first.layers[0].chain_id) >= 0:  # overlay2
        seen: set[int] = set()
        expected = 0
        for p in busybox_rootfs.rglob("*"):
            st = p.lstat()
            if (not p.is_dir() or p.is_symlink()) and st.st_size and st.st_ino not in seen:
                seen.add(st.st_ino)
                expected += st.st_size
        assert first.size == expected
