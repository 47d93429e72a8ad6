"""The skiff CLI's network commands against skiffd (same outputs as the docker CLI's)."""

from __future__ import annotations

import json

import pytest

from tests.integration.networks.conftest import BRIDGE_OPT, NetDaemon

pytestmark = pytest.mark.root


def sk(nd: NetDaemon, *args: str) -> str:
    r = nd.d.skiff(*args)
    assert r.returncode == 0, f"skiff {' '.join(args)}: {r.stdout}{r.stderr}"
    return r.stdout


def test_skiff_network_commands(nd: NetDaemon) -> None:
    nid = sk(nd, "network", "create", "-o", f"{BRIDGE_OPT}={nd.brname()}", "--subnet", "10.254.80.0/24",
             "--gateway", "10.254.80.1", "--ip-range", "10.254.80.64/26", "--aux-address", "x=10.254.80.3",
             "--label", "k=v", "--attachable", "skn").strip()
    assert len(nid) == 64
    table = sk(nd, "network", "ls")
    assert table.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert sk(nd, "network", "ls", "-q", "--filter", "name=skn").strip() == nid[:12]
    assert sk(nd, "network", "ls", "--no-trunc", "-q", "-f", "label=k=v").strip() == nid
    assert sk(nd, "network", "ls", "--format", "{{.Name}} {{.Labels}}", "-f", "type=custom") == "skn k=v\n"
    assert sk(nd, "network", "ls", "--format", "table {{.Name}}").splitlines()[0] == "NAME"
    assert sk(nd, "network", "ls", "--format", "{{.Name}}") == nd.ok("network", "ls", "--format", "{{.Name}}") + "\n"
    doc = json.loads(sk(nd, "network", "inspect", "skn"))[0]
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.254.80.0/24", "IPRange": "10.254.80.64/26",
                                      "Gateway": "10.254.80.1", "AuxiliaryAddresses": {"x": "10.254.80.3"}}]
    assert sk(nd, "network", "inspect", "-f", "{{.Driver}}", "skn") == "bridge\n"
    # connect / disconnect with --ip and --alias
    nd.ok("run", "-d", "--name", "cc", "busybox", "sleep", "300")
    sk(nd, "network", "connect", "--ip", "10.254.80.70", "--alias", "see", "skn", "cc")
    eps = json.loads(nd.ok("inspect", "cc", "--format", "{{json .NetworkSettings.Networks}}"))
    assert eps["skn"]["IPAddress"] == "10.254.80.70" and eps["skn"]["Aliases"] == ["see"]
    assert "10.254.80.70" in nd.ok("exec", "cc", "ip", "-o", "-4", "addr")
    r = nd.d.skiff("network", "rm", "skn")
    assert r.returncode == 1 and "Error response from daemon: error while removing network" in r.stderr
    sk(nd, "network", "disconnect", "skn", "cc")
    r = nd.d.skiff("network", "disconnect", "skn", "cc")
    assert r.returncode == 1 and "is not connected to network skn" in r.stderr
    sk(nd, "network", "disconnect", "-f", "skn", "cc")
    # errors
    r = nd.d.skiff("network", "create", "--subnet", "10.254.81.0/24", "--gateway", "10.254.82.1", "bad")
    assert r.returncode == 1 and "no matching subnet for gateway 10.254.82.1" in r.stderr
    r = nd.d.skiff("network", "create", "--ipam-driver", "other", "bad")
    assert r.returncode == 1 and 'plugin "other" not found' in r.stderr
    r = nd.d.skiff("network", "create")
    assert r.returncode == 1 and "requires 1 argument" in r.stderr  # docker's ExactArgs text
    # rm / prune
    assert sk(nd, "network", "rm", "skn") == "skn\n"
    r = nd.d.skiff("network", "rm", "skn")
    assert r.returncode == 1 and "network skn not found" in r.stderr
    assert nd.d.skiff("network", "rm", "-f", "skn").returncode == 0
    sk(nd, "network", "create", "-o", f"{BRIDGE_OPT}={nd.brname()}", "gone")
    assert sk(nd, "network", "prune", "-f") == "Deleted Networks:\ngone\n"


def test_skiff_run_network_flags(nd: NetDaemon) -> None:
    nd.net("flags", "--subnet", "10.254.90.0/24")
    sk(nd, "run", "-d", "--name", "srv", "--network", "flags", "--ip", "10.254.90.50", "--mac-address",
       "02:42:0a:fe:5a:32", "--network-alias", "alias1", "--hostname", "box", "--add-host", "gw:host-gateway",
       "--dns-search", "example.test", "--dns-option", "ndots:2", "-p", "127.0.0.1:18500-18501:80-81",
       "busybox", "sleep", "300")
    eps = json.loads(nd.ok("inspect", "srv", "--format", "{{json .NetworkSettings.Networks}}"))["flags"]
    assert eps["IPAddress"] == "10.254.90.50" and eps["MacAddress"] == "02:42:0a:fe:5a:32"
    assert eps["Aliases"] == ["alias1"]
    ports = sk(nd, "port", "srv").splitlines()
    assert ports == ["80/tcp -> 127.0.0.1:18500", "81/tcp -> 127.0.0.1:18501"]
    hosts = nd.ok("exec", "srv", "cat", "/etc/hosts")
    assert "10.254.90.50\tbox" in hosts and "\tgw" in hosts
    resolv = nd.ok("exec", "srv", "cat", "/etc/resolv.conf")
    assert "search example.test" in resolv and "ndots:2" in resolv and "nameserver 127.0.0.11" in resolv
    assert nd.ok("exec", "srv", "hostname") == "box"
    # legacy --link on the default bridge
    sk(nd, "run", "-d", "--name", "parent", "busybox", "sleep", "300")
    sk(nd, "run", "-d", "--name", "child", "--link", "parent:pa", "busybox", "sleep", "300")
    assert "pa" in nd.ok("exec", "child", "cat", "/etc/hosts")
    assert nd.docker("exec", "child", "ping", "-c1", "-W", "2", "pa").returncode == 0
    # rename: the embedded DNS follows
    nd.ok("run", "-d", "--name", "peer", "--network", "flags", "busybox", "sleep", "300")
    nd.ok("rename", "srv", "srv2")
    deadline = 20
    while deadline and nd.docker("exec", "peer", "ping", "-c1", "-W", "1", "srv2").returncode != 0:
        deadline -= 1
    assert deadline
