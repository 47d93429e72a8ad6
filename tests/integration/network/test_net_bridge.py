"""Bridge driver and published ports on the real kernel, inside namespaces made by the tests."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skiff.network import netlink
from skiff.network.driverapi import EndpointConfig, NetworkConfig
from skiff.network.drivers.bridge import OPT_ICC, OPT_NAME, BridgeDriver
from skiff.network.ipam import Pool
from skiff.network.portmap import PortAlreadyAllocated, PortMapper, parse_port_spec
from skiff.network.sysctl import SysctlJournal
from tests.integration.network.conftest import serve_http, sh, skiff_chains, test_firewall

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("clean_host")]


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[BridgeDriver]:
    drv = BridgeDriver(test_firewall(), SysctlJournal(tmp_path / "sysctl.json"))
    try:
        yield drv
    finally:
        for nid in list(drv._networks):
            drv.delete_network(nid)
        drv.release_host()


def net(name: str, subnet: str, **options: str) -> NetworkConfig:
    gw = subnet.rsplit(".", 2)[0] + ".0.1" if subnet.endswith(".0.0/16") else subnet.rsplit(".", 1)[0] + ".1"
    return NetworkConfig(id=secrets.token_hex(32), name=name, driver="bridge",
                         pools=(Pool(subnet, gw),), options={OPT_NAME: name, **options})


def plug(drv: BridgeDriver, cfg: NetworkConfig, ns: str, ip: str, ifname: str = "eth0") -> None:
    prefix = cfg.pools[0].subnet.split("/")[1]
    drv.setup(ns, EndpointConfig(cfg.id, secrets.token_hex(8), (f"{ip}/{prefix}",), cfg.pools[0].gateway,
                                 ifname=ifname))


def ping(ns: str, ip: str) -> bool:
    return sh("ip", "netns", "exec", Path(ns).name, "busybox", "ping", "-c1", "-W1", ip, check=False).returncode == 0


def test_two_netns_on_a_bridge_ping_each_other(driver: BridgeDriver, netns_factory: Callable[[], str],
                                               bridge_name: Callable[[], str]) -> None:
    cfg = net(bridge_name(), "10.201.0.0/24", **{"com.docker.network.driver.mtu": "1400"})
    driver.create_network(cfg)
    a, b = netns_factory(), netns_factory()
    plug(driver, cfg, a, "10.201.0.2")
    plug(driver, cfg, b, "10.201.0.3")
    assert ping(a, "10.201.0.3") and ping(b, "10.201.0.2")
    assert ping(a, "10.201.0.1")  # the gateway
    eth0 = netlink.link_info("eth0", a)
    assert eth0 is not None and eth0.mtu == 1400
    assert netlink.list_addresses("eth0", a)[0] == "10.201.0.2/24"
    assert "default via 10.201.0.1" in sh("ip", "-n", Path(a).name, "route").stdout
    assert any("MASQUERADE" in r and "10.201.0.0/24" in r for r in skiff_chains())


def test_isolation_until_connected_to_both(driver: BridgeDriver, netns_factory: Callable[[], str],
                                           bridge_name: Callable[[], str]) -> None:
    one, two = net(bridge_name(), "10.202.0.0/24"), net(bridge_name(), "10.203.0.0/24")
    driver.create_network(one)
    driver.create_network(two)
    a, b = netns_factory(), netns_factory()
    plug(driver, one, a, "10.202.0.2")
    plug(driver, two, b, "10.203.0.2")
    assert not ping(a, "10.203.0.2")
    assert not ping(b, "10.202.0.2")
    plug(driver, two, a, "10.203.0.3", ifname="eth1")  # "network connect"
    assert ping(a, "10.203.0.2")


def test_internal_has_no_nat_and_no_egress(driver: BridgeDriver, netns_factory: Callable[[], str],
                                           bridge_name: Callable[[], str]) -> None:
    name = bridge_name()
    cfg = net(name, "10.204.0.0/24")
    cfg = NetworkConfig(cfg.id, cfg.name, "bridge", cfg.pools, cfg.options, internal=True)
    driver.create_network(cfg)
    a = netns_factory()
    plug(driver, cfg, a, "10.204.0.2")
    rules = skiff_chains()
    assert not any("MASQUERADE" in r and "10.204.0.0/24" in r for r in rules)
    assert any(f"-i {name} ! -o {name} -j DROP" in r for r in rules)
    assert "default" not in sh("ip", "-n", Path(a).name, "route").stdout


def test_icc_disabled(driver: BridgeDriver, netns_factory: Callable[[], str], bridge_name: Callable[[], str]) -> None:
    cfg = net(bridge_name(), "10.205.0.0/24", **{OPT_ICC: "false"})
    driver.create_network(cfg)
    a, b = netns_factory(), netns_factory()
    plug(driver, cfg, a, "10.205.0.2")
    plug(driver, cfg, b, "10.205.0.3")
    assert ping(a, "10.205.0.1")
    assert not ping(a, "10.205.0.3")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_published_port_reachable_from_host_and_other_netns(
        driver: BridgeDriver, netns_factory: Callable[[], str], bridge_name: Callable[[], str],
        procs: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    br = bridge_name()
    cfg = net(br, "10.206.0.0/24")
    driver.create_network(cfg)
    web, client = netns_factory(), netns_factory()
    plug(driver, cfg, web, "10.206.0.2")
    plug(driver, cfg, client, "10.206.0.3")
    serve_http(web, tmp_path / "www", 80, procs)
    mapper = PortMapper(test_firewall(), tmp_path / "ports.json")
    try:
        port = free_port()
        (m,) = mapper.map("ep-web", br, "10.206.0.2", parse_port_spec(f"127.0.0.1:{port}:80"))
        assert (m.host_ip, m.host_port) == ("127.0.0.1", port)
        out = sh("curl", "-s", "--max-time", "5", f"http://127.0.0.1:{port}/")
        assert out.stdout == "hello from skiff\n"
        with pytest.raises(PortAlreadyAllocated, match=f"Bind for 127.0.0.1:{port} failed: port is already allocated"):
            mapper.map("ep-other", br, "10.206.0.3", parse_port_spec(f"127.0.0.1:{port}:80"))
        # random host port on all addresses, reached from another netns through the gateway
        (r,) = mapper.map("ep-web2", br, "10.206.0.2", parse_port_spec("80"))
        assert r.host_port > 1024
        got = sh("ip", "netns", "exec", Path(client).name, "timeout", "3", "busybox", "wget", "-q", "-O", "-",
                 f"http://10.206.0.1:{r.host_port}/", check=False)
        assert got.stdout == "hello from skiff\n", got.stderr
        # hairpin: the container reaches itself through the published port
        got = sh("ip", "netns", "exec", Path(web).name, "timeout", "3", "busybox", "wget", "-q", "-O", "-",
                 f"http://10.206.0.1:{r.host_port}/", check=False)
        assert got.stdout == "hello from skiff\n", got.stderr
        # restart: a new mapper restores from disk
        mapper.close()
        again = PortMapper(test_firewall(), tmp_path / "ports.json")
        assert again.restore() == []
        assert sh("curl", "-s", "--max-time", "5", f"http://127.0.0.1:{port}/").stdout == "hello from skiff\n"
        again.unmap("ep-web")
        again.unmap("ep-web2")
        assert not any("DNAT" in r for r in skiff_chains())
        mapper = again
    finally:
        for owner in list(mapper.all()):
            mapper.unmap(owner)
        mapper.close()


def test_udp_port(driver: BridgeDriver, netns_factory: Callable[[], str], bridge_name: Callable[[], str],
                  procs: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    br = bridge_name()
    cfg = net(br, "10.207.0.0/24")
    driver.create_network(cfg)
    srv = netns_factory()
    plug(driver, cfg, srv, "10.207.0.2")
    out = tmp_path / "udp.out"
    with open(out, "wb") as f:
        server = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                  "s.bind(('0.0.0.0',9999))\nsys.stdout.buffer.write(s.recv(100)); sys.stdout.flush()\n")
        procs.append(subprocess.Popen(["ip", "netns", "exec", Path(srv).name, sys.executable, "-c", server], stdout=f))
    mapper = PortMapper(test_firewall(), tmp_path / "ports.json")
    try:
        (m,) = mapper.map("ep", br, "10.207.0.2", parse_port_spec("127.0.0.1::9999/udp"))
        import socket
        import time

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(20):
                s.sendto(b"ping-udp\n", ("127.0.0.1", m.host_port))
                time.sleep(0.1)
                if out.read_bytes():
                    break
        assert b"ping-udp" in out.read_bytes()
    finally:
        mapper.unmap("ep")
        mapper.close()


def test_never_takes_over_a_non_bridge_link(driver: BridgeDriver, bridge_name: Callable[[], str]) -> None:
    name = bridge_name()
    sh("ip", "link", "add", name, "type", "veth", "peer", "name", name + "p")
    try:
        with pytest.raises(Exception, match=f"device {name} already exists and is not a bridge"):
            driver.create_network(net(name, "10.208.0.0/24"))
        assert netlink.list_addresses(name) == []
    finally:
        netlink.delete_link(name)


def test_engine_made_netns_file(driver: BridgeDriver, netns_factory: Callable[[], str],
                                bridge_name: Callable[[], str], tmp_path: Path) -> None:
    from skiff.network.netns import create_netns, delete_netns

    cfg = net(bridge_name(), "10.209.0.0/24")
    driver.create_network(cfg)
    path = create_netns(str(tmp_path / "netns" / "c1"))
    try:
        other = netns_factory()
        plug(driver, cfg, path, "10.209.0.2")
        plug(driver, cfg, other, "10.209.0.3")
        assert ping(other, "10.209.0.2")
    finally:
        delete_netns(path)
    assert not Path(path).exists()


def test_only_bridges_skiff_made_are_deleted(driver: BridgeDriver, bridge_name: Callable[[], str]) -> None:
    """moby keeps a bridge it did not create (docker0 of another engine, a host's br0 named with
    com.docker.network.bridge.name); Skiff marks its own with a link alias and deletes only those."""
    made = net(bridge_name(), "10.207.0.0/24")
    driver.create_network(made)
    info = netlink.link_info(made.options[OPT_NAME])
    assert info is not None and info.alias == "skiff"
    driver.delete_network(made.id)
    assert netlink.link_info(made.options[OPT_NAME]) is None
    host_br = bridge_name()
    subprocess.run(["ip", "link", "add", host_br, "type", "bridge"], check=True)
    try:
        adopted = net(host_br, "10.208.0.0/24")
        driver.create_network(adopted)
        assert netlink.link_info(host_br) is not None and netlink.link_info(host_br).alias == ""  # type: ignore[union-attr]
        driver.delete_network(adopted.id)
        assert netlink.link_info(host_br) is not None  # still there: it was the host's
    finally:
        subprocess.run(["ip", "link", "del", host_br], capture_output=True)
