from __future__ import annotations

import pytest

from skiff.errors import InvalidParameter
from skiff.network.modes import NetworkMode, netns_path_of_pid, parse_network_mode


def test_modes() -> None:
    assert parse_network_mode("") == NetworkMode("default")
    assert parse_network_mode("default").network == "bridge"
    assert parse_network_mode("host").needs_netns is False
    assert parse_network_mode("none").network == ""
    c = parse_network_mode("container:web")
    assert (c.kind, c.target, c.needs_netns) == ("container", "web", False)
    n = parse_network_mode("mynet")
    assert (n.network, n.user_defined) == ("mynet", True)
    with pytest.raises(InvalidParameter):
        parse_network_mode("container:")
    assert netns_path_of_pid(42) == "/proc/42/ns/net"
