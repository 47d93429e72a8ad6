"""Embedded DNS inside a real netns: busybox nslookup at 127.0.0.11, forwarding to a fake upstream."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skiff.network import dnswire as wire
from skiff.network.dns import EmbeddedDNS
from tests.integration.network.conftest import sh

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("clean_host")]


@pytest.fixture
def fake_upstream() -> Iterator[tuple[str, int]]:
    """A DNS server on 127.0.0.1 answering every A query with 192.0.2.123 (never contacted: data only)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except OSError:
                continue
            q = wire.parse_query(data)
            ans = [(wire.TYPE_A, bytes([192, 0, 2, 123]))] if q.qtype == wire.TYPE_A else []
            rcode = wire.RCODE_NOERROR if q.name == "upstream.test" else wire.RCODE_NXDOMAIN
            sock.sendto(wire.build_reply(data, q, rcode=rcode, answers=ans if rcode == 0 else []), peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield sock.getsockname()
    finally:
        stop.set()
        t.join()
        sock.close()


@pytest.fixture
def dns() -> Iterator[EmbeddedDNS]:
    server = EmbeddedDNS(timeout=1.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def nslookup(ns: str, name: str) -> str:
    return sh("ip", "netns", "exec", Path(ns).name, "timeout", "5", "busybox", "nslookup", name, "127.0.0.11",
              check=False).stdout


def test_names_and_forwarding(dns: EmbeddedDNS, netns_factory: Callable[[], str],
                              fake_upstream: tuple[str, int]) -> None:
    ns = netns_factory()
    dns.set_network_name("n1", "backend")
    dns.add_endpoint("n1", "e1", ["db", "database", "0123456789ab"], "172.30.0.5")
    dns.attach("sb1", ns, ["n1"], [fake_upstream])
    out = nslookup(ns, "db")
    assert "172.30.0.5" in out, out
    assert "172.30.0.5" in nslookup(ns, "database")
    out = nslookup(ns, "upstream.test")
    assert "192.0.2.123" in out, out
    # live update: rename
    dns.remove_endpoint("n1", "e1")
    dns.add_endpoint("n1", "e1", ["db2"], "172.30.0.5")
    assert "172.30.0.5" in nslookup(ns, "db2")
    assert "172.30.0.5" not in nslookup(ns, "db")
    # TCP too
    tcp = sh("ip", "netns", "exec", Path(ns).name, "python3", "-c",
             "import socket,struct\n"
             "q=struct.pack('!HHHHHH',7,256,1,0,0,0)+b'\\x03db2\\x00'+struct.pack('!HH',1,1)\n"
             "s=socket.create_connection(('127.0.0.11',53),timeout=3)\n"
             "s.sendall(struct.pack('!H',len(q))+q)\nprint(s.recv(512).hex())\n", check=False)
    assert "ac1e0005" in tcp.stdout, tcp.stderr
    dns.detach("sb1")
    assert "172.30.0.5" not in nslookup(ns, "db2")


def test_internal_only_does_not_forward(dns: EmbeddedDNS, netns_factory: Callable[[], str],
                                        fake_upstream: tuple[str, int]) -> None:
    ns = netns_factory()
    dns.add_endpoint("n1", "e1", ["db"], "172.30.0.5")
    dns.attach("sb1", ns, ["n1"], [fake_upstream], forward=False)
    assert "172.30.0.5" in nslookup(ns, "db")
    assert "192.0.2.123" not in nslookup(ns, "upstream.test")




def test_port_53_stays_free_for_the_container(dns: EmbeddedDNS, netns_factory: Callable[[], str]) -> None:
    ns = netns_factory()
    dns.add_endpoint("n1", "e1", ["db"], "172.30.0.5")
    dns.attach("sb1", ns, ["n1"], [])
    udp_port, tcp_port = dns.ports("sb1")
    assert 53 not in (udp_port, tcp_port)
    own_server = sh("ip", "netns", "exec", Path(ns).name, "python3", "-c",
                    "import socket\nfor k in (socket.SOCK_DGRAM, socket.SOCK_STREAM):\n"
                    "    s=socket.socket(socket.AF_INET,k); s.bind(('0.0.0.0',53))\nprint('bound')", check=False)
    assert own_server.stdout.strip() == "bound", own_server.stderr
    assert "172.30.0.5" in nslookup(ns, "db")
    assert "skiff_dns" in sh("ip", "netns", "exec", Path(ns).name, "nft", "list", "tables").stdout
    dns.detach("sb1")
    assert "skiff_dns" not in sh("ip", "netns", "exec", Path(ns).name, "nft", "list", "tables").stdout
