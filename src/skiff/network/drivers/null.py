"""The null driver (network ``none``): a private netns with only the loopback, brought up."""

from __future__ import annotations

from skiff.network import netlink
from skiff.network.driverapi import EndpointConfig, EndpointInfo, NetworkConfig

__all__ = ["NullDriver"]


class NullDriver:
    name = "null"

    def create_network(self, cfg: NetworkConfig) -> None:
        return None

    def delete_network(self, network_id: str) -> None:
        return None

    def setup(self, netns_path: str, ep: EndpointConfig) -> EndpointInfo:
        netlink.set_up("lo", netns=netns_path)
        return EndpointInfo(network_id=ep.network_id, endpoint_id=ep.endpoint_id)

    def teardown(self, netns_path: str | None, ep: EndpointInfo) -> None:
        return None
