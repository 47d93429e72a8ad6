"""Fixtures for network tests on the real kernel: private netns, test bridges, Skiff's chains.

Everything a test makes is named sk*/veth*/skiff-test-* and removed in finally blocks; the
``assert_clean`` fixture checks, after each test, that no Skiff chain, test link or netns is left.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skiff.network import netlink
from skiff.network.iptables import Iptables


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


PREFIX = "SKT"  # tests run their own chains (SKT, SKT-FORWARD, ...), never a live daemon's SKIFF ones
# exactly those chains: not SKT<hex>-... of the networks/ tests' daemons (other sessions may run them)
_OUR_CHAIN = re.compile(rf"(?<![\w-]){PREFIX}(?:-[\w-]+)?(?![\w-])")
LINK_PREFIX = "skn"  # bridges these tests create; other sk* links (other sessions' daemons) are not ours


def test_firewall(binary: str = "iptables") -> Iptables:
    return Iptables(binary, prefix=PREFIX)


test_firewall.__test__ = False  # type: ignore[attr-defined]


def skiff_chains() -> list[str]:
    """Every rule mentioning the tests' chains."""
    out = []
    for binary in ("iptables", "ip6tables"):
        for table in ("filter", "nat"):
            rules = sh(binary, "-w", "5", "-t", table, "-S").stdout.splitlines()
            out += [f"{binary} {table}: {r}" for r in rules if _OUR_CHAIN.search(r)]
    return out


def test_links() -> list[str]:
    return [link.name for link in netlink.list_links() if link.name.startswith(LINK_PREFIX)]


test_links.__test__ = False  # type: ignore[attr-defined]


def test_netns() -> list[str]:
    return [n for n in sh("ip", "netns", "list").stdout.split() if n.startswith("skiff-test-")]


test_netns.__test__ = False  # type: ignore[attr-defined]


def nsfs_mounts() -> list[str]:
    """Mount points of namespace files (create_netns leaves one per live netns)."""
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if " - nsfs " in ln and "/pytest-of-" in ln]


@pytest.fixture
def netns_factory() -> Iterator[Callable[..., str]]:
    """netns_factory(resolv=None) -> path of a new netns skiff-test-<hex> with lo up; all removed afterwards.

    With resolv text, ``ip netns exec`` shows it as the netns' /etc/resolv.conf (iproute2 binds
    /etc/netns/<name>/resolv.conf), so busybox tools resolve through 127.0.0.11 like a container."""
    made: list[str] = []
    etc = Path("/etc/netns")
    etc_existed = etc.exists()

    def make(resolv: str | None = None) -> str:
        name = f"skiff-test-{secrets.token_hex(4)}"
        sh("ip", "netns", "add", name)
        made.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        if resolv is not None:
            (etc / name).mkdir(parents=True, exist_ok=True)
            (etc / name / "resolv.conf").write_text(resolv)
        return f"/run/netns/{name}"

    try:
        yield make
    finally:
        for name in made:
            sh("ip", "netns", "del", name, check=False)
            shutil.rmtree(etc / name, ignore_errors=True)
        if not etc_existed and etc.exists() and not any(etc.iterdir()):
            etc.rmdir()


@pytest.fixture
def bridge_name() -> Callable[[], str]:
    return lambda: f"{LINK_PREFIX}{secrets.token_hex(3)}"


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts (e.g. busybox httpd in a netns); killed by PID afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for p in started:
            p.kill()
            p.wait()


@pytest.fixture
def clean_host() -> Iterator[None]:
    """Asserts the test left no Skiff chain, test link or test netns behind."""
    before_links = set(test_links())
    before_ns = set(test_netns())
    before_mounts = set(nsfs_mounts())
    yield
    leftovers = skiff_chains()
    left_links = set(test_links()) - before_links
    if leftovers or left_links:
        test_firewall().remove_base()
        test_firewall("ip6tables").remove_base()
        for name in left_links:
            netlink.delete_link(name)
    assert not leftovers, leftovers
    assert not left_links, left_links
    assert not set(test_netns()) - before_ns
    assert not set(nsfs_mounts()) - before_mounts


def serve_http(netns: str, root: Path, port: int, procs: list[subprocess.Popen[bytes]]) -> None:
    """busybox httpd on port inside netns, serving root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text("hello from skiff\n")
    name = Path(netns).name
    busybox = shutil.which("busybox") or "/bin/busybox"
    procs.append(subprocess.Popen(["ip", "netns", "exec", name, busybox, "httpd", "-f", "-p", str(port),
                                   "-h", str(root)]))
    deadline = time.time() + 5
    while time.time() < deadline:
        probe = sh("ip", "netns", "exec", name, "timeout", "2", busybox, "wget", "-q", "-O", "/dev/null",
                   f"http://127.0.0.1:{port}/", check=False)
        if probe.returncode == 0:
            return
        time.sleep(0.05)
    raise AssertionError("httpd did not start")
