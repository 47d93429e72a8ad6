"""IP address management: subnets for networks, addresses for endpoints, as Docker's default IPAM.

Model: a network owns one or more *pools* (a subnet, an optional ip-range inside it, a gateway and
auxiliary addresses nobody else may take). Pools come from the user (``--subnet``) or from the
daemon's ordered list of predefined pools (``default-address-pools``): the first candidate that
overlaps neither another network nor a host route wins. Endpoint addresses are handed out serially
inside the pool (the next free one after the last given, wrapping), so a released address is not
reused at once, as libnetwork's bitmap allocator does. Every change is written to one JSON file
(temp + fsync + rename) before it is acknowledged, so allocations survive a daemon restart.
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skiff.errors import Forbidden, InvalidParameter, Unavailable

__all__ = [
    "PoolSpec",
    "DEFAULT_POOLS",
    "SubnetRequest",
    "Pool",
    "Ipam",
    "PoolOverlap",
    "NoMoreSubnets",
    "NoAvailableIPs",
    "InvalidAddress",
    "AddressInUse",
    "InvalidPoolRequest",
    "parse_pool_specs",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PoolOverlap(Forbidden):
    def __init__(self) -> None:
        super().__init__("invalid pool request: Pool overlaps with other one on this address space")


class NoMoreSubnets(Forbidden):
    def __init__(self, version: int = 4) -> None:
        super().__init__("all predefined address pools have been fully subnetted"
                         if version == 4 else "no IPv6 subnet could be allocated from the predefined pools")


class NoAvailableIPs(Unavailable):
    def __init__(self, version: int, name: str, network_id: str) -> None:
        super().__init__(f"no available IPv{version} addresses on this network's address pools: "
                         f"{name} ({network_id})")


class InvalidAddress(InvalidParameter):
    def __init__(self, address: str) -> None:
        super().__init__(f"invalid address {address}: It does not belong to any of this network's subnets")


class AddressInUse(Forbidden):
    def __init__(self) -> None:
        super().__init__("Address already in use")


class InvalidPoolRequest(InvalidParameter):
    """Malformed subnet, range, gateway or aux address."""


@dataclass(frozen=True)
class PoolSpec:
    """One entry of default-address-pools: carve networks of /size out of base."""

    base: str
    size: int


DEFAULT_POOLS: tuple[PoolSpec, ...] = (
    PoolSpec("172.17.0.0/16", 16),
    PoolSpec("172.18.0.0/16", 16),
    PoolSpec("172.19.0.0/16", 16),
    PoolSpec("172.20.0.0/14", 16),
    PoolSpec("172.24.0.0/14", 16),
    PoolSpec("172.28.0.0/14", 16),
    PoolSpec("192.168.0.0/16", 20),
)
DEFAULT_POOLS_V6: tuple[PoolSpec, ...] = (PoolSpec("fd00::/8", 64),)


def parse_pool_specs(raw: Sequence[Mapping[str, Any]]) -> tuple[PoolSpec, ...]:
    """daemon.json default-address-pools ([{"base": "10.10.0.0/16", "size": 24}]) -> PoolSpecs."""
    specs = []
    for entry in raw:
        base, size = str(entry.get("base", "")), int(entry.get("size", 0))
        try:
            net = ipaddress.ip_network(base)
        except ValueError:
            raise InvalidPoolRequest(f"invalid base pool {base!r}") from None
        if size < net.prefixlen or size > net.max_prefixlen:
            raise InvalidPoolRequest(f"invalid pools size: {size}")
        specs.append(PoolSpec(base, size))
    return tuple(specs)


@dataclass(frozen=True)
class SubnetRequest:
    """What the user asked for one subnet of a network (all optional: empty = pick)."""

    subnet: str = ""
    ip_range: str = ""
    gateway: str = ""
    aux_addresses: Mapping[str, str] = field(default_factory=dict)
    version: int = 4


@dataclass(frozen=True)
class Pool:
    """A subnet owned by a network, as shown in IPAM.Config."""

    subnet: str
    gateway: str
    ip_range: str = ""
    aux_addresses: Mapping[str, str] = field(default_factory=dict)
    user_subnet: bool = False

    @property
    def version(self) -> int:
        return ipaddress.ip_network(self.subnet).version

    def to_docker(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Subnet": self.subnet}
        if self.ip_range:
            out["IPRange"] = self.ip_range
        if self.gateway:
            out["Gateway"] = self.gateway
        if self.aux_addresses:
            out["AuxiliaryAddresses"] = dict(self.aux_addresses)
        return out


def _net(text: str, what: str) -> Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidPoolRequest(f"invalid {what}: {text}") from None


def _addr(text: str, what: str) -> Address:
    try:
        return ipaddress.ip_address(text.split("/")[0])
    except ValueError:
        raise InvalidPoolRequest(f"invalid {what}: {text}") from None


class Ipam:
    """Allocator of pools and addresses, persisted in state_path (a JSON file), or in memory only
    (state_path None) when the caller rebuilds it from its own records with ``adopt`` and
    ``request_address(ip=...)``, as NetworkService does from networks.json."""

    def __init__(self, state_path: Path | None, pools: Sequence[PoolSpec] = DEFAULT_POOLS,
                 pools_v6: Sequence[PoolSpec] = DEFAULT_POOLS_V6,
                 host_routes: Callable[[], Sequence[Network]] = lambda: ()) -> None:
        self._path = Path(state_path) if state_path is not None else None
        self._specs = {4: tuple(pools), 6: tuple(pools_v6)}
        self._host_routes = host_routes
        self._lock = threading.RLock()
        self._state: dict[str, Any] = {"networks": {}}
        if self._path is not None and self._path.exists():
            self._state = json.loads(self._path.read_text())

    # -- persistence ------------------------------------------------------------------------
    def _save(self) -> None:
        if self._path is None:  # in memory: the caller's records are the source of truth
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(self._state, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)

    # -- pools ------------------------------------------------------------------------------
    def _all_subnets(self, exclude: str = "") -> list[Network]:
        return [ipaddress.ip_network(p["subnet"]) for nid, rec in self._state["networks"].items()
                if nid != exclude for p in rec["pools"]]

    def _candidates(self, version: int) -> Iterator[Network]:
        for spec in self._specs[version]:
            base = ipaddress.ip_network(spec.base)
            if base.prefixlen == spec.size:
                yield base
            else:
                yield from base.subnets(new_prefix=spec.size)

    def _pick_subnet(self, version: int, taken: list[Network]) -> Network:
        routes = [r for r in self._host_routes() if r.version == version]
        for cand in self._candidates(version):
            if any(cand.overlaps(t) for t in taken if t.version == version):
                continue
            if any(cand.overlaps(r) for r in routes):
                continue
            return cand
        raise NoMoreSubnets(version)

    def _make_pool(self, req: SubnetRequest, taken: list[Network]) -> dict[str, Any]:
        user = bool(req.subnet)
        if user:
            subnet = _net(req.subnet, "subnet")
            if any(subnet.overlaps(t) for t in taken if t.version == subnet.version):
                raise PoolOverlap()
        else:
            subnet = self._pick_subnet(req.version, taken)
        rng = ""
        if req.ip_range:
            r = _net(req.ip_range, "ip-range")
            if r.version != subnet.version or not r.subnet_of(subnet):  # type: ignore[arg-type]
                raise InvalidPoolRequest(f"no matching subnet for range {req.ip_range}")
            rng = str(r)
        if req.gateway:
            gw = _addr(req.gateway, "gateway")
            if gw not in subnet:
                raise InvalidPoolRequest(f"no matching subnet for gateway {req.gateway}")
        else:
            gw = subnet.network_address + 1
        aux: dict[str, str] = {}
        for name, value in req.aux_addresses.items():
            a = _addr(value, "aux-address")
            if a not in subnet:
                raise InvalidPoolRequest(f"no matching subnet for aux-address {value}")
            aux[name] = str(a)
        return {"subnet": str(subnet), "gateway": str(gw), "ip_range": rng, "aux": aux, "user": user,
                "last": 0}

    def allocate_pools(self, network_id: str, name: str, requests: Sequence[SubnetRequest],
                       ipv6: bool = False) -> list[Pool]:
        """Give network_id its pools (one IPv4 unless requested otherwise, plus IPv6 when asked);
        all or nothing. Raises PoolOverlap, NoMoreSubnets, InvalidPoolRequest."""
        with self._lock:
            if network_id in self._state["networks"]:
                return self.pools(network_id)
            reqs = list(requests)
            if not any(r.version == 4 or (r.subnet and _net(r.subnet, "subnet").version == 4) for r in reqs):
                reqs.insert(0, SubnetRequest(version=4))
            if ipv6 and not any(r.subnet and _net(r.subnet, "subnet").version == 6 for r in reqs):
                reqs.append(SubnetRequest(version=6))
            taken = self._all_subnets()
            made = []
            for r in reqs:
                pool = self._make_pool(r, taken)
                taken.append(ipaddress.ip_network(pool["subnet"]))
                made.append(pool)
            addresses = {}
            for p in made:
                addresses[p["gateway"]] = "gateway"
                for a in p["aux"].values():
                    addresses[a] = "aux"
            self._state["networks"][network_id] = {"name": name, "pools": made, "addresses": addresses}
            self._save()
            return self.pools(network_id)

    def adopt(self, network_id: str, name: str, pools: Sequence[Pool]) -> None:
        """Record pools decided elsewhere (restore of a persisted network whose IPAM file is lost)."""
        with self._lock:
            if network_id in self._state["networks"]:
                return
            made = [{"subnet": p.subnet, "gateway": p.gateway, "ip_range": p.ip_range,
                     "aux": dict(p.aux_addresses), "user": p.user_subnet, "last": 0} for p in pools]
            addresses = {p.gateway: "gateway" for p in pools if p.gateway}
            addresses.update({a: "aux" for p in pools for a in p.aux_addresses.values()})
            self._state["networks"][network_id] = {"name": name, "pools": made, "addresses": addresses}
            self._save()

    def release_pools(self, network_id: str) -> None:
        with self._lock:
            if self._state["networks"].pop(network_id, None) is not None:
                self._save()

    def pools(self, network_id: str) -> list[Pool]:
        with self._lock:
            rec = self._state["networks"].get(network_id)
            if rec is None:
                return []
            return [Pool(p["subnet"], p["gateway"], p["ip_range"], dict(p["aux"]), p["user"]) for p in rec["pools"]]

    # -- addresses --------------------------------------------------------------------------
    def request_address(self, network_id: str, ip: str | None = None, version: int = 4,
                        owner: str = "") -> tuple[Address, Pool]:
        """A free address (or exactly ip) in the network's pools of that IP version.

        Raises InvalidAddress (ip outside every subnet), AddressInUse, NoAvailableIPs."""
        with self._lock:
            rec = self._state["networks"][network_id]
            used: dict[str, str] = rec["addresses"]
            if ip:
                want = _addr(ip, "address")
                for p in rec["pools"]:
                    subnet = ipaddress.ip_network(p["subnet"])
                    if want in subnet:
                        if str(want) in used or (subnet.version == 4 and subnet.prefixlen < 31 and want in (
                                subnet.network_address, subnet.broadcast_address)):
                            raise AddressInUse()
                        used[str(want)] = owner or "static"
                        self._save()
                        return want, self._pool(p)
                raise InvalidAddress(ip)
            for p in rec["pools"]:
                if ipaddress.ip_network(p["subnet"]).version != version:
                    continue
                got = self._next_free(p, used)
                if got is not None:
                    used[str(got)] = owner or "dynamic"
                    self._save()
                    return got, self._pool(p)
            raise NoAvailableIPs(version, rec["name"], network_id)

    @staticmethod
    def _pool(p: Mapping[str, Any]) -> Pool:
        return Pool(p["subnet"], p["gateway"], p["ip_range"], dict(p["aux"]), p["user"])

    @staticmethod
    def _next_free(p: dict[str, Any], used: Mapping[str, str]) -> Address | None:
        subnet = ipaddress.ip_network(p["subnet"])
        rng = ipaddress.ip_network(p["ip_range"]) if p["ip_range"] else subnet
        first, last = int(rng.network_address), int(rng.broadcast_address)
        if subnet.version == 4 and subnet.prefixlen < 31:
            first = max(first, int(subnet.network_address) + 1)
            last = min(last, int(subnet.broadcast_address) - 1)
        elif subnet.version == 6:
            first = max(first, int(subnet.network_address) + 1)
        span = last - first + 1
        if span <= 0:
            return None
        start = p.get("last", 0)
        start = start + 1 if first <= start <= last else first
        limit = min(span, len(used) + 1)  # serial scan: a free one is at most len(used) steps away
        for i in range(limit):
            cand = first + (start - first + i) % span
            addr = ipaddress.ip_address(cand)
            if str(addr) not in used:
                p["last"] = cand
                return addr
        return None

    def release_address(self, network_id: str, ip: str) -> None:
        """Give an endpoint address back; unknown networks or addresses are ignored."""
        with self._lock:
            rec = self._state["networks"].get(network_id)
            if rec is None:
                return
            owner = rec["addresses"].get(ip)
            if owner is not None and owner not in ("gateway", "aux"):
                del rec["addresses"][ip]
                self._save()

    def addresses(self, network_id: str) -> dict[str, str]:
        """Allocated addresses of a network -> owner ("gateway", "aux" or the endpoint's)."""
        with self._lock:
            rec = self._state["networks"].get(network_id)
            return dict(rec["addresses"]) if rec else {}
