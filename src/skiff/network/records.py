"""Persisted network and endpoint records, their Docker JSON shapes, and the crash-safe store.

One JSON document (temp + fsync + rename) holds every network and endpoint; it is the source of
truth the service reconciles the kernel against after a restart.
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from skiff.network.ipam import Pool, SubnetRequest
from skiff.network.portmap import PortMapping, PortSpec

__all__ = ["CreateRequest", "ConnectRequest", "NetworkRecord", "Endpoint", "Store"]


@dataclass(frozen=True)
class CreateRequest:
    """``docker network create`` / POST /networks/create, parsed."""

    name: str
    driver: str = "bridge"
    subnets: tuple[SubnetRequest, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    ipam_driver: str = "default"
    ipam_options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectRequest:
    """Attach one container's netns to a network (run/start with --network, or network connect)."""

    container_id: str
    container_name: str
    netns_path: str
    ipv4: str = ""
    ipv6: str = ""
    aliases: tuple[str, ...] = ()
    mac: str = ""
    hostname: str = ""
    ports: tuple[PortSpec, ...] = ()
    upstreams: tuple[tuple[str, int], ...] | None = None  # embedded DNS upstreams; None = host's


@dataclass
class NetworkRecord:
    id: str
    name: str
    driver: str
    created: str
    scope: str = "local"
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    ipam_driver: str = "default"
    ipam_options: dict[str, str] = field(default_factory=dict)
    pools: list[Pool] = field(default_factory=list)
    predefined: bool = False

    @property
    def user_defined(self) -> bool:
        return not self.predefined

    def matches(self, filters: Mapping[str, Sequence[str]], in_use: bool) -> bool:
        """Docker's network filters: driver, id (prefix), name (substring), scope, type
        (builtin|custom), label (key or key=value), dangling (no endpoints, not predefined)."""
        for key, values in filters.items():
            if not values:
                continue
            if key == "driver" and self.driver not in values:
                return False
            if key == "id" and not any(self.id.startswith(v) for v in values):
                return False
            if key == "name" and not any(v in self.name for v in values):
                return False
            if key == "scope" and self.scope not in values:
                return False
            if key == "type" and ("builtin" if self.predefined else "custom") not in values:
                return False
            if key == "label":
                for v in values:
                    k, eq, val = v.partition("=")
                    if k not in self.labels or (eq and self.labels[k] != val):
                        return False
            if key == "dangling" and (values[0].lower() in ("1", "true")) != (not in_use and not self.predefined):
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pools"] = [asdict(p) | {"aux_addresses": dict(p.aux_addresses)} for p in self.pools]
        return d

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> NetworkRecord:
        d = dict(raw)
        d["pools"] = [Pool(**p) for p in d.get("pools", [])]
        return cls(**d)

    def to_docker(self, endpoints: Sequence[Endpoint] = ()) -> dict[str, Any]:
        """GET /networks/{id}: Docker's shape, Containers included."""
        config = [p.to_docker() for p in self.pools]
        return {
            "Name": self.name,
            "Id": self.id,
            "Created": self.created,
            "Scope": self.scope,
            "Driver": self.driver,
            "EnableIPv4": True,
            "EnableIPv6": self.enable_ipv6,
            "IPAM": {"Driver": self.ipam_driver, "Options": dict(self.ipam_options) or None if self.predefined
                     else dict(self.ipam_options), "Config": config if config or not self.predefined else None},
            "Internal": self.internal,
            "Attachable": self.attachable,
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": {ep.container_id: ep.to_network_entry() for ep in endpoints},
            "Options": dict(self.options),
            "Labels": dict(self.labels),
        }


@dataclass
class Endpoint:
    id: str
    network_id: str
    container_id: str
    container_name: str
    netns_path: str
    ifname: str = ""
    host_ifname: str = ""
    bridge: str = ""
    mac: str = ""
    ipv4: str = ""  # CIDR
    ipv6: str = ""  # CIDR
    gateway: str = ""
    gateway6: str = ""
    static_ipv4: str = ""
    static_ipv6: str = ""
    aliases: list[str] = field(default_factory=list)
    dns_names: list[str] = field(default_factory=list)
    ports: list[PortMapping] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Endpoint:
        d = dict(raw)
        d["ports"] = [PortMapping(**m) for m in d.get("ports", [])]
        return cls(**d)

    def to_network_entry(self) -> dict[str, str]:
        """The value under network inspect's "Containers"."""
        return {"Name": self.container_name.lstrip("/"), "EndpointID": self.id, "MacAddress": self.mac,
                "IPv4Address": self.ipv4, "IPv6Address": self.ipv6}

    def to_endpoint_settings(self) -> dict[str, Any]:
        """NetworkSettings.Networks[<name>] in container inspect."""
        ipam: dict[str, str] | None = None
        if self.static_ipv4 or self.static_ipv6:
            ipam = {k: v for k, v in (("IPv4Address", self.static_ipv4), ("IPv6Address", self.static_ipv6)) if v}
        v4 = ipaddress.ip_interface(self.ipv4) if self.ipv4 else None
        v6 = ipaddress.ip_interface(self.ipv6) if self.ipv6 else None
        return {
            "IPAMConfig": ipam,
            "Links": None,
            "Aliases": list(self.aliases) or None,
            "MacAddress": self.mac,
            "DriverOpts": None,
            "GwPriority": 0,
            "NetworkID": self.network_id,
            "EndpointID": self.id,
            "Gateway": self.gateway,
            "IPAddress": str(v4.ip) if v4 else "",
            "IPPrefixLen": v4.network.prefixlen if v4 else 0,
            "IPv6Gateway": self.gateway6,
            "GlobalIPv6Address": str(v6.ip) if v6 else "",
            "GlobalIPv6PrefixLen": v6.network.prefixlen if v6 else 0,
            "DNSNames": list(self.dns_names) or None,
        }


class Store:
    """networks.json: {"networks": {id: record}, "endpoints": {id: endpoint}}."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self.networks: dict[str, NetworkRecord] = {}
        self.endpoints: dict[str, Endpoint] = {}
        if self._path.exists():
            raw = json.loads(self._path.read_text())
            self.networks = {k: NetworkRecord.from_dict(v) for k, v in raw.get("networks", {}).items()}
            self.endpoints = {k: Endpoint.from_dict(v) for k, v in raw.get("endpoints", {}).items()}

    def save(self) -> None:
        with self._lock:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            doc = {"networks": {k: v.to_dict() for k, v in self.networks.items()},
                   "endpoints": {k: v.to_dict() for k, v in self.endpoints.items()}}
            tmp = self._path.with_name(self._path.name + ".tmp")
            with open(tmp, "w") as f:
                json.dump(doc, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
