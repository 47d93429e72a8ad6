"""The networks engine service: /networks over ``skiff.network.NetworkService``, plus the container
service's NetworkHook (attach/detach at start/stop) and live ``network connect``/``disconnect``.

Built-in networks bridge/host/none always exist (the library re-creates them at start). Events are
Docker's: network create/destroy/connect/disconnect with the network's id as actor. Container
renames reach the embedded DNS through the event bus (no call from the container service needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from skiff.engine.config import DaemonConfig
from skiff.engine.containers.seams import NetworkAttachment, NetworkRequest
from skiff.engine.events import EventBus
from skiff.engine.filters import Filters
from skiff.errors import Forbidden, InvalidParameter, SkiffError
from skiff.network.drivers.bridge import OPT_DEFAULT, OPT_HOST_IP, OPT_ICC, OPT_MASQ, OPT_MTU, OPT_NAME
from skiff.network.files import write_file
from skiff.network.ipam import DEFAULT_POOLS, PoolSpec, SubnetRequest, parse_pool_specs
from skiff.network.records import CreateRequest, NetworkRecord
from skiff.network.sandbox import ContainerNetworking
from skiff.network.service import NetworkService, ServiceConfig

__all__ = ["NetworkEngine", "ContainerLookup", "service_config", "parse_create", "LIST_FILTERS",
           "PRUNE_FILTERS"]

log = logging.getLogger("skiff.engine.networks")

LIST_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")
PRUNE_FILTERS = ("until", "label", "label!")

ERR_HOST = "container cannot be disconnected from host network or connected to host network"
ERR_SHARED = "container sharing network namespace with another container or host cannot be connected to any other network"
ERR_NONE = "container cannot be connected to multiple networks with one of the networks in private (none) mode"


class ContainerLookup(Protocol):
    """What network connect/disconnect needs from the container service (ContainerService fits)."""

    def get(self, ref: str) -> Any: ...

    def save(self, rec: Any) -> None: ...

    def etc_paths(self, rec: Any) -> dict[str, str]: ...


# ---- daemon configuration ---------------------------------------------------------------------

def _pools(raw: Sequence[Any]) -> tuple[PoolSpec, ...]:
    """daemon.json dicts or ``--default-address-pool base=10.10.0.0/16,size=24`` strings."""
    entries: list[Mapping[str, Any]] = []
    for item in raw or ():
        if isinstance(item, Mapping):
            entries.append(item)
            continue
        kv = dict(p.partition("=")[::2] for p in str(item).split(",") if p)
        entries.append({"base": kv.get("base", ""), "size": kv.get("size", "0")})
    return parse_pool_specs(entries)


def service_config(config: DaemonConfig) -> ServiceConfig:
    """dockerd's network flags (--bridge, --bip, --default-address-pool, --iptables, --ip-masq,
    --icc, --mtu, --dns) -> the library's ServiceConfig."""
    bip = str(config.get("bip") or "")
    subnet = ""
    if bip:
        try:
            subnet = str(ipaddress.ip_interface(bip).network)
        except ValueError:
            raise InvalidParameter(f"invalid bip: {bip}") from None
    bridge = str(config.get("bridge") or "skiff0")
    # The engine makes the predefined networks itself for -b none (no default bridge), --bip (its
    # gateway address) and --fixed-cidr (the bridge's ip-range); else the library does.
    engine_made = bridge == "none" or bool(bip) or bool(config.get("fixed-cidr"))
    return ServiceConfig(
        predefined=not engine_made,
        state_dir=Path(config.data_root) / "network",
        default_pools=_pools(config.get("default-address-pools") or ()) or DEFAULT_POOLS,
        bridge_device=bridge if bridge != "none" else "skiff0",
        bridge_subnet=subnet,
        bridge_mtu=int(config.get("mtu") or 1500),
        bridge_icc=bool(config.get("icc")),
        ip_masq=bool(config.get("ip-masq")),
        iptables=bool(config.get("iptables")),
        ip6tables=bool(config.get("ip6tables")),
        chain_prefix=str(config.get("iptables-chain-prefix") or "SKIFF"),
        dns=tuple(str(d) for d in config.get("dns") or ()),
    )


