"""Published ports: ``-p`` parsing and formatting, host port allocation, DNAT in Skiff's chains.

Data path is the kernel only (no userland proxy): for each mapping
  nat    SKIFF              -p P [-d HOSTIP] --dport HP -j DNAT --to-destination CIP:CP
                            (jumped to from PREROUTING and OUTPUT for local destinations, so it works
                            from outside, from other namespaces and from the host, 127.0.0.1 included)
  nat    SKIFF-POSTROUTING  -s CIP -d CIP -p P --dport CP -j MASQUERADE      (hairpin to itself)
  filter SKIFF              -d CIP -o BRIDGE -p P --dport CP --ctstate DNAT -j ACCEPT
The bridge driver adds ``route_localnet`` on the bridge and the masquerade of 127.0.0.0/8 out of it.

A host port is reserved by holding a bound (not listening) socket on it, so no other program can
take it while it is published; the DNAT happens before local delivery, so the socket never sees
traffic. Mappings are persisted (JSON) and ``restore`` re-makes rules and reservations after a
daemon restart.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import re
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from skiff.errors import InvalidParameter, System, Unimplemented
from skiff.network.iptables import Iptables, Rule

__all__ = [
    "PortSpec",
    "PortMapping",
    "PortMapper",
    "PortAlreadyAllocated",
    "BindFailed",
    "parse_port_spec",
    "parse_port_specs",
    "format_ports",
    "format_port_lines",
]


class PortAlreadyAllocated(System):
    def __init__(self, host_ip: str, port: int) -> None:
        super().__init__(f"Bind for {host_ip}:{port} failed: port is already allocated")


class BindFailed(System):
    pass


@dataclass(frozen=True)
class PortSpec:
    """One container port to publish; host_port_start 0 means "pick a free one"."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""
    host_port_start: int = 0
    host_port_end: int = 0

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


@dataclass(frozen=True)
class PortMapping:
    """A published port as programmed in the kernel."""

    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int
    bridge: str


_PROTOS = ("tcp", "udp", "sctp")


