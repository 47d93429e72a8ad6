"""Plugging a child link of a parent interface (macvlan, ipvlan) into a container's netns.

Shared by the macvlan and ipvlan drivers, which must not import each other. The child is made next
to its parent (in ``parent_netns``, None = the daemon's; tests keep the parent in a netns of their
own), moved into the container's netns, renamed and addressed there.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from skiff.errors import InvalidParameter
from skiff.network import netlink
from skiff.network.driverapi import EndpointConfig, EndpointInfo, NetworkConfig

__all__ = ["check_parent", "plug_child", "unplug_child"]


def check_parent(cfg: NetworkConfig, parent_netns: str | None) -> str:
    parent = cfg.options.get("parent", "")
    if not parent:
        raise InvalidParameter(f"network {cfg.name}: the -o parent=<interface> option is required "
                               "(a dummy parent cannot be made on this kernel)")
    if not netlink.link_exists(parent, parent_netns):
        raise InvalidParameter(f"-o parent interface was not found on the host: {parent}")
    return parent


def plug_child(cfg: NetworkConfig, ep: EndpointConfig, netns_path: str, parent_netns: str | None,
               make: Callable[[str, str, str | None], None], mac: str = "") -> EndpointInfo:
    """make(name, parent, netns) creates the child; returns what was plugged."""
    parent = check_parent(cfg, parent_netns)
    tmp = "sk" + secrets.token_hex(4)
    make(tmp, parent, parent_netns)
    try:
        netlink.move_to_netns(tmp, netns_path, netns=parent_netns)
    except Exception:
        netlink.delete_link(tmp, parent_netns)
        raise
    try:
        netlink.rename(tmp, ep.ifname, netns=netns_path)
        if mac:
            netlink.set_mac(ep.ifname, mac, netns=netns_path)
        netlink.set_up("lo", netns=netns_path)
        for cidr in ep.addresses:
            netlink.add_address(ep.ifname, cidr, netns=netns_path)
        netlink.set_up(ep.ifname, netns=netns_path)
        if not cfg.internal and ep.gateway:
            netlink.add_route(ep.gateway, netns=netns_path)
        if not cfg.internal and ep.gateway6:
            netlink.add_route(ep.gateway6, dst="::/0", netns=netns_path)
        info = netlink.link_info(ep.ifname, netns_path)
    except Exception:
        for name in (tmp, ep.ifname):
            try:
                netlink.delete_link(name, netns_path)
            except netlink.LinkError:
                pass
        raise
    return EndpointInfo(network_id=ep.network_id, endpoint_id=ep.endpoint_id, ifname=ep.ifname,
                        mac=info.mac if info else mac, addresses=ep.addresses,
                        gateway="" if cfg.internal else ep.gateway, gateway6="" if cfg.internal else ep.gateway6)


def unplug_child(netns_path: str | None, ep: EndpointInfo) -> None:
    if netns_path and ep.ifname:
        try:
            netlink.delete_link(ep.ifname, netns_path)
        except (OSError, netlink.LinkError):
            pass
