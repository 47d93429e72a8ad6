"""A container's whole network life in two calls: ``attach_network`` and ``detach_network``.

This is what the container service's ``NetworkHook`` (engine/containers/seams.py) asks for, built
on NetworkService: make a netns file for the container, connect it to its networks (the mode's
network first, then any other in EndpointsConfig), publish its ports, and hand back the netns path
for the runtime, the NetworkSettings for inspect and the contents of /etc/resolv.conf and
/etc/hosts. Requests are read structurally (``SandboxRequestLike``), so the engine's own frozen
``NetworkRequest`` fits without this package importing the engine. Optional fields, used when the
request has them: ``exposed_ports`` ("80/tcp", ...), ``publish_all`` (-P), ``links``
("name:alias", legacy --link on the default bridge) and ``domainname``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from skiff.errors import InvalidParameter
from skiff.network.files import ExtraHost, build_hosts, link_host_entry, parse_extra_host
from skiff.network.modes import parse_network_mode
from skiff.network.netns import create_netns, delete_netns
from skiff.network.portmap import PortMapping, PortSpec, format_ports, parse_port_spec
from skiff.network.records import ConnectRequest, Endpoint
from skiff.network.service import NetworkService

__all__ = ["SandboxRequestLike", "Attachment", "ContainerNetworking", "port_specs_from_bindings",
           "network_settings"]


class SandboxRequestLike(Protocol):
    """The fields read from the engine's NetworkRequest."""

    @property
    def container_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def hostname(self) -> str: ...
    @property
    def endpoints_config(self) -> Mapping[str, Any]: ...
    @property
    def port_bindings(self) -> Mapping[str, Any]: ...
    @property
    def dns(self) -> tuple[str, ...]: ...
    @property
    def dns_search(self) -> tuple[str, ...]: ...
    @property
    def dns_options(self) -> tuple[str, ...]: ...
    @property
    def extra_hosts(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Attachment:
    """Same fields as the engine's NetworkAttachment."""

    netns_path: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    resolv_conf: str = ""
    hosts: str = ""


def port_specs_from_bindings(bindings: Mapping[str, Any]) -> list[PortSpec]:
    """HostConfig.PortBindings ({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}) -> PortSpecs.
    An empty or missing HostPort means a random one; "8000-8010" a range."""
    specs: list[PortSpec] = []
    for key, entries in bindings.items():
        port, _, proto = str(key).partition("/")
        for entry in entries or [{}]:
            host_ip = str((entry or {}).get("HostIp") or "").strip("[]")
            host_port = str((entry or {}).get("HostPort") or "")
            text = f"{port}/{proto or 'tcp'}"
            if host_ip or host_port:
                ip_part = f"[{host_ip}]" if ":" in host_ip else host_ip
                text = f"{ip_part}:{host_port}:{text}" if host_ip else f"{host_port}:{text}"
            specs.extend(parse_port_spec(text))
    return specs


def network_settings(netns_path: str, eps: Sequence[tuple[str, Endpoint]],
                     exposed: Sequence[str] = ()) -> dict[str, Any]:
    """NetworkSettings for inspect: Networks by name, Ports, SandboxKey and the legacy top-level
    fields Docker still fills from the default bridge."""
    networks = {name: ep.to_endpoint_settings() for name, ep in eps}
    maps: list[PortMapping] = [m for _, ep in eps for m in ep.ports]
    default = next((ep for name, ep in eps if name == "bridge"), None)
    legacy = default.to_endpoint_settings() if default else {}
    return {
        "Bridge": "",
        "SandboxID": hashlib.sha256(netns_path.encode()).hexdigest(),
        "SandboxKey": netns_path,
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": format_ports(exposed, maps),
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": legacy.get("EndpointID", ""),
        "Gateway": legacy.get("Gateway", ""),
        "GlobalIPv6Address": legacy.get("GlobalIPv6Address", ""),
        "GlobalIPv6PrefixLen": legacy.get("GlobalIPv6PrefixLen", 0),
        "IPAddress": legacy.get("IPAddress", ""),
        "IPPrefixLen": legacy.get("IPPrefixLen", 0),
        "IPv6Gateway": legacy.get("IPv6Gateway", ""),
        "MacAddress": legacy.get("MacAddress", ""),
        "Networks": networks,
    }


class ContainerNetworking:
    """attach_network / detach_network for the container service (async, blocking work in threads)."""

    def __init__(self, service: NetworkService, netns_dir: Path) -> None:
        self.svc = service
        self.netns_dir = Path(netns_dir)

    def netns_path(self, container_id: str) -> str:
        return str(self.netns_dir / container_id)

    async def attach_network(self, req: SandboxRequestLike) -> Attachment:
        return await asyncio.to_thread(self.attach, req)

    async def detach_network(self, container_id: str) -> None:
        await asyncio.to_thread(self.detach, container_id)

    # -- blocking versions ------------------------------------------------------------------
    def attach(self, req: SandboxRequestLike) -> Attachment:
        mode = parse_network_mode(req.mode)
        if not mode.needs_netns:
            raise InvalidParameter(f"network mode {req.mode} has no network of its own to attach")
        first = mode.network or "none"
        wanted = [first] + [n for n in req.endpoints_config if n != first and mode.network]
        recs = [(n, self.svc.get(n)) for n in wanted]
        user = any(rec.user_defined and rec.driver not in ("host", "null") for _, rec in recs)
        resolv, upstreams = self.svc.resolv_conf("internal" if user else "legacy", req.dns, req.dns_search,
                                                 req.dns_options)
        # Bad --add-host or --link input fails here, before anything is made.
        extra: list[ExtraHost] = [parse_extra_host(h, self.svc.host_gateway_ip()) for h in req.extra_hosts]
        extra += self._link_entries(tuple(getattr(req, "links", ()) or ()))
        path = self.netns_path(req.container_id)
        if os.path.exists(path):  # a leftover of a crash: start clean
            self.detach(req.container_id)
        create_netns(path)
        eps: list[tuple[str, Endpoint]] = []
        exposed = tuple(str(p) for p in getattr(req, "exposed_ports", ()) or ())
        bindings = dict(req.port_bindings)
        if getattr(req, "publish_all", False):  # -P: every exposed port not bound yet, random host port
            for key in exposed:
                bindings.setdefault(key if "/" in key else f"{key}/tcp", [{"HostIp": "", "HostPort": ""}])
        try:
            ports = tuple(port_specs_from_bindings(bindings))
            for i, (name, rec) in enumerate(recs):
                ec = dict(req.endpoints_config.get(name) or req.endpoints_config.get(rec.id) or {})
                ipam = dict(ec.get("IPAMConfig") or {})
                ep = self.svc.connect(rec.id, ConnectRequest(
                    container_id=req.container_id, container_name="/" + req.name.lstrip("/"), netns_path=path,
                    ipv4=str(ipam.get("IPv4Address") or ""), ipv6=str(ipam.get("IPv6Address") or ""),
                    aliases=tuple(str(a) for a in ec.get("Aliases") or ()), mac=str(ec.get("MacAddress") or ""),
                    hostname=req.hostname, ports=ports if i == 0 else (), upstreams=tuple(upstreams)))
                eps.append((rec.name, ep))
        except BaseException:
            self.svc.release_container(req.container_id, netns_dies=True)
            delete_netns(path)
            raise
        first_ep = eps[0][1] if eps else None
        addresses = [a for a in ((first_ep.ipv4, first_ep.ipv6) if first_ep else ()) if a]
        hosts = build_hosts(req.hostname, domainname=str(getattr(req, "domainname", "") or ""),
                            addresses=addresses, extra_hosts=extra)
        return Attachment(path, network_settings(path, eps, exposed), resolv, hosts)

    def _link_entries(self, links: Sequence[str]) -> list[ExtraHost]:
        """Legacy --link name[:alias]: the child's default-bridge address under alias, its hostname
        (the short id unless the engine knows better) and its name."""
        out: list[ExtraHost] = []
        bridge = self.svc.get("bridge") if links else None
        for link in links:
            child, _, alias = link.lstrip("/").partition(":")
            alias = (alias or child).lstrip("/").rsplit("/", 1)[-1]
            for ep in self.svc.endpoints_of_network(bridge.id if bridge else ""):
                if ep.container_name.lstrip("/") == child or ep.container_id.startswith(child):
                    name = ep.container_name.lstrip("/")
                    out.append(link_host_entry(alias, name, ep.container_id[:12], ep.ipv4.split("/")[0]))
                    break
            else:
                raise InvalidParameter(f"could not get container for {child}")
        return out

    def settings(self, container_id: str) -> dict[str, Any]:
        """NetworkSettings as they are now (after connect/disconnect on a running container)."""
        eps = sorted(self.svc.endpoints_of_container(container_id), key=lambda e: e.ifname)
        named = [(self.svc.get(e.network_id).name, e) for e in eps]
        return network_settings(self.netns_path(container_id), named)

    def connect(self, container_id: str, name: str, network: str, endpoint_config: Mapping[str, Any] | None = None,
                hostname: str = "") -> dict[str, Any]:
        """``docker network connect`` on a running container; returns its EndpointSettings."""
        path = self.netns_path(container_id)
        if not os.path.exists(path):
            raise InvalidParameter(f"container {name} is not running")
        ec = dict(endpoint_config or {})
        ipam = dict(ec.get("IPAMConfig") or {})
        ep = self.svc.connect(network, ConnectRequest(
            container_id=container_id, container_name="/" + name.lstrip("/"), netns_path=path,
            ipv4=str(ipam.get("IPv4Address") or ""), ipv6=str(ipam.get("IPv6Address") or ""),
            aliases=tuple(str(a) for a in ec.get("Aliases") or ()), mac=str(ec.get("MacAddress") or ""),
            hostname=hostname))
        return ep.to_endpoint_settings()

    def disconnect(self, container_id: str, network: str, force: bool = False) -> None:
        """``docker network disconnect``."""
        self.svc.disconnect(network, container_id, force=force)

    def detach(self, container_id: str) -> None:
        """Release addresses, ports and DNS names, then drop the netns (its links go with it)."""
        self.svc.release_container(container_id, netns_dies=True)
        delete_netns(self.netns_path(container_id))
