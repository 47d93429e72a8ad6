"""Embedded DNS answers (no sockets): names, aliases, round robin, PTR, forwarding decision."""

from __future__ import annotations

import struct

from skiff.network import dnswire as wire
from skiff.network.dns import EmbeddedDNS


def query(name: str, qtype: int = wire.TYPE_A, qid: int = 0x1234) -> bytes:
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire.encode_name(name) + struct.pack("!HH", qtype, 1)


def answers(reply: bytes) -> tuple[int, list[bytes]]:
    _qid, flags, _qd, an, _ns, _ar = struct.unpack("!HHHHHH", reply[:12])
    q = wire.parse_query(reply[:12].replace(reply[2:4], b"\x01\x00") + reply[12:])
    pos = q.end
    out = []
    for _ in range(an):
        _ptr, _t, _c, ttl, ln = struct.unpack("!HHHIH", reply[pos:pos + 12])
        assert ttl == 600
        out.append(reply[pos + 12:pos + 12 + ln])
        pos += 12 + ln
    return flags & 0xF, out


def make() -> EmbeddedDNS:
    dns = EmbeddedDNS()
    dns.set_network_name("n1", "front")
    dns.add_endpoint("n1", "e1", ["web", "www", "abcdef012345", "webhost"], "172.18.0.2", "fd00::2")
    dns.add_endpoint("n1", "e2", ["api", "www"], "172.18.0.3")
    dns.add_endpoint("n2", "e3", ["db"], "172.19.0.2")
    return dns


def test_a_by_name_alias_shortid_hostname() -> None:
    dns = make()
    for name in ("web", "WEB.", "abcdef012345", "webhost", "web.front"):
        reply, fwd = dns.answer(["n1"], query(name))
        assert reply is not None and not fwd
        rcode, ans = answers(reply)
        assert rcode == 0 and ans == [bytes([172, 18, 0, 2])]
        assert reply[:2] == b"\x12\x34"


def test_round_robin_alias() -> None:
    reply, _ = make().answer(["n1"], query("www"))
    assert reply is not None
    assert sorted(answers(reply)[1]) == [bytes([172, 18, 0, 2]), bytes([172, 18, 0, 3])]


def test_other_network_is_not_visible_and_is_forwarded() -> None:
    dns = make()
    reply, fwd = dns.answer(["n1"], query("db"))
    assert reply is None and fwd
    reply, fwd = dns.answer(["n1", "n2"], query("db"))
    assert reply is not None and not fwd


def test_aaaa_and_known_name_without_v6() -> None:
    dns = make()
    reply, _ = dns.answer(["n1"], query("web", wire.TYPE_AAAA))
    assert reply is not None and len(answers(reply)[1][0]) == 16
    reply, fwd = dns.answer(["n1"], query("api", wire.TYPE_AAAA))
    assert reply is not None and not fwd and answers(reply) == (0, [])


def test_ptr() -> None:
    reply, _ = make().answer(["n1"], query("2.0.18.172.in-addr.arpa", wire.TYPE_PTR))
    assert reply is not None
    assert answers(reply)[1] == [wire.encode_name("web.front")]


def test_live_updates() -> None:
    dns = make()
    dns.remove_endpoint("n1", "e1")
    reply, fwd = dns.answer(["n1"], query("web"))
    assert reply is None and fwd
    dns.add_endpoint("n1", "e1", ["renamed"], "172.18.0.2")
    assert dns.answer(["n1"], query("renamed"))[0] is not None
    dns.remove_network("n1")
    assert dns.answer(["n1"], query("api"))[0] is None


def test_reverse_to_ip() -> None:
    assert wire.reverse_to_ip("2.0.18.172.in-addr.arpa") == "172.18.0.2"
    assert wire.reverse_to_ip("x.in-addr.arpa") is None
    v6 = ".".join(reversed("fd000000000000000000000000000002")) + ".ip6.arpa"
    assert wire.reverse_to_ip(v6) == "fd00::2"
