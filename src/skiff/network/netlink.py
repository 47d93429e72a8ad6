"""The one module that talks netlink: links, addresses and routes, in any netns given by path.

This is the only importer of pyroute2 (moby keeps the same rule with ``nlwrap``). Every function
takes an optional ``netns`` path; None means the daemon's own namespace. Requests that must happen
inside another namespace run in a helper thread that entered it (see ``netns.run_in_netns``), which
is cheaper than pyroute2's forked helper. Dumps interrupted by a concurrent change are retried.
Errors are ``LinkError`` (a ``skiff.errors.System``) carrying the operation, the link and the errno;
"already exists" on create and "not found" on delete are treated as success, so setup and cleanup
are idempotent.
"""

from __future__ import annotations

import errno
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkDumpInterrupted, NetlinkError

from skiff.errors import System
from skiff.network.netns import run_in_netns

__all__ = [
    "LinkError",
    "LinkInfo",
    "link_exists",
    "link_info",
    "list_links",
    "create_bridge",
    "create_veth",
    "configure_interface",
    "create_dummy",
    "create_macvlan",
    "create_ipvlan",
    "move_to_netns",
    "rename",
    "set_master",
    "set_hairpin",
    "set_mtu",
    "set_mac",
    "set_up",
    "delete_link",
    "add_address",
    "list_addresses",
    "add_route",
    "host_routes",
]

T = TypeVar("T")
_DUMP_RETRIES = 5


class LinkError(System):
    """A netlink request failed; names the operation and the link."""

    def __init__(self, op: str, name: str, code: int, detail: str = "") -> None:
        text = detail or (os.strerror(code) if code > 0 else "unknown error")
        super().__init__(f"netlink {op} {name}: {text}")
        self.op = op
        self.name = name
        self.errno = code


@dataclass(frozen=True)
class LinkInfo:
    """What Skiff needs to know about a link."""

    index: int
    name: str
    mac: str
    mtu: int
    kind: str
    up: bool
    master: int
    alias: str = ""


def _run(netns: str | None, op: str, name: str, fn: Callable[[IPRoute], T], ok: tuple[int, ...] = ()) -> T | None:
    def inner() -> T | None:
        with IPRoute() as ipr:
            for attempt in range(_DUMP_RETRIES):
                try:
                    return fn(ipr)
                except NetlinkDumpInterrupted:
                    if attempt == _DUMP_RETRIES - 1:
                        raise LinkError(op, name, errno.EINTR, "dump interrupted too many times") from None
                except NetlinkError as exc:
                    if exc.code in ok:
                        return None
                    raise LinkError(op, name, exc.code) from exc
        return None

    return run_in_netns(netns, inner)


def _index(ipr: IPRoute, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise NetlinkError(errno.ENODEV, f"no such link {name}")
    return int(found[0])


def _info(msg: Any) -> LinkInfo:
    linkinfo = msg.get_attr("IFLA_LINKINFO")
    kind = linkinfo.get_attr("IFLA_INFO_KIND") if linkinfo is not None else ""
    return LinkInfo(
        index=int(msg["index"]),
        name=str(msg.get_attr("IFLA_IFNAME")),
        mac=str(msg.get_attr("IFLA_ADDRESS") or ""),
        mtu=int(msg.get_attr("IFLA_MTU") or 0),
        kind=str(kind or ""),
        up=bool(msg["flags"] & 1),
        master=int(msg.get_attr("IFLA_MASTER") or 0),
        alias=str(msg.get_attr("IFLA_IFALIAS") or ""),
    )


def link_info(name: str, netns: str | None = None) -> LinkInfo | None:
    """The link called name, or None when there is none."""

    def fn(ipr: IPRoute) -> LinkInfo | None:
        msgs = ipr.link("get", ifname=name)
        return _info(msgs[0]) if msgs else None

    return _run(netns, "get", name, fn, ok=(errno.ENODEV,))


def link_exists(name: str, netns: str | None = None) -> bool:
    return link_info(name, netns) is not None


def list_links(netns: str | None = None) -> list[LinkInfo]:
    """Every link in the namespace."""
    result = _run(netns, "dump", "links", lambda ipr: [_info(m) for m in ipr.link("dump")])
    return result or []


def create_bridge(name: str, mtu: int | None = None, netns: str | None = None, alias: str = "") -> None:
    """Create a bridge; an existing link of that name is kept (and keeps its alias). ``alias`` marks
    a bridge we made, so that only those are ever deleted (a host's docker0 or br0 named by
    ``com.docker.network.bridge.name`` is not ours)."""
    extra: dict[str, Any] = {"mtu": mtu} if mtu else {}

    def fn(ipr: IPRoute) -> None:
        try:
            ipr.link("add", ifname=name, kind="bridge", **extra)
        except NetlinkError as e:
            if e.code == errno.EEXIST:
                return  # not ours: no alias
            raise
        if alias:  # the kernel takes IFLA_IFALIAS on "set" only
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], ifalias=alias)

    _run(netns, "create bridge", name, fn)


