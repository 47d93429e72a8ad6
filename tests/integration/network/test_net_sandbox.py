"""ContainerNetworking: the container service's attach/detach hook, end to end on the kernel."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from skiff.network import netlink
from skiff.network.ipam import PoolSpec
from skiff.network.records import CreateRequest
from skiff.network.sandbox import ContainerNetworking, port_specs_from_bindings
from skiff.network.service import NetworkService, ServiceConfig
from tests.integration.network.conftest import PREFIX

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("clean_host")]


@dataclass(frozen=True)
class Req:  # the shape of the engine's NetworkRequest
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


@pytest.fixture
def hook(tmp_path: Path, bridge_name: Callable[[], str]) -> Iterator[ContainerNetworking]:
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.1\nsearch example.test\n")
    svc = NetworkService(ServiceConfig(state_dir=tmp_path / "state", default_pools=(PoolSpec("10.242.0.0/16", 24),),
                                       bridge_device=bridge_name(), chain_prefix=PREFIX,
                                       host_resolv_conf=str(tmp_path / "resolv.conf")))
    svc.start()
    hook = ContainerNetworking(svc, tmp_path / "netns")
    try:
        yield hook
    finally:
        for left in (tmp_path / "netns").glob("*"):  # a failed test must not leave a mounted netns
            hook.detach(left.name)
        svc.remove_all()
        svc.close()


def test_attach_detach_default_bridge(hook: ContainerNetworking, procs: list[subprocess.Popen[bytes]]) -> None:
    req = Req("1" * 64, "web", "bridge", "111111111111", port_bindings={"80/tcp": [{"HostIp": "127.0.0.1",
                                                                                  "HostPort": ""}]},
              extra_hosts=("gw:host-gateway",))
    att = asyncio.run(hook.attach_network(req))
    assert Path(att.netns_path).exists()
    net = att.settings["Networks"]["bridge"]
    assert net["IPAddress"] == "10.242.0.2" and net["Gateway"] == "10.242.0.1"
    assert att.settings["IPAddress"] == "10.242.0.2"
    (binding,) = att.settings["Ports"]["80/tcp"]
    assert binding["HostIp"] == "127.0.0.1" and int(binding["HostPort"]) > 0
    assert "nameserver 127.0.0.1" not in att.resolv_conf and "nameserver 8.8.8.8" in att.resolv_conf
    assert "search example.test" in att.resolv_conf
    assert att.hosts.endswith("10.242.0.1\tgw\n10.242.0.2\t111111111111\n")
    assert netlink.list_addresses("eth0", att.netns_path)[0] == "10.242.0.2/24"
    asyncio.run(hook.detach_network(req.container_id))
    assert not Path(att.netns_path).exists()
    assert hook.svc.endpoints_of_container(req.container_id) == []


def test_attach_user_networks_with_static_ip_and_alias(hook: ContainerNetworking, bridge_name: Callable[[], str]) -> None:
    from skiff.network.drivers.bridge import OPT_NAME
    from skiff.network.ipam import SubnetRequest

    front, back = bridge_name(), bridge_name()
    hook.svc.create(CreateRequest(front, options={OPT_NAME: front}, subnets=(SubnetRequest(subnet="10.243.0.0/24"),)))
    hook.svc.create(CreateRequest(back, options={OPT_NAME: back}))
    db = Req("2" * 64, "db", back, "dbhost", endpoints_config={back: {"Aliases": ["database"]}})
    web = Req("3" * 64, "web", front, "webhost",
              endpoints_config={front: {"IPAMConfig": {"IPv4Address": "10.243.0.50"}}, back: {}})
    hook.attach(db)
    att = hook.attach(web)
    try:
        assert set(att.settings["Networks"]) == {front, back}
        assert att.settings["Networks"][front]["IPAddress"] == "10.243.0.50"
        assert att.settings["IPAddress"] == ""  # not on the default bridge
        assert "nameserver 127.0.0.11\nsearch example.test\noptions ndots:0\n" in att.resolv_conf
        out = subprocess.run(["nsenter", f"--net={att.netns_path}", "busybox", "nslookup", "database", "127.0.0.11"],
                             capture_output=True, text=True)
        db_ip = hook.svc.endpoints_of_container("2" * 64)[0].ipv4.split("/")[0]
        assert db_ip in out.stdout, out.stdout + out.stderr
        # network disconnect / connect on the running "db"
        hook.disconnect(db.container_id, back)
        assert hook.settings(db.container_id)["Networks"] == {}
        settings = hook.connect(db.container_id, "db", front, {"Aliases": ["pg"]})
        assert settings["IPAddress"].startswith("10.243.0.") and settings["Aliases"] == ["pg"]
        assert list(hook.settings(db.container_id)["Networks"]) == [front]
    finally:
        hook.detach(web.container_id)
        hook.detach(db.container_id)


def test_port_bindings_parse() -> None:
    specs = port_specs_from_bindings({"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                                      "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}], "443/tcp": None,
                                      "90/tcp": [{"HostPort": "9000-9001"}]})
    got = {(s.container_port, s.proto, s.host_ip, s.host_port_start, s.host_port_end) for s in specs}
    assert got == {(80, "tcp", "", 8080, 8080), (53, "udp", "127.0.0.1", 0, 0), (443, "tcp", "", 0, 0),
                   (90, "tcp", "", 9000, 9001)}


@dataclass(frozen=True)
class FullReq(Req):
    exposed_ports: tuple[str, ...] = ()
    publish_all: bool = False
    links: tuple[str, ...] = ()
    domainname: str = ""


def test_publish_all_links_and_domainname(hook: ContainerNetworking) -> None:
    web = FullReq("4" * 64, "web", "bridge", "webhost", exposed_ports=("80/tcp", "443/tcp"), publish_all=True,
                  port_bindings={"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]})
    att = hook.attach(web)
    try:
        ports = att.settings["Ports"]
        assert set(ports) == {"80/tcp", "443/tcp"}
        assert ports["80/tcp"][0]["HostIp"] == "127.0.0.1" and ports["443/tcp"][0]["HostIp"] == "0.0.0.0"
        app = FullReq("5" * 64, "app", "bridge", "app", links=("web:www",), domainname="example.test")
        att2 = hook.attach(app)
        web_ip = att.settings["IPAddress"]
        assert f"{web_ip}\twww 444444444444 web\n" in att2.hosts
        assert att2.hosts.endswith(f"{att2.settings['IPAddress']}\tapp.example.test app\n")
        with pytest.raises(Exception, match="could not get container for nobody"):
            hook.attach(FullReq("6" * 64, "x", "bridge", "x", links=("nobody",)))
        assert not Path(hook.netns_path("6" * 64)).exists()
    finally:
        hook.detach(web.container_id)
        hook.detach("5" * 64)
