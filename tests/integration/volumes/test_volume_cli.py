"""docker CLI v28 and the skiff CLI against skiffd: volume create/ls/inspect/rm/prune, labels, filters."""

from __future__ import annotations

import json

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def ok(r: object) -> str:
    assert r.returncode == 0, (r.stdout, r.stderr)  # type: ignore[attr-defined]
    return str(r.stdout)  # type: ignore[attr-defined]


@pytest.mark.parametrize("cli", ["docker", "skiff"])
def test_create_ls_inspect_rm(vd: Daemon, cli: str) -> None:
    run = vd.docker if cli == "docker" else vd.skiff
    a, b = f"{cli}-a1", f"{cli}-b2"
    assert ok(run("volume", "create", "--label", "env=prod", "--label", "tier", a)).strip() == a
    assert ok(run("volume", "create", "--name", b)).strip() == b
    assert ok(run("volume", "create", a)).strip() == a  # same name + driver: the existing volume
    table = ok(run("volume", "ls", "--filter", f"name={cli}-"))
    assert table.splitlines() == ["DRIVER    VOLUME NAME", f"local     {a}", f"local     {b}"]
    assert ok(run("volume", "ls", "-q", "--filter", "label=env=prod")).split() == [a]
    assert ok(run("volume", "ls", "-q", "-f", "label=tier", "-f", f"name={cli}-")).split() == [a]
    assert b in ok(run("volume", "ls", "-q", "--filter", "dangling=true")).split()
    assert ok(run("volume", "ls", "-q", "--filter", "driver=local", "--filter", f"name={b}")).split() == [b]
    line = ok(run("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}}", "--filter", f"name={a}"))
    name, driver, scope, labels = line.split()
    assert (name, driver, scope) == (a, "local", "local")
    assert sorted(labels.split(",")) == ["env=prod", "tier="]  # docker joins a Go map: any order
    doc = json.loads(ok(run("volume", "inspect", a)))
    assert len(doc) == 1
    v = doc[0]
    assert v["Name"] == a and v["Driver"] == "local" and v["Scope"] == "local"
    assert v["Labels"] == {"env": "prod", "tier": ""}
    assert v["Mountpoint"] == str(vd.data_root / "volumes" / a / "_data")
    assert (vd.data_root / "volumes" / a / "_data").is_dir()
    assert v["CreatedAt"][:2] == "20" and ("Z" in v["CreatedAt"] or "+" in v["CreatedAt"])
    assert ok(run("volume", "inspect", "-f", "{{.Mountpoint}}", a)).strip() == v["Mountpoint"]
    assert ok(run("volume", "rm", a, b)).split() == [a, b]
    assert not (vd.data_root / "volumes" / a).exists()


@pytest.mark.parametrize("cli", ["docker", "skiff"])
def test_errors_as_docker(vd: Daemon, cli: str) -> None:
    run = vd.docker if cli == "docker" else vd.skiff
    r = run("volume", "rm", "nosuchvol")
    assert r.returncode == 1 and r.stderr.strip() == "Error response from daemon: get nosuchvol: no such volume"
    assert run("volume", "rm", "-f", "nosuchvol").returncode == 0
    r = run("volume", "inspect", "nosuchvol")
    assert r.returncode == 1 and "get nosuchvol: no such volume" in r.stderr
    r = run("volume", "create", "x")
    assert r.returncode == 1 and "volume name is too short" in r.stderr
    r = run("volume", "create", "-o", "bogus=1", f"{cli}-bad")
    assert r.returncode == 1 and 'invalid option: "bogus"' in r.stderr
    r = run("volume", "create", "-o", "type=tmpfs", f"{cli}-bad")
    assert r.returncode == 1 and 'missing required option: "device"' in r.stderr
    r = run("volume", "create", "-d", "nosuchdriver", f"{cli}-bad")
    assert r.returncode == 1 and 'plugin "nosuchdriver" not found' in r.stderr
    r = run("volume", "ls", "--filter", "color=red")
    assert r.returncode == 1 and "invalid filter 'color'" in r.stderr


def test_prune_anonymous_by_default_all_with_flag(vd: Daemon) -> None:
    ok(vd.docker("volume", "create", "--label", "pt=1", "pt-named"))
    ok(vd.docker("run", "--name", "pt-c", "-v", "/anon", "busybox", "true"))
    anon = ok(vd.docker("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "pt-c")).strip()
    assert len(anon) == 64
    labels = json.loads(ok(vd.docker("volume", "inspect", "-f", "{{json .Labels}}", anon)))
    assert labels == {"com.docker.volume.anonymous": ""}
    # the anonymous volume is still referenced by its (stopped) container: not pruned
    out = ok(vd.docker("volume", "prune", "-f", "--filter", "label!=keep"))
    assert anon not in out
    ok(vd.docker("rm", "pt-c"))
    out = ok(vd.docker("volume", "prune", "-f"))
    assert out.startswith("Deleted Volumes:\n") and anon in out and "pt-named" not in out
    assert out.rstrip().endswith("Total reclaimed space: 0B")
    out = ok(vd.docker("volume", "prune", "-f", "--all", "--filter", "label=pt=1"))
    assert "pt-named" in out
    assert ok(vd.docker("volume", "ls", "-q", "--filter", "name=pt-named")).strip() == ""
    out = ok(vd.skiff("volume", "prune", "-f"))
    assert out.strip() == "Total reclaimed space: 0B"


def test_create_errors_name_the_volume_as_docker(vd: Daemon) -> None:
    """moby's volume store wraps a driver's refusal in an OpErr: "create <name>: <cause>"."""
    r = vd.docker("volume", "create", "-d", "nosuchdriver", "opvol1")
    assert (r.returncode, r.stderr) == (1, 'Error response from daemon: create opvol1: error looking up volume '
                                           'plugin nosuchdriver: plugin "nosuchdriver" not found\n')
    r = vd.docker("volume", "create", "-o", "bogus=1", "opvol2")
    assert (r.returncode, r.stderr) == (1, 'Error response from daemon: create opvol2: invalid option: "bogus"\n')
    assert vd.docker("volume", "ls", "-q", "--filter", "name=opvol").stdout == ""


def test_dangling_filter_values_as_docker(vd: Daemon) -> None:
    """moby's GetBoolOrDefault: "1"/"true"/"0"/"false" only, case-sensitive; its error shows the values."""
    ok(vd.docker("volume", "create", "dgl1"))
    try:
        assert "dgl1" in ok(vd.docker("volume", "ls", "-q", "--filter", "dangling=1")).split()
        assert "dgl1" not in ok(vd.docker("volume", "ls", "-q", "--filter", "dangling=0")).split()
        r = vd.docker("volume", "ls", "--filter", "dangling=TRUE")
        assert (r.returncode, r.stderr) == (1, "Error response from daemon: invalid filter 'dangling=[TRUE]'\n")
    finally:
        vd.docker("volume", "rm", "dgl1")
