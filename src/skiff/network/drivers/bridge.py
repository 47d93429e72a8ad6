"""The bridge driver: a Linux bridge per network, a veth pair per endpoint, NAT and isolation rules.

Network setup is a list of named steps (moby's ``setup.go``): a failure names the step and undoes
the steps already done, in reverse. Firewall rules are computed from the network's config alone, so
after a daemon restart the same rules are found again, re-made or deleted exactly.

Bridge name: ``com.docker.network.bridge.name``, else ``skiff0`` for the default network and
``br-<12 hex of the id>`` for user networks, as Docker does.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from skiff.errors import InvalidParameter, System
from skiff.network import netlink
from skiff.network.driverapi import EndpointConfig, EndpointInfo, NetworkConfig, option_bool, random_mac
from skiff.network.iptables import Iptables, Rule
from skiff.network.netns import write_sysctl
from skiff.network.sysctl import SysctlJournal

__all__ = [
    "BridgeDriver",
    "BridgeSetupError",
    "bridge_name",
    "OPT_NAME",
    "OPT_MTU",
    "OPT_ICC",
    "OPT_MASQ",
    "OPT_HOST_IP",
    "OPT_DEFAULT",
]

OPT_NAME = "com.docker.network.bridge.name"
OPT_MTU = "com.docker.network.driver.mtu"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQ = "com.docker.network.bridge.enable_ip_masquerade"
OPT_HOST_IP = "com.docker.network.bridge.host_binding_ipv4"
OPT_DEFAULT = "com.docker.network.bridge.default_bridge"
DEFAULT_DEVICE = "skiff0"


class BridgeSetupError(System):
    """A step of bridge setup failed; names the step."""


OWNER_ALIAS = "skiff"  # the alias of every bridge Skiff creates (see _ours)


def _ours(cfg: NetworkConfig, br: str) -> bool:
    """May removing the network delete its bridge? Only one Skiff made (moby: BridgeIfaceCreator):
    marked with OWNER_ALIAS, or, for bridges made before the mark, one Skiff named itself."""
    info = netlink.link_info(br)
    if info is None:
        return False
    return info.alias == OWNER_ALIAS or (not info.alias and not cfg.options.get(OPT_NAME))


def bridge_name(cfg: NetworkConfig) -> str:
    name = cfg.options.get(OPT_NAME) or (DEFAULT_DEVICE if option_bool(cfg.options, OPT_DEFAULT, False)
                                         else f"br-{cfg.id[:12]}")
    if len(name) > 15:
        raise InvalidParameter(f"invalid bridge name {name!r}: longer than 15 characters")
    return name


def _mtu(cfg: NetworkConfig) -> int | None:
    raw = cfg.options.get(OPT_MTU, "")
    if not raw:
        return None
    try:
        mtu = int(raw)
    except ValueError:
        raise InvalidParameter(f"invalid MTU {raw!r}") from None
    if not 68 <= mtu <= 65535:
        raise InvalidParameter(f"invalid MTU {raw!r}")
    return mtu


@dataclass(frozen=True)
class _Rules:
    ct: tuple[Rule, ...]
    iso: tuple[Rule, ...]
    forward: tuple[Rule, ...]
    nat: tuple[Rule, ...]


def _rules(cfg: NetworkConfig, br: str, version: int = 4) -> _Rules:
    """IPv4 rules (version 4) or the ip6tables twin for a network's IPv6 pools (version 6)."""
    icc = option_bool(cfg.options, OPT_ICC, True)
    masq = option_bool(cfg.options, OPT_MASQ, True)
    fwd: list[tuple[str, ...]] = [("-i", br, "-o", br, "-j", "ACCEPT" if icc else "DROP")]
    if cfg.internal:
        fwd += [("-i", br, "!", "-o", br, "-j", "DROP"), ("!", "-i", br, "-o", br, "-j", "DROP")]
    else:
        fwd.append(("-i", br, "!", "-o", br, "-j", "ACCEPT"))
    fwd.append(("-o", br, "-j", "DROP"))
    nat: list[tuple[str, ...]] = [("-s", "127.0.0.0/8", "-o", br, "-j", "MASQUERADE")] if version == 4 else []
    if masq and not cfg.internal:
        for pool in cfg.pools:
            if pool.version == version:
                nat.append(("-s", pool.subnet, "!", "-o", br, "-j", "MASQUERADE"))
    return _Rules(
        ct=(Rule("filter", "SKIFF-CT", ("-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED",
                                        "-j", "ACCEPT")),),
        iso=(Rule("filter", "SKIFF-ISOLATION-STAGE-1", ("-i", br, "!", "-o", br, "-j", "SKIFF-ISOLATION-STAGE-2")),
             Rule("filter", "SKIFF-ISOLATION-STAGE-2", ("-o", br, "-j", "DROP"))),
        forward=tuple(Rule("filter", "SKIFF-FORWARD", a) for a in fwd),
        nat=tuple(Rule("nat", "SKIFF-POSTROUTING", a) for a in nat),
    )


