"""ImageService without a registry: import, tag, resolve, inspect, history, list filters, rmi, prune."""

from __future__ import annotations

import asyncio
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from skiff.errors import Conflict, InvalidParameter, NotFound
from skiff.image.errors import NoSuchImage
from skiff.image.service import ImageService
from skiff.image.unpack import DigestOnlyUnpacker
from skiff.oci.image_spec import ContainerConfig


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    s = ImageService(tmp_path / "image", DigestOnlyUnpacker())
    yield s
    s.close()


def _import(svc: ImageService, repo: str = "", content: bytes = b"x", labels: dict[str, str] | None = None) -> str:
    rec = asyncio.run(svc.import_image(io.BytesIO(_tar({"f": content})), repo=repo, message="",
                                       config=ContainerConfig(cmd=("sh",), labels=labels or {})))
    return str(rec.id)


def test_import_inspect_history(svc: ImageService) -> None:
    iid = _import(svc, "app:1", labels={"a": "b"})
    info = svc.inspect("app:1")
    assert info["Id"] == iid and info["RepoTags"] == ["app:1"] and info["RepoDigests"] == []
    assert info["Config"]["Cmd"] == ["sh"] and info["Config"]["Labels"] == {"a": "b"}
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 1
    assert info["Os"] == "linux" and info["Size"] > 0 and info["Metadata"]["LastTagTime"].endswith("Z")
    assert svc.inspect(iid[7:19])["Id"] == iid  # short ID prefix
    h = svc.history("app:1")
    assert h[0]["Id"] == iid and h[0]["Tags"] == ["app:1"] and h[0]["Comment"] == "Imported from -"
    spec = svc.rootfs_for("app:1")
    assert spec.top_chain_id == spec.chain_ids[-1] and str(spec.image_id) == iid
    with pytest.raises(NoSuchImage, match="No such image: nope:latest"):
        svc.inspect("nope:latest")


def test_tag_and_list_filters(svc: ImageService) -> None:
    a = _import(svc, "alpha:1", b"a", {"team": "x"})
    b = _import(svc, "beta:2", b"b")
    svc.tag("alpha:1", "registry.example/alpha:v2")
    names = {i["Id"]: i["RepoTags"] for i in svc.list_images()}
    assert names[a] == ["alpha:1", "registry.example/alpha:v2"] and names[b] == ["beta:2"]
    assert [i["Id"] for i in svc.list_images(filters={"label": ["team=x"]})] == [a]
    assert [i["Id"] for i in svc.list_images(filters={"reference": ["bet*"]})] == [b]
    assert [i["RepoTags"] for i in svc.list_images(filters={"reference": ["*/alpha:*"]})] == \
        [["registry.example/alpha:v2"]]
    assert svc.list_images(filters={"dangling": ["true"]}) == []
    with pytest.raises(InvalidParameter):
        svc.list_images(filters={"bogus": ["1"]})
    with pytest.raises(InvalidParameter):
        svc.tag("alpha:1", "Bad/Name")


def test_rmi_untag_then_delete_and_gc(svc: ImageService) -> None:
    iid = _import(svc, "app:1")
    svc.tag("app:1", "app:2")
    blobs = set(svc.content.walk())
    assert svc.remove("app:1") == [{"Untagged": "app:1"}]
    out = svc.remove("app:2")
    assert out[0] == {"Untagged": "app:2"} and {"Deleted": iid} in out
    assert set(svc.content.walk()).isdisjoint(blobs)
    with pytest.raises(NoSuchImage):
        svc.resolve(iid)


def test_rmi_conflicts_with_containers(svc: ImageService) -> None:
    iid = _import(svc, "app:1")
    svc.container_created("c0ffee0000000000", iid)
    with pytest.raises(Conflict) as ei:
        svc.remove("app:1")
    assert str(ei.value) == (f'conflict: unable to remove repository reference "app:1" (must force) - container '
                             f"c0ffee000000 is using its referenced image {iid[7:19]}")
    with pytest.raises(Conflict, match="must be forced\\) - image is being used by stopped container c0ffee000000"):
        svc.remove(iid)
    svc.is_running = lambda _cid: True
    with pytest.raises(Conflict, match="cannot be forced\\) - image is being used by running container"):
        svc.remove(iid, force=True)
    svc.is_running = lambda _cid: False
    svc.container_removed("c0ffee0000000000")
    assert {"Deleted": iid} in svc.remove(iid)


