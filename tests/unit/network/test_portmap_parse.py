"""-p parsing and NetworkSettings.Ports / `docker port` formatting."""

from __future__ import annotations

import pytest

from skiff.errors import InvalidParameter
from skiff.network.portmap import PortMapping, PortSpec, format_port_lines, format_ports, parse_port_spec


@pytest.mark.parametrize(("text", "want"), [
    ("80", [PortSpec(80)]),
    ("8080:80", [PortSpec(80, "tcp", "", 8080, 8080)]),
    ("127.0.0.1:8080:80/udp", [PortSpec(80, "udp", "127.0.0.1", 8080, 8080)]),
    ("127.0.0.1::80", [PortSpec(80, "tcp", "127.0.0.1", 0, 0)]),
    ("[::1]:8080:80", [PortSpec(80, "tcp", "::1", 8080, 8080)]),
    ("8000-8001:80-81", [PortSpec(80, "tcp", "", 8000, 8000), PortSpec(81, "tcp", "", 8001, 8001)]),
    ("8000-8010:80", [PortSpec(80, "tcp", "", 8000, 8010)]),
    ("80-81", [PortSpec(80), PortSpec(81)]),
])
def test_parse(text: str, want: list[PortSpec]) -> None:
    assert parse_port_spec(text) == want


@pytest.mark.parametrize(("text", "msg"), [
    ("80/xyz", "Invalid proto: xyz"),
    ("abc", "Invalid containerPort: abc"),
    ("x:80", "Invalid hostPort: x"),
    ("1.2.3:80:80", "Invalid ip address: 1.2.3"),
    ("8000-8002:80-81", "Invalid ranges specified for container and host Ports: 80-81 and 8000-8002"),
    ("70000", "Invalid containerPort: 70000"),
])
def test_parse_errors(text: str, msg: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        parse_port_spec(text)
    assert str(err.value) == msg


def test_format() -> None:
    maps = [PortMapping("tcp", "0.0.0.0", 8080, "172.17.0.2", 80, "skiff0"),
            PortMapping("udp", "127.0.0.1", 5353, "172.17.0.2", 53, "skiff0")]
    assert format_ports(["80/tcp", "443/tcp"], maps) == {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None,
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]}
    assert format_port_lines(maps) == ["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080"]
