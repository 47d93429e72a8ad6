"""The macvlan driver: each endpoint is a macvlan child of the ``parent`` interface.

Options: ``parent`` (required here: this kernel cannot make Docker's dummy parent) and
``macvlan_mode`` (bridge, private, vepa, passthru; default bridge). No bridge, no NAT, no firewall:
the container sits directly on the parent's segment, and the gateway is the one given by IPAM.
"""

from __future__ import annotations

from skiff.errors import InvalidParameter
from skiff.network import netlink
from skiff.network.driverapi import EndpointConfig, EndpointInfo, NetworkConfig, random_mac
from skiff.network.sublink import check_parent, plug_child, unplug_child

__all__ = ["MacvlanDriver"]

MODES = ("bridge", "private", "vepa", "passthru")


class MacvlanDriver:
    name = "macvlan"

    def __init__(self, parent_netns: str | None = None) -> None:
        self._parent_netns = parent_netns
        self._networks: dict[str, NetworkConfig] = {}

    def create_network(self, cfg: NetworkConfig) -> None:
        mode = cfg.options.get("macvlan_mode", "bridge")
        if mode not in MODES:
            raise InvalidParameter(f"requested macvlan mode '{mode}' is not valid, 'bridge' mode is the macvlan "
                                   "driver default")
        check_parent(cfg, self._parent_netns)
        self._networks[cfg.id] = cfg

    def delete_network(self, network_id: str) -> None:
        self._networks.pop(network_id, None)

    def setup(self, netns_path: str, ep: EndpointConfig) -> EndpointInfo:
        cfg = self._networks[ep.network_id]
        mode = cfg.options.get("macvlan_mode", "bridge")

        def make(name: str, parent: str, netns: str | None) -> None:
            netlink.create_macvlan(name, parent, mode, netns)

        return plug_child(cfg, ep, netns_path, self._parent_netns, make, mac=ep.mac or random_mac())

    def teardown(self, netns_path: str | None, ep: EndpointInfo) -> None:
        unplug_child(netns_path, ep)