def create_veth(name: str, peer: str, mtu: int | None = None, netns: str | None = None,
                peer_netns: str | None = None, peer_mac: str = "") -> None:
    """Create a veth pair name <-> peer in netns; with peer_netns the peer is born there (no move)."""
    extra: dict[str, Any] = {"mtu": mtu} if mtu else {}
    peer_spec: dict[str, Any] = {"ifname": peer, **extra}
    if peer_mac:
        peer_spec["address"] = peer_mac
    fd = os.open(peer_netns, os.O_RDONLY | os.O_CLOEXEC) if peer_netns else -1
    if fd >= 0:
        peer_spec["net_ns_fd"] = fd

    def fn(ipr: IPRoute) -> None:
        ipr.link("add", ifname=name, kind="veth", peer=peer_spec, **extra)

    try:
        _run(netns, "create veth", name, fn)
    finally:
        if fd >= 0:
            os.close(fd)


def configure_interface(name: str, addresses: tuple[str, ...] | list[str], gateway: str = "", gateway6: str = "",
                        netns: str | None = None) -> None:
    """In one netlink session: lo up, addresses on name, name up, default routes via the gateways."""

    def fn(ipr: IPRoute) -> None:
        lo = ipr.link_lookup(ifname="lo")
        if lo:
            ipr.link("set", index=lo[0], state="up")
        idx = _index(ipr, name)
        for cidr in addresses:
            iface = ipaddress.ip_interface(cidr)
            kw: dict[str, Any] = {}
            if iface.version == 4:
                kw["broadcast"] = str(iface.network.broadcast_address)
            else:
                kw["flags"] = 0x02  # IFA_F_NODAD: IPAM made it unique; usable at once, as libnetwork does
            try:
                ipr.addr("add", index=idx, address=str(iface.ip), prefixlen=iface.network.prefixlen, **kw)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
        ipr.link("set", index=idx, state="up")
        for gw, dst, family in ((gateway, "default", 2), (gateway6, "::/0", 10)):
            if not gw:
                continue
            try:
                ipr.route("add", dst=dst, gateway=gw, family=family)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise

    _run(netns, "configure", name, fn)


def create_dummy(name: str, netns: str | None = None) -> None:
    """Create a dummy link (tests use one as a macvlan/ipvlan parent)."""
    _run(netns, "create dummy", name, lambda ipr: ipr.link("add", ifname=name, kind="dummy"), ok=(errno.EEXIST,))


def _create_child(kind: str, mode_key: str, name: str, parent: str, mode: str, netns: str | None,
                  mtu: int | None) -> None:
    def fn(ipr: IPRoute) -> None:
        extra: dict[str, Any] = {"mtu": mtu} if mtu else {}
        ipr.link("add", ifname=name, kind=kind, link=_index(ipr, parent), **{mode_key: mode}, **extra)

    _run(netns, f"create {kind}", name, fn)


def create_macvlan(name: str, parent: str, mode: str = "bridge", netns: str | None = None,
                   mtu: int | None = None) -> None:
    """Create a macvlan child of parent (both in netns)."""
    _create_child("macvlan", "macvlan_mode", name, parent, mode, netns, mtu)


def create_ipvlan(name: str, parent: str, mode: str = "l2", netns: str | None = None,
                  mtu: int | None = None) -> None:
    """Create an ipvlan child of parent (both in netns); mode is l2, l3 or l3s."""
    modes = {"l2": 0, "l3": 1, "l3s": 2}
    if mode not in modes:
        raise LinkError("create ipvlan", name, errno.EINVAL, f"invalid ipvlan mode {mode}")

    def fn(ipr: IPRoute) -> None:
        extra: dict[str, Any] = {"mtu": mtu} if mtu else {}
        ipr.link("add", ifname=name, kind="ipvlan", link=_index(ipr, parent), ipvlan_mode=modes[mode], **extra)

    _run(netns, "create ipvlan", name, fn)


