"""The bridge driver's firewall rules are a pure function of the network's config."""

from __future__ import annotations

from skiff.network.driverapi import NetworkConfig
from skiff.network.drivers.bridge import OPT_DEFAULT, OPT_ICC, OPT_MASQ, OPT_NAME, _rules, bridge_name
from skiff.network.ipam import Pool


def cfg(**kw: object) -> NetworkConfig:
    opts = {OPT_NAME: "skx", **kw.pop("options", {})}  # type: ignore[dict-item]
    return NetworkConfig("f" * 64, "n", "bridge", (Pool("10.1.0.0/24", "10.1.0.1"),), opts, **kw)  # type: ignore[arg-type]


def args(rules: object) -> list[str]:
    return [" ".join(r.args) for r in rules]  # type: ignore[attr-defined]


def test_default_rules() -> None:
    r = _rules(cfg(), "skx")
    assert args(r.forward) == ["-i skx -o skx -j ACCEPT", "-i skx ! -o skx -j ACCEPT", "-o skx -j DROP"]
    assert args(r.nat) == ["-s 127.0.0.0/8 -o skx -j MASQUERADE", "-s 10.1.0.0/24 ! -o skx -j MASQUERADE"]
    assert args(r.iso) == ["-i skx ! -o skx -j SKIFF-ISOLATION-STAGE-2", "-o skx -j DROP"]


def test_internal_icc_and_masquerade_off() -> None:
    r = _rules(cfg(internal=True, options={OPT_ICC: "false"}), "skx")
    assert args(r.forward) == ["-i skx -o skx -j DROP", "-i skx ! -o skx -j DROP", "! -i skx -o skx -j DROP",
                               "-o skx -j DROP"]
    assert not any("10.1.0.0/24" in a for a in args(r.nat))
    assert not any("10.1.0.0/24" in a for a in args(_rules(cfg(options={OPT_MASQ: "false"}), "skx").nat))


def test_bridge_names() -> None:
    assert bridge_name(NetworkConfig("abcdef0123456789" * 4, "n", "bridge")) == "br-abcdef012345"
    assert bridge_name(NetworkConfig("a" * 64, "bridge", "bridge", options={OPT_DEFAULT: "true"})) == "skiff0"
    assert bridge_name(cfg()) == "skx"
