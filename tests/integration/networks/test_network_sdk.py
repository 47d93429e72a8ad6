"""The Docker SDK (docker-py) against skiffd's /networks, and a daemon started with -b none."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import docker
import pytest

from tests.integration.networks.conftest import BRIDGE_OPT, NetDaemon, links, rules
from tests.support.images import busybox_daemon

pytestmark = pytest.mark.root


def test_sdk_networks(nd: NetDaemon) -> None:
    client = docker.DockerClient(base_url=nd.d.host)
    try:
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.254.100.0/24",
                                                                           gateway="10.254.100.1")])
        net = client.networks.create("sdknet", driver="bridge", ipam=ipam, labels={"via": "sdk"},
                                     options={BRIDGE_OPT: nd.brname()})
        assert net.name == "sdknet" and net.attrs["IPAM"]["Config"][0]["Gateway"] == "10.254.100.1"
        assert [n.name for n in client.networks.list(names=["sdknet"])] == ["sdknet"]
        ctr = client.containers.run("busybox", ["sleep", "300"], name="sdkc", detach=True)
        net.connect(ctr, aliases=["sdkalias"], ipv4_address="10.254.100.40")
        net.reload()
        assert [c.name for c in net.containers] == ["sdkc"]
        ctr.reload()
        ep = ctr.attrs["NetworkSettings"]["Networks"]["sdknet"]
        assert ep["IPAddress"] == "10.254.100.40" and ep["Aliases"] == ["sdkalias"]
        net.disconnect(ctr)
        net.reload()
        assert net.containers == []
        with pytest.raises(docker.errors.APIError) as info:
            client.networks.create("sdknet")
        assert info.value.status_code == 409
        with pytest.raises(docker.errors.NotFound):
            client.networks.get("nosuchnet")
        ctr.remove(force=True)
        assert client.networks.prune(filters={"label": "via=sdk"})["NetworksDeleted"] == ["sdknet"]
    finally:
        client.close()


def test_daemon_without_default_bridge(tmp_path: Path) -> None:
    tag = secrets.token_hex(2)
    args = ("--bridge", "none", "--default-address-pool", "base=10.253.0.0/16,size=24",
            "--iptables-chain-prefix", f"SKT{tag}", "--dns", "127.0.0.254")
    with busybox_daemon(tmp_path, args) as d:
        names = d.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
        assert sorted(names) == ["host", "none"]
        r = d.docker("run", "--rm", "--network", "none", "busybox", "true")
        assert r.returncode == 0, r.stderr
        assert json.loads(d.docker("network", "inspect", "none").stdout)[0]["Driver"] == "null"
    assert not links("none") and not rules(f"SKT{tag}")


def test_daemon_default_binding_ip(tmp_path: Path) -> None:
    """dockerd's --ip: ports published without an address bind it (here loopback only)."""
    import subprocess
    import time
    tag = secrets.token_hex(2)
    args = ("--bridge", f"skt{tag}", "--ip", "127.0.0.1", "--default-address-pool", "base=10.253.0.0/16,size=24",
            "--iptables-chain-prefix", f"SKT{tag}", "--dns", "127.0.0.254")
    with busybox_daemon(tmp_path, args) as d:
        r = d.docker("run", "-d", "--name", "ww", "-p", "18610:80", "busybox", "sh", "-c",
                     "mkdir /w && echo bound > /w/index.html && exec httpd -f -p 80 -h /w")
        assert r.returncode == 0, r.stderr
        assert d.docker("port", "ww").stdout.strip() == "80/tcp -> 127.0.0.1:18610"
        body = ""
        for _ in range(50):
            body = subprocess.run(["curl", "-s", "-m", "3", "http://127.0.0.1:18610/"], capture_output=True,
                                  text=True).stdout.strip()
            if body:
                break
            time.sleep(0.1)
        assert body == "bound"
        d.docker("rm", "-f", "ww")
    assert not links(f"skt{tag}") and not rules(f"SKT{tag}")


def test_daemon_bip_and_fixed_cidr(tmp_path: Path) -> None:
    tag = secrets.token_hex(2)
    args = ("--bridge", f"skt{tag}", "--bip", "10.253.201.5/24", "--fixed-cidr", "10.253.201.128/25",
            "--iptables-chain-prefix", f"SKT{tag}", "--dns", "127.0.0.254")
    with busybox_daemon(tmp_path, args) as d:
        cfg = json.loads(d.docker("network", "inspect", "bridge").stdout)[0]["IPAM"]["Config"][0]
        assert cfg["Subnet"] == "10.253.201.0/24" and cfg["Gateway"] == "10.253.201.5"
        assert cfg["IPRange"] == "10.253.201.128/25"
        r = d.docker("run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0")
        assert r.returncode == 0 and "10.253.201.128/24" in r.stdout, r.stdout + r.stderr
        r = d.docker("run", "--rm", "busybox", "ping", "-c1", "-W", "2", "10.253.201.5")
        assert r.returncode == 0
    assert not links(f"skt{tag}") and not rules(f"SKT{tag}")
