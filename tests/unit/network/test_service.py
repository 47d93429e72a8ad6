"""NetworkService logic with a fake driver: no kernel, no iptables, no DNS listener."""

from __future__ import annotations

from pathlib import Path

import pytest

from skiff.errors import Forbidden, InvalidParameter, NotFound
from skiff.network.driverapi import EndpointConfig, EndpointInfo, NetworkConfig
from skiff.network.ipam import PoolOverlap, PoolSpec, SubnetRequest
from skiff.network.records import ConnectRequest, CreateRequest
from skiff.network.service import ActiveEndpoints, NetworkExists, NetworkService, ServiceConfig


class FakeDriver:
    name = "fake"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail_setup = False

    def create_network(self, cfg: NetworkConfig) -> None:
        self.calls.append(f"create {cfg.name}")

    def delete_network(self, network_id: str) -> None:
        self.calls.append("delete")

    def setup(self, netns_path: str, ep: EndpointConfig) -> EndpointInfo:
        if self.fail_setup:
            raise RuntimeError("boom")
        self.calls.append(f"setup {ep.ifname} {ep.addresses}")
        return EndpointInfo(ep.network_id, ep.endpoint_id, ep.ifname, "vethfake", "", "02:00:00:00:00:01",
                            ep.addresses, ep.gateway)

    def teardown(self, netns_path: str | None, ep: EndpointInfo) -> None:
        self.calls.append(f"teardown {ep.ifname}")


def make(tmp_path: Path, drv: FakeDriver) -> NetworkService:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.0.0.53\nsearch corp\n")
    cfg = ServiceConfig(state_dir=tmp_path / "state", default_pools=(PoolSpec("10.70.0.0/16", 24),), iptables=False,
                        predefined=False, embedded_dns=False, host_resolv_conf=str(resolv),
                        extra_drivers={"fake": drv})
    return NetworkService(cfg)


def req(cid: str, name: str, **kw: object) -> ConnectRequest:
    return ConnectRequest(cid * 64, name, "/proc/self/ns/net", **kw)  # type: ignore[arg-type]


def test_create_inspect_connect_remove(tmp_path: Path) -> None:
    drv = FakeDriver()
    svc = make(tmp_path, drv)
    net = svc.create(CreateRequest("front", "fake", labels={"a": "b"}))
    assert net.pools[0].subnet == "10.70.0.0/24"
    with pytest.raises(NetworkExists):
        svc.create(CreateRequest("front", "fake"))
    ep = svc.connect("front", req("a", "/web", aliases=("www",), hostname="webhost"))
    assert (ep.ipv4, ep.gateway, ep.ifname) == ("10.70.0.2/24", "10.70.0.1", "eth0")
    assert ep.dns_names == ["web", "www", "a" * 12, "webhost"]
    doc = svc.inspect(net.id[:6])
    assert doc["Containers"] == {"a" * 64: {"Name": "web", "EndpointID": ep.id, "MacAddress": "02:00:00:00:00:01",
                                            "IPv4Address": "10.70.0.2/24", "IPv6Address": ""}}
    assert doc["IPAM"] == {"Driver": "default", "Options": {}, "Config": [{"Subnet": "10.70.0.0/24",
                                                                             "Gateway": "10.70.0.1"}]}
    assert doc["Labels"] == {"a": "b"} and doc["Scope"] == "local" and doc["Driver"] == "fake"
    settings = ep.to_endpoint_settings()
    assert settings["IPAddress"] == "10.70.0.2" and settings["IPPrefixLen"] == 24
    assert settings["Aliases"] == ["www"] and settings["IPAMConfig"] is None
    with pytest.raises(Forbidden, match="endpoint with name web already exists in network front"):
        svc.connect("front", req("a", "/web"))
    with pytest.raises(ActiveEndpoints, match=r'network front has active endpoints \(name:"web" id:"aaaaaaaaaaaa"\)'):
        svc.remove("front")
    svc.disconnect("front", "a" * 64)
    with pytest.raises(NotFound, match="is not connected to network front"):
        svc.disconnect("front", "a" * 64)
    svc.remove("front")
    with pytest.raises(NotFound, match="network front not found"):
        svc.get("front")
    assert drv.calls[-2:] == ["teardown eth0", "delete"]


