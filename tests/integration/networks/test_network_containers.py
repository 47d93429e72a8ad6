"""Containers on networks through skiffd with the docker CLI v28: name resolution on a user network,
isolation until ``network connect``, published ports (host curl, other containers through the
gateway), host/none/container modes, bad input, and a daemon restart keeping it all."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.integration.networks.conftest import NetDaemon

pytestmark = pytest.mark.root

HTTPD = "mkdir -p /w && echo hello-$0 > /w/index.html && exec httpd -f -p 80 -h /w"


def curl(url: str) -> str:
    r = subprocess.run(["curl", "-s", "-m", "5", url], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else f"curl rc={r.returncode}"


def gateway(nd: NetDaemon, net: str = "bridge") -> str:
    return str(nd.ok("network", "inspect", net, "--format", "{{(index .IPAM.Config 0).Gateway}}"))


def ip_of(nd: NetDaemon, ctr: str, net: str) -> str:
    return nd.ok("inspect", ctr, "--format", f"{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}")


def wget(nd: NetDaemon, ctr: str, url: str) -> subprocess.CompletedProcess[str]:
    """For reachable servers only: static busybox wget -T segfaults and busybox timeout cannot kill
    inside a container (its killer runs as an orphan), so unreachable checks use nc -w / ping -W."""
    return nd.docker("exec", ctr, "wget", "-q", "-O-", url, timeout=30)


def tcp_blocked(nd: NetDaemon, ctr: str, host: str, port: int = 80) -> bool:
    r = nd.docker("exec", ctr, "sh", "-c", f"echo | nc -w 2 {host} {port}", timeout=30)
    return r.returncode != 0


def test_names_resolve_on_a_user_network(nd: NetDaemon) -> None:
    nd.net("app", "--subnet", "10.254.30.0/24")
    nd.ok("run", "-d", "--name", "db", "--network", "app", "--network-alias", "database", "busybox",
          "sh", "-c", HTTPD, "db")
    nd.ok("run", "-d", "--name", "client", "--network", "app", "busybox", "sleep", "300")
    r = nd.docker("exec", "client", "ping", "-c1", "-W", "2", "db")
    assert r.returncode == 0 and "10.254.30." in r.stdout, r.stdout + r.stderr
    assert wget(nd, "client", "http://db/").stdout.strip() == "hello-db"
    assert wget(nd, "client", "http://database/").stdout.strip() == "hello-db"
    # busybox nc: a raw HTTP request by name
    r = nd.docker("exec", "client", "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 db 80")
    assert "hello-db" in r.stdout
    resolv = nd.ok("exec", "client", "cat", "/etc/resolv.conf")
    assert "nameserver 127.0.0.11" in resolv
    doc = json.loads(nd.ok("network", "inspect", "app"))[0]
    assert {c["Name"] for c in doc["Containers"].values()} == {"db", "client"}
    eps = json.loads(nd.ok("inspect", "db", "--format", "{{json .NetworkSettings.Networks}}"))
    assert eps["app"]["Aliases"] == ["database"] and eps["app"]["DNSNames"][0] == "db"
    # removing a network in use
    r = nd.docker("network", "rm", "app")
    assert r.returncode == 1 and "has active endpoints" in r.stderr


def test_isolated_until_connect(nd: NetDaemon) -> None:
    nd.net("red", "--subnet", "10.254.40.0/24")
    nd.net("blue", "--subnet", "10.254.41.0/24")
    nd.ok("run", "-d", "--name", "web", "--network", "blue", "busybox", "sh", "-c", HTTPD, "web")
    nd.ok("run", "-d", "--name", "probe", "--network", "red", "busybox", "sleep", "300")
    web_ip = ip_of(nd, "web", "blue")
    assert tcp_blocked(nd, "probe", web_ip)
    assert nd.docker("exec", "probe", "ping", "-c1", "-W", "1", web_ip).returncode != 0
    assert nd.docker("exec", "probe", "nslookup", "web").returncode != 0  # no name either
    nd.ok("network", "connect", "--alias", "www", "--ip", "10.254.41.77", "blue", "probe")
    assert ip_of(nd, "probe", "blue") == "10.254.41.77"
    # as libnetwork's updateHostsFile: the running container's /etc/hosts gains its new address
    host = nd.ok("exec", "probe", "hostname").strip()
    red_line = f"{ip_of(nd, 'probe', 'red')}\t{host}"
    lines = nd.ok("exec", "probe", "cat", "/etc/hosts").splitlines()
    assert red_line in lines and lines[-1] == f"10.254.41.77\t{host}"
    assert sorted(nd.ok("ps", "--filter", "network=blue", "--format", "{{.Names}}").split()) == ["probe", "web"]
    blue_id = nd.ok("network", "inspect", "-f", "{{.Id}}", "blue")
    assert sorted(nd.ok("ps", "--filter", f"network={blue_id[:10]}", "--format", "{{.Names}}").split()) == [
        "probe", "web"]
    assert wget(nd, "probe", "http://web/").stdout.strip() == "hello-web"
    assert nd.docker("exec", "web", "ping", "-c1", "-W", "2", "www").returncode == 0
    nd.ok("network", "disconnect", "blue", "probe")
    lines = nd.ok("exec", "probe", "cat", "/etc/hosts").splitlines()
    assert red_line in lines and not [ln for ln in lines if ln.startswith("10.254.41.77")]
    assert tcp_blocked(nd, "probe", web_ip)
    r = nd.docker("network", "disconnect", "blue", "probe")
    assert r.returncode == 1 and "is not connected to network blue" in r.stderr
    # connect on a stopped container: attached at the next start
    nd.ok("stop", "-t", "0", "probe")
    for _ in range(50):  # the network is released just after stop answers
        stopped = json.loads(nd.ok("inspect", "probe", "--format", "{{json .NetworkSettings}}"))
        if stopped["Networks"]["red"]["IPAddress"] == "":
            break
        time.sleep(0.1)
    assert stopped["Networks"]["red"]["IPAddress"] == "" and stopped["Networks"]["red"]["NetworkID"]
    assert stopped["Ports"] == {} and stopped["SandboxKey"] == ""
    nd.ok("network", "connect", "blue", "probe")
    nd.ok("start", "probe")
    assert wget(nd, "probe", "http://web/").stdout.strip() == "hello-web"


def test_published_ports(nd: NetDaemon) -> None:
    nd.ok("run", "-d", "--name", "pub", "-p", "127.0.0.1:18480:80", "busybox", "sh", "-c", HTTPD, "pub")
    gw = gateway(nd)
    nd.ok("run", "-d", "--name", "pubgw", "-p", f"{gw}:18481:80", "-p", f"{gw}::80/udp", "busybox",
          "sh", "-c", HTTPD, "gw")
    deadline = time.monotonic() + 10
    while curl("http://127.0.0.1:18480/") != "hello-pub" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert curl("http://127.0.0.1:18480/") == "hello-pub"
    assert nd.ok("port", "pub") == "80/tcp -> 127.0.0.1:18480"
    ports = json.loads(nd.ok("inspect", "pub", "--format", "{{json .NetworkSettings.Ports}}"))
    assert ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18480"}]}
    udp = json.loads(nd.ok("inspect", "pubgw", "--format", "{{json .NetworkSettings.Ports}}"))["80/udp"][0]
    assert udp["HostIp"] == gw and int(udp["HostPort"]) > 0  # a random host port
    # from another container, through the host's address on the bridge (default and user network)
    nd.net("other", "--subnet", "10.254.50.0/24")
    nd.ok("run", "-d", "--name", "c1", "busybox", "sleep", "300")
    nd.ok("run", "-d", "--name", "c2", "--network", "other", "busybox", "sleep", "300")
    assert wget(nd, "c1", f"http://{gw}:18481/").stdout.strip() == "hello-gw"
    assert wget(nd, "c2", f"http://{gw}:18481/").stdout.strip() == "hello-gw"
    assert curl(f"http://{gw}:18481/") == "hello-gw"
    # a port already published: Docker's error, and the failed container holds nothing
    r = nd.docker("run", "-d", "--name", "dup", "-p", "127.0.0.1:18480:80", "busybox", "sleep", "300")
    assert r.returncode == 125
    assert "Bind for 127.0.0.1:18480 failed: port is already allocated" in r.stderr
    doc = json.loads(nd.ok("network", "inspect", "bridge"))[0]
    assert "dup" not in {c["Name"] for c in doc["Containers"].values()}
    nd.ok("rm", "-f", "pub")
    assert curl("http://127.0.0.1:18480/").startswith("curl rc=")
    nd.ok("start", "dup")  # the port is free again
    assert nd.ok("port", "dup", "80/tcp") == "127.0.0.1:18480"


def test_bad_addresses(nd: NetDaemon) -> None:
    nd.net("small", "--subnet", "10.254.60.0/24")
    r = nd.docker("run", "-d", "--name", "outside", "--network", "small", "--ip", "10.254.99.9", "busybox",
                  "sleep", "300")
    assert r.returncode == 125
    assert ("Error response from daemon: invalid config for network small: invalid endpoint settings:\n"
            "no configured subnet or ip-range contain the IP address 10.254.99.9") in r.stderr
    assert nd.ok("ps", "-a", "--filter", "name=outside", "-q") == ""  # refused at create, as Docker v28
    nd.ok("run", "-d", "--name", "fixed", "--network", "small", "--ip", "10.254.60.9", "busybox", "sleep", "300")
    r = nd.docker("run", "-d", "--name", "twin", "--network", "small", "--ip", "10.254.60.9", "busybox",
                  "sleep", "300")
    assert r.returncode == 125 and "Address already in use" in r.stderr
    r = nd.docker("run", "-d", "--name", "nonet", "--network", "nosuch", "busybox", "sleep", "300")
    assert r.returncode != 0 and "network nosuch not found" in r.stderr
    doc = json.loads(nd.ok("network", "inspect", "small"))[0]
    assert [c["Name"] for c in doc["Containers"].values()] == ["fixed"]


def test_host_none_container_modes(nd: NetDaemon) -> None:
    out = nd.ok("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")
    assert [ln.split(":")[1].strip() for ln in out.splitlines()] == ["lo"]
    out = nd.ok("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link")
    assert f": {nd.bridge}:" in out and ": eth0:" in out  # the host's own interfaces
    nd.ok("run", "-d", "--name", "owner", "busybox", "sh", "-c", HTTPD, "owner")
    owner_ip = ip_of(nd, "owner", "bridge")
    out = nd.ok("run", "--rm", "--network", "container:owner", "busybox", "ip", "-o", "-4", "addr")
    assert owner_ip in out
    out = nd.ok("run", "--rm", "--network", "container:owner", "busybox", "wget", "-q", "-O-",
                "http://127.0.0.1/")
    assert out == "hello-owner"
    r = nd.docker("network", "connect", "bridge", "owner")
    assert r.returncode == 1 and "already exists in network bridge" in r.stderr
    nd.ok("create", "--name", "hosty", "--network", "host", "busybox", "true")
    r = nd.docker("network", "connect", "bridge", "hosty")
    assert r.returncode == 1
    assert "container cannot be disconnected from host network or connected to host network" in r.stderr


def test_restart_keeps_addresses_and_ports(nd: NetDaemon) -> None:
    nd.net("keep", "--subnet", "10.254.70.0/24")
    nd.ok("run", "-d", "--name", "srv", "--network", "keep", "-p", "127.0.0.1:18490:80", "busybox", "sh", "-c",
          HTTPD, "srv")
    nd.ok("run", "-d", "--name", "cli", "--network", "keep", "busybox", "sleep", "300")
    before = ip_of(nd, "srv", "keep")
    time.sleep(0.5)
    assert curl("http://127.0.0.1:18490/") == "hello-srv"
    nd.d.restart()
    assert ip_of(nd, "srv", "keep") == before
    assert curl("http://127.0.0.1:18490/") == "hello-srv"
    assert wget(nd, "cli", "http://srv/").stdout.strip() == "hello-srv"
    nd.ok("run", "-d", "--name", "new", "--network", "keep", "busybox", "sleep", "300")
    assert ip_of(nd, "new", "keep") not in (before, ip_of(nd, "cli", "keep"))
    nd.d.restart(kill=True)
    assert curl("http://127.0.0.1:18490/") == "hello-srv"
    assert wget(nd, "new", "http://srv/").stdout.strip() == "hello-srv"


def test_internal_network_and_two_networks_at_run(nd: NetDaemon) -> None:
    nd.net("inner", "--internal", "--subnet", "10.254.110.0/24")
    nd.net("outer", "--subnet", "10.254.111.0/24")
    nd.ok("run", "-d", "--name", "islet", "--network", "inner", "busybox", "sleep", "300")
    nd.ok("run", "-d", "--name", "both", "--network", "inner", "--network", "outer", "busybox", "sleep", "300")
    eps = json.loads(nd.ok("inspect", "both", "--format", "{{json .NetworkSettings.Networks}}"))
    assert sorted(eps) == ["inner", "outer"]
    assert eps["inner"]["IPAddress"].startswith("10.254.110.") and eps["outer"]["IPAddress"].startswith("10.254.111.")
    # on the internal network: its peers yes, anything beyond it no
    assert nd.docker("exec", "islet", "ping", "-c1", "-W", "2", "both").returncode == 0
    outer_gw = gateway(nd, "outer")
    assert nd.docker("exec", "islet", "ping", "-c1", "-W", "1", outer_gw).returncode != 0
    assert nd.docker("exec", "both", "ping", "-c1", "-W", "2", outer_gw).returncode == 0


def test_icc_disabled_on_a_network(nd: NetDaemon) -> None:
    nd.net("noicc", "--subnet", "10.254.120.0/24", "-o", "com.docker.network.bridge.enable_icc=false")
    nd.ok("run", "-d", "--name", "i1", "--network", "noicc", "busybox", "sleep", "300")
    nd.ok("run", "-d", "--name", "i2", "--network", "noicc", "busybox", "sleep", "300")
    assert nd.docker("exec", "i1", "ping", "-c1", "-W", "1", ip_of(nd, "i2", "noicc")).returncode != 0
    assert nd.docker("exec", "i1", "ping", "-c1", "-W", "2", gateway(nd, "noicc")).returncode == 0


def test_other_names_go_to_the_upstream(nd: NetDaemon) -> None:
    """The daemon's --dns 127.0.0.254 (loopback) answered by a fake server made here."""
    import socket
    import threading

    from skiff.network import dnswire as wire

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.254", 53))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(2048)
            except OSError:
                continue
            q = wire.parse_query(data)
            if q.name == "upstream.test" and q.qtype == 1:
                sock.sendto(wire.build_reply(data, q, answers=[(1, bytes([192, 0, 2, 123]))]), peer)
            else:
                sock.sendto(wire.build_reply(data, q, rcode=wire.RCODE_NXDOMAIN), peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        nd.net("dnsnet", "--subnet", "10.254.130.0/24")
        nd.ok("run", "-d", "--name", "asker", "--network", "dnsnet", "busybox", "sleep", "300")
        out = nd.docker("exec", "asker", "nslookup", "upstream.test").stdout
        assert "192.0.2.123" in out
        assert "10.254.130." in nd.docker("exec", "asker", "nslookup", "asker").stdout  # local names first
    finally:
        stop.set()
        t.join(2)
        sock.close()


def test_idle_restart_rebuilds_networks(nd: NetDaemon) -> None:
    """With nothing attached, a stopping skiffd takes its bridges away; the next start rebuilds them."""
    nd.net("idle", "--subnet", "10.254.140.0/24")
    bridge = json.loads(nd.ok("network", "inspect", "idle"))[0]["Options"]["com.docker.network.bridge.name"]
    nd.d.stop()
    from tests.integration.networks.conftest import links, rules
    assert not links(bridge) and not links(nd.bridge) and not rules(nd.chains)
    nd.d.start()
    assert links(bridge) == [bridge]
    nd.ok("run", "-d", "--name", "i1", "--network", "idle", "busybox", "sleep", "300")
    r = nd.docker("run", "--rm", "--network", "idle", "busybox", "ping", "-c1", "-W", "2", "i1")
    assert r.returncode == 0 and "10.254.140.2" in r.stdout


def test_ipv6_network(nd: NetDaemon) -> None:
    nd.net("six", "--ipv6", "--subnet", "10.254.150.0/24", "--subnet", "fd5c:5c5c:150::/64")
    doc = json.loads(nd.ok("network", "inspect", "six"))[0]
    assert doc["EnableIPv6"] is True
    assert {c["Subnet"] for c in doc["IPAM"]["Config"]} == {"10.254.150.0/24", "fd5c:5c5c:150::/64"}
    nd.ok("run", "-d", "--name", "v6a", "--network", "six", "busybox", "sleep", "300")
    ep = json.loads(nd.ok("inspect", "v6a", "--format", "{{json .NetworkSettings.Networks}}"))["six"]
    assert ep["GlobalIPv6Address"].startswith("fd5c:5c5c:150::") and ep["GlobalIPv6PrefixLen"] == 64
    r = nd.docker("run", "--rm", "--network", "six", "busybox", "ping6", "-c1", "-W", "3", ep["GlobalIPv6Address"])
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture
def veth_parent(nd: NetDaemon) -> Iterator[str]:
    """A parent link for macvlan made by the test (a veth pair named sk*), removed afterwards."""
    name = f"skp{nd.tag}"
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", f"skq{nd.tag}"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    subprocess.run(["ip", "link", "set", f"skq{nd.tag}", "up"], check=True)  # carrier for the children
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True)


def test_macvlan_network(nd: NetDaemon, veth_parent: str) -> None:
    nd.ok("network", "create", "-d", "macvlan", "-o", f"parent={veth_parent}", "--subnet", "10.254.160.0/24",
          "mv")
    nd.ok("run", "-d", "--name", "m1", "--network", "mv", "busybox", "sleep", "300")
    ip1 = ip_of(nd, "m1", "mv")
    assert ip1.startswith("10.254.160.")
    r = nd.docker("run", "--rm", "--network", "mv", "busybox", "ping", "-c1", "-W", "2", "m1")
    assert r.returncode == 0, r.stdout + r.stderr
    r = nd.docker("network", "create", "-d", "macvlan", "-o", "parent=sknosuch0", "--subnet", "10.254.161.0/24",
                  "mvbad")
    assert r.returncode == 1
    assert nd.docker("network", "inspect", "mvbad").returncode == 1  # nothing half-made
