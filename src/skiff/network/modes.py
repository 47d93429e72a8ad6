"""``--network`` values (HostConfig.NetworkMode), parsed once, and the netns path helpers.

``container:<name|id>`` is the engine's business: it resolves the other container and runs the new
one in that container's netns (``netns_path_of_pid``); no endpoint is made, and /etc/hosts,
/etc/hostname and /etc/resolv.conf are the other container's. ``host`` uses the daemon's own netns;
``none`` a private one with only lo. Anything else names a network.
"""

from __future__ import annotations

from dataclasses import dataclass

from skiff.errors import InvalidParameter

__all__ = ["NetworkMode", "parse_network_mode", "netns_path_of_pid", "HOST_NETNS"]

HOST_NETNS = "/proc/1/ns/net"


@dataclass(frozen=True)
class NetworkMode:
    kind: str  # "default" | "bridge" | "host" | "none" | "container" | "network"
    target: str = ""  # container ref for "container", network name/id for "network"

    @property
    def needs_netns(self) -> bool:
        """True when the container gets a netns of its own."""
        return self.kind not in ("host", "container")

    @property
    def network(self) -> str:
        """The network to connect to at start ("" for host/none/container)."""
        if self.kind in ("default", "bridge"):
            return "bridge"
        return self.target if self.kind == "network" else ""

    @property
    def user_defined(self) -> bool:
        return self.kind == "network"


def parse_network_mode(value: str) -> NetworkMode:
    if value in ("", "default"):
        return NetworkMode("default")
    if value in ("bridge", "host", "none"):
        return NetworkMode(value)
    if value.startswith("container:"):
        ref = value.split(":", 1)[1]
        if not ref:
            raise InvalidParameter("invalid container format container:<name|id>")
        return NetworkMode("container", ref)
    return NetworkMode("network", value)


def netns_path_of_pid(pid: int) -> str:
    """The netns of a running process: what ``container:<id>`` joins and what setup() is given."""
    return f"/proc/{pid}/ns/net"
