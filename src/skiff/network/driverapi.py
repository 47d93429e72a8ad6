"""The contract between the network service and its drivers (moby's ``driverapi``).

A driver makes a network's kernel objects (a bridge and its rules, nothing for host/none) and plugs
one endpoint into a network namespace given by *path*. It never sees a container: the engine owns
containers and hands over ``/proc/<pid>/ns/net`` or a bind-mounted netns file. IP addresses are
decided by IPAM before ``setup`` is called, so drivers only program what they are told.

Lifecycle: ``create_network`` (idempotent: also used to restore after a daemon restart) ->
``setup``/``teardown`` per endpoint -> ``delete_network``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from skiff.network.ipam import Pool

__all__ = ["NetworkConfig", "EndpointConfig", "EndpointInfo", "Driver", "random_mac", "option_bool"]


@dataclass(frozen=True)
class NetworkConfig:
    """A network as a driver needs it: identity, pools from IPAM, driver options."""

    id: str
    name: str
    driver: str
    pools: tuple[Pool, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    internal: bool = False
    enable_ipv6: bool = False


@dataclass(frozen=True)
class EndpointConfig:
    """One interface to make in a netns: addresses are CIDRs ("172.18.0.2/16"), IPv4 first."""

    network_id: str
    endpoint_id: str
    addresses: tuple[str, ...] = ()
    gateway: str = ""
    gateway6: str = ""
    mac: str = ""
    ifname: str = "eth0"


@dataclass(frozen=True)
class EndpointInfo:
    """What setup made, enough to tear it down after a restart and to fill NetworkSettings."""

    network_id: str
    endpoint_id: str
    ifname: str = ""
    host_ifname: str = ""
    bridge: str = ""
    mac: str = ""
    addresses: tuple[str, ...] = ()
    gateway: str = ""
    gateway6: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EndpointInfo:
        data = dict(raw)
        data["addresses"] = tuple(data.get("addresses", ()))
        return cls(**data)


class Driver(Protocol):
    """A network driver: bridge, host, null, macvlan, ipvlan."""

    name: str

    def create_network(self, cfg: NetworkConfig) -> None:
        """Make (or re-make after a restart) the network's kernel objects; idempotent."""

    def delete_network(self, network_id: str) -> None:
        """Remove everything create_network made; idempotent."""

    def setup(self, netns_path: str, ep: EndpointConfig) -> EndpointInfo:
        """Plug an endpoint into the netns at netns_path."""

    def teardown(self, netns_path: str | None, ep: EndpointInfo) -> None:
        """Undo setup; the netns may already be gone (None)."""


def random_mac() -> str:
    """A random, locally administered, unicast MAC, as Docker 26+ gives containers."""
    raw = bytearray(secrets.token_bytes(6))
    raw[0] = (raw[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in raw)


def option_bool(options: Mapping[str, str], key: str, default: bool) -> bool:
    value = options.get(key)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")