def move_to_netns(name: str, target: str, netns: str | None = None) -> None:
    """Move link name from netns (None: here) into the namespace at path target."""
    fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _run(netns, "move", name, lambda ipr: ipr.link("set", index=_index(ipr, name), net_ns_fd=fd))
    finally:
        os.close(fd)


def rename(name: str, new: str, netns: str | None = None) -> None:
    """Rename a (down) link."""
    _run(netns, "rename", name, lambda ipr: ipr.link("set", index=_index(ipr, name), ifname=new))


def set_master(name: str, master: str, netns: str | None = None) -> None:
    """Attach link name to bridge master."""

    def fn(ipr: IPRoute) -> None:
        ipr.link("set", index=_index(ipr, name), master=_index(ipr, master))

    _run(netns, "set master", name, fn)


def set_hairpin(name: str, on: bool = True, netns: str | None = None) -> None:
    """Let a bridge port send frames back where they came from (NAT loopback to oneself)."""
    _run(netns, "set hairpin", name, lambda ipr: ipr.link("set", index=_index(ipr, name), kind="bridge_slave",
                                                                IFLA_BRPORT_MODE=int(on)))


def set_mtu(name: str, mtu: int, netns: str | None = None) -> None:
    _run(netns, "set mtu", name, lambda ipr: ipr.link("set", index=_index(ipr, name), mtu=mtu))


def set_mac(name: str, mac: str, netns: str | None = None) -> None:
    _run(netns, "set mac", name, lambda ipr: ipr.link("set", index=_index(ipr, name), address=mac))


def set_up(name: str, netns: str | None = None, up: bool = True) -> None:
    state = "up" if up else "down"
    _run(netns, f"set {state}", name, lambda ipr: ipr.link("set", index=_index(ipr, name), state=state))


def delete_link(name: str, netns: str | None = None) -> None:
    """Delete a link; a missing one is fine (cleanup is idempotent)."""

    def fn(ipr: IPRoute) -> None:
        found = ipr.link_lookup(ifname=name)
        if found:
            ipr.link("del", index=found[0])

    _run(netns, "delete", name, fn, ok=(errno.ENODEV,))


def add_address(name: str, cidr: str, netns: str | None = None) -> None:
    """Add address cidr ("172.18.0.1/16") to a link; an existing one is kept."""
    iface = ipaddress.ip_interface(cidr)

    def fn(ipr: IPRoute) -> None:
        kwargs: dict[str, Any] = {}
        if iface.version == 4:
            kwargs["broadcast"] = str(iface.network.broadcast_address)
        ipr.addr("add", index=_index(ipr, name), address=str(iface.ip), prefixlen=iface.network.prefixlen,
                 **kwargs)

    _run(netns, "add address", name, fn, ok=(errno.EEXIST,))


def list_addresses(name: str, netns: str | None = None) -> list[str]:
    """Addresses of a link as "ip/prefixlen" strings."""

    def fn(ipr: IPRoute) -> list[str]:
        return [f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}" for m in ipr.addr("dump", index=_index(ipr, name))]

    return _run(netns, "list addresses", name, fn) or []


def add_route(gateway: str | None, dst: str = "default", dev: str | None = None, netns: str | None = None) -> None:
    """Add a route (default via gateway, or dst on dev); an existing one is kept."""

    def fn(ipr: IPRoute) -> None:
        kwargs: dict[str, Any] = {"dst": dst}
        if gateway:
            kwargs["gateway"] = gateway
            if ipaddress.ip_address(gateway).version == 6:
                kwargs["family"] = 10
        if dev:
            kwargs["oif"] = _index(ipr, dev)
        ipr.route("add", **kwargs)

    _run(netns, "add route", dst, fn, ok=(errno.EEXIST,))


def host_routes(netns: str | None = None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Destinations of the routes in the main table (read only), for IPAM to avoid them."""

    def fn(ipr: IPRoute) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for family in (2, 10):
            for msg in ipr.route("dump", family=family, table=254):
                dst = msg.get_attr("RTA_DST")
                if dst is None or msg["dst_len"] == 0:
                    continue
                try:
                    nets.append(ipaddress.ip_network(f"{dst}/{msg['dst_len']}", strict=False))
                except ValueError:
                    continue
        return nets

    return _run(netns, "dump", "routes", fn) or []
