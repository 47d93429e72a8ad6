"""Client pieces without a daemon: host resolution, TLS settings, URLs, the status -> class map."""

from __future__ import annotations

from pathlib import Path

import pytest

from skiff.client.errors import DaemonError, DaemonUnreachable, from_status
from skiff.client.streams import encode_filters
from skiff.client.transport import DEFAULT_HOST, Transport, resolve_host, tls_from_env
from skiff.errors import (
    Conflict,
    Forbidden,
    InvalidParameter,
    NotFound,
    NotModified,
    System,
    Unauthorized,
    Unavailable,
    Unimplemented,
)


def test_host_resolution_order() -> None:
    assert resolve_host(None, {}) == DEFAULT_HOST == "unix:///run/skiff/skiff.sock"
    assert resolve_host(None, {"DOCKER_HOST": "unix:///d.sock"}) == "unix:///d.sock"
    env = {"DOCKER_HOST": "unix:///d.sock", "SKIFF_HOST": "unix:///s.sock"}
    assert resolve_host(None, env) == "unix:///s.sock"
    assert resolve_host("tcp://h:1", env) == "tcp://h:1"
    assert resolve_host("/x.sock", {}) == "unix:///x.sock"
    assert resolve_host("127.0.0.1:2376", {}) == "tcp://127.0.0.1:2376"


def test_tcp_ports() -> None:
    assert Transport("tcp://127.0.0.1")._port == 2375
    assert Transport("tcp://[::1]:1234")._addr == "::1"
    with pytest.raises(InvalidParameter, match="unsupported protocol scheme"):
        Transport("ssh://x")


def test_tls_from_env(tmp_path: Path) -> None:
    assert tls_from_env({}) is None
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    t = tls_from_env({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    assert t is not None and t.verify and t.ca == str(tmp_path / "ca.pem") and t.key == str(tmp_path / "key.pem")
    t = tls_from_env({"DOCKER_CERT_PATH": str(tmp_path)}, tls=True)
    assert t is not None and not t.verify and t.cert == str(tmp_path / "cert.pem")
    t = tls_from_env({}, verify=True, ca="/my/ca.pem")
    assert t is not None and t.ca == "/my/ca.pem"
    assert Transport("tcp://h", t)._port == 2376


def test_url_encoding() -> None:
    assert Transport.url("/x", {"a": True, "b": False, "c": None, "t": ["x", "y"]}) == "/x?a=1&b=0&t=x&t=y"
    assert Transport.url("/x", [("filters", '{"a":{"b":true}}')]) == "/x?filters=%7B%22a%22%3A%7B%22b%22%3Atrue%7D%7D"
    assert encode_filters({"label": ["a=b"], "x": []}) == '{"label":{"a=b":true}}'
    assert encode_filters({}) is None


@pytest.mark.parametrize(("status", "cls"), [
    (304, NotModified), (400, InvalidParameter), (401, Unauthorized), (403, Forbidden), (404, NotFound),
    (409, Conflict), (500, System), (501, Unimplemented), (503, Unavailable), (502, System),
    (418, InvalidParameter),
])
def test_status_map(status: int, cls: type) -> None:
    e = from_status(status, "msg")
    assert isinstance(e, cls) and isinstance(e, DaemonError)
    assert e.status == status and e.message == "msg" and str(e) == "Error response from daemon: msg"
    assert type(from_status(status, "other")) is type(e)  # one class per status, reused


def test_unreachable_message() -> None:
    e = DaemonUnreachable("unix:///x.sock", "refused")
    assert isinstance(e, Unavailable)
    assert str(e) == "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?"
    with pytest.raises(DaemonUnreachable):
        Transport("unix:///nonexistent/skiff.sock").request("GET", "/_ping")
