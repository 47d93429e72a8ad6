"""Pure parts of the networks engine and CLI: the create body, daemon pool flags, IPAM consolidation."""

from __future__ import annotations

from pathlib import Path

import pytest

from skiff.cli.commands.network import ipam_config, network_rows
from skiff.cli.exitcodes import StatusError
from skiff.engine.config import load_config
from skiff.engine.networks import _pools, parse_create, service_config
from skiff.errors import Forbidden, InvalidParameter
from skiff.network.ipam import PoolSpec


def test_parse_create_full_body() -> None:
    req = parse_create({"Name": "n", "Driver": "bridge", "Internal": True, "Attachable": True,
                        "EnableIPv6": False, "Labels": {"a": "b"}, "Options": {"x": "1"},
                        "IPAM": {"Driver": "default", "Config": [
                            {"Subnet": "10.1.0.0/16", "IPRange": "10.1.2.0/24", "Gateway": "10.1.0.1",
                             "AuxiliaryAddresses": {"h": "10.1.0.9"}}]}})
    assert req.name == "n" and req.internal and req.attachable and req.labels == {"a": "b"}
    sub = req.subnets[0]
    assert (sub.subnet, sub.ip_range, sub.gateway, dict(sub.aux_addresses)) == (
        "10.1.0.0/16", "10.1.2.0/24", "10.1.0.1", {"h": "10.1.0.9"})


@pytest.mark.parametrize(("body", "exc", "text"), [
    ({}, InvalidParameter, "network name is required"),
    ({"Name": "n", "IPAM": {"Config": [{"Subnet": "10.0.0.0/8"}, {"Subnet": "10.1.0.0/16"}]}}, Forbidden,
     "Pool overlaps"),
    ({"Name": "n", "IPAM": {"Config": [{"Subnet": "10.0.0.0/24", "Gateway": "10.0.1.1"}]}}, InvalidParameter,
     "no matching subnet for gateway 10.0.1.1"),
    ({"Name": "n", "IPAM": {"Config": [{"Subnet": "10.0.0.0/24", "IPRange": "10.0.1.0/25"}]}},
     InvalidParameter, "invalid ip-range"),
    ({"Name": "n", "IPAM": {"Config": [{"Subnet": "nope"}]}}, InvalidParameter, "invalid subnet"),
    ({"Name": "n", "Ingress": True}, Forbidden, "swarm"),
])
def test_parse_create_errors(body: dict[str, object], exc: type[Exception], text: str) -> None:
    with pytest.raises(exc, match=text):
        parse_create(body)


def test_pools_from_flags_and_file() -> None:
    assert _pools(["base=10.10.0.0/16,size=24"]) == (PoolSpec("10.10.0.0/16", 24),)
    assert _pools([{"base": "10.20.0.0/16", "size": 20}]) == (PoolSpec("10.20.0.0/16", 20),)


def test_service_config_from_daemon_flags(tmp_path: Path) -> None:
    cfg = load_config({"data-root": str(tmp_path), "bridge": "skx0", "bip": "10.99.0.1/24", "mtu": 1400,
                       "icc": False, "iptables-chain-prefix": "SKX", "dns": ["127.0.0.9"]})
    sc = service_config(cfg)
    assert sc.bridge_device == "skx0" and sc.bridge_subnet == "10.99.0.0/24" and sc.bridge_mtu == 1400
    assert not sc.bridge_icc and sc.chain_prefix == "SKX" and sc.dns == ("127.0.0.9",)
    assert not sc.predefined  # --bip: the engine makes the default bridge (gateway = bip's address)
    assert sc.state_dir == tmp_path / "network"


def test_cli_ipam_consolidation() -> None:
    cfgs = ipam_config(["10.1.0.0/16", "10.2.0.0/16"], ["10.2.1.0/24"], ["10.1.0.254"], {"a": "10.2.0.9"})
    assert cfgs == [{"Subnet": "10.1.0.0/16", "Gateway": "10.1.0.254", "AuxiliaryAddresses": {}},
                    {"Subnet": "10.2.0.0/16", "IPRange": "10.2.1.0/24", "AuxiliaryAddresses": {"a": "10.2.0.9"}}]
    cases: list[tuple[tuple[list[str], list[str], list[str], dict[str, str]], str]] = [((["10.1.0.0/16"], [], ["10.3.0.1"], {}), "no matching subnet for gateway 10.3.0.1"),
                       (([], [], ["10.3.0.1"], {}), "every ip-range or gateway must have a corresponding subnet"),
                       ((["10.0.0.0/8", "10.1.0.0/16"], [], [], {}), "multiple overlapping subnet"),
                       ((["10.1.0.0/16", "10.2.0.0/16"], [], ["10.1.0.1", "10.1.0.2"], {}),
                        "cannot configure multiple gateways")]
    for args, text in cases:
        with pytest.raises(StatusError) as info:
            ipam_config(*args)
        assert text in str(info.value)


def test_ls_rows_sorted_and_truncated() -> None:
    rows = network_rows([{"Id": "b" * 64, "Name": "zeta", "Driver": "bridge", "Scope": "local",
                          "Labels": {"k": "v"}},
                         {"Id": "a" * 64, "Name": "alpha", "Driver": "null", "Scope": "local"}])
    assert [r["Name"] for r in rows] == ["alpha", "zeta"]
    assert rows[0]["ID"] == "a" * 12 and rows[1]["Labels"] == "k=v"


def test_bridge_none_means_no_default_bridge(tmp_path: Path) -> None:
    sc = service_config(load_config({"data-root": str(tmp_path), "bridge": "none"}))
    assert not sc.predefined and sc.bridge_device == "skiff0"
    assert service_config(load_config({"data-root": str(tmp_path)})).predefined
