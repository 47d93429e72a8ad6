"""A skiffd with busybox and networking of its own, for the network API/CLI tests.

The daemon's default bridge is ``skt<hex>`` on a pool (10.253.0.0/16 in /24s) nothing else here
uses, its iptables chains are ``SKT<hex>...`` (never the SKIFF chains of a live daemon), and the
embedded DNS forwards only to 127.0.0.254 (loopback; the host resolver is never asked). User
networks made by the tests name their bridges ``sk*`` too. After the module: containers and
networks removed, the daemon stopped, and no sk* link or SKT<hex> rule may be left.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon
from tests.support.images import busybox_daemon

BRIDGE_OPT = "com.docker.network.bridge.name"


def links(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    names = [ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines() if ":" in ln]
    return [n for n in names if n.startswith(prefix)]


def rules(prefix: str) -> list[str]:
    found = []
    for binary in ("iptables", "ip6tables"):
        for table in ("filter", "nat"):
            text = subprocess.run([binary, "-w", "5", "-t", table, "-S"], capture_output=True, text=True).stdout
            found += [r for r in text.splitlines() if prefix in r]
    return found


class NetDaemon:
    """The daemon plus the names this module may create."""

    def __init__(self, d: Daemon, tag: str) -> None:
        self.d = d
        self.tag = tag
        self.bridge = f"skt{tag}"
        self.chains = f"SKT{tag}"
        self._n = 0

    def brname(self) -> str:
        """A bridge name for a user network (sk*, unique in this module)."""
        self._n += 1
        return f"sku{self.tag}{self._n}"

    def docker(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.d.docker(*args, **kw)  # type: ignore[arg-type]

    def ok(self, *args: str) -> str:
        r = self.d.docker(*args)
        assert r.returncode == 0, f"docker {' '.join(args)}: {r.stdout}{r.stderr}\n{self.d.read_log()[-3000:]}"
        return r.stdout.strip()

    def net(self, name: str, *args: str) -> str:
        """docker network create with a test bridge name."""
        return self.ok("network", "create", "-o", f"{BRIDGE_OPT}={self.brname()}", *args, name)

    def reset(self) -> None:
        ids = self.d.docker("ps", "-aq").stdout.split()
        if ids:
            self.d.docker("rm", "-f", *ids)
        self.d.docker("network", "prune", "-f")


@pytest.fixture(scope="module")
def netd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetDaemon]:
    tmp: Path = tmp_path_factory.mktemp("net")
    tag = secrets.token_hex(2)
    args = ("--bridge", f"skt{tag}", "--default-address-pool", "base=10.253.0.0/16,size=24",
            "--iptables-chain-prefix", f"SKT{tag}", "--dns", "127.0.0.254")
    nd: NetDaemon | None = None
    try:
        with busybox_daemon(tmp, args) as d:
            nd = NetDaemon(d, tag)
            yield nd
            nd.reset()
    finally:
        leftover_links = links(f"skt{tag}") + links(f"sku{tag}")
        leftover_rules = rules(f"SKT{tag}")
        for name in leftover_links:  # never leave them, but fail the module
            subprocess.run(["ip", "link", "del", name], capture_output=True)
        assert not leftover_links, f"links left behind: {leftover_links}"
        assert not leftover_rules, f"rules left behind: {leftover_rules}"


@pytest.fixture
def nd(netd: NetDaemon) -> Iterator[NetDaemon]:
    """The module's daemon, emptied of containers and user networks after each test."""
    try:
        yield netd
    finally:
        netd.reset()
