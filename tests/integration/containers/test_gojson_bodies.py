"""Bodies of the wrong JSON types get dockerd's 400 and Go's text; what Go accepts still creates.

The docker CLI validates its flags (``docker run --memory abc`` never reaches the daemon), so these
are SDK and raw API users: the low-level APIClient with host_config dicts, or JSON posted by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import docker
import pytest
import requests

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root

PREFIX = "invalid JSON: json: cannot unmarshal "


@pytest.fixture(scope="module")
def api(bbd: Daemon) -> Iterator[docker.APIClient]:
    c = docker.APIClient(base_url=bbd.host)
    yield c
    c.close()


def post(api: docker.APIClient, path: str, body: Any) -> requests.Response:
    data = body if isinstance(body, str) else json.dumps(body)
    return api.post(api._url(path), data=data, headers={"Content-Type": "application/json"})


def refused(resp: requests.Response) -> str:
    assert resp.status_code == 400, resp.text
    return str(resp.json()["message"])


def test_sdk_host_config_of_wrong_types(api: docker.APIClient) -> None:
    with pytest.raises(docker.errors.APIError) as e:
        api.create_container("busybox", "true", host_config={"Memory": "abc"})
    assert e.value.status_code == 400
    assert e.value.explanation == (PREFIX + "string into Go struct field HostConfig.HostConfig.Resources.Memory "
                                   "of type int64")
    with pytest.raises(docker.errors.APIError) as e:
        api.create_container("busybox", "true", host_config={"Ulimits": [{"Name": "nofile", "Soft": "x"}]})
    assert e.value.explanation == (PREFIX + "string into Go struct field Ulimit.HostConfig.Resources.Ulimits.Soft "
                                   "of type int64")
    assert api.containers(all=True, filters={"ancestor": "busybox"}) == []


@pytest.mark.parametrize(("body", "text"), [
    ({"Env": "A=B"}, "string into Go struct field CreateRequest.Config.Env of type []string"),
    ({"Labels": ["a"]}, "array into Go struct field CreateRequest.Config.Labels of type map[string]string"),
    ({"Healthcheck": {"Test": "x"}}, "string into Go struct field HealthcheckConfig.Config.Healthcheck.Test "
                                     "of type []string"),
    ({"HostConfig": {"NanoCpus": "1"}}, "string into Go struct field HostConfig.HostConfig.Resources.NanoCpus "
                                        "of type int64"),
    ({"HostConfig": {"Memory": 1.5}}, "number 1.5 into Go struct field HostConfig.HostConfig.Resources.Memory "
                                      "of type int64"),
    ({"Cmd": 5}, "number into Go struct field CreateRequest.Config.Cmd of type string"),
    ({"NetworkingConfig": {"EndpointsConfig": {"bridge": {"IPAMConfig": {"IPv4Address": 5}}}}},
     "number into Go struct field EndpointIPAMConfig.NetworkingConfig.EndpointsConfig.IPAMConfig.IPv4Address "
     "of type string"),
])
def test_raw_create_refused(api: docker.APIClient, body: dict[str, Any], text: str) -> None:
    assert refused(post(api, "/containers/create", {"Image": "busybox", **body})) == PREFIX + text


def test_python_only_json_is_a_go_syntax_error(api: docker.APIClient) -> None:
    assert refused(post(api, "/containers/create", '{"Image": "busybox", "HostConfig": {"Memory": NaN}}')) == (
        "invalid JSON: invalid character 'N' looking for beginning of value")


def test_what_go_accepts_still_creates(api: docker.APIClient) -> None:
    made = []
    try:
        made.append(api.create_container("busybox", "true", entrypoint="sh")["Id"])
        resp = post(api, "/containers/create", {
            "Image": "busybox", "Cmd": "true", "Env": None, "Labels": None, "Healthcheck": None, "Unknown": [1],
            "hostconfig": {"Memory": None, "Ulimits": None, "RestartPolicy": None, "PidsLimit": None,
                           "memoryswap": -1},
            "NetworkingConfig": None})
        assert resp.status_code == 201, resp.text
        made.append(resp.json()["Id"])
        cfg = api.inspect_container(made[-1])["Config"]
        assert cfg["Cmd"] == ["true"]
        assert api.inspect_container(made[0])["Config"]["Entrypoint"] == ["sh"]
    finally:
        for cid in made:
            api.remove_container(cid, force=True)


def test_update_exec_commit_volume_network_bodies(api: docker.APIClient) -> None:
    cid = api.create_container("busybox", "true")["Id"]
    try:
        assert refused(post(api, f"/containers/{cid}/update", {"Memory": "1g"})) == (
            PREFIX + "string into Go struct field UpdateConfig.Resources.Memory of type int64")
        assert refused(post(api, f"/containers/{cid}/exec", {"Cmd": "ls"})) == (
            PREFIX + "string into Go struct field ExecOptions.Cmd of type []string")
    finally:
        api.remove_container(cid, force=True)
    # the body is decoded before the container is looked up, as dockerd
    assert refused(post(api, "/containers/nosuch/update", {"RestartPolicy": {"Name": 1}})) == (
        PREFIX + "number into Go struct field RestartPolicy.RestartPolicy.Name of type container.RestartPolicyMode")
    assert refused(post(api, "/commit?container=nosuch", {"Env": "x"})) == (
        PREFIX + "string into Go struct field CreateRequest.Config.Env of type []string")
    assert refused(post(api, "/volumes/create", {"Name": 5})) == (
        PREFIX + "number into Go struct field CreateOptions.Name of type string")
    assert refused(post(api, "/networks/create", {"Name": "skiff-gojson", "Internal": "true"})) == (
        PREFIX + "string into Go struct field CreateRequest.CreateOptions.Internal of type bool")
    assert api.volumes()["Volumes"] in (None, [])
    assert api.networks(names=["skiff-gojson"]) == []


@pytest.mark.parametrize(("host", "config", "message"), [
    ({"Binds": [None]}, {}, "invalid volume specification: ''"),
    ({"Mounts": [None]}, {}, 'invalid mount config for type "": field Target must not be empty'),
    ({"ExtraHosts": [None]}, {}, 'bad format for add-host: ""'),
    ({"ExtraHosts": ["h:not-an-ip"]}, {}, 'invalid IP address in add-host: "not-an-ip"'),
    ({}, {"Env": [None]}, "invalid environment variable: "),
    ({}, {"Env": ["=x"]}, "invalid environment variable: =x"),
])
def test_nulls_read_as_go_zero_values(api: docker.APIClient, host: dict[str, Any], config: dict[str, Any],
                                      message: str) -> None:
    """A null inside a list or map is Go's zero value after decoding ("" for a string, an empty
    struct): what moby then says about it, never a Python text."""
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": host, **config}
    assert refused(post(api, "/containers/create", body)) == message


def test_nulls_dockerd_accepts_still_create(api: docker.APIClient) -> None:
    body = {"Image": "busybox", "Cmd": ["true", None], "Labels": {"a": None},
            "HostConfig": {"Tmpfs": {"/a": None}, "Ulimits": [None, {"Name": "nofile", "Soft": None, "Hard": None}],
                           "PortBindings": {"80/tcp": [None]}, "Dns": [None], "Sysctls": {"net.ipv4.ip_forward": None}}}
    resp = post(api, "/containers/create", body)
    assert resp.status_code == 201, resp.text
    cid = resp.json()["Id"]
    try:
        cfg = api.inspect_container(cid)
        assert cfg["Config"]["Cmd"] == ["true", ""] and cfg["Config"]["Labels"] == {"a": ""}
    finally:
        api.remove_container(cid, force=True)
