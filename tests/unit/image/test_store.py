"""Image metadata store: records, references, container uses, referenced blobs."""

from __future__ import annotations

from pathlib import Path

from skiff.image.store import ImageRecord, ImageStore, LayerRecord
from skiff.oci.digest import Digest, chain_ids


def _image(tag: bytes, n: int = 2) -> ImageRecord:
    diffs = [Digest.of(tag + bytes([i])) for i in range(n)]
    layers = tuple(LayerRecord(diff_id=d, chain_id=c, blob=Digest.of(b"blob" + d.encode()), media_type="x",
                               blob_size=10, size=100) for d, c in zip(diffs, chain_ids(diffs), strict=True))
    return ImageRecord(id=Digest.of(tag), layers=layers, manifest_digest=Digest.of(tag + b"m"), size=200)


def test_put_get_refs_and_uses(tmp_path: Path) -> None:
    st = ImageStore(tmp_path / "images.db")
    a, b = _image(b"a"), _image(b"b", 3)
    st.put(a, ["docker.io/library/a:latest"])
    st.put(b)
    got = st.get(a.id)
    assert got is not None and got.layers == a.layers and got.size == 200 and got.last_tag_time > 0
    assert got.top_chain_id == a.layers[-1].chain_id
    assert st.get_ref("docker.io/library/a:latest") == a.id
    assert st.set_ref("docker.io/library/a:latest", b.id) == a.id  # tag moved
    assert st.refs_of(a.id) == [] and st.refs_of(b.id) == ["docker.io/library/a:latest"]
    assert st.ids_with_prefix(a.id.hex[:6]) == [a.id]
    st.add_use("c1", b.id)
    assert st.users(b.id) == ["c1"] and st.used_images() == {b.id}
    st.remove_use("c1")
    assert st.users(b.id) == []
    assert a.layers[0].blob in st.referenced_blobs() and st.chain_in_use(b.layers[2].chain_id)
    st.delete(b.id)
    assert st.get(b.id) is None and st.get_ref("docker.io/library/a:latest") is None
    assert not st.chain_in_use(b.layers[2].chain_id)
    st.close()
    again = ImageStore(tmp_path / "images.db")
    assert [r.id for r in again.all()] == [a.id]
