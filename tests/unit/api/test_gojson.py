"""Request bodies of the wrong JSON types are refused with Go's encoding/json text, as dockerd does.

The expected texts are moby v28.5.2's (Go 1.24: embedded struct names such as ``Config`` and
``Resources`` are part of the path). ``gojson_oracle_cases.jsonl`` holds bodies decoded by Go itself
into moby's types (``scripts/gojson/``) with the error Go gave. dockerd 20.10 (Go 1.19) at
/run/docker.sock gave the same texts but for the embedded names and its wrapper's name
(``ContainerConfigWrapper.Env``, ``HostConfig.HostConfig.Memory``), and no ``invalid JSON: `` prefix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from skiff.api import gotypes
from skiff.api.gojson import check, go_error
from skiff.errors import InvalidParameter

CREATE = gotypes.CONTAINER_CREATE_REQUEST


def err(body: Any, schema: Any = CREATE) -> str | None:
    return go_error(body if isinstance(body, str) else json.dumps(body), schema)


def field_err(what: str, path: str, typ: str) -> str:
    return f"json: cannot unmarshal {what} into Go struct field {path} of type {typ}"


@pytest.mark.parametrize(("body", "want"), [
    ({"HostConfig": {"Memory": "abc"}}, field_err("string", "HostConfig.HostConfig.Resources.Memory", "int64")),
    ({"Labels": ["a"]}, field_err("array", "CreateRequest.Config.Labels", "map[string]string")),
    ({"Labels": {"a": 5}}, field_err("number", "CreateRequest.Config.Labels", "string")),
    ({"Env": "A=B"}, field_err("string", "CreateRequest.Config.Env", "[]string")),
    ({"Healthcheck": {"Test": "x"}}, field_err("string", "HealthcheckConfig.Config.Healthcheck.Test", "[]string")),
    ({"Healthcheck": {"Interval": "1s"}},
     field_err("string", "HealthcheckConfig.Config.Healthcheck.Interval", "time.Duration")),
    ({"HostConfig": {"NanoCpus": "1"}}, field_err("string", "HostConfig.HostConfig.Resources.NanoCpus", "int64")),
    ({"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": "x"}]}},
     field_err("string", "Ulimit.HostConfig.Resources.Ulimits.Soft", "int64")),
    ({"HostConfig": {"Memory": 1.5}}, field_err("number 1.5", "HostConfig.HostConfig.Resources.Memory", "int64")),
    ({"HostConfig": {"Memory": 1e3}}, field_err("number 1000.0", "HostConfig.HostConfig.Resources.Memory", "int64")),
    ({"HostConfig": {"BlkioWeight": 70000}},
     field_err("number 70000", "HostConfig.HostConfig.Resources.BlkioWeight", "uint16")),
    ({"HostConfig": {"IOMaximumIOps": -1}},
     field_err("number -1", "HostConfig.HostConfig.Resources.IOMaximumIOps", "uint64")),
    ({"HostConfig": {"Memory": 2**63}},
     field_err("number 9223372036854775808", "HostConfig.HostConfig.Resources.Memory", "int64")),
    ({"HostConfig": {"NetworkMode": 1}}, field_err("number", "HostConfig.HostConfig.NetworkMode", "container.NetworkMode")),
    ({"HostConfig": {"RestartPolicy": {"Name": True}}},
     field_err("bool", "RestartPolicy.HostConfig.RestartPolicy.Name", "container.RestartPolicyMode")),
    ({"HostConfig": {"RestartPolicy": {"MaximumRetryCount": "3"}}},
     field_err("string", "RestartPolicy.HostConfig.RestartPolicy.MaximumRetryCount", "int")),
    ({"HostConfig": {"LogConfig": {"Config": {"max-size": 10}}}},
     field_err("number", "LogConfig.HostConfig.LogConfig.Config", "string")),
    ({"HostConfig": {"Mounts": [{"Type": "tmpfs", "TmpfsOptions": {"Mode": "0755"}}]}},
     field_err("string", "TmpfsOptions.HostConfig.Mounts.TmpfsOptions.Mode", "fs.FileMode")),
    ({"HostConfig": {"Mounts": {"Type": "bind"}}}, field_err("object", "HostConfig.HostConfig.Mounts", "[]mount.Mount")),
    ({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 8080}]}}},
     field_err("number", "PortBinding.HostConfig.PortBindings.HostPort", "string")),
    ({"HostConfig": {"PortBindings": {"80/tcp": {"HostPort": "8080"}}}},
     field_err("object", "HostConfig.HostConfig.PortBindings", "[]nat.PortBinding")),
    ({"HostConfig": {"Devices": [{"PathOnHost": 1}]}},
     field_err("number", "DeviceMapping.HostConfig.Resources.Devices.PathOnHost", "string")),
    ({"HostConfig": {"DeviceRequests": [{"Count": "all"}]}},
     field_err("string", "DeviceRequest.HostConfig.Resources.DeviceRequests.Count", "int")),
    ({"HostConfig": {"ConsoleSize": [1, "2"]}}, field_err("string", "HostConfig.HostConfig.ConsoleSize", "uint")),
    ({"HostConfig": []}, field_err("array", "CreateRequest.HostConfig", "container.HostConfig")),
    ({"ExposedPorts": {"80/tcp": 1}}, field_err("number", "CreateRequest.Config.ExposedPorts", "struct {}")),
    ({"NetworkingConfig": {"EndpointsConfig": {"n": {"IPAMConfig": {"IPv4Address": 5}}}}},
     field_err("number", "EndpointIPAMConfig.NetworkingConfig.EndpointsConfig.IPAMConfig.IPv4Address", "string")),
    ({"NetworkingConfig": {"EndpointsConfig": {"n": {"Aliases": "a"}}}},
     field_err("string", "EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases", "[]string")),
    # a custom UnmarshalJSON (StrSlice) returns its error: it stops decoding and wins over an earlier one
    ({"Cmd": 5}, field_err("number", "CreateRequest.Config.Cmd", "string")),
    ({"Env": "x", "Cmd": ["a", 5]}, field_err("array", "CreateRequest.Config.Cmd", "string")),
    ({"HostConfig": {"CapAdd": {}}}, field_err("object", "HostConfig.HostConfig.CapAdd", "string")),
    # otherwise the first mismatch in document order
    ({"HostConfig": {"Memory": "abc"}, "Env": "x"}, field_err("string", "HostConfig.HostConfig.Resources.Memory", "int64")),
    ({"Env": "x", "HostConfig": {"Memory": "abc"}}, field_err("string", "CreateRequest.Config.Env", "[]string")),
    # keys match case-insensitively; the message has the Go field's own name
    ({"hostconfig": {"MEMORY": "1"}}, field_err("string", "HostConfig.HostConfig.Resources.Memory", "int64")),
    ([], "json: cannot unmarshal array into Go value of type container.CreateRequest"),
    ('"x"', "json: cannot unmarshal string into Go value of type container.CreateRequest"),
])
def test_create_errors(body: Any, want: str) -> None:
    assert err(body) == want


def test_number_literal_is_quoted_as_written() -> None:
    assert err('{"HostConfig": {"Memory": 1.50}}') == field_err(
        "number 1.50", "HostConfig.HostConfig.Resources.Memory", "int64")
    assert err('{"HostConfig": {"Memory": 1E3}}') == field_err(
        "number 1E3", "HostConfig.HostConfig.Resources.Memory", "int64")


def test_repeated_keys_are_all_decoded() -> None:
    assert err('{"Env": ["a"], "Env": "x"}') == field_err("string", "CreateRequest.Config.Env", "[]string")


@pytest.mark.parametrize("body", [
    {"Image": "busybox", "Cmd": "true", "Entrypoint": "sh"},
    {"Cmd": ["sh", "-c", "true"], "Entrypoint": None, "Shell": ["a", None]},
    {"Env": None, "Labels": None, "HostConfig": None, "NetworkingConfig": None, "Healthcheck": None},
    {"HostConfig": {"Memory": None, "PidsLimit": None, "Ulimits": [None], "RestartPolicy": None}},
    {"HostConfig": {"Memory": 1048576, "MemorySwap": -1, "NanoCpus": 500000000, "BlkioWeight": 65535,
                    "OomKillDisable": True, "ConsoleSize": [1, 2, "past the end is skipped"]}},
    {"Unknown": "anything", "HostConfig": {"Unknown": [1, {"x": "y"}]}, "Healthcheck": {"Retries": 3, "X": 1}},
    {"Volumes": {"/data": {}}, "ExposedPorts": {"80/tcp": {"ignored": 1}}, "Labels": {"a": "b"}},
    {"HostConfig": {"Memory": -0, "MemorySwappiness": -1}},
    {},
])
def test_create_accepts_what_go_accepts(body: Any) -> None:
    assert err(body) is None


@pytest.mark.parametrize(("literal", "want"), [
    ("NaN", "invalid character 'N' looking for beginning of value"),
    ("Infinity", "invalid character 'I' looking for beginning of value"),
    ("-Infinity", "invalid character 'I' in numeric literal"),
])
def test_python_only_constants_are_go_syntax_errors(literal: str, want: str) -> None:
    # texts of dockerd 20.10 for {"HostConfig":{"Memory":NaN}}, checked at /run/docker.sock
    assert err('{"HostConfig": {"Memory": ' + literal + "}}") == want
    assert err('{"Labels": {"a": ' + literal + "}}") == want


def test_not_json_is_left_to_json_body() -> None:
    assert go_error(b"{", CREATE) is None
    assert go_error(b"", CREATE) is None


def test_check_raises_invalid_parameter_with_dockerd_prefix() -> None:
    with pytest.raises(InvalidParameter) as e:
        check(b'{"HostConfig":{"Memory":"abc"}}', CREATE)
    assert str(e.value) == ("invalid JSON: json: cannot unmarshal string into Go struct field "
                            "HostConfig.HostConfig.Resources.Memory of type int64")
    check(b'{"Cmd":"true"}', CREATE)


@pytest.mark.parametrize(("schema", "body", "want"), [
    (gotypes.CONTAINER_UPDATE_CONFIG, {"Memory": "1g"}, field_err("string", "UpdateConfig.Resources.Memory", "int64")),
    (gotypes.CONTAINER_UPDATE_CONFIG, {"RestartPolicy": {"Name": 1}},
     field_err("number", "RestartPolicy.RestartPolicy.Name", "container.RestartPolicyMode")),
    (gotypes.CONTAINER_EXEC_OPTIONS, {"Cmd": "ls"}, field_err("string", "ExecOptions.Cmd", "[]string")),
    (gotypes.CONTAINER_EXEC_OPTIONS, {"Tty": "yes"}, field_err("string", "ExecOptions.Tty", "bool")),
    (gotypes.CONTAINER_EXEC_START_OPTIONS, {"ConsoleSize": ["a", 1]},
     field_err("string", "ExecStartOptions.ConsoleSize", "uint")),
    (gotypes.VOLUME_CREATE_OPTIONS, {"Name": 5}, field_err("number", "CreateOptions.Name", "string")),
    (gotypes.VOLUME_CREATE_OPTIONS, {"Labels": {"a": True}}, field_err("bool", "CreateOptions.Labels", "string")),
    (gotypes.NETWORK_CREATE_REQUEST, {"Internal": "true"},
     field_err("string", "CreateRequest.CreateOptions.Internal", "bool")),
    (gotypes.NETWORK_CREATE_REQUEST, {"IPAM": {"Config": [{"Subnet": 10}]}},
     field_err("number", "IPAMConfig.CreateOptions.IPAM.Config.Subnet", "string")),
    (gotypes.NETWORK_CONNECT_OPTIONS, {"EndpointConfig": {"Aliases": "a"}},
     field_err("string", "EndpointSettings.EndpointConfig.Aliases", "[]string")),
    (gotypes.NETWORK_DISCONNECT_OPTIONS, {"Force": 1}, field_err("number", "DisconnectOptions.Force", "bool")),
])
def test_other_bodies(schema: Any, body: Any, want: str) -> None:
    assert err(body, schema) == want


_SCHEMAS = {"create": CREATE, "update": gotypes.CONTAINER_UPDATE_CONFIG, "exec": gotypes.CONTAINER_EXEC_OPTIONS,
            "execstart": gotypes.CONTAINER_EXEC_START_OPTIONS, "volume": gotypes.VOLUME_CREATE_OPTIONS,
            "network": gotypes.NETWORK_CREATE_REQUEST, "connect": gotypes.NETWORK_CONNECT_OPTIONS,
            "disconnect": gotypes.NETWORK_DISCONNECT_OPTIONS}
_CASES = [json.loads(line) for line in (Path(__file__).parent / "gojson_oracle_cases.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("case", _CASES, ids=[f"{i}-{c['kind']}" for i, c in enumerate(_CASES)])
def test_same_answer_as_go(case: dict[str, Any]) -> None:
    assert go_error(case["body"], _SCHEMAS[case["kind"]]) == case["go"]