# ---- POST /networks/create body ----------------------------------------------------------------

def parse_create(body: Mapping[str, Any]) -> CreateRequest:
    """Docker's NetworkCreateRequest JSON -> CreateRequest, with dockerd's validation texts."""
    if not isinstance(body, Mapping):
        raise InvalidParameter("invalid JSON: network create body must be an object")
    name = str(body.get("Name") or "")
    if not name:
        raise InvalidParameter("network name is required")
    if body.get("ConfigOnly") or body.get("ConfigFrom"):
        raise InvalidParameter("config-only networks are not supported")
    if body.get("Ingress"):
        raise Forbidden("ingress networks need swarm mode")
    scope = str(body.get("Scope") or "local")
    if scope not in ("local", ""):
        raise InvalidParameter(f"scope {scope} is not supported by this daemon")
    ipam = body.get("IPAM") or {}
    subnets: list[SubnetRequest] = []
    seen: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for cfg in ipam.get("Config") or ():
        sub = str(cfg.get("Subnet") or "")
        net = None
        if sub:
            try:
                net = ipaddress.ip_network(sub, strict=False)
            except ValueError:
                raise InvalidParameter(f"invalid subnet {sub}: invalid CIDR address: {sub}") from None
            for other in seen:
                if other.version == net.version and other.overlaps(net):
                    raise Forbidden("invalid pool request: Pool overlaps with other one on this address "
                                    "space")
            seen.append(net)
        gw = str(cfg.get("Gateway") or "")
        rng = str(cfg.get("IPRange") or "")
        aux = {str(k): str(v) for k, v in (cfg.get("AuxiliaryAddresses") or cfg.get("AuxAddress") or {}).items()}
        if net is not None:
            _check_in(net, gw, "gateway")
            if rng:
                try:
                    rnet = ipaddress.ip_network(rng, strict=False)
                except ValueError:
                    raise InvalidParameter(f"invalid ip-range {rng}") from None
                if rnet.version != net.version or not rnet.subnet_of(net):  # type: ignore[arg-type]
                    raise InvalidParameter(f"invalid ip-range {rng}: it must be a subnet of {net}")
            for host, addr in aux.items():
                _check_in(net, addr, f"auxiliary address {host}")
        elif gw or rng or aux:
            raise InvalidParameter("gateway, ip-range and aux-addresses need a subnet")
        subnets.append(SubnetRequest(subnet=str(net) if net else "", ip_range=rng, gateway=gw,
                                     aux_addresses=aux, version=net.version if net else 4))
    return CreateRequest(
        name=name, driver=str(body.get("Driver") or "bridge"), subnets=tuple(subnets),
        options={str(k): str(v) for k, v in (body.get("Options") or {}).items()},
        labels={str(k): str(v) for k, v in (body.get("Labels") or {}).items()},
        internal=bool(body.get("Internal")), attachable=bool(body.get("Attachable")),
        enable_ipv6=bool(body.get("EnableIPv6")), ipam_driver=str(ipam.get("Driver") or "default"),
        ipam_options={str(k): str(v) for k, v in (ipam.get("Options") or {}).items()})


def _check_in(net: ipaddress.IPv4Network | ipaddress.IPv6Network, addr: str, what: str) -> None:
    if not addr:
        return
    try:
        ip = ipaddress.ip_address(addr.split("/")[0])
    except ValueError:
        raise InvalidParameter(f"invalid {what} address {addr}") from None
    if ip not in net:
        raise InvalidParameter(f"no matching subnet for {what} {addr}")


# ---- the hook's request (the engine's NetworkRequest + what the sandbox reads optionally) ------

