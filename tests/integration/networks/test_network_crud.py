"""docker network create/ls/inspect/rm/prune against skiffd, with the docker CLI v28."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.networks.conftest import NetDaemon

pytestmark = pytest.mark.root


def test_builtin_networks_exist(nd: NetDaemon) -> None:
    out = nd.ok("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
    assert set(out.splitlines()) >= {"bridge bridge local", "host host local", "none null local"}
    bridge = json.loads(nd.ok("network", "inspect", "bridge"))[0]
    assert bridge["Options"]["com.docker.network.bridge.name"] == nd.bridge
    assert bridge["IPAM"]["Config"][0]["Subnet"].startswith("10.253.")
    r = nd.docker("network", "rm", "bridge")
    assert r.returncode == 1
    assert "bridge is a pre-defined network and cannot be removed" in r.stderr


def test_create_inspect_ls_rm(nd: NetDaemon) -> None:
    nid = nd.net("front", "--subnet", "10.254.10.0/24", "--gateway", "10.254.10.254", "--ip-range",
                 "10.254.10.128/25", "--aux-address", "printer=10.254.10.5", "--label", "tier=web",
                 "--internal", "--attachable")
    assert len(nid) == 64
    doc = json.loads(nd.ok("network", "inspect", "front"))[0]
    assert doc["Id"] == nid and doc["Name"] == "front" and doc["Driver"] == "bridge" and doc["Scope"] == "local"
    assert doc["Internal"] is True and doc["Attachable"] is True
    assert doc["Labels"] == {"tier": "web"}
    cfg = doc["IPAM"]["Config"][0]
    assert cfg["Subnet"] == "10.254.10.0/24" and cfg["Gateway"] == "10.254.10.254"
    assert cfg["IPRange"] == "10.254.10.128/25"
    assert cfg["AuxiliaryAddresses"] == {"printer": "10.254.10.5"}
    assert doc["Containers"] == {}
    # ls: filters, -q, --no-trunc
    assert nd.ok("network", "ls", "-q", "--filter", "label=tier=web") == nid[:12]
    assert nd.ok("network", "ls", "-q", "--no-trunc", "--filter", "name=front") == nid
    assert "front" not in nd.ok("network", "ls", "--filter", "type=builtin")
    assert nd.ok("network", "ls", "--filter", "type=custom", "--format", "{{.Name}}") == "front"
    assert nd.ok("network", "ls", "--filter", "dangling=true", "--format", "{{.Name}}") == "front"
    r = nd.docker("network", "ls", "--filter", "bogus=1")
    assert r.returncode != 0 and "invalid filter 'bogus'" in r.stderr
    # events
    nd.ok("network", "rm", "front")
    r = nd.docker("network", "inspect", "front")
    assert r.returncode == 1 and "network front not found" in r.stderr
    ev = nd.ok("events", "--since", "0", "--until", str(int(time.time()) + 1), "--filter", "type=network", "--format",
               "{{.Action}} {{.Actor.Attributes.name}}")
    assert "create front" in ev and "destroy front" in ev


def test_bad_input_gives_dockers_errors(nd: NetDaemon) -> None:
    nd.net("one", "--subnet", "10.254.20.0/24")
    r = nd.docker("network", "create", "-o", f"com.docker.network.bridge.name={nd.brname()}",
                  "--subnet", "10.254.20.0/25", "two")
    assert r.returncode == 1
    assert "invalid pool request: Pool overlaps with other one on this address space" in r.stderr
    r = nd.docker("network", "create", "one")
    assert r.returncode == 1 and "network with name one already exists" in r.stderr
    r = nd.docker("network", "create", "--subnet", "10.254.21.0/24", "--gateway", "10.9.9.1", "three")
    assert r.returncode == 1 and "no matching subnet for gateway 10.9.9.1" in r.stderr
    r = nd.docker("network", "create", "--ipam-driver", "fancy", "four")
    assert r.returncode == 1 and 'plugin "fancy" not found' in r.stderr
    r = nd.docker("network", "create", "-d", "host", "five")
    assert r.returncode == 1 and 'only one instance of "host" network is allowed' in r.stderr
    names = nd.ok("network", "ls", "--format", "{{.Name}}").splitlines()
    assert sorted(names) == ["bridge", "host", "none", "one"]  # nothing half-made


def test_prune(nd: NetDaemon) -> None:
    nd.net("keep", "--label", "keep=1")
    nd.net("drop")
    out = nd.ok("network", "prune", "-f", "--filter", "label!=keep=1")
    assert "Deleted Networks:\ndrop" in out
    assert nd.ok("network", "ls", "--filter", "type=custom", "--format", "{{.Name}}") == "keep"
