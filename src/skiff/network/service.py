"""NetworkService: networks and endpoints as the engine sees them, over IPAM, drivers, ports and DNS.

The engine wraps this; it passes a container's id, name and netns *path*, never a container object.
Every acknowledged change is in ``networks.json`` (plus ``ipam.json`` and ``ports.json``) before the
call returns. ``start`` reconciles after a daemon restart: re-creates the predefined networks and
every network's kernel objects (idempotent), re-publishes ports, re-attaches the embedded DNS to
live namespaces and releases endpoints whose namespace is gone.

Errors carry Docker's text: "network with name x already exists", "network x not found",
"error while removing network: network x has active endpoints (...)", and so on.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skiff.errors import Conflict, Forbidden, InvalidParameter, NotFound, SkiffError
from skiff.network import netlink
from skiff.network.dns import EmbeddedDNS
from skiff.network.driverapi import Driver, EndpointConfig, EndpointInfo, NetworkConfig
from skiff.network.drivers.bridge import (
    OPT_DEFAULT,
    OPT_HOST_IP,
    OPT_ICC,
    OPT_MASQ,
    OPT_MTU,
    OPT_NAME,
    BridgeDriver,
)
from skiff.network.drivers.host import HostDriver
from skiff.network.drivers.ipvlan import IpvlanDriver
from skiff.network.drivers.macvlan import MacvlanDriver
from skiff.network.drivers.null import NullDriver
from skiff.network.files import build_resolv_conf
from skiff.network.ipam import DEFAULT_POOLS, Ipam, PoolSpec, SubnetRequest
from skiff.network.iptables import Iptables
from skiff.network.portmap import PortMapper
from skiff.network.records import ConnectRequest, CreateRequest, Endpoint, NetworkRecord, Store
from skiff.network.sysctl import SysctlJournal

__all__ = ["NetworkService", "ServiceConfig", "NetworkNotFound", "NetworkExists", "ActiveEndpoints"]


class NetworkNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"network {ref} not found")


class NetworkExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"network with name {name} already exists")


class ActiveEndpoints(Forbidden):
    def __init__(self, name: str, eps: Sequence[Endpoint]) -> None:
        listed = ", ".join(f'name:"{e.container_name.lstrip("/")}" id:"{e.container_id[:12]}"' for e in eps)
        super().__init__(f"error while removing network: network {name} has active endpoints ({listed})")


@dataclass(frozen=True)
class ServiceConfig:
    """Daemon settings that shape networking (daemon.json / flags, parsed by the engine)."""

    state_dir: Path  # networks.json (networks, endpoints with addresses and ports), sysctl.json
    default_pools: tuple[PoolSpec, ...] = DEFAULT_POOLS
    bridge_device: str = "skiff0"  # the default network's bridge (Docker: docker0)
    bridge_subnet: str = ""  # --bip's subnet; "" = first free pool (172.17.0.0/16)
    bridge_mtu: int = 1500
    bridge_icc: bool = True
    ip_masq: bool = True  # daemon --ip-masq for the default bridge
    iptables: bool = True
    ip6tables: bool = True
    chain_prefix: str = "SKIFF"
    host_resolv_conf: str = "/etc/resolv.conf"
    dns: tuple[str, ...] = ()  # daemon "dns" setting: upstreams for the embedded server
    parent_netns: str | None = None  # where macvlan/ipvlan parents live (tests)
    predefined: bool = True  # create bridge/host/none
    embedded_dns: bool = True  # listen on 127.0.0.11 in containers on user networks (off: unit tests)
    extra_drivers: Mapping[str, Driver] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


class NetworkService:
    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        state = Path(cfg.state_dir)
        state.mkdir(parents=True, exist_ok=True)
        self.firewall = Iptables(prefix=cfg.chain_prefix) if cfg.iptables else None
        self.firewall6 = Iptables("ip6tables", prefix=cfg.chain_prefix) if cfg.iptables and cfg.ip6tables else None
        # IPAM in memory, rebuilt from networks.json at start: one source of truth, one fsync per change.
        self.ipam = Ipam(None, cfg.default_pools, host_routes=netlink.host_routes)
        self.ports = PortMapper(self.firewall, None)  # endpoints in networks.json carry their ports
        self.dns = EmbeddedDNS()
        self.store = Store(state / "networks.json")
        self.bridge = BridgeDriver(self.firewall, SysctlJournal(state / "sysctl.json"), self.firewall6)
        self.drivers: dict[str, Driver] = {
            "bridge": self.bridge, "host": HostDriver(), "null": NullDriver(),
            "macvlan": MacvlanDriver(cfg.parent_netns), "ipvlan": IpvlanDriver(cfg.parent_netns),
            **cfg.extra_drivers,
        }
        self._lock = threading.RLock()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> list[str]:
        """Restore everything after a (re)start; returns problems met (not fatal)."""
        problems: list[str] = []
        with self._lock:
            self.dns.start()
            for fw in (self.firewall, self.firewall6):
                # Rebuild Skiff's chains from the records (as dockerd does with DOCKER): whatever a
                # crash left half-done goes, everything recorded comes back below.
                if fw is not None:
                    fw.remove_base()
            # IPAM first (it lives in memory): every recorded pool and endpoint address is taken
            # again before anything new, such as a missing predefined network, is allocated.
            for rec in self.store.networks.values():
                if rec.pools:
                    self.ipam.adopt(rec.id, rec.name, rec.pools)
            for ep in self.store.endpoints.values():
                for cidr in (ep.ipv4, ep.ipv6):
                    if cidr and ep.network_id in self.store.networks:
                        try:
                            self.ipam.request_address(ep.network_id, cidr.split("/")[0], owner=ep.id)
                        except SkiffError as exc:
                            problems.append(f"endpoint {ep.id[:12]}: {exc}")
            if self.cfg.predefined:
                self._ensure_predefined()
            for rec in list(self.store.networks.values()):
                try:
                    self._driver(rec.driver).create_network(self._netcfg(rec))
                    self.dns.set_network_name(rec.id, rec.name)
                except Exception as exc:
                    problems.append(f"network {rec.name}: {exc}")
            self.ports.load({ep.id: ep.ports for ep in self.store.endpoints.values()})
            problems += self.ports.restore()
            for ep in list(self.store.endpoints.values()):
                if not os.path.exists(ep.netns_path):
                    self._release_endpoint(ep, netns_alive=False)
                    continue
                owner = self.store.networks.get(ep.network_id)
                if owner is not None and self._has_dns(owner):
                    self.dns.add_endpoint(owner.id, ep.id, ep.dns_names, ep.ipv4, ep.ipv6)
            for cid in {ep.container_id for ep in self.store.endpoints.values()}:
                try:
                    self._sync_dns_sandbox(cid, None)
                except OSError as exc:
                    problems.append(f"dns for {cid[:12]}: {exc}")
            self.store.save()
        return problems

    def close(self) -> None:
        """Daemon shutdown: stop serving, keep kernel state for live containers."""
        self.dns.stop()
        self.ports.close()

    def _ensure_predefined(self) -> None:
        names = {r.name for r in self.store.networks.values()}
        if "bridge" not in names:
            options = {OPT_DEFAULT: "true", OPT_ICC: str(self.cfg.bridge_icc).lower(),
                       OPT_MASQ: str(self.cfg.ip_masq).lower(),
                       OPT_HOST_IP: "0.0.0.0", OPT_NAME: self.cfg.bridge_device, OPT_MTU: str(self.cfg.bridge_mtu)}
            sub = (SubnetRequest(subnet=self.cfg.bridge_subnet),) if self.cfg.bridge_subnet else ()
            self._create(CreateRequest("bridge", "bridge", sub, options), predefined=True)
        if "host" not in names:
            self._create(CreateRequest("host", "host"), predefined=True)
        if "none" not in names:
            self._create(CreateRequest("none", "null"), predefined=True)

    # -- helpers ----------------------------------------------------------------------------
    def _driver(self, name: str) -> Driver:
        drv = self.drivers.get(name)
        if drv is None:
            raise NotFound(f'plugin "{name}" not found')
        return drv

    @staticmethod
    def _netcfg(rec: NetworkRecord) -> NetworkConfig:
        return NetworkConfig(rec.id, rec.name, rec.driver, tuple(rec.pools), dict(rec.options), rec.internal,
                             rec.enable_ipv6)

    @staticmethod
    def _has_ipam(rec: NetworkRecord) -> bool:
        return rec.driver not in ("host", "null")

    @staticmethod
    def _has_dns(rec: NetworkRecord) -> bool:
        """Embedded DNS serves user-defined networks only (not bridge/host/none)."""
        return rec.user_defined and rec.driver not in ("host", "null")

    def get(self, ref: str) -> NetworkRecord:
        """By full id, name, then unique id prefix (Docker's order)."""
        with self._lock:
            nets = self.store.networks
            if ref in nets:
                return nets[ref]
            for rec in nets.values():
                if rec.name == ref:
                    return rec
            found = [r for r in nets.values() if ref and r.id.startswith(ref)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise NotFound(f"network {ref} is ambiguous ({len(found)} matches found based on ID prefix)")
            raise NetworkNotFound(ref)

    def endpoints_of_network(self, network_id: str) -> list[Endpoint]:
        with self._lock:
            return [e for e in self.store.endpoints.values() if e.network_id == network_id]

    def endpoints_of_container(self, container_id: str) -> list[Endpoint]:
        with self._lock:
            return [e for e in self.store.endpoints.values() if e.container_id == container_id]

    # -- networks ---------------------------------------------------------------------------
    def create(self, req: CreateRequest) -> NetworkRecord:
        with self._lock:
            return self._create(req, predefined=False)

    def _create(self, req: CreateRequest, predefined: bool) -> NetworkRecord:
        if not req.name:
            raise InvalidParameter("network name is required")
        if any(r.name == req.name for r in self.store.networks.values()):
            raise NetworkExists(req.name)
        driver_name = "null" if req.driver == "none" else req.driver
        driver = self._driver(driver_name)
        if not predefined and driver_name in ("host", "null"):
            raise Forbidden(f'only one instance of "{driver_name}" network is allowed')
        if req.ipam_driver not in ("default", ""):
            raise NotFound(f'plugin "{req.ipam_driver}" not found')
        rec = NetworkRecord(id=secrets.token_hex(32), name=req.name, driver=driver_name, created=_now(),
                            options=dict(req.options), labels=dict(req.labels), internal=req.internal,
                            attachable=req.attachable, enable_ipv6=req.enable_ipv6,
                            ipam_options=dict(req.ipam_options), predefined=predefined)
        if self._has_ipam(rec):
            rec.pools = self.ipam.allocate_pools(rec.id, rec.name, req.subnets, ipv6=req.enable_ipv6)
        try:
            driver.create_network(self._netcfg(rec))
        except Exception:
            self.ipam.release_pools(rec.id)
            raise
        self.store.networks[rec.id] = rec
        self.store.save()
        self.dns.set_network_name(rec.id, rec.name)
        return rec

    def list_networks(self, filters: Mapping[str, Sequence[str]] | None = None) -> list[NetworkRecord]:
        """Networks matching Docker's filters: driver, id, label, name, scope, type, dangling."""
        with self._lock:
            recs = sorted(self.store.networks.values(), key=lambda r: r.created)
            return [r for r in recs
                    if r.matches(filters or {}, in_use=bool(self.endpoints_of_network(r.id)))]

    def inspect(self, ref: str) -> dict[str, Any]:
        with self._lock:
            rec = self.get(ref)
            return rec.to_docker(self.endpoints_of_network(rec.id))

    def remove(self, ref: str) -> None:
        with self._lock:
            rec = self.get(ref)
            if rec.predefined:
                raise Forbidden(f"{rec.name} is a pre-defined network and cannot be removed")
            eps = self.endpoints_of_network(rec.id)
            if eps:
                raise ActiveEndpoints(rec.name, eps)
            self._driver(rec.driver).delete_network(rec.id)
            self.ipam.release_pools(rec.id)
            self.dns.remove_network(rec.id)
            del self.store.networks[rec.id]
            self.store.save()

    def prune(self, filters: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """Remove user networks without endpoints; returns their names."""
        removed = []
        with self._lock:
            for rec in self.list_networks(filters):
                if rec.predefined or self.endpoints_of_network(rec.id):
                    continue
                self.remove(rec.id)
                removed.append(rec.name)
        return removed

    # -- endpoints --------------------------------------------------------------------------
    def connect(self, ref: str, req: ConnectRequest) -> Endpoint:
        """Plug req.netns_path into the network; all or nothing."""
        with self._lock:
            rec = self.get(ref)
            name = req.container_name.lstrip("/")
            mine = self.endpoints_of_container(req.container_id)
            if any(e.network_id == rec.id for e in mine):
                raise Forbidden(f"endpoint with name {name} already exists in network {rec.name}")
            if rec.predefined and rec.driver == "bridge":
                if req.ipv4 or req.ipv6:
                    raise InvalidParameter("user specified IP address is supported on user defined networks only")
                if req.aliases:
                    raise InvalidParameter("network-scoped alias is supported only for containers in user "
                                           "defined networks")
            if not rec.predefined and (
                    (req.ipv4 and not any(p.user_subnet and p.version == 4 for p in rec.pools))
                    or (req.ipv6 and not any(p.user_subnet and p.version == 6 for p in rec.pools))):
                raise InvalidParameter("user specified IP address is supported only when connecting to "
                                           "networks with user configured subnets")
            ep_id = secrets.token_hex(32)
            ipv4 = ipv6 = gw4 = gw6 = ""
            taken: list[str] = []
            try:
                if self._has_ipam(rec):
                    for version, static in ((4, req.ipv4), (6, req.ipv6)):
                        if not any(p.version == version for p in rec.pools):
                            continue
                        addr, pool = self.ipam.request_address(rec.id, static or None, version, owner=ep_id)
                        taken.append(str(addr))
                        cidr = f"{addr}/{ipaddress.ip_network(pool.subnet).prefixlen}"
                        if version == 4:
                            ipv4, gw4 = cidr, pool.gateway
                        else:
                            ipv6, gw6 = cidr, pool.gateway
                ifname = self._next_ifname(mine) if self._has_ipam(rec) else ""
                epcfg = EndpointConfig(rec.id, ep_id, tuple(a for a in (ipv4, ipv6) if a), gw4, gw6, req.mac,
                                       ifname or "eth0")
                driver = self._driver(rec.driver)
                info = driver.setup(req.netns_path, epcfg)
            except Exception:
                for a in taken:
                    self.ipam.release_address(rec.id, a)
                raise
            dns_names = self._dns_names(rec, req)
            ep = Endpoint(id=ep_id, network_id=rec.id, container_id=req.container_id,
                          container_name=req.container_name, netns_path=req.netns_path, ifname=info.ifname,
                          host_ifname=info.host_ifname, bridge=info.bridge, mac=info.mac, ipv4=ipv4, ipv6=ipv6,
                          gateway=info.gateway, gateway6=info.gateway6, static_ipv4=req.ipv4, static_ipv6=req.ipv6,
                          aliases=list(req.aliases), dns_names=dns_names)
            try:
                if req.ports and rec.driver == "bridge" and ipv4 and not rec.internal:  # Docker: none on internal
                    host_ip = rec.options.get(OPT_HOST_IP, "") or "0.0.0.0"
                    ep.ports = self.ports.map(ep_id, info.bridge, ipv4.split("/")[0], req.ports, host_ip)
                self.store.endpoints[ep_id] = ep
                if self._has_dns(rec):
                    self.dns.add_endpoint(rec.id, ep_id, dns_names, ipv4, ipv6)
                self._sync_dns_sandbox(req.container_id, req.upstreams)
                self.store.save()
            except Exception:
                self.store.endpoints.pop(ep_id, None)
                self._release_endpoint(ep, netns_alive=True, info=info)
                raise
            return ep

    @staticmethod
    def _next_ifname(mine: Sequence[Endpoint]) -> str:
        used = {e.ifname for e in mine}
        n = 0
        while f"eth{n}" in used:
            n += 1
        return f"eth{n}"

    @staticmethod
    def _dns_names(rec: NetworkRecord, req: ConnectRequest) -> list[str]:
        if not (rec.user_defined and rec.driver not in ("host", "null")):
            return []
        names = [req.container_name.lstrip("/"), *req.aliases, req.container_id[:12]]
        if req.hostname:
            names.append(req.hostname)
        out: list[str] = []
        for n in names:
            if n and n not in out:
                out.append(n)
        return out

    def _upstreams(self) -> list[tuple[str, int]]:
        if self.cfg.dns:
            return [(a, 53) for a in self.cfg.dns]
        try:
            text = Path(self.cfg.host_resolv_conf).read_text()
        except OSError:
            text = ""
        _, ext = build_resolv_conf(text, "internal", source_path=self.cfg.host_resolv_conf)
        return [(e.addr, 53) for e in ext]

    def _sync_dns_sandbox(self, container_id: str, upstreams: Sequence[tuple[str, int]] | None) -> None:
        """Attach, update or detach the container's 127.0.0.11 listener to match its networks."""
        if not self.cfg.embedded_dns:
            return
        eps = self.endpoints_of_container(container_id)
        nets = [self.store.networks[e.network_id] for e in eps if e.network_id in self.store.networks]
        dns_nets = [r for r in nets if self._has_dns(r)]
        if not dns_nets:
            self.dns.detach(container_id)
            return
        forward = any(not r.internal for r in dns_nets)
        ids = [r.id for r in dns_nets]
        if self.dns.attached(container_id):
            self.dns.update(container_id, ids, list(upstreams) if upstreams is not None else None, forward)
        else:
            ups = list(upstreams) if upstreams is not None else self._upstreams()
            netns = next(e.netns_path for e in eps if e.network_id in ids)
            self.dns.attach(container_id, netns, ids, ups, forward)

    def disconnect(self, ref: str, container_id: str, force: bool = False) -> None:
        with self._lock:
            rec = self.get(ref)
            eps = [e for e in self.endpoints_of_container(container_id) if e.network_id == rec.id]
            if not eps:
                if force:
                    return
                raise NotFound(f"container {container_id} is not connected to network {rec.name}")
            for ep in eps:
                self._release_endpoint(ep, netns_alive=os.path.exists(ep.netns_path))
            self._sync_dns_sandbox(container_id, None)
            self.store.save()

    def release_container(self, container_id: str, netns_dies: bool = False) -> None:
        """Container stopped or removed: every endpoint goes, addresses and ports are released.

        netns_dies: the caller is about to destroy the netns (last process gone, netns file
        unmounted), which deletes its veths with it; the links are then not deleted one by one."""
        with self._lock:
            for ep in self.endpoints_of_container(container_id):
                alive = os.path.exists(ep.netns_path)
                self._release_endpoint(ep, netns_alive=alive, teardown=not netns_dies)
            self.dns.detach(container_id, unredirect=not netns_dies)
            self.store.save()

    def rename_container(self, container_id: str, new_name: str) -> None:
        """Live DNS update on rename: the old name stops resolving, the new one starts."""
        with self._lock:
            for ep in self.endpoints_of_container(container_id):
                old = ep.container_name.lstrip("/")
                ep.container_name = new_name if new_name.startswith("/") else "/" + new_name
                ep.dns_names = [new_name.lstrip("/") if n == old else n for n in ep.dns_names]
                rec = self.store.networks.get(ep.network_id)
                if rec is not None and self._has_dns(rec):
                    self.dns.add_endpoint(rec.id, ep.id, ep.dns_names, ep.ipv4, ep.ipv6)
            self.store.save()

    def _release_endpoint(self, ep: Endpoint, netns_alive: bool, info: EndpointInfo | None = None,
                          teardown: bool = True) -> None:
        rec = self.store.networks.get(ep.network_id)
        self.ports.unmap(ep.id)
        self.dns.remove_endpoint(ep.network_id, ep.id)
        if rec is not None and teardown:
            info = info or EndpointInfo(network_id=ep.network_id, endpoint_id=ep.id, ifname=ep.ifname,
                                        host_ifname=ep.host_ifname, bridge=ep.bridge, mac=ep.mac)
            try:
                self._driver(rec.driver).teardown(ep.netns_path if netns_alive else None, info)
            except Exception:
                pass
        for cidr in (ep.ipv4, ep.ipv6):
            if cidr:
                self.ipam.release_address(ep.network_id, cidr.split("/")[0])
        self.store.endpoints.pop(ep.id, None)

    # -- for the engine ---------------------------------------------------------------------
    def resolv_conf(self, mode: str, dns: Sequence[str] = (), dns_search: Sequence[str] = (),
                    dns_options: Sequence[str] = (), ipv6: bool = False) -> tuple[str, list[tuple[str, int]]]:
        """A container's /etc/resolv.conf and the upstreams to give ``ConnectRequest.upstreams``.

        mode: "internal" when the container is on a user-defined network (embedded DNS),
        "legacy" for the default bridge only, "host" for --network host. ``dns`` defaults to the
        daemon's "dns" setting, then to the host's file."""
        try:
            text = Path(self.cfg.host_resolv_conf).read_text()
        except OSError:
            text = ""
        content, ext = build_resolv_conf(text, mode, dns=list(dns) or list(self.cfg.dns), dns_search=dns_search,
                                         dns_options=dns_options, ipv6=ipv6, source_path=self.cfg.host_resolv_conf)
        return content, [(e.addr, 53) for e in ext]

    def host_gateway_ip(self) -> str:
        """The address --add-host host-gateway maps to: the default bridge's gateway."""
        for rec in self.store.networks.values():
            if rec.predefined and rec.driver == "bridge":
                for p in rec.pools:
                    if p.version == 4:
                        return p.gateway
        return ""

    def remove_all(self) -> None:
        """Tear everything down (tests, `skiffd --cleanup`): endpoints, user and predefined networks."""
        with self._lock:
            for ep in list(self.store.endpoints.values()):
                self._release_endpoint(ep, netns_alive=os.path.exists(ep.netns_path))
            for rec in list(self.store.networks.values()):
                try:
                    self._driver(rec.driver).delete_network(rec.id)
                finally:
                    self.ipam.release_pools(rec.id)
                    self.dns.remove_network(rec.id)
                    del self.store.networks[rec.id]
            self.bridge.release_host()
            self.store.save()
