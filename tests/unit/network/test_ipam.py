"""IPAM: Docker's pools in order, host routes skipped, static and serial addresses, persistence."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from skiff.network.ipam import (
    AddressInUse,
    InvalidAddress,
    InvalidPoolRequest,
    Ipam,
    NoAvailableIPs,
    NoMoreSubnets,
    PoolOverlap,
    PoolSpec,
    SubnetRequest,
    parse_pool_specs,
)


def make(tmp_path: Path, **kw: object) -> Ipam:
    return Ipam(tmp_path / "ipam.json", **kw)  # type: ignore[arg-type]


def test_default_pools_in_docker_order(tmp_path: Path) -> None:
    ipam = make(tmp_path)
    subnets = [ipam.allocate_pools(f"n{i}", f"n{i}", [])[0].subnet for i in range(31)]
    assert subnets[:4] == ["172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16", "172.20.0.0/16"]
    assert subnets[14] == "172.31.0.0/16"
    assert subnets[15] == "192.168.0.0/20"
    assert subnets[30] == "192.168.240.0/20"
    with pytest.raises(NoMoreSubnets, match="all predefined address pools have been fully subnetted"):
        ipam.allocate_pools("n31", "n31", [])


def test_gateway_is_first_address_and_containers_follow(tmp_path: Path) -> None:
    ipam = make(tmp_path)
    (pool,) = ipam.allocate_pools("a", "a", [])
    assert pool.gateway == "172.17.0.1"
    assert str(ipam.request_address("a")[0]) == "172.17.0.2"
    assert str(ipam.request_address("a")[0]) == "172.17.0.3"


def test_host_routes_are_skipped(tmp_path: Path) -> None:
    ipam = make(tmp_path, host_routes=lambda: [ipaddress.ip_network("172.17.5.0/24")])
    assert ipam.allocate_pools("a", "a", [])[0].subnet == "172.18.0.0/16"


def test_custom_pools(tmp_path: Path) -> None:
    specs = parse_pool_specs([{"base": "10.10.0.0/16", "size": 24}])
    ipam = make(tmp_path, pools=specs)
    assert ipam.allocate_pools("a", "a", [])[0].subnet == "10.10.0.0/24"
    assert ipam.allocate_pools("b", "b", [])[0].subnet == "10.10.1.0/24"
    with pytest.raises(InvalidPoolRequest):
        parse_pool_specs([{"base": "10.10.0.0/16", "size": 8}])


def test_user_subnet_overlap(tmp_path: Path) -> None:
    ipam = make(tmp_path)
    ipam.allocate_pools("a", "a", [SubnetRequest(subnet="10.1.0.0/16")])
    with pytest.raises(PoolOverlap, match="Pool overlaps with other one on this address space"):
        ipam.allocate_pools("b", "b", [SubnetRequest(subnet="10.1.2.0/24")])
    # a predefined pick skips user subnets too
    ipam.allocate_pools("c", "c", [SubnetRequest(subnet="172.17.0.0/24")])
    assert ipam.allocate_pools("d", "d", [])[0].subnet == "172.18.0.0/16"


def test_range_gateway_aux(tmp_path: Path) -> None:
    ipam = make(tmp_path)
    req = SubnetRequest(subnet="10.5.0.0/16", ip_range="10.5.1.0/30", gateway="10.5.0.254",
                        aux_addresses={"host1": "10.5.1.1"})
    (pool,) = ipam.allocate_pools("a", "a", [req])
    assert pool.to_docker() == {"Subnet": "10.5.0.0/16", "IPRange": "10.5.1.0/30", "Gateway": "10.5.0.254",
                                "AuxiliaryAddresses": {"host1": "10.5.1.1"}}
    got = [str(ipam.request_address("a")[0]) for _ in range(3)]
    assert got == ["10.5.1.0", "10.5.1.2", "10.5.1.3"]
    with pytest.raises(NoAvailableIPs, match=r"no available IPv4 addresses on this network's address pools: a \(a\)"):
        ipam.request_address("a")
    for bad in (SubnetRequest(subnet="10.6.0.0/16", gateway="10.7.0.1"),
                SubnetRequest(subnet="10.6.0.0/16", ip_range="10.8.0.0/24"),
                SubnetRequest(subnet="10.6.0.0/16", aux_addresses={"x": "1.1.1.1"}),
                SubnetRequest(subnet="nonsense")):
        with pytest.raises(InvalidPoolRequest):
            ipam.allocate_pools("b", "b", [bad])
    assert ipam.pools("b") == []


def test_static_addresses(tmp_path: Path) -> None:
    ipam = make(tmp_path)
    ipam.allocate_pools("a", "a", [SubnetRequest(subnet="10.9.0.0/24")])
    assert str(ipam.request_address("a", ip="10.9.0.7")[0]) == "10.9.0.7"
    with pytest.raises(AddressInUse, match="Address already in use"):
        ipam.request_address("a", ip="10.9.0.7")
    with pytest.raises(AddressInUse):
        ipam.request_address("a", ip="10.9.0.1")  # the gateway
    with pytest.raises(InvalidAddress, match=r"invalid address 10\.10\.0\.5: It does not belong to any of this"):
        ipam.request_address("a", ip="10.10.0.5")


def test_release_and_serial_reuse(tmp_path: Path) -> None:
    ipam = make(tmp_path)
    ipam.allocate_pools("a", "a", [SubnetRequest(subnet="10.9.0.0/29")])  # .2-.6 usable
    ips = [str(ipam.request_address("a")[0]) for _ in range(5)]
    assert ips == ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]
    ipam.release_address("a", "10.9.0.3")
    ipam.release_address("a", "10.9.0.1")  # the gateway is never released by an endpoint
    assert str(ipam.request_address("a")[0]) == "10.9.0.3"
    with pytest.raises(NoAvailableIPs):
        ipam.request_address("a")


def test_persistence_survives_restart(tmp_path: Path) -> None:
    ipam = make(tmp_path)
    ipam.allocate_pools("a", "net-a", [])
    ipam.request_address("a", owner="ep1")
    again = make(tmp_path)
    assert again.pools("a")[0].subnet == "172.17.0.0/16"
    assert again.addresses("a") == {"172.17.0.1": "gateway", "172.17.0.2": "ep1"}
    assert str(again.request_address("a")[0]) == "172.17.0.3"
    assert again.allocate_pools("b", "b", [])[0].subnet == "172.18.0.0/16"
    again.release_pools("a")
    assert make(tmp_path).pools("a") == []


def test_ipv6_pool(tmp_path: Path) -> None:
    ipam = make(tmp_path, pools_v6=(PoolSpec("fd00:1::/48", 64),))
    pools = ipam.allocate_pools("a", "a", [], ipv6=True)
    assert [p.subnet for p in pools] == ["172.17.0.0/16", "fd00:1::/64"]
    assert pools[1].gateway == "fd00:1::1"
    assert str(ipam.request_address("a", version=6)[0]) == "fd00:1::2"
