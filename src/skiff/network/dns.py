"""The embedded DNS server: 127.0.0.11:53 inside every container on a user-defined network.

How it listens (as Docker does): for each container netns a UDP and a TCP socket are *created
inside that netns* (a helper thread enters it with setns, makes the sockets, leaves) and bound to
127.0.0.11 on random ports; a private nftables table in that netns (``ip skiff_dns``, one atomic
``nft -f``) DNATs 127.0.0.11:53 to them and SNATs the replies back to port 53. Port 53 itself stays
free, so a DNS server in the container can still bind 0.0.0.0:53, and the container's own iptables
rules are never touched. A socket belongs to the namespace it was created in for its whole life, so
one daemon thread serves every container. Without nft (or with ``redirect=False``) the sockets bind
127.0.0.11:53 directly.

What it answers: A, AAAA and PTR for the endpoints on the networks the asking container shares:
container name, aliases, short id and hostname (``DNSNames``), also as ``name.network``; shared
aliases answer every address, shuffled (round-robin); TTL 600. A known name without an address of
the asked family gets an empty NOERROR. Everything else is forwarded, as raw bytes, from the
daemon's own netns to the upstream servers (at most 3 tried, 4 s each), unless the container is
only on internal networks, where the answer is REFUSED.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import selectors
import socket
import struct
import subprocess
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from skiff.network import dnswire as wire
from skiff.network.netns import run_in_netns, socket_in_netns

__all__ = ["EmbeddedDNS", "Upstream", "DNS_ADDRESS", "DNS_TTL"]

log = logging.getLogger(__name__)
DNS_ADDRESS = "127.0.0.11"
DNS_TTL = 600
MAX_UPSTREAMS = 3
Upstream = tuple[str, int]


@dataclass
class _Record:
    names: list[str]
    ipv4: str
    ipv6: str


@dataclass
class _Sandbox:
    key: str
    networks: list[str]
    upstreams: list[Upstream]
    forward: bool
    udp: socket.socket
    tcp: socket.socket
    netns_path: str = ""
    redirected: bool = False
    conns: set[socket.socket] = field(default_factory=set)


_NFT_TABLE = "skiff_dns"


def _nft_script(udp_port: int, tcp_port: int) -> str:
    return (f"table ip {_NFT_TABLE}\ndelete table ip {_NFT_TABLE}\n"
            f"table ip {_NFT_TABLE} {{\n"
            "  chain output {\n    type nat hook output priority -100; policy accept;\n"
            f"    ip daddr {DNS_ADDRESS} udp dport 53 dnat to {DNS_ADDRESS}:{udp_port}\n"
            f"    ip daddr {DNS_ADDRESS} tcp dport 53 dnat to {DNS_ADDRESS}:{tcp_port}\n  }}\n"
            "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n"
            f"    ip saddr {DNS_ADDRESS} udp sport {udp_port} snat to :53\n"
            f"    ip saddr {DNS_ADDRESS} tcp sport {tcp_port} snat to :53\n  }}\n}}\n")


def _nft(netns_path: str, script: str) -> bool:
    """Run ``nft -f -`` inside the netns (a child forked from a thread that entered it)."""

    def run() -> bool:
        try:
            proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, check=False)
        except OSError:
            return False
        if proc.returncode != 0:
            log.warning("nft in %s: %s", netns_path, proc.stderr.strip())
        return proc.returncode == 0

    try:
        return run_in_netns(netns_path, run)
    except OSError:
        return False


class EmbeddedDNS:
    """One server for the whole daemon; ``attach`` a container netns, ``add_endpoint`` names."""

    def __init__(self, timeout: float = 4.0, max_inflight: int = 1024, redirect: bool = True) -> None:
        self._timeout = timeout
        self._redirect = redirect
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, _Record]] = {}  # network id -> endpoint key -> record
        self._net_names: dict[str, str] = {}  # network id -> network name
        self._sandboxes: dict[str, _Sandbox] = {}
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="skiff-dns")
        self._inflight = threading.BoundedSemaphore(max_inflight)
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="skiff-dns", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            for key in list(self._sandboxes):
                self._close(self._sandboxes.pop(key))
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    # -- records ----------------------------------------------------------------------------
    def set_network_name(self, network_id: str, name: str) -> None:
        with self._lock:
            self._net_names[network_id] = name

    def add_endpoint(self, network_id: str, key: str, names: Sequence[str], ipv4: str = "", ipv6: str = "") -> None:
        """Publish names (first = the PTR name) for an endpoint; replaces an earlier record."""
        with self._lock:
            clean = [n.lower().rstrip(".") for n in names if n]
            self._records.setdefault(network_id, {})[key] = _Record(clean, ipv4.split("/")[0], ipv6.split("/")[0])

    def remove_endpoint(self, network_id: str, key: str) -> None:
        with self._lock:
            self._records.get(network_id, {}).pop(key, None)

    def remove_network(self, network_id: str) -> None:
        with self._lock:
            self._records.pop(network_id, None)
            self._net_names.pop(network_id, None)

    # -- sandboxes --------------------------------------------------------------------------
    def attach(self, key: str, netns_path: str, networks: Sequence[str], upstreams: Sequence[Upstream],
               forward: bool = True) -> None:
        """Listen on 127.0.0.11:53 (UDP and TCP) inside netns_path for the sandbox key."""
        with self._lock:
            if key in self._sandboxes:
                self.update(key, networks, upstreams, forward)
                return
        udp, tcp, redirected = self._listen(netns_path)
        sb = _Sandbox(key, list(networks), list(upstreams)[:MAX_UPSTREAMS], forward, udp, tcp, netns_path,
                      redirected)
        with self._lock:
            self._sandboxes[key] = sb
            self._sel.register(udp, selectors.EVENT_READ, ("udp", sb))
            self._sel.register(tcp, selectors.EVENT_READ, ("tcp", sb))
        self._wake()

    def _listen(self, netns_path: str) -> tuple[socket.socket, socket.socket, bool]:
        """Sockets on 127.0.0.11 in the netns: random ports + nft redirect, else port 53 itself."""
        for redirect in ((True, False) if self._redirect else (False,)):
            udp = socket_in_netns(netns_path, socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket_in_netns(netns_path, socket.AF_INET, socket.SOCK_STREAM)
            try:
                port = 0 if redirect else 53
                udp.bind((DNS_ADDRESS, port))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((DNS_ADDRESS, port))
                tcp.listen(64)
                udp.setblocking(False)
                tcp.setblocking(False)
                if redirect and not _nft(netns_path, _nft_script(udp.getsockname()[1], tcp.getsockname()[1])):
                    raise OSError("nft redirect failed")
                return udp, tcp, redirect
            except OSError:
                udp.close()
                tcp.close()
                if not redirect:
                    raise
        raise OSError("unreachable")

    def ports(self, key: str) -> tuple[int, int]:
        """(udp, tcp) ports the sandbox's listener really uses (53 and 53 without redirect)."""
        with self._lock:
            sb = self._sandboxes[key]
            return sb.udp.getsockname()[1], sb.tcp.getsockname()[1]

    def update(self, key: str, networks: Sequence[str] | None = None, upstreams: Sequence[Upstream] | None = None,
               forward: bool | None = None) -> None:
        """Change which networks a sandbox sees (connect/disconnect) or its upstreams."""
        with self._lock:
            sb = self._sandboxes[key]
            if networks is not None:
                sb.networks = list(networks)
            if upstreams is not None:
                sb.upstreams = list(upstreams)[:MAX_UPSTREAMS]
            if forward is not None:
                sb.forward = forward

    def detach(self, key: str, unredirect: bool = True) -> None:
        """Stop serving a sandbox; unredirect=False when its netns is about to go anyway."""
        with self._lock:
            sb = self._sandboxes.pop(key, None)
        if sb is not None:
            self._close(sb)
            self._wake()
            if unredirect and sb.redirected and os.path.exists(sb.netns_path):
                _nft(sb.netns_path, f"table ip {_NFT_TABLE}\ndelete table ip {_NFT_TABLE}\n")

    def attached(self, key: str) -> bool:
        with self._lock:
            return key in self._sandboxes

    def _close(self, sb: _Sandbox) -> None:
        for s in (sb.udp, sb.tcp, *sb.conns):
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()

    # -- resolution -------------------------------------------------------------------------
    def resolve(self, networks: Sequence[str], name: str, qtype: int) -> tuple[list[str], bool] | None:
        """(addresses, name known) for a name seen from networks; None when unknown."""
        name = name.lower().rstrip(".")
        family = 6 if qtype == wire.TYPE_AAAA else 4
        with self._lock:
            found = False
            out: list[str] = []
            for nid in networks:
                lookup = name
                netname = self._net_names.get(nid, "")
                if netname and name.endswith("." + netname.lower()):
                    lookup = name[: -len(netname) - 1]
                for rec in self._records.get(nid, {}).values():
                    if lookup in rec.names:
                        found = True
                        ip = rec.ipv6 if family == 6 else rec.ipv4
                        if ip and ip not in out:
                            out.append(ip)
            if not found:
                return None
        random.shuffle(out)
        return out, True

    def resolve_ip(self, networks: Sequence[str], ip: str) -> str | None:
        """PTR: "name.network" of the endpoint holding ip."""
        with self._lock:
            for nid in networks:
                for rec in self._records.get(nid, {}).values():
                    if ip in (rec.ipv4, rec.ipv6) and rec.names:
                        netname = self._net_names.get(nid, "")
                        return f"{rec.names[0]}.{netname}" if netname else rec.names[0]
        return None

    def answer(self, sb_networks: Sequence[str], data: bytes) -> tuple[bytes | None, bool]:
        """(reply, needs forwarding) for one query."""
        try:
            q = wire.parse_query(data)
        except wire.DNSFormatError:
            return None, False
        if q.qtype in (wire.TYPE_A, wire.TYPE_AAAA):
            got = self.resolve(sb_networks, q.name, q.qtype)
            if got is not None:
                addrs, _ = got
                rtype = q.qtype
                answers = [(rtype, ipaddress.ip_address(a).packed) for a in addrs]
                return wire.build_reply(data, q, answers=answers, ttl=DNS_TTL), False
        elif q.qtype == wire.TYPE_PTR:
            ip = wire.reverse_to_ip(q.name)
            if ip is not None:
                name = self.resolve_ip(sb_networks, ip)
                if name is not None:
                    return wire.build_reply(data, q, answers=[(wire.TYPE_PTR, wire.encode_name(name))],
                                            ttl=DNS_TTL), False
        return None, True

    # -- the loop ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping:
            try:
                events = self._sel.select(timeout=1.0)
            except (OSError, ValueError):
                if self._stopping:
                    return
                continue
            for key, _ in events:
                if key.data is None:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    continue
                kind, sb = key.data
                try:
                    if kind == "udp":
                        self._on_udp(sb)
                    elif kind == "tcp":
                        conn, _ = sb.tcp.accept()
                        self._pool.submit(self._serve_tcp, sb, conn)
                except OSError:
                    continue

    def _on_udp(self, sb: _Sandbox) -> None:
        data, peer = sb.udp.recvfrom(4096)
        reply, forward = self.answer(sb.networks, data)
        if reply is not None:
            sb.udp.sendto(reply, peer)
        elif forward:
            if not self._inflight.acquire(blocking=False):
                return
            self._pool.submit(self._forward_udp, sb, data, peer)

    def _refused(self, data: bytes) -> bytes | None:
        try:
            q = wire.parse_query(data)
        except wire.DNSFormatError:
            return None
        return wire.build_reply(data, q, rcode=wire.RCODE_REFUSED)

    def _servfail(self, data: bytes) -> bytes | None:
        try:
            q = wire.parse_query(data)
        except wire.DNSFormatError:
            return None
        return wire.build_reply(data, q, rcode=wire.RCODE_SERVFAIL)

    def _upstream_udp(self, sb: _Sandbox, data: bytes) -> bytes | None:
        if not sb.forward:
            return self._refused(data)
        for host, port in list(sb.upstreams):
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.settimeout(self._timeout)
                try:
                    s.connect((host, port))
                    s.send(data)
                    while True:
                        reply = s.recv(65535)
                        if reply[:2] == data[:2]:
                            return reply
                except OSError as exc:
                    log.debug("dns upstream %s:%d: %s", host, port, exc)
                    continue
        return self._servfail(data)

    def _forward_udp(self, sb: _Sandbox, data: bytes, peer: tuple[str, int]) -> None:
        try:
            reply = self._upstream_udp(sb, data)
            if reply is not None:
                sb.udp.sendto(reply, peer)
        except OSError:
            pass
        finally:
            self._inflight.release()

    def _upstream_tcp(self, sb: _Sandbox, data: bytes) -> bytes | None:
        if not sb.forward:
            return self._refused(data)
        for host, port in list(sb.upstreams):
            try:
                with socket.create_connection((host, port), timeout=self._timeout) as s:
                    s.sendall(struct.pack("!H", len(data)) + data)
                    return _read_tcp_message(s)
            except OSError:
                continue
        return self._servfail(data)

    def _serve_tcp(self, sb: _Sandbox, conn: socket.socket) -> None:
        with conn:
            conn.setblocking(True)
            conn.settimeout(self._timeout * 2)
            while True:
                try:
                    data = _read_tcp_message(conn)
                except OSError:
                    return
                if data is None:
                    return
                reply, forward = self.answer(sb.networks, data)
                if reply is None and forward:
                    reply = self._upstream_tcp(sb, data)
                if reply is None:
                    return
                try:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
                except OSError:
                    return


def _read_exact(s: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _read_tcp_message(s: socket.socket) -> bytes | None:
    head = _read_exact(s, 2)
    if head is None:
        return None
    return _read_exact(s, struct.unpack("!H", head)[0])
