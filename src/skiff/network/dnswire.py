"""The few pieces of the DNS wire format (RFC 1035) the embedded server needs.

Queries are parsed only far enough to read the one question; answers reuse the question bytes and
point to its name (0xC00C), so no general name compression is needed. Anything the embedded server
does not answer itself is forwarded as raw bytes, never re-encoded.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

__all__ = [
    "TYPE_A", "TYPE_AAAA", "TYPE_PTR", "RCODE_NOERROR", "RCODE_SERVFAIL", "RCODE_NXDOMAIN", "RCODE_REFUSED",
    "RCODE_FORMERR", "Question", "DNSFormatError", "parse_query", "build_reply", "encode_name", "reverse_to_ip",
]

TYPE_A, TYPE_PTR, TYPE_AAAA = 1, 12, 28
CLASS_IN = 1
RCODE_NOERROR, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_REFUSED = 0, 1, 2, 3, 5


class DNSFormatError(ValueError):
    pass


@dataclass(frozen=True)
class Question:
    id: int
    flags: int
    name: str  # lower case, no trailing dot
    qtype: int
    qclass: int
    end: int  # offset just past the question section


def _read_name(data: bytes, pos: int) -> tuple[str, int]:
    labels: list[str] = []
    jumped_end = -1
    hops = 0
    while True:
        if pos >= len(data):
            raise DNSFormatError("name runs past the message")
        length = data[pos]
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise DNSFormatError("bad pointer")
            if jumped_end < 0:
                jumped_end = pos + 2
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            hops += 1
            if hops > 16:
                raise DNSFormatError("pointer loop")
            continue
        pos += 1
        if length == 0:
            break
        labels.append(data[pos:pos + length].decode("ascii", "replace"))
        pos += length
    return ".".join(labels), (jumped_end if jumped_end >= 0 else pos)


def parse_query(data: bytes) -> Question:
    if len(data) < 12:
        raise DNSFormatError("short message")
    qid, flags, qd = struct.unpack("!HHH", data[:6])
    if flags & 0x8000 or qd != 1:
        raise DNSFormatError("not a single-question query")
    name, pos = _read_name(data, 12)
    if pos + 4 > len(data):
        raise DNSFormatError("truncated question")
    qtype, qclass = struct.unpack("!HH", data[pos:pos + 4])
    return Question(qid, flags, name.lower().rstrip("."), qtype, qclass, pos + 4)


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii", "replace")[:63]
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


def build_reply(query: bytes, q: Question, rcode: int = RCODE_NOERROR, answers: list[tuple[int, bytes]] | None = None,
                ttl: int = 600, recursion_available: bool = True) -> bytes:
    """A reply to q: same id and question; answers are (type, rdata) for the question's name."""
    answers = answers or []
    flags = 0x8000 | (q.flags & 0x7900) | (0x0080 if recursion_available else 0) | (rcode & 0xF)
    header = struct.pack("!HHHHHH", q.id, flags, 1, len(answers), 0, 0)
    body = query[12:q.end]
    for rtype, rdata in answers:
        body += struct.pack("!HHHIH", 0xC00C, rtype, CLASS_IN, ttl, len(rdata)) + rdata
    return header + body


def reverse_to_ip(name: str) -> str | None:
    """"2.0.18.172.in-addr.arpa" -> "172.18.0.2"; ip6.arpa nibbles -> IPv6; else None."""
    if name.endswith(".in-addr.arpa"):
        parts = name[: -len(".in-addr.arpa")].split(".")
        if len(parts) != 4:
            return None
        try:
            return str(ipaddress.IPv4Address(".".join(reversed(parts))))
        except ValueError:
            return None
    if name.endswith(".ip6.arpa"):
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32:
            return None
        try:
            return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
        except ValueError:
            return None
    return None