def test_rmi_force_of_last_tag_used_by_running_container_only_untags(svc: ImageService) -> None:
    """moby: once the last tag is removed, a container using the image is not an error."""
    iid = _import(svc, "app:2")
    svc.container_created("c0ffee0000000001", iid)
    svc.is_running = lambda _cid: True
    assert svc.remove("app:2", force=True) == [{"Untagged": "app:2"}]
    assert svc.resolve(iid).id == iid  # the image itself stays for its container
    with pytest.raises(Conflict, match="cannot be forced"):
        svc.remove(iid, force=True)


def test_rmi_by_id_with_multiple_repos_needs_force(svc: ImageService) -> None:
    iid = _import(svc, "one:1")
    svc.tag("one:1", "two:1")
    with pytest.raises(Conflict, match="referenced in multiple repositories"):
        svc.remove(iid)
    out = svc.remove(iid, force=True)
    assert {"Untagged": "one:1"} in out and {"Untagged": "two:1"} in out and {"Deleted": iid} in out


def test_prune(svc: ImageService) -> None:
    keep = _import(svc, "keep:1", b"k")
    dangling = _import(svc, "", b"d")
    used = _import(svc, "", b"u")
    svc.container_created("c1", used)
    res = svc.prune()
    assert res["ImagesDeleted"] == [{"Deleted": dangling}] or {"Deleted": dangling} in res["ImagesDeleted"]
    assert svc.images.get(used) is not None and svc.images.get(keep) is not None
    res = svc.prune({"dangling": ["false"]})
    assert {"Untagged": "keep:1"} in res["ImagesDeleted"] and svc.images.get(used) is not None
    df = svc.df()
    assert [i["Containers"] for i in df["Images"]] == [1]


def test_gc_spares_leased_blobs(svc: ImageService) -> None:
    _import(svc, "", b"dangling")
    stray = svc.content.put(b"a blob a running pull has not recorded yet")
    svc.content.lease(stray)
    svc.prune()
    assert svc.content.has(stray)
    svc.content.release(stray)
    _import(svc, "", b"another")
    svc.prune()
    assert not svc.content.has(stray)


def test_export_rootfs_roundtrips_through_import(svc: ImageService, tmp_path: Path) -> None:
    from skiff.image.create import export_rootfs

    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "proc").mkdir()
    (root / "proc" / "junk").write_text("x")
    (root / "etc" / "hostname").write_text("skiff")
    (root / "link").symlink_to("etc")
    buf = io.BytesIO()
    export_rootfs(root, buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        names = tf.getnames()
    assert "etc/hostname" in names and "proc" in names and "proc/junk" not in names and "link" in names
    buf.seek(0)
    rec = asyncio.run(svc.import_image(buf, repo="exported"))
    assert len(rec.layers) == 1


def test_commit_for_the_builder(svc: ImageService) -> None:
    from skiff.oci.image_spec import History

    base = svc.resolve(_import(svc, "base:1", b"base"))
    cfg = svc.config_of(base)
    rec = svc.commit(cfg, io.BytesIO(_tar({"new": b"layer"})), history=History(created_by="RUN x"),
                     parent=str(base.id))
    new = svc.config_of(rec)
    assert new.diff_ids[0] == cfg.diff_ids[0] and len(new.diff_ids) == 2
    assert new.history[-1].created_by == "RUN x" and not new.history[-1].empty_layer
    assert rec.parent == str(base.id) and svc.images.children(base.id) == [rec.id]
    # config only (ENV, CMD...): an empty_layer history entry, same layers
    rec2 = svc.commit(new.with_changes(config=ContainerConfig(cmd=("true",))), None,
                      history=History(created_by="CMD true"), refs=["built:1"])
    assert svc.config_of(rec2).history[-1].empty_layer and svc.config_of(rec2).diff_ids == new.diff_ids
    assert svc.resolve("built:1").id == rec2.id
    # --cache-from: a prefix of an existing image's layers
    rec3 = svc.commit(new.with_changes(diff_ids=new.diff_ids[:1], history=()), None)
    assert svc.config_of(rec3).diff_ids == new.diff_ids[:1]
    with pytest.raises(NotFound):  # a layer nobody has
        svc.commit(new.with_changes(diff_ids=(svc.content.put(b"nope"),)), None)


def test_container_uses_are_restated_by_the_engine(svc: ImageService) -> None:
    """Uses are written without their own fsync; the engine's records at start replace them."""
    iid = _import(svc, "app:3")
    svc.container_created("lost-in-a-power-cut", iid)
    svc.sync_container_uses({"c0ffee0000000002": iid})
    assert svc.images.users(iid) == ["c0ffee0000000002"]
    with pytest.raises(Conflict, match="container c0ffee000000 is using its referenced image"):
        svc.remove("app:3")
    svc.sync_container_uses({})
    assert {"Deleted": iid} in svc.remove("app:3")
