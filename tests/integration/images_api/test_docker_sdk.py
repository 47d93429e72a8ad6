"""docker-py (Docker SDK 7.2) against skiffd: images.load/list/get/save/pull/push/remove, login, prune,
import, and the raw API's stream and error rules (404 before the stream starts, errorDetail after)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import APIError, ImageNotFound, NotFound

from tests.integration.image.registry_fixture import PASSWORD, USER, Registry
from tests.integration.images_api.conftest import make_archive
from tests.support.daemon import Daemon
from tests.support.images import busybox_tar


@pytest.fixture
def client(d: Daemon) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=d.host, version="auto", timeout=120)
    try:
        yield c
    finally:
        c.close()


def _load(client: docker.DockerClient, tmp_path: Path, tags: list[str] | None = None) -> str:
    arc = tmp_path / "bb.tar"
    iid = make_archive(arc, tags or ["busybox:latest"])
    loaded = client.images.load(arc.read_bytes())
    assert [i.id for i in loaded] == [iid]
    return iid


def test_load_list_get_save(client: docker.DockerClient, tmp_path: Path) -> None:
    iid = _load(client, tmp_path)
    imgs = client.images.list()
    assert [i.id for i in imgs] == [iid] and imgs[0].tags == ["busybox:latest"]
    img = client.images.get("busybox")
    assert img.id == iid and img.attrs["Config"]["Cmd"] == ["sh"]
    assert img.history()[0]["CreatedBy"].endswith('CMD ["sh"]')
    data = b"".join(img.save(named=True))
    client.images.remove("busybox", force=True)
    with pytest.raises(ImageNotFound):
        client.images.get("busybox")
    again = client.images.load(data)
    assert again[0].id == iid and again[0].tags == ["busybox:latest"]
    assert client.images.list(filters={"dangling": True}) == []
    assert client.images.list(name="busybox")[0].id == iid


def test_tag_push_pull_remove(client: docker.DockerClient, tmp_path: Path, registry: Registry) -> None:
    iid = _load(client, tmp_path)
    repo = f"{registry.host}/py/busybox"
    assert client.images.get("busybox").tag(repo, "t1")
    lines = [json.loads(x) for x in client.images.push(repo, tag="t1", stream=True)]
    aux = [x["aux"] for x in lines if "aux" in x]
    assert aux and aux[0]["Tag"] == "t1" and aux[0]["Digest"].startswith("sha256:")
    client.images.remove(f"{repo}:t1")
    img = client.images.pull(repo, tag="t1")
    assert img.id == iid
    assert f"{repo}@{aux[0]['Digest']}" in img.attrs["RepoDigests"]
    dist = client.api.inspect_distribution(f"{repo}:t1")
    assert dist["Descriptor"]["digest"] == aux[0]["Digest"]
    assert {"os": "linux", "architecture": "amd64"} in dist["Platforms"]
    with pytest.raises(NotFound):  # 404 before the stream starts, as dockerd answers
        client.images.pull(f"{registry.host}/py/nosuch", tag="x")


def test_login_and_auth_errors(client: docker.DockerClient, start_registry: object) -> None:
    reg: Registry = start_registry("htpasswd")  # type: ignore[operator]
    with pytest.raises(APIError) as err:
        client.login(USER, "wrong", registry=reg.host, reauth=True)
    assert err.value.status_code == 401
    assert client.login(USER, PASSWORD, registry=reg.host, reauth=True)["Status"] == "Login Succeeded"


def test_import_prune_and_errors(client: docker.DockerClient, d: Daemon) -> None:
    out = client.api.import_image_from_data(busybox_tar(), repository="pyimp", tag="1",
                                             changes=["CMD [\"echo\", \"x\"]"])
    iid = json.loads(out.strip().splitlines()[-1])["status"]
    img = client.images.get("pyimp:1")
    assert img.id == iid and img.attrs["Config"]["Cmd"] == ["echo", "x"]
    report = client.images.prune(filters={"dangling": False})
    assert any(x.get("Deleted") == iid for x in report["ImagesDeleted"])
    assert report["SpaceReclaimed"] > 0
    with pytest.raises(APIError) as err:
        client.images.list(filters={"nope": "1"})
    assert err.value.status_code == 400
    with pytest.raises(APIError) as err:
        client.api.import_image_from_data(busybox_tar(), changes=["RUN x"])
    assert err.value.status_code == 400
    # a broken archive fails inside the stream (the load started)
    with pytest.raises(APIError):
        client.images.load(io.BytesIO(b"not a tar" * 100).getvalue())


def test_distribution_of_a_multi_arch_index(client: docker.DockerClient, tmp_path: Path,
                                            registry: Registry) -> None:
    from tests.integration.image.registry_fixture import layer_tar, skopeo, write_oci_layout

    layout = tmp_path / "layout"
    digests = write_oci_layout(layout, [("linux", "amd64", [layer_tar({"a": b"1"})]),
                                        ("linux", "arm64/v8", [layer_tar({"a": b"2"})])], as_index=True)
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:latest",
           f"docker://{registry.host}/multi:latest")
    dist = client.api.inspect_distribution(f"{registry.host}/multi:latest")
    assert dist["Descriptor"]["digest"] == digests["index"]
    assert {"os": "linux", "architecture": "amd64"} in dist["Platforms"]
    assert {"os": "linux", "architecture": "arm64", "variant": "v8"} in dist["Platforms"]
    img = client.images.pull(f"{registry.host}/multi", tag="latest")
    assert img.attrs["Architecture"] == "amd64"
