"""The host driver: the container shares the daemon's network namespace; nothing to make.

The engine runs such a container without a new netns; endpoints exist only to be listed.
"""

from __future__ import annotations

from skiff.network.driverapi import EndpointConfig, EndpointInfo, NetworkConfig

__all__ = ["HostDriver"]


class HostDriver:
    name = "host"

    def create_network(self, cfg: NetworkConfig) -> None:
        return None

    def delete_network(self, network_id: str) -> None:
        return None

    def setup(self, netns_path: str, ep: EndpointConfig) -> EndpointInfo:
        return EndpointInfo(network_id=ep.network_id, endpoint_id=ep.endpoint_id)

    def teardown(self, netns_path: str | None, ep: EndpointInfo) -> None:
        return None
