"""NetworkService end to end on the real kernel: namespaces stand in for containers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from skiff.network import netlink
from skiff.network.drivers.bridge import OPT_NAME
from skiff.network.ipam import PoolOverlap, PoolSpec, SubnetRequest
from skiff.network.portmap import PortAlreadyAllocated, parse_port_spec
from skiff.network.records import ConnectRequest, CreateRequest
from skiff.network.service import (
    ActiveEndpoints,
    NetworkExists,
    NetworkNotFound,
    NetworkService,
    ServiceConfig,
)
from tests.integration.network.conftest import PREFIX, serve_http, sh, skiff_chains

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("clean_host")]


def config(state: Path, device: str) -> ServiceConfig:
    # The embedded DNS may only ever forward to loopback in tests: the "host" resolv.conf says so.
    state.mkdir(parents=True, exist_ok=True)
    (state.parent / "host-resolv.conf").write_text("nameserver 127.0.0.1\n")
    return ServiceConfig(state_dir=state, default_pools=(PoolSpec("10.240.0.0/16", 24),), bridge_device=device,
                         chain_prefix=PREFIX, host_resolv_conf=str(state.parent / "host-resolv.conf"))


@pytest.fixture
def svc_factory(tmp_path: Path, bridge_name: Callable[[], str]) -> Iterator[Callable[[], NetworkService]]:
    device = bridge_name()
    made: list[NetworkService] = []

    def make() -> NetworkService:
        svc = NetworkService(config(tmp_path / "state", device))
        made.append(svc)
        assert svc.start() == []
        return svc

    try:
        yield make
    finally:
        if made:
            made[-1].remove_all()
        for s in made:
            s.close()


def user_net(svc: NetworkService, br: str, options: dict[str, str] | None = None, **kw: Any) -> str:
    return svc.create(CreateRequest(name=br, options={OPT_NAME: br, **(options or {})}, **kw)).id


def run(ns: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", Path(ns).name, "timeout", "5", *cmd, check=False)


RESOLV = "nameserver 127.0.0.11\noptions ndots:0\n"


def test_predefined_networks_and_inspect(svc_factory: Callable[[], NetworkService]) -> None:
    svc = svc_factory()
    names = [r.name for r in svc.list_networks()]
    assert names == ["bridge", "host", "none"]
    bridge = svc.inspect("bridge")
    assert bridge["IPAM"] == {"Driver": "default", "Options": None,
                              "Config": [{"Subnet": "10.240.0.0/24", "Gateway": "10.240.0.1"}]}
    assert bridge["Options"]["com.docker.network.bridge.default_bridge"] == "true"
    assert svc.host_gateway_ip() == "10.240.0.1"
    with pytest.raises(NetworkNotFound, match="network nope not found"):
        svc.get("nope")
    with pytest.raises(NetworkExists, match="network with name bridge already exists"):
        svc.create(CreateRequest(name="bridge"))


def test_user_network_by_name_and_isolation(svc_factory: Callable[[], NetworkService],
                                            netns_factory: Callable[..., str], bridge_name: Callable[[], str]) -> None:
    svc = svc_factory()
    front, back = bridge_name(), bridge_name()
    user_net(svc, front)
    user_net(svc, back)
    web, db = netns_factory(RESOLV), netns_factory(RESOLV)
    svc.connect(front, ConnectRequest("a" * 64, "/web", web, aliases=("www",), mac="02:42:ac:11:00:99", upstreams=()))
    eth0 = netlink.link_info("eth0", web)
    assert eth0 is not None and eth0.mac == "02:42:ac:11:00:99"
    svc.connect(back, ConnectRequest("b" * 64, "/db", db, upstreams=()))
    assert run(web, "busybox", "ping", "-c1", "-W1", "web").returncode == 0
    assert run(web, "busybox", "ping", "-c1", "-W1", "db").returncode != 0  # other network: no name
    db_ip = svc.endpoints_of_container("b" * 64)[0].ipv4.split("/")[0]
    assert run(web, "busybox", "ping", "-c1", "-W1", db_ip).returncode != 0  # and no route through
    svc.connect(back, ConnectRequest("a" * 64, "/web", web, upstreams=()))  # network connect
    assert run(web, "busybox", "ping", "-c1", "-W1", "db").returncode == 0
    assert netlink.link_exists("eth1", web)
    info = svc.inspect(back)
    assert set(info["Containers"]) == {"a" * 64, "b" * 64}
    with pytest.raises(ActiveEndpoints, match=f'error while removing network: network {back} has active endpoints'):
        svc.remove(back)
    svc.disconnect(back, "a" * 64)
    assert not netlink.link_exists("eth1", web)
    assert run(web, "busybox", "ping", "-c1", "-W1", "db").returncode != 0
    svc.rename_container("b" * 64, "/database")
    assert run(db, "busybox", "nslookup", "database", "127.0.0.11").returncode == 0


def test_bad_input_leaves_nothing(svc_factory: Callable[[], NetworkService], netns_factory: Callable[..., str],
                                  bridge_name: Callable[[], str], tmp_path: Path,
                                  procs: list[subprocess.Popen[bytes]]) -> None:
    svc = svc_factory()
    one = bridge_name()
    svc.create(CreateRequest(name=one, options={OPT_NAME: one}, subnets=(SubnetRequest(subnet="10.241.0.0/24"),)))
    two = bridge_name()
    with pytest.raises(PoolOverlap):
        svc.create(CreateRequest(name=two, options={OPT_NAME: two}, subnets=(SubnetRequest(subnet="10.241.0.128/25"),)))
    assert not netlink.link_exists(two)
    assert [r.name for r in svc.list_networks(filters={"type": ["custom"]})] == [one]
    a, b = netns_factory(), netns_factory()
    ep = svc.connect(one, ConnectRequest("c" * 64, "/c1", a, ipv4="10.241.0.50", ports=tuple(parse_port_spec("127.0.0.1::80"))))
    assert ep.ipv4 == "10.241.0.50/24"
    port = ep.ports[0].host_port
    with pytest.raises(PortAlreadyAllocated):
        svc.connect(one, ConnectRequest("d" * 64, "/c2", b, ports=tuple(parse_port_spec(f"127.0.0.1:{port}:80"))))
    assert svc.endpoints_of_container("d" * 64) == []
    assert [link.name for link in netlink.list_links(b)] == ["lo"]
    assert "10.241.0.51" not in svc.ipam.addresses(svc.get(one).id)
    with pytest.raises(Exception, match="Address already in use"):
        svc.connect(one, ConnectRequest("d" * 64, "/c2", b, ipv4="10.241.0.50"))
    with pytest.raises(Exception, match="It does not belong to any of this network's subnets"):
        svc.connect(one, ConnectRequest("d" * 64, "/c2", b, ipv4="10.99.0.5"))
    assert [link.name for link in netlink.list_links(b)] == ["lo"]


def test_restart_keeps_addresses_ports_and_dns(svc_factory: Callable[[], NetworkService],
                                               netns_factory: Callable[..., str], bridge_name: Callable[[], str],
                                               tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    svc = svc_factory()
    net = bridge_name()
    user_net(svc, net)
    web, client = netns_factory(RESOLV), netns_factory(RESOLV)
    ep = svc.connect(net, ConnectRequest("e" * 64, "/web", web, ports=tuple(parse_port_spec("127.0.0.1::80")),
                                         upstreams=()))
    svc.connect(net, ConnectRequest("f" * 64, "/client", client, upstreams=()))
    serve_http(web, tmp_path / "www", 80, procs)
    url = f"http://127.0.0.1:{ep.ports[0].host_port}/"
    assert sh("curl", "-s", "--max-time", "5", url).stdout == "hello from skiff\n"
    svc.close()
    again = svc_factory()
    assert again.endpoints_of_container("e" * 64)[0].ipv4 == ep.ipv4
    assert sh("curl", "-s", "--max-time", "5", url).stdout == "hello from skiff\n"
    assert run(client, "busybox", "wget", "-q", "-O", "-", "http://web/").stdout == "hello from skiff\n"
    state = json.loads((tmp_path / "state" / "networks.json").read_text())
    assert len(state["endpoints"]) == 2
    again.release_container("e" * 64)
    assert sh("curl", "-s", "--max-time", "2", url, check=False).stdout == ""
    assert not any("DNAT" in r for r in skiff_chains())


def test_prune(svc_factory: Callable[[], NetworkService], bridge_name: Callable[[], str]) -> None:
    svc = svc_factory()
    names = [bridge_name(), bridge_name()]
    for n in names:
        user_net(svc, n, labels={"keep": "no"})
    assert sorted(svc.prune({"label": ["keep=no"]})) == sorted(names)
    assert [r.name for r in svc.list_networks()] == ["bridge", "host", "none"]




def test_ipv6_network_icc_and_rules(svc_factory: Callable[[], NetworkService], netns_factory: Callable[..., str],
                                    bridge_name: Callable[[], str]) -> None:
    svc = svc_factory()
    open_net, closed_net = bridge_name(), bridge_name()
    user_net(svc, open_net, enable_ipv6=True, subnets=(SubnetRequest(subnet="fd00:5151::/64"),))
    user_net(svc, closed_net, enable_ipv6=True, options={"com.docker.network.bridge.enable_icc": "false"})
    a, b, c, d = (netns_factory() for _ in range(4))
    ep_a = svc.connect(open_net, ConnectRequest("a" * 64, "/a", a, upstreams=()))
    ep_b = svc.connect(open_net, ConnectRequest("b" * 64, "/b", b, upstreams=()))
    assert ep_a.ipv6.startswith("fd00:5151::") and ep_a.gateway6 == "fd00:5151::1"
    assert run(a, "busybox", "ping", "-6", "-c1", "-W2", ep_b.ipv6.split("/")[0]).returncode == 0
    ep_c = svc.connect(closed_net, ConnectRequest("c" * 64, "/c", c, upstreams=()))
    svc.connect(closed_net, ConnectRequest("d" * 64, "/d", d, upstreams=()))
    assert run(d, "busybox", "ping", "-6", "-c1", "-W1", ep_c.ipv6.split("/")[0]).returncode != 0
    assert any(r.startswith("ip6tables") and f"-i {closed_net} -o {closed_net} -j DROP" in r for r in skiff_chains())


def test_release_when_the_netns_dies(svc_factory: Callable[[], NetworkService], tmp_path: Path) -> None:
    import time

    from skiff.network.netns import create_netns, delete_netns

    svc = svc_factory()
    path = create_netns(str(tmp_path / "netns-c1"))
    ep = svc.connect("bridge", ConnectRequest("9" * 64, "/c1", path))
    assert netlink.link_exists(ep.host_ifname)
    svc.release_container("9" * 64, netns_dies=True)
    delete_netns(path)
    deadline = time.time() + 5
    while netlink.link_exists(ep.host_ifname) and time.time() < deadline:
        time.sleep(0.05)
    assert not netlink.link_exists(ep.host_ifname)
    assert svc.ipam.addresses(svc.get("bridge").id) == {"10.240.0.1": "gateway"}