def test_static_ip_rules_and_failed_setup(tmp_path: Path) -> None:
    drv = FakeDriver()
    svc = make(tmp_path, drv)
    svc.create(CreateRequest("auto", "fake"))
    with pytest.raises(InvalidParameter, match="user specified IP address is supported only when connecting"):
        svc.connect("auto", req("a", "/x", ipv4="10.70.0.9"))
    svc.create(CreateRequest("fixed", "fake", subnets=(SubnetRequest(subnet="10.80.0.0/24"),)))
    with pytest.raises(PoolOverlap):
        svc.create(CreateRequest("clash", "fake", subnets=(SubnetRequest(subnet="10.80.0.0/16"),)))
    assert svc.connect("fixed", req("a", "/x", ipv4="10.80.0.9")).ipv4 == "10.80.0.9/24"
    drv.fail_setup = True
    with pytest.raises(RuntimeError):
        svc.connect("fixed", req("b", "/y", ipv4="10.80.0.10"))
    assert "10.80.0.10" not in svc.ipam.addresses(svc.get("fixed").id)
    assert svc.endpoints_of_container("b" * 64) == []


def test_second_network_gets_eth1_and_state_survives(tmp_path: Path) -> None:
    drv = FakeDriver()
    svc = make(tmp_path, drv)
    svc.create(CreateRequest("one", "fake"))
    svc.create(CreateRequest("two", "fake"))
    svc.connect("one", req("a", "/x"))
    assert svc.connect("two", req("a", "/x")).ifname == "eth1"
    again = make(tmp_path, FakeDriver())
    assert [e.ifname for e in sorted(again.endpoints_of_container("a" * 64), key=lambda e: e.ifname)] == ["eth0", "eth1"]
    assert [r.name for r in again.list_networks({"name": ["tw"]})] == ["two"]
    assert again.prune() == []


def test_unknown_driver_and_resolv_conf(tmp_path: Path) -> None:
    svc = make(tmp_path, FakeDriver())
    with pytest.raises(NotFound, match='plugin "nope" not found'):
        svc.create(CreateRequest("x", "nope"))
    text, ups = svc.resolv_conf("internal")
    assert "nameserver 127.0.0.11\nsearch corp\noptions ndots:0\n" in text
    assert ups == [("10.0.0.53", 53)]


def test_restart_rebuilds_ipam_from_records(tmp_path: Path) -> None:
    svc = make(tmp_path, FakeDriver())
    svc.create(CreateRequest("one", "fake", subnets=(SubnetRequest(subnet="10.90.0.0/24",
                                                                   aux_addresses={"x": "10.90.0.3"}),)))
    svc.create(CreateRequest("auto", "fake"))
    assert svc.connect("one", req("a", "/a")).ipv4 == "10.90.0.2/24"
    again = make(tmp_path, FakeDriver())
    try:
        assert again.start() == []
        assert again.connect("one", req("b", "/b")).ipv4 == "10.90.0.4/24"  # .2 kept, .3 is aux
        assert again.create(CreateRequest("more", "fake")).pools[0].subnet == "10.70.1.0/24"
    finally:
        again.close()


def test_filters(tmp_path: Path) -> None:
    svc = make(tmp_path, FakeDriver())
    a = svc.create(CreateRequest("alpha", "fake", labels={"env": "prod", "team": "x"}))
    svc.create(CreateRequest("beta", "fake", labels={"env": "dev"}))
    svc.connect("beta", req("a", "/a"))
    names = lambda f: [r.name for r in svc.list_networks(f)]  # noqa: E731
    assert names({"label": ["env=prod"]}) == ["alpha"]
    assert names({"label": ["env"]}) == ["alpha", "beta"]
    assert names({"label": ["env", "team=x"]}) == ["alpha"]
    assert names({"dangling": ["true"]}) == ["alpha"]
    assert names({"dangling": ["false"]}) == ["beta"]
    assert names({"id": [a.id[:5]]}) == ["alpha"]
    assert names({"name": ["et"]}) == ["beta"]
    assert names({"type": ["builtin"]}) == []
    assert names({"driver": ["fake"], "scope": ["local"]}) == ["alpha", "beta"]
