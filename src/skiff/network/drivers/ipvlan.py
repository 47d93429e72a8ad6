"""The ipvlan driver: each endpoint is an ipvlan child of ``parent`` (l2 default, or l3/l3s).

Children share the parent's MAC address, so ``--mac-address`` does not apply. In l3 mode the
kernel routes for the children and no default gateway is used, as in Docker.
"""

from __future__ import annotations

from dataclasses import replace

from skiff.errors import InvalidParameter
from skiff.network import netlink
from skiff.network.driverapi import EndpointConfig, EndpointInfo, NetworkConfig
from skiff.network.sublink import check_parent, plug_child, unplug_child

__all__ = ["IpvlanDriver"]

MODES = ("l2", "l3", "l3s")


class IpvlanDriver:
    name = "ipvlan"

    def __init__(self, parent_netns: str | None = None) -> None:
        self._parent_netns = parent_netns
        self._networks: dict[str, NetworkConfig] = {}

    def create_network(self, cfg: NetworkConfig) -> None:
        mode = cfg.options.get("ipvlan_mode", "l2")
        if mode not in MODES:
            raise InvalidParameter(f"requested ipvlan mode '{mode}' is not valid, 'l2' mode is the ipvlan driver default")
        check_parent(cfg, self._parent_netns)
        self._networks[cfg.id] = cfg

    def delete_network(self, network_id: str) -> None:
        self._networks.pop(network_id, None)

    def setup(self, netns_path: str, ep: EndpointConfig) -> EndpointInfo:
        cfg = self._networks[ep.network_id]
        mode = cfg.options.get("ipvlan_mode", "l2")
        if mode != "l2":
            ep = replace(ep, gateway="", gateway6="")

        def make(name: str, parent: str, netns: str | None) -> None:
            netlink.create_ipvlan(name, parent, mode, netns)

        info = plug_child(cfg, ep, netns_path, self._parent_netns, make)
        if mode != "l2":
            netlink.add_route(None, dst="default", dev=ep.ifname, netns=netns_path)
        return info

    def teardown(self, netns_path: str | None, ep: EndpointInfo) -> None:
        unplug_child(netns_path, ep)