def _port_range(text: str, what: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
    if not m:
        raise InvalidParameter(f"Invalid {what}: {text}")
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else start
    if not (0 < start <= 65535 and 0 < end <= 65535) or end < start:
        raise InvalidParameter(f"Invalid {what}: {text}")
    return start, end


def parse_port_spec(text: str) -> list[PortSpec]:
    """Parse one ``-p`` value: ``[ip:][hostPort:]containerPort[/proto]``, with ranges."""
    raw, _, proto = text.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in _PROTOS:
        raise InvalidParameter(f"Invalid proto: {proto}")
    host_ip = ""
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise InvalidParameter(f"Invalid ip address: {raw}")
        host_ip, raw = raw[1:end], raw[end + 2:]
        parts = raw.split(":")
    else:
        parts = raw.split(":")
        if len(parts) == 3:
            host_ip, parts = parts[0], parts[1:]
        elif len(parts) > 3:
            raise InvalidParameter(f"Invalid hostPort: {text}")
    if host_ip:
        try:
            host_ip = str(ipaddress.ip_address(host_ip))
        except ValueError:
            raise InvalidParameter(f"Invalid ip address: {host_ip}") from None
    host_part = parts[0] if len(parts) == 2 else ""
    cont_part = parts[-1]
    if not cont_part:
        raise InvalidParameter(f"No port specified: {text}<empty>")
    c_start, c_end = _port_range(cont_part, "containerPort")
    h_start, h_end = _port_range(host_part, "hostPort") if host_part else (0, 0)
    c_count, h_count = c_end - c_start + 1, h_end - h_start + 1
    if host_part and c_count > 1 and c_count != h_count:
        raise InvalidParameter(f"Invalid ranges specified for container and host Ports: {cont_part} and {host_part}")
    specs = []
    for i in range(c_count):
        if not host_part:
            hs = he = 0
        elif c_count == 1:
            hs, he = h_start, h_end
        else:
            hs = he = h_start + i
        specs.append(PortSpec(c_start + i, proto, host_ip, hs, he))
    return specs


def parse_port_specs(values: Iterable[str]) -> list[PortSpec]:
    out: list[PortSpec] = []
    for v in values:
        out.extend(parse_port_spec(v))
    return out


def format_ports(exposed: Iterable[str], mappings: Sequence[PortMapping]) -> dict[str, list[dict[str, str]] | None]:
    """NetworkSettings.Ports: {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None}."""
    out: dict[str, list[dict[str, str]] | None] = {key: None for key in exposed}
    for m in mappings:
        entry = {"HostIp": m.host_ip, "HostPort": str(m.host_port)}
        bucket = out.get(f"{m.container_port}/{m.proto}")
        if bucket is None:
            out[f"{m.container_port}/{m.proto}"] = [entry]
        else:
            bucket.append(entry)
    return out


def format_port_lines(mappings: Sequence[PortMapping]) -> list[str]:
    """``docker port`` lines: "80/tcp -> 0.0.0.0:8080"."""
    lines = []
    for m in sorted(mappings, key=lambda m: (m.container_port, m.proto, m.host_ip, m.host_port)):
        host = f"[{m.host_ip}]" if ":" in m.host_ip else m.host_ip
        lines.append(f"{m.container_port}/{m.proto} -> {host}:{m.host_port}")
    return lines


def _rules(m: PortMapping) -> list[Rule]:
    """The three rules of a mapping, in the canonical form ``iptables -S`` prints (batch-checkable)."""
    match = ("-p", m.proto, "-m", m.proto)
    dnat: list[str] = []
    if m.host_ip not in ("0.0.0.0", "::"):
        dnat += ["-d", f"{m.host_ip}/32"]
    dnat += [*match, "--dport", str(m.host_port), "-j", "DNAT", "--to-destination", f"{m.container_ip}:{m.container_port}"]
    return [
        Rule("filter", "SKIFF", ("-d", f"{m.container_ip}/32", "-o", m.bridge, *match, "--dport",
                                 str(m.container_port), "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT")),
        Rule("nat", "SKIFF-POSTROUTING", ("-s", f"{m.container_ip}/32", "-d", f"{m.container_ip}/32", *match,
                                          "--dport", str(m.container_port), "-j", "MASQUERADE")),
        Rule("nat", "SKIFF", tuple(dnat)),
    ]


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


class PortMapper:
    """Allocates host ports and programs the DNAT rules; persisted in state_path."""

    def __init__(self, firewall: Iptables | None, state_path: Path | None) -> None:
        """state_path None: in memory, the caller ``load``s its own records before ``restore``."""
        self._fw = firewall
        self._path = Path(state_path) if state_path is not None else None
        self._lock = threading.RLock()
        self._owners: dict[str, list[PortMapping]] = {}
        self._sockets: dict[tuple[str, str, int], socket.socket] = {}
        if self._path is not None and self._path.exists():
            raw = json.loads(self._path.read_text())
            self._owners = {k: [PortMapping(**m) for m in v] for k, v in raw.items()}

    def load(self, owners: Mapping[str, Sequence[PortMapping]]) -> None:
        """Take mappings recorded elsewhere (before ``restore``)."""
        with self._lock:
            for owner, maps in owners.items():
                if maps:
                    self._owners[owner] = list(maps)

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump({k: [asdict(m) for m in v] for k, v in self._owners.items()}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)

    def _taken(self, proto: str, host_ip: str, port: int) -> bool:
        for maps in self._owners.values():
            for m in maps:
                if m.proto == proto and m.host_port == port and (
                        m.host_ip == host_ip or "0.0.0.0" in (m.host_ip, host_ip)):
                    return True
        return False

    def _reserve(self, proto: str, host_ip: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        sock = socket.socket(family, kind)
        try:
            sock.bind((host_ip, port))
        except OSError:
            sock.close()
            raise
        return sock

    def _pick(self, spec: PortSpec, host_ip: str) -> tuple[int, socket.socket]:
        if spec.host_port_start:
            ports: Iterable[int] = range(spec.host_port_start, spec.host_port_end + 1)
            single = spec.host_port_start == spec.host_port_end
        else:
            lo, hi = _ephemeral_range()
            start = random.randint(lo, hi)
            ports = list(range(start, hi + 1)) + list(range(lo, start))
            single = False
        last_error = ""
        for port in ports:
            if self._taken(spec.proto, host_ip, port):
                if single:
                    raise PortAlreadyAllocated(host_ip, port)
                continue
            try:
                return port, self._reserve(spec.proto, host_ip, port)
            except OSError as exc:
                last_error = exc.strerror or str(exc)
                if single:
                    raise BindFailed(f"failed to bind host port for {host_ip}:{port}:"
                                     f"{{container}}/{spec.proto}: {last_error.lower()}") from exc
        if spec.host_port_start:
            raise PortAlreadyAllocated(host_ip, spec.host_port_start)
        raise BindFailed(f"no free host port for {host_ip}/{spec.proto}: {last_error}")

    def map(self, owner: str, bridge: str, container_ip: str, specs: Sequence[PortSpec],
            default_host_ip: str = "0.0.0.0") -> list[PortMapping]:
        """Publish specs for the endpoint owner; all or nothing."""
        for spec in specs:
            if ":" in (spec.host_ip or default_host_ip):
                raise Unimplemented(f"publishing on IPv6 host address {spec.host_ip or default_host_ip} is not "
                                    "supported yet")
        with self._lock:
            made: list[PortMapping] = []
            try:
                for spec in specs:
                    host_ip = spec.host_ip or default_host_ip
                    try:
                        port, sock = self._pick(spec, host_ip)
                    except BindFailed as exc:
                        text = str(exc).replace("{container}", f"{container_ip}:{spec.container_port}")
                        raise BindFailed(text) from exc
                    m = PortMapping(spec.proto, host_ip, port, container_ip, spec.container_port, bridge)
                    self._sockets[(m.proto, m.host_ip, m.host_port)] = sock
                    made.append(m)
                    self._owners.setdefault(owner, []).append(m)
                if self._fw is not None:
                    self._fw.append_many([r for m in made for r in _rules(m)])
            except Exception:
                self._drop(owner, made)
                raise
            self._save()
            return made

    def _drop(self, owner: str, maps: Sequence[PortMapping]) -> None:
        if self._fw is not None and maps:
            self._fw.delete_many([r for m in maps for r in _rules(m)])
        for m in maps:
            sock = self._sockets.pop((m.proto, m.host_ip, m.host_port), None)
            if sock is not None:
                sock.close()
            current = self._owners.get(owner, [])
            if m in current:
                current.remove(m)
        if owner in self._owners and not self._owners[owner]:
            del self._owners[owner]

    def unmap(self, owner: str) -> None:
        """Unpublish everything of owner (idempotent)."""
        with self._lock:
            if owner not in self._owners:
                return
            self._drop(owner, list(self._owners.get(owner, [])))
            self._save()

    def mappings(self, owner: str) -> list[PortMapping]:
        with self._lock:
            return list(self._owners.get(owner, []))

    def all(self) -> Mapping[str, list[PortMapping]]:
        with self._lock:
            return {k: list(v) for k, v in self._owners.items()}

    def restore(self) -> list[str]:
        """After a restart: re-make rules and reservations; returns problems (not fatal)."""
        problems = []
        with self._lock:
            if self._fw is not None:
                self._fw.append_many([r for maps in self._owners.values() for m in maps for r in _rules(m)])
            for maps in self._owners.values():
                for m in maps:
                    key = (m.proto, m.host_ip, m.host_port)
                    if key not in self._sockets:
                        try:
                            self._sockets[key] = self._reserve(*key)
                        except OSError as exc:
                            problems.append(f"{m.host_ip}:{m.host_port}/{m.proto}: {exc.strerror}")
        return problems

    def close(self) -> None:
        """Release reservation sockets, keep rules (daemon shutdown with live containers)."""
        with self._lock:
            for sock in self._sockets.values():
                sock.close()
            self._sockets.clear()

    def to_json(self, owner: str) -> list[dict[str, Any]]:
        return [asdict(m) for m in self.mappings(owner)]
