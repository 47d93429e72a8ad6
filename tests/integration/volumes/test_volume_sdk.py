"""The Docker SDK for Python and raw API calls against skiffd: status codes, JSON shapes, prune by version."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from docker.errors import APIError, NotFound

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


@pytest.fixture
def client(vd: Daemon) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=vd.host, version="auto")
    try:
        yield c
    finally:
        c.close()


def test_sdk_create_get_list_remove(client: docker.DockerClient, vd: Daemon) -> None:
    v = client.volumes.create("sdk-one", driver="local", labels={"team": "a"})
    assert v.name == "sdk-one" and v.attrs["Labels"] == {"team": "a"} and v.attrs["Options"] is None
    assert v.attrs["Mountpoint"] == str(vd.data_root / "volumes" / "sdk-one" / "_data")
    t = client.volumes.create("sdk-tmp", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=2m"})
    assert t.attrs["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=2m"}
    assert client.volumes.get("sdk-one").attrs == client.api.inspect_volume("sdk-one")
    names = [x.name for x in client.volumes.list(filters={"label": "team=a"})]
    assert names == ["sdk-one"]
    resp = client.api.volumes(filters={"name": "sdk-"})
    assert sorted(x["Name"] for x in resp["Volumes"]) == ["sdk-one", "sdk-tmp"] and "Warnings" in resp
    v.remove()
    t.remove(force=True)
    with pytest.raises(NotFound) as e:
        client.volumes.get("sdk-one")
    assert e.value.response.status_code == 404
    assert "get sdk-one: no such volume" in str(e.value)


def test_api_status_codes(client: docker.DockerClient) -> None:
    api = client.api
    r = api._post_json(api._url("/volumes/create"), data={"Name": "sdk-codes", "Labels": {"x": "1"}})
    assert r.status_code == 201
    r = api._post_json(api._url("/volumes/create"), data={"Name": "sdk-codes"})
    assert r.status_code == 201 and r.json()["Labels"] == {"x": "1"}  # idempotent: the first one
    r = api._post_json(api._url("/volumes/create"), data={"Name": "sdk-codes", "Driver": "other"})
    assert r.status_code == 404
    r = api._delete(api._url("/volumes/sdk-codes"))
    assert r.status_code == 204
    r = api._delete(api._url("/volumes/sdk-codes"))
    assert r.status_code == 404
    r = api._delete(api._url("/volumes/sdk-codes"), params={"force": "1"})
    assert r.status_code == 204
    r = api._post_json(api._url("/volumes/create"), data={"Name": "sdk-codes", "DriverOpts": {"type": "tmpfs"}})
    assert r.status_code == 400
    r = api._get(api._url("/volumes"), params={"filters": '{"bogus":{"x":true}}'})
    assert r.status_code == 400
    r = api._post(api._url("/volumes/prune"), params={"filters": '{"all":{"maybe":true}}'})
    assert r.status_code == 400


def test_prune_before_and_since_api_1_42(vd: Daemon) -> None:
    new = docker.APIClient(base_url=vd.host, version="1.51")
    old = docker.APIClient(base_url=vd.host, version="1.41")
    try:
        new.create_volume("sdk-prune", labels={"sdkprune": "1"})
        rep = new.prune_volumes(filters={"label": "sdkprune"})
        assert rep["VolumesDeleted"] in (None, []) and rep["SpaceReclaimed"] == 0  # named: kept since 1.42
        rep = old.prune_volumes(filters={"label": "sdkprune"})
        assert rep["VolumesDeleted"] == ["sdk-prune"]  # API 1.41: every unused volume
        new.create_volume("sdk-prune2", labels={"sdkprune": "2"})
        rep = new.prune_volumes(filters={"label": "sdkprune=2", "all": "true"})
        assert rep["VolumesDeleted"] == ["sdk-prune2"]
    finally:
        new.close()
        old.close()


def test_in_use_is_409(client: docker.DockerClient) -> None:
    client.volumes.create("sdk-used")
    c = client.containers.create("busybox", "true", volumes={"sdk-used": {"bind": "/d", "mode": "rw"}})
    try:
        c.start()
        c.wait()
        with pytest.raises(APIError) as e:
            client.volumes.get("sdk-used").remove()
        assert e.value.response.status_code == 409
        assert f"remove sdk-used: volume is in use - [{c.id}]" in str(e.value)
    finally:
        c.remove(force=True)
    client.volumes.get("sdk-used").remove()
