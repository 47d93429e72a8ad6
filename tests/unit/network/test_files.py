"""/etc/hosts, /etc/hostname and /etc/resolv.conf as Docker writes them."""

from __future__ import annotations

import pytest

from skiff.errors import InvalidParameter
from skiff.network.files import (
    DOCKER_HEADER,
    ExtServer,
    build_hostname,
    build_hosts,
    build_resolv_conf,
    link_host_entry,
    parse_extra_host,
)

HOST = "# host file\nnameserver 10.255.255.53\nnameserver 127.0.0.53\nsearch example.com corp\noptions edns0\n"


def test_legacy_drops_loopback() -> None:
    text, ext = build_resolv_conf(HOST, "legacy")
    assert ext == []
    assert text == (DOCKER_HEADER + "\n\nnameserver 10.255.255.53\nsearch example.com corp\noptions edns0\n\n"
                    "# Based on host file: '/etc/resolv.conf' (legacy)\n# Overrides: []\n")


def test_legacy_falls_back_to_google() -> None:
    text, _ = build_resolv_conf("nameserver 127.0.0.53\n", "legacy")
    assert "nameserver 8.8.8.8\nnameserver 8.8.4.4\n" in text
    assert "# Used default nameservers.\n" in text
    assert "2001:4860" not in text
    text6, _ = build_resolv_conf("nameserver 127.0.0.53\n", "legacy", ipv6=True)
    assert "nameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844\n" in text6


def test_internal_resolver() -> None:
    text, ext = build_resolv_conf(HOST, "internal")
    assert ext == [ExtServer("10.255.255.53"), ExtServer("127.0.0.53", host_loopback=True)]
    assert text == (DOCKER_HEADER + "\n\nnameserver 127.0.0.11\nsearch example.com corp\noptions edns0 ndots:0\n\n"
                    "# Based on host file: '/etc/resolv.conf' (internal resolver)\n"
                    "# ExtServers: [10.255.255.53 host(127.0.0.53)]\n# Overrides: []\n"
                    "# Option ndots from: internal\n")


def test_internal_with_overrides() -> None:
    text, ext = build_resolv_conf(HOST, "internal", dns=["1.1.1.1"], dns_search=["a.test"],
                                  dns_options=["ndots:2", "timeout:1"])
    assert ext == [ExtServer("1.1.1.1")]
    assert "nameserver 127.0.0.11\nsearch a.test\noptions ndots:2 timeout:1\n" in text
    assert "# ExtServers: [1.1.1.1]\n# Overrides: [nameservers search options]\n# Option ndots from: override\n" in text


def test_dns_search_dot_clears_search() -> None:
    text, _ = build_resolv_conf(HOST, "legacy", dns_search=["."])
    assert "search" not in text.split("# Based")[0]


def test_host_mode_keeps_host_file() -> None:
    text, _ = build_resolv_conf(HOST, "host")
    assert "nameserver 10.255.255.53\nnameserver 127.0.0.53\n" in text
    assert "# Based on host file: '/etc/resolv.conf'\n" in text


def test_bad_dns() -> None:
    with pytest.raises(InvalidParameter):
        build_resolv_conf(HOST, "legacy", dns=["not-an-ip"])


def test_hosts_default_and_own_entry() -> None:
    assert build_hosts("9158f450b5b9", addresses=["172.17.0.2/16"]) == (
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\n"
        "ff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n172.17.0.2\t9158f450b5b9\n")


def test_hosts_domain_extra_and_links() -> None:
    extra = [parse_extra_host("db.local:10.0.0.5"), parse_extra_host("gw:host-gateway", "172.17.0.1"),
             parse_extra_host("v6=[::1]"), link_host_entry("web", "webapp", "abcdef012345", "172.17.0.3")]
    text = build_hosts("app", domainname="example.com", addresses=["172.18.0.4"], extra_hosts=extra, ipv6=False)
    assert text == ("127.0.0.1\tlocalhost\n10.0.0.5\tdb.local\n172.17.0.1\tgw\n::1\tv6\n"
                    "172.17.0.3\tweb abcdef012345 webapp\n172.18.0.4\tapp.example.com app\n")


def test_bad_add_host() -> None:
    for bad in ("nocolon", "x:notanip", "gw:host-gateway"):
        with pytest.raises(InvalidParameter):
            parse_extra_host(bad)


def test_hostname() -> None:
    assert build_hostname("abc") == "abc\n"
