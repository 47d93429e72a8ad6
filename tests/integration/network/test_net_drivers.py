"""One conformance suite for every driver: create, plug two namespaces, they talk, teardown, delete,
nothing left. macvlan/ipvlan parents live in a netns of the test's own (a veth, as this kernel has
no dummy links); ipvlan is skipped where the kernel lacks it."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from skiff.network import netlink
from skiff.network.driverapi import Driver, EndpointConfig, NetworkConfig
from skiff.network.drivers.bridge import OPT_NAME, BridgeDriver
from skiff.network.drivers.host import HostDriver
from skiff.network.drivers.ipvlan import IpvlanDriver
from skiff.network.drivers.macvlan import MacvlanDriver
from skiff.network.drivers.null import NullDriver
from skiff.network.ipam import Pool
from skiff.network.sysctl import SysctlJournal
from tests.integration.network.conftest import sh, test_firewall

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("clean_host")]


def kernel_has(kind: str, netns_factory: Callable[..., str]) -> bool:
    ns = netns_factory()
    name = Path(ns).name
    sh("ip", "-n", name, "link", "add", "skp0", "type", "veth", "peer", "name", "skp1")
    return sh("ip", "-n", name, "link", "add", "skc0", "link", "skp0", "type", kind, check=False).returncode == 0


def make_parent(netns_factory: Callable[..., str]) -> str:
    ns = netns_factory()
    name = Path(ns).name
    sh("ip", "-n", name, "link", "add", "skpar0", "type", "veth", "peer", "name", "skpar1")
    sh("ip", "-n", name, "link", "set", "skpar0", "up")
    sh("ip", "-n", name, "link", "set", "skpar1", "up")
    return ns


@pytest.mark.parametrize("kind", ["bridge", "macvlan", "ipvlan", "null", "host"])
def test_driver_conformance(kind: str, netns_factory: Callable[..., str], bridge_name: Callable[[], str],
                            tmp_path: Path) -> None:
    options: dict[str, str] = {}
    driver: Driver
    if kind == "bridge":
        bridge = BridgeDriver(test_firewall(), SysctlJournal(tmp_path / "sysctl.json"))
        driver = bridge
        options = {OPT_NAME: bridge_name()}
    elif kind in ("macvlan", "ipvlan"):
        if not kernel_has(kind, netns_factory):
            pytest.skip(f"this kernel has no {kind}")
        parent_ns = make_parent(netns_factory)
        driver = MacvlanDriver(parent_ns) if kind == "macvlan" else IpvlanDriver(parent_ns)
        options = {"parent": "skpar0"}
    else:
        driver = NullDriver() if kind == "null" else HostDriver()
    wired = kind in ("bridge", "macvlan", "ipvlan")
    cfg = NetworkConfig(secrets.token_hex(32), "conf", kind, (Pool("10.250.0.0/24", "10.250.0.1"),) if wired else (),
                        options)
    driver.create_network(cfg)
    try:
        a, b = netns_factory(), netns_factory()
        infos = []
        for ns, ip in ((a, "10.250.0.2"), (b, "10.250.0.3")):
            ep = EndpointConfig(cfg.id, secrets.token_hex(8), (f"{ip}/24",) if wired else (), "10.250.0.1" if wired else "")
            infos.append((ns, driver.setup(ns, ep)))
        if wired:
            assert netlink.list_addresses("eth0", a)[0] == "10.250.0.2/24"
            assert sh("ip", "netns", "exec", Path(a).name, "busybox", "ping", "-c1", "-W2", "10.250.0.3",
                      check=False).returncode == 0
        else:
            assert not netlink.link_exists("eth0", a)
        lo = netlink.link_info("lo", a)
        assert lo is not None and lo.up
        for ns, info in infos:
            driver.teardown(ns, info)
        assert not netlink.link_exists("eth0", a) and not netlink.link_exists("eth0", b)
    finally:
        driver.delete_network(cfg.id)
        if kind == "bridge":
            bridge.release_host()


def test_macvlan_needs_an_existing_parent(netns_factory: Callable[..., str]) -> None:
    parent_ns = make_parent(netns_factory)
    cfg = NetworkConfig(secrets.token_hex(32), "mv", "macvlan", (Pool("10.251.0.0/24", "10.251.0.1"),),
                        {"parent": "sknothere"})
    with pytest.raises(Exception, match="-o parent interface was not found on the host: sknothere"):
        MacvlanDriver(parent_ns).create_network(cfg)