@dataclass(frozen=True)
class _SandboxRequest:
    container_id: str
    name: str
    mode: str
    hostname: str
    endpoints_config: Mapping[str, Any] = field(default_factory=dict)
    port_bindings: Mapping[str, Any] = field(default_factory=dict)
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    exposed_ports: tuple[str, ...] = ()
    publish_all: bool = False
    links: tuple[str, ...] = ()
    domainname: str = ""


# ---- the service ---------------------------------------------------------------------------------

class NetworkEngine:
    """Networks API backend and the container service's NetworkHook."""

    def __init__(self, config: DaemonConfig, events: EventBus,
                 containers: Callable[[], ContainerLookup | None] = lambda: None,
                 service: NetworkService | None = None) -> None:
        self.config = config
        self.events = events
        self._containers = containers
        self.svc = service or NetworkService(service_config(config))
        self.sandbox = ContainerNetworking(self.svc, Path(config.exec_root) / "netns")
        self._watcher: asyncio.Task[None] | None = None

    # -- lifecycle (engine.on_start / on_stop) ------------------------------------------------
    async def start(self) -> None:
        problems = await asyncio.to_thread(self.svc.start)
        if not self.svc.cfg.predefined:
            await asyncio.to_thread(self._ensure_predefined)
        await asyncio.to_thread(self._apply_default_binding_ip)
        for p in problems:
            log.warning("network restore: %s", p)
        self._watcher = asyncio.get_running_loop().create_task(self._watch_containers())

    def _default_binding_ip(self) -> str:
        ip = str(self.config.get("ip") or "0.0.0.0")
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise InvalidParameter(f"invalid default binding IP (--ip): {ip}") from None
        return ip

    def _apply_default_binding_ip(self) -> None:
        """dockerd --ip: the host address ports are published on when -p names none (default bridge)."""
        ip = self._default_binding_ip()
        with self.svc._lock:
            for rec in self.svc.store.networks.values():
                if rec.predefined and rec.driver == "bridge" and rec.options.get(OPT_HOST_IP) != ip:
                    rec.options[OPT_HOST_IP] = ip
                    self.svc.store.save()

    def _ensure_predefined(self) -> None:
        """bridge (unless -b none; --bip's gateway, --fixed-cidr's range), host and none."""
        cfg = self.svc.cfg
        with self.svc._lock:
            names = {r.name for r in self.svc.store.networks.values()}
            if "bridge" not in names and str(self.config.get("bridge") or "") != "none":
                bip = str(self.config.get("bip") or "")
                fixed = str(self.config.get("fixed-cidr") or "")
                sub: tuple[SubnetRequest, ...] = ()
                if bip or fixed:
                    iface = ipaddress.ip_interface(bip) if bip else None
                    sub = (SubnetRequest(subnet=str(iface.network) if iface else "", ip_range=fixed,
                                         gateway=str(iface.ip) if iface else ""),)
                options = {OPT_DEFAULT: "true", OPT_ICC: str(cfg.bridge_icc).lower(),
                           OPT_MASQ: str(cfg.ip_masq).lower(), OPT_HOST_IP: "0.0.0.0",
                           OPT_NAME: cfg.bridge_device, OPT_MTU: str(cfg.bridge_mtu)}
                self.svc._create(CreateRequest("bridge", "bridge", sub, options), predefined=True)
            for name, driver in (("host", "host"), ("none", "null")):
                if name not in names:
                    self.svc._create(CreateRequest(name, driver), predefined=True)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(BaseException):
                await self._watcher
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self.svc.close()
        if not self.svc.store.endpoints:
            # Nothing attached: take Skiff's kernel objects away (bridges, chains, sysctls); the
            # records stay and start() builds them again. Live containers keep everything.
            self._release_kernel()

    def _release_kernel(self) -> None:
        from skiff.network import netlink
        from skiff.network.netns import read_sysctl, write_sysctl

        keys = ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables")
        now = {}
        for k in keys:
            with contextlib.suppress(OSError):
                now[k] = read_sysctl(k)
        for rec in list(self.svc.store.networks.values()):
            with contextlib.suppress(Exception):
                self.svc._driver(rec.driver).delete_network(rec.id)
        with contextlib.suppress(Exception):
            self.svc.bridge.release_host()  # chains gone, journaled sysctls put back
        # Another engine's bridges (a second skiffd, dockerd's docker0) may route through these
        # host-wide settings: while any bridge is left, leave them as they were.
        with contextlib.suppress(Exception):
            if any(link.kind == "bridge" for link in netlink.list_links()):
                for k, v in now.items():
                    with contextlib.suppress(OSError):
                        if read_sysctl(k) != v:
                            write_sysctl(k, v)

    async def _watch_containers(self) -> None:
        """Container renames update the embedded DNS live."""
        async with self.events.subscribe() as sub:
            async for ev in sub:
                if ev.type == "container" and ev.action == "rename":
                    new = ev.attributes.get("name", "")
                    if new:
                        with contextlib.suppress(Exception):
                            await asyncio.to_thread(self.svc.rename_container, ev.actor_id, new)

    # -- /networks ------------------------------------------------------------------------------
    async def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        req = parse_create(body)
        ip = self._default_binding_ip()
        if ip != "0.0.0.0" and req.driver == "bridge" and OPT_HOST_IP not in req.options:
            req = replace(req, options={**req.options, OPT_HOST_IP: ip})  # user bridges inherit --ip
        rec = await asyncio.to_thread(self.svc.create, req)  # pyroute2 must not run on the loop
        self._publish(rec, "create")
        return {"Id": rec.id, "Warning": ""}

    def list_networks(self, filters: Filters | None = None) -> list[dict[str, Any]]:
        f = filters or Filters()
        f.validate(LIST_FILTERS)
        raw = {k: sorted(v) for k, v in f.fields.items()}
        if "dangling" in raw:
            vals = [v.lower() for v in raw["dangling"]]
            if any(v not in ("true", "false", "1", "0") for v in vals):
                raise InvalidParameter(f"invalid filter 'dangling={raw['dangling'][0]}'")
        if "type" in raw and any(v not in ("custom", "builtin") for v in raw["type"]):
            bad = next(v for v in raw["type"] if v not in ("custom", "builtin"))
            raise InvalidParameter(f"invalid filter: 'type'='{bad}'")
        out = []
        for rec in self.svc.list_networks(raw):
            doc = rec.to_docker(self.svc.endpoints_of_network(rec.id))
            doc["Containers"] = {}
            out.append(doc)
        return out

    def inspect(self, ref: str, verbose: bool = False, scope: str = "") -> dict[str, Any]:
        doc = self.svc.inspect(ref)
        if scope and scope != doc.get("Scope"):
            from skiff.network.service import NetworkNotFound
            raise NetworkNotFound(ref)
        return doc

    async def remove(self, ref: str) -> None:
        rec = self.svc.get(ref)
        await asyncio.to_thread(self.svc.remove, rec.id)
        self._publish(rec, "destroy")

    async def prune(self, filters: Filters | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._prune, filters)

    def _prune(self, filters: Filters | None = None) -> dict[str, Any]:
        f = filters or Filters()
        f.validate(PRUNE_FILTERS)
        until_ns = None
        if f.contains("until"):
            from skiff.engine.events import parse_timestamp
            until_ns = min(parse_timestamp(v) for v in f.get("until"))
        deleted = []
        for rec in self.svc.list_networks({}):
            if rec.predefined or self.svc.endpoints_of_network(rec.id):
                continue
            if not self._label_match(rec, f):
                continue
            if until_ns is not None and _created_ns(rec.created) >= until_ns:
                continue
            try:
                self.svc.remove(rec.id)
            except SkiffError as exc:
                log.warning("prune %s: %s", rec.name, exc)
                continue
            self._publish(rec, "destroy")
            deleted.append(rec.name)
        return {"NetworksDeleted": deleted}

    @staticmethod
    def _label_match(rec: NetworkRecord, f: Filters) -> bool:
        def has(v: str) -> bool:
            k, eq, val = v.partition("=")
            return k in rec.labels and (not eq or rec.labels[k] == val)
        if f.contains("label") and not all(has(v) for v in f.get("label")):
            return False
        return not (f.contains("label!") and any(has(v) for v in f.get("label!")))

    # -- connect / disconnect ---------------------------------------------------------------------
    def _container(self, ref: str) -> tuple[ContainerLookup, Any]:
        lookup = self._containers()
        if lookup is None:
            raise InvalidParameter("containers are not available in this daemon")
        return lookup, lookup.get(ref)

    async def connect(self, ref: str, container: str, endpoint_config: Mapping[str, Any] | None = None) -> None:
        lookup, crec = self._container(container)
        net = self.svc.get(ref)
        mode = str(crec.host_config.get("NetworkMode") or "bridge")
        if mode == "host" or net.driver == "host":
            raise Forbidden(ERR_HOST)
        if mode.startswith("container:"):
            raise Forbidden(ERR_SHARED)
        if mode == "none" or net.driver == "null":
            raise Forbidden(ERR_NONE)
        ec = dict(endpoint_config or {})
        name = crec.name.lstrip("/")
        network = dict(crec.network or {})
        if crec.status in ("running", "paused", "restarting"):
            await asyncio.to_thread(self.sandbox.connect, crec.id, name, net.id, ec,
                                    str(crec.config.get("Hostname") or ""))
            settings = await asyncio.to_thread(self.sandbox.settings, crec.id)
            network["Networks"] = settings["Networks"]
            await asyncio.to_thread(self._update_hosts, lookup, crec, add=_addresses(settings, net.name))
        else:
            nets = dict(network.get("Networks") or {})
            if net.name in nets or net.id in nets:
                raise Forbidden(f"endpoint with name {name} already exists in network {net.name}")
            if ec.get("IPAMConfig") and net.predefined:
                raise InvalidParameter("user specified IP address is supported on user defined networks only")
            nets[net.name] = {"IPAMConfig": ec.get("IPAMConfig"), "Links": None, "Aliases": ec.get("Aliases"),
                              "MacAddress": ec.get("MacAddress", ""), "DriverOpts": None, "GwPriority": 0,
                              "NetworkID": net.id, "EndpointID": "", "Gateway": "", "IPAddress": "",
                              "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
                              "GlobalIPv6PrefixLen": 0, "DNSNames": None}
            network["Networks"] = nets
        requested = dict(network.get("Requested") or {})
        requested[net.name] = ec
        network["Requested"] = requested
        crec.network = network
        lookup.save(crec)
        self._publish(net, "connect", container=crec.id)

    async def disconnect(self, ref: str, container: str, force: bool = False) -> None:
        lookup = self._containers()
        if lookup is None:
            raise InvalidParameter("containers are not available in this daemon")
        net = self.svc.get(ref)
        try:
            crec = lookup.get(container)
        except SkiffError:
            if not force:
                raise
            # a container that is gone: drop whatever endpoint the network still has for it
            for ep in self.svc.endpoints_of_network(net.id):
                if ep.container_id.startswith(container) or ep.container_name.lstrip("/") == container:
                    await asyncio.to_thread(self.svc.disconnect, net.id, ep.container_id, True)
                    self._publish(net, "disconnect", container=ep.container_id)
            return
        mode = str(crec.host_config.get("NetworkMode") or "bridge")
        if mode == "host" or net.driver == "host":
            raise Forbidden(ERR_HOST)
        network = dict(crec.network or {})
        nets = dict(network.get("Networks") or {})
        if crec.status in ("running", "paused", "restarting"):
            before = await asyncio.to_thread(self.sandbox.settings, crec.id)
            await asyncio.to_thread(self.sandbox.disconnect, crec.id, net.id, force)
            settings = await asyncio.to_thread(self.sandbox.settings, crec.id)
            nets = dict(settings["Networks"])
            await asyncio.to_thread(self._update_hosts, lookup, crec, drop=_addresses(before, net.name))
        else:
            if net.name not in nets and not force:
                raise InvalidParameter(f"container {crec.id} is not connected to network {net.name}")
            nets.pop(net.name, None)
        network["Networks"] = nets
        requested = dict(network.get("Requested") or {})
        requested.pop(net.name, None)
        requested.pop(net.id, None)
        network["Requested"] = requested
        crec.network = network
        lookup.save(crec)
        self._publish(net, "disconnect", container=crec.id)

    @staticmethod
    def _update_hosts(lookup: ContainerLookup, crec: Any, add: Sequence[str] = (), drop: Sequence[str] = ()) -> None:
        """libnetwork's updateHostsFile / deleteHostsEntries on connect / disconnect of a running
        container: a line "<ip>\t<hostname>" per address of the joined network is appended; every
        line starting with a left network's address is removed. In place (the file is bind-mounted)."""
        path = Path(lookup.etc_paths(crec).get("hosts") or "")
        if not (add or drop) or not path.name or not path.exists():
            return
        lines = [ln for ln in path.read_text().splitlines() if not any(ln.startswith(ip + "\t") for ip in drop)]
        fqdn = str(crec.config.get("Hostname") or crec.id[:12])
        if crec.config.get("Domainname"):
            fqdn += "." + str(crec.config["Domainname"])
        names = fqdn + (" " + fqdn.split(".", 1)[0] if "." in fqdn else "")
        lines += [f"{ip}\t{names}" for ip in add]
        write_file(path, "\n".join(lines) + "\n")

    # -- the container service's NetworkHook ----------------------------------------------------
    def validate_endpoints(self, requested: Mapping[str, Any]) -> None:
        """moby's validateEndpointSettings at create: a static address must lie in one of the
        network's configured subnets (an unknown network, the default bridge and a network
        without configured subnets are left to start, which refuses them with their own text)."""
        for name, ec in requested.items():
            ipam = dict((ec or {}).get("IPAMConfig") or {})
            wanted = [(v, str(ipam.get(k) or "")) for v, k in ((4, "IPv4Address"), (6, "IPv6Address"))]
            if not any(a for _, a in wanted):
                continue
            try:
                rec = self.svc.get(name)
            except SkiffError:
                continue
            errs = []
            for version, addr in wanted:
                static = [ipaddress.ip_network(p.subnet) for p in rec.pools if p.user_subnet and p.version == version]
                if not addr or not static:
                    continue
                try:
                    ip = ipaddress.ip_address(addr)
                except ValueError:
                    errs.append(f"invalid IPv{version} address: {addr}")
                    continue
                if not any(ip in net for net in static):
                    errs.append(f"no configured subnet or ip-range contain the IP address {addr}")
            if errs:
                joined = errs[0] if len(errs) == 1 else "* " + "\n* ".join(errs)
                raise InvalidParameter(f"invalid config for network {name}: invalid endpoint settings:\n{joined}")

    async def attach_network(self, req: NetworkRequest) -> NetworkAttachment:
        sreq = self._sandbox_request(req)
        att = await asyncio.to_thread(self.sandbox.attach, sreq)
        for name, ep in (att.settings.get("Networks") or {}).items():
            with contextlib.suppress(SkiffError):
                self._publish(self.svc.get(ep.get("NetworkID") or name), "connect", container=req.container_id)
        return NetworkAttachment(att.netns_path, att.settings, att.resolv_conf, att.hosts)

    def announce_mode(self, container_id: str, mode: str, action: str) -> None:
        with contextlib.suppress(SkiffError):
            self._publish(self.svc.get(mode), action, container=container_id)

    async def detach_network(self, container_id: str) -> None:
        nets = [e.network_id for e in self.svc.endpoints_of_container(container_id)]
        await asyncio.to_thread(self.sandbox.detach, container_id)
        for nid in nets:
            with contextlib.suppress(SkiffError):
                self._publish(self.svc.get(nid), "disconnect", container=container_id)
        self._forget_runtime_settings(container_id)

    def _forget_runtime_settings(self, container_id: str) -> None:
        """A stopped container keeps its networks in inspect, without addresses, as Docker shows it."""
        lookup = self._containers()
        if lookup is None:
            return
        try:
            crec = lookup.get(container_id)
        except SkiffError:
            return
        network = dict(crec.network or {})
        if not network.get("Networks") or crec.status in ("removing", "dead", "running", "paused"):
            return  # (runs on the loop: no removal can slip in between this check and the save)
        nets = {}
        for name, ep in (network.get("Networks") or {}).items():
            ep = dict(ep)
            configured_mac = str(((network.get("Requested") or {}).get(name) or {}).get("MacAddress") or "")
            ep.update({"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                       "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": configured_mac,
                       "DNSNames": None})
            nets[name] = ep
        network.update({"Networks": nets, "Ports": {}, "SandboxKey": "", "SandboxID": ""})
        crec.network = network
        with contextlib.suppress(Exception):
            lookup.save(crec)

    def _sandbox_request(self, req: NetworkRequest) -> _SandboxRequest:
        exposed: tuple[str, ...] = ()
        publish_all = False
        links: tuple[str, ...] = ()
        domainname = ""
        endpoints = dict(req.endpoints_config)
        lookup = self._containers()
        if lookup is not None:
            with contextlib.suppress(SkiffError):
                crec = lookup.get(req.container_id)
                exposed = tuple(sorted((crec.config.get("ExposedPorts") or {}).keys()))
                publish_all = bool(crec.host_config.get("PublishAllPorts"))
                links = tuple(str(x) for x in crec.host_config.get("Links") or ())
                domainname = str(crec.config.get("Domainname") or "")
                mac = str(crec.config.get("MacAddress") or "")
                if mac:  # API < 1.44 clients put --mac-address in Config
                    first = req.mode if req.mode not in ("", "default") else "bridge"
                    ec = dict(endpoints.get(first) or {})
                    ec.setdefault("MacAddress", mac)
                    endpoints[first] = ec
        return _SandboxRequest(
            container_id=req.container_id, name=req.name, mode=req.mode, hostname=req.hostname,
            endpoints_config=endpoints, port_bindings=req.port_bindings, dns=req.dns,
            dns_search=req.dns_search, dns_options=req.dns_options, extra_hosts=req.extra_hosts,
            exposed_ports=exposed, publish_all=publish_all, links=links, domainname=domainname)

    # -- helpers --------------------------------------------------------------------------------
    def _publish(self, rec: NetworkRecord, action: str, **extra: str) -> None:
        attrs = {"name": rec.name, "type": rec.driver, **extra}
        self.events.publish("network", action, rec.id, attrs)

    def info_fields(self) -> dict[str, Any]:
        return {}


def _addresses(settings: Mapping[str, Any], network: str) -> list[str]:
    """The endpoint's addresses on ``network`` (IPv4, then IPv6) from inspect's NetworkSettings."""
    ep = dict((settings.get("Networks") or {}).get(network) or {})
    return [str(a) for a in (ep.get("IPAddress"), ep.get("GlobalIPv6Address")) if a]


def _created_ns(created: str) -> int:
    from skiff.engine.events import parse_timestamp
    try:
        return parse_timestamp(created)
    except SkiffError:
        return 0