class BridgeDriver:
    """Driver "bridge". firewall=None skips iptables (unit tests, or a daemon run with iptables off)."""

    name = "bridge"

    def __init__(self, firewall: Iptables | None, sysctls: SysctlJournal, firewall6: Iptables | None = None) -> None:
        self._fw = firewall
        self._fw6 = firewall6
        self._sysctls = sysctls
        self._networks: dict[str, NetworkConfig] = {}
        self._lock = threading.RLock()

    def bridge_of(self, network_id: str) -> str:
        return bridge_name(self._networks[network_id])

    # -- networks ---------------------------------------------------------------------------
    def create_network(self, cfg: NetworkConfig) -> None:
        br = bridge_name(cfg)
        mtu = _mtu(cfg)
        found = netlink.link_info(br)
        if found is not None and found.kind != "bridge":
            # Never take over a host interface (eth0, a veth...) named by the bridge-name option.
            raise InvalidParameter(f"device {br} already exists and is not a bridge")
        existed = found is not None
        rules = _rules(cfg, br)
        fw = self._fw
        fw6 = self._fw6 if any(p.version == 6 for p in cfg.pools) else None
        rules6 = _rules(cfg, br, 6)
        steps: list[tuple[str, Callable[[], None], Callable[[], None]]] = [
            ("setup_device", lambda: netlink.create_bridge(br, mtu, alias=OWNER_ALIAS),
             lambda: None if existed else netlink.delete_link(br)),
            ("setup_mtu", lambda: netlink.set_mtu(br, mtu) if mtu else None, lambda: None),
            ("setup_addresses", lambda: self._addresses(cfg, br), lambda: None),
            ("setup_device_up", lambda: netlink.set_up(br), lambda: None),
            ("setup_sysctls", lambda: self._set_sysctls(cfg, br), lambda: None),
        ]
        if fw is not None:
            steps += [
                ("setup_base_chains", fw.ensure_base, lambda: None),
                ("setup_rules", lambda: self._add_rules(fw, rules), lambda: self._del_rules(fw, rules)),
            ]
        if fw6 is not None:
            steps += [
                ("setup_base_chains_ipv6", fw6.ensure_base, lambda: None),
                ("setup_rules_ipv6", lambda: self._add_rules(fw6, rules6), lambda: self._del_rules(fw6, rules6)),
            ]
        done: list[Callable[[], None]] = []
        with self._lock:
            for step, do, undo in steps:
                try:
                    do()
                except Exception as exc:
                    for u in reversed(done):
                        try:
                            u()
                        except Exception:
                            pass
                    raise BridgeSetupError(f"bridge {br} setup failed at {step}: {exc}") from exc
                done.append(undo)
            self._networks[cfg.id] = cfg

    @staticmethod
    def _addresses(cfg: NetworkConfig, br: str) -> None:
        for pool in cfg.pools:
            if pool.gateway:
                prefix = ipaddress.ip_network(pool.subnet).prefixlen
                netlink.add_address(br, f"{pool.gateway}/{prefix}")

    def _set_sysctls(self, cfg: NetworkConfig, br: str) -> None:
        if not cfg.internal:
            self._sysctls.set("net.ipv4.ip_forward", "1")
        self._sysctls.set("net.bridge.bridge-nf-call-iptables", "1")
        if any(p.version == 6 for p in cfg.pools):
            # net.ipv6.conf.all.forwarding is left alone: turning it on makes the host ignore router
            # advertisements on its own uplinks. IPv6 between containers is bridged and works;
            # IPv6 egress needs the host to forward IPv6 already.
            self._sysctls.set("net.bridge.bridge-nf-call-ip6tables", "1")
        # 127.0.0.1:HOSTPORT is DNAT'ed to a container: the packet leaves on the bridge with a
        # loopback source, which the kernel drops unless route_localnet is on for that link.
        write_sysctl(f"net.ipv4.conf.{br}.route_localnet", "1")

    @staticmethod
    def _add_rules(fw: Iptables, rules: _Rules) -> None:
        for r in rules.ct + rules.iso:
            fw.insert(r, 1)
        fw.apply(rules.forward)
        fw.apply(rules.nat)

    @staticmethod
    def _del_rules(fw: Iptables, rules: _Rules) -> None:
        fw.remove(rules.nat + rules.forward + rules.iso + rules.ct)

    def delete_network(self, network_id: str) -> None:
        with self._lock:
            cfg = self._networks.pop(network_id, None)
            if cfg is None:
                return
            br = bridge_name(cfg)
            if self._fw is not None:
                self._del_rules(self._fw, _rules(cfg, br))
            if self._fw6 is not None and any(p.version == 6 for p in cfg.pools):
                self._del_rules(self._fw6, _rules(cfg, br, 6))
            if _ours(cfg, br):
                netlink.delete_link(br)
            if not self._networks:
                self.release_host()

    def release_host(self) -> None:
        """Last network gone: drop the base chains and put host sysctls back."""
        for fw in (self._fw, self._fw6):
            if fw is not None:
                fw.remove_base()
        self._sysctls.restore_all()

    def forget(self, network_id: str) -> None:
        """Drop a network from memory without touching the kernel (daemon shutdown)."""
        with self._lock:
            self._networks.pop(network_id, None)

    # -- endpoints --------------------------------------------------------------------------
    def setup(self, netns_path: str, ep: EndpointConfig) -> EndpointInfo:
        with self._lock:
            cfg = self._networks[ep.network_id]
        br = bridge_name(cfg)
        info = netlink.link_info(br)
        mtu = _mtu(cfg) or (info.mtu if info else None)
        host_if = "veth" + secrets.token_hex(4)[:7]
        mac = ep.mac or random_mac()
        # The container end is born in the container's netns with its final name and MAC: no move.
        netlink.create_veth(host_if, ep.ifname, mtu, peer_netns=netns_path, peer_mac=mac)
        try:
            netlink.set_master(host_if, br)
            # With br_netfilter a DNAT back to the sender is bridged, not routed: the frame must be
            # allowed out of the port it came in on (Docker does this when the proxy is off).
            netlink.set_hairpin(host_if)
            netlink.set_up(host_if)
            internal = cfg.internal
            netlink.configure_interface(ep.ifname, ep.addresses, "" if internal else ep.gateway,
                                        "" if internal else ep.gateway6, netns=netns_path)
        except Exception:
            netlink.delete_link(host_if)
            raise
        return EndpointInfo(network_id=ep.network_id, endpoint_id=ep.endpoint_id, ifname=ep.ifname,
                            host_ifname=host_if, bridge=br, mac=mac, addresses=ep.addresses,
                            gateway="" if cfg.internal else ep.gateway,
                            gateway6="" if cfg.internal else ep.gateway6)

    def teardown(self, netns_path: str | None, ep: EndpointInfo) -> None:
        # Deleting one end of a veth pair deletes both; if the netns died, both are gone already.
        if ep.host_ifname:
            netlink.delete_link(ep.host_ifname)
        if netns_path and ep.ifname:
            try:
                netlink.delete_link(ep.ifname, netns=netns_path)
            except (OSError, netlink.LinkError):
                pass
