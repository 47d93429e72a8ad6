"""docker ps / inspect: columns, Status strings, filters, sizes, --format, -q."""

from __future__ import annotations

import json

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def three(bbd: Daemon) -> dict[str, str]:
    ids = {
        "up": bbd.docker("run", "-d", "--name", "up", "--label", "tier=web", "busybox", "sleep", "300").stdout.strip(),
        "done": bbd.docker("run", "--name", "done", "--label", "tier=db", "busybox", "sh", "-c", "exit 4").stdout,
        "new": bbd.docker("create", "--name", "new", "busybox", "true").stdout.strip(),
    }
    ids["done"] = bbd.docker("inspect", "-f", "{{.Id}}", "done").stdout.strip()
    return ids


def _names(bbd: Daemon, *args: str) -> list[str]:
    return bbd.docker("ps", *args, "--format", "{{.Names}}").stdout.split()


def test_ps_table(bbd: Daemon, three: dict[str, str]) -> None:
    out = bbd.docker("ps", "-a").stdout.splitlines()
    assert out[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    rows = {line.split()[-1]: line for line in out[1:]}
    assert "Up " in rows["up"] and '"sleep 300"' in rows["up"]
    assert "Exited (4) " in rows["done"] and " ago" in rows["done"]
    assert "Created" in rows["new"]
    assert _names(bbd) == ["up"]


def test_ps_quiet_and_no_trunc(bbd: Daemon, three: dict[str, str]) -> None:
    q = bbd.docker("ps", "-aq").stdout.split()
    assert three["up"][:12] in q and all(len(x) == 12 for x in q)
    full = bbd.docker("ps", "-aq", "--no-trunc").stdout.split()
    assert three["up"] in full


def test_ps_filters(bbd: Daemon, three: dict[str, str]) -> None:
    assert _names(bbd, "-a", "--filter", "status=exited") == ["done"]
    assert _names(bbd, "-a", "--filter", "status=created") == ["new"]
    assert _names(bbd, "-a", "--filter", "exited=4") == ["done"]
    assert _names(bbd, "-a", "--filter", "label=tier=web") == ["up"]
    assert sorted(_names(bbd, "-a", "--filter", "label=tier")) == ["done", "up"]
    assert _names(bbd, "-a", "--filter", "name=^up$") == ["up"]
    assert _names(bbd, "-a", "--filter", f"id={three['new'][:8]}") == ["new"]
    assert "up" in _names(bbd, "-a", "--filter", "ancestor=busybox")
    assert _names(bbd, "-a", "--filter", "before=new") == ["done", "up"] or \
        sorted(_names(bbd, "-a", "--filter", "before=new")) == ["done", "up"]
    assert _names(bbd, "-a", "--filter", "since=done") == ["new"]
    bad = bbd.docker("ps", "--filter", "bogus=1")
    assert bad.returncode != 0 and "invalid filter 'bogus'" in bad.stderr


def test_ps_size_and_json_format(bbd: Daemon, three: dict[str, str]) -> None:
    rows = [json.loads(x) for x in bbd.docker("ps", "-a", "-s", "--format", "{{json .}}").stdout.splitlines()]
    by = {r["Names"]: r for r in rows}
    assert by["up"]["State"] == "running" and "virtual" in by["up"]["Size"]


def test_inspect_state_and_format(bbd: Daemon, three: dict[str, str]) -> None:
    d = json.loads(bbd.docker("inspect", "done").stdout)[0]
    st = d["State"]
    for key in ("Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode", "Error",
                "StartedAt", "FinishedAt"):
        assert key in st
    assert st["ExitCode"] == 4 and st["FinishedAt"] > st["StartedAt"]
    assert d["Config"]["Labels"] == {"tier": "db"} and d["Config"]["Image"] == "busybox"
    assert d["Image"].startswith("sha256:") and d["Mounts"] == []
    assert "Networks" in d["NetworkSettings"]
    fmt = bbd.docker("inspect", "-f", "{{.State.Status}} {{.Name}}", "up").stdout.strip()
    assert fmt == "running /up"
    assert bbd.docker("container", "inspect", "nothere").returncode == 1


def test_ps_limit_command_and_filter_errors_as_docker(bbd: Daemon, three: dict[str, str]) -> None:
    """-n/-l count stopped containers (the latest created first); args with a space are quoted in
    COMMAND; bad filter values are refused with moby's texts; isolation is accepted (a no-op here)."""
    assert _names(bbd, "-l") == ["new"] and _names(bbd, "-n", "2") == ["new", "done"]
    assert len(bbd.docker("ps", "-n", "2", "-q").stdout.split()) == 2
    cmd = bbd.docker("ps", "-a", "--filter", "name=^done$", "--format", "{{.Command}}").stdout
    assert cmd == "\"sh -c 'exit 4'\"\n"
    assert sorted(_names(bbd, "-a", "--filter", "isolation=default")) == ["done", "new", "up"]
    for flt, msg in [
        ("status=bogus", "invalid filter 'status=bogus': invalid value for state (bogus): must be one of created, "
                         "running, paused, restarting, removing, exited, dead"),
        ("health=bogus", "invalid filter 'health=bogus': invalid value for health (bogus): must be one of none, "
                         "starting, healthy, unhealthy"),
        ("exited=abc", "invalid filter 'exited=abc': strconv.Atoi: parsing \"abc\": invalid syntax"),
    ]:
        r = bbd.docker("ps", "-a", "--filter", flt)
        assert (r.returncode, r.stdout, r.stderr) == (1, "", f"Error response from daemon: {msg}\n")


def test_top_ps_error_as_docker(bbd: Daemon, three: dict[str, str]) -> None:
    """A ps that fails: moby's "ps: " and the first line of its stderr (not the whole usage text)."""
    r = bbd.docker("top", "up", "-x", "bogus")
    assert (r.returncode, r.stderr) == (
        1, "Error response from daemon: ps: error: must set personality to get -x option\n")


def test_inspect_host_config_defaults_as_docker(bbd: Daemon, three: dict[str, str]) -> None:
    """HostConfig as dockerd writes it at create: the daemon's defaults filled in, unset limits null,
    moby's omitempty fields absent, default masked/read-only paths listed (none when privileged)."""
    hc = json.loads(bbd.docker("inspect", "new").stdout)[0]["HostConfig"]
    cgv2 = __import__("os").path.exists("/sys/fs/cgroup/cgroup.controllers")
    assert (hc["CgroupnsMode"], hc["IpcMode"]) == ("private" if cgv2 else "host", "private")
    assert hc["PidsLimit"] is None and hc["MemorySwappiness"] is None
    assert not {"Init", "Tmpfs", "Sysctls", "Mounts"} & set(hc)
    assert "/proc/kcore" in hc["MaskedPaths"] and "/proc/sys" in hc["ReadonlyPaths"]
    bbd.docker("create", "--name", "priv-hc", "--privileged", "--pids-limit", "-1", "busybox", "true")
    try:
        hc = json.loads(bbd.docker("inspect", "priv-hc").stdout)[0]["HostConfig"]
        assert hc["MaskedPaths"] is None and hc["ReadonlyPaths"] is None and hc["PidsLimit"] is None
    finally:
        bbd.docker("rm", "-f", "priv-hc")


def test_ps_ports_only_from_network_settings(bbd: Daemon, three: dict[str, str]) -> None:
    """PORTS comes from NetworkSettings.Ports, as moby's: empty for a created or exited container
    and for a running one on --network none, even with exposed or published ports."""
    bbd.docker("create", "--name", "ports-new", "--expose", "70", "-p", "127.0.0.1::80", "busybox", "true")
    bbd.docker("run", "-d", "--name", "ports-none", "--network", "none", "--expose", "80", "busybox", "sleep", "60")
    try:
        out = bbd.docker("ps", "-a", "--filter", "name=ports-", "--format", "{{.Names}}|{{.Ports}}").stdout
        assert sorted(out.splitlines()) == ["ports-new|", "ports-none|"]
    finally:
        bbd.docker("rm", "-f", "ports-new", "ports-none")


def test_ps_filters_without_all_as_docker(bbd: Daemon, three: dict[str, str]) -> None:
    """Without -a only a status filter reaches stopped containers (moby): exited/since/before do not."""
    assert _names(bbd, "--filter", "exited=4") == []
    assert _names(bbd, "--filter", "since=done") == []
    assert _names(bbd, "--filter", "before=new") == ["up"]
    assert _names(bbd, "--filter", "status=exited") == ["done"]


def test_ps_port_and_task_filters_as_docker(bbd: Daemon, three: dict[str, str]) -> None:
    """expose/publish look at the list's Ports (none for a created container), bad values get moby's
    texts; is-task is a boolean filter (no swarm tasks here)."""
    bbd.docker("create", "--name", "pf-new", "--expose", "80", "-p", "127.0.0.1:8089:81", "busybox", "true")
    try:
        for flt in ("expose=80", "expose=70-90", "publish=8089", "is-task=true"):
            assert _names(bbd, "-a", "--filter", "name=pf-", "--filter", flt) == [], flt
        assert _names(bbd, "-a", "--filter", "name=pf-", "--filter", "is-task=false") == ["pf-new"]
        for flt, msg in [("expose=abc", 'error while looking up for expose abc: strconv.ParseUint: parsing "abc": '
                                        "invalid syntax"),
                         ("publish=80:80", "filter for 'publish' should not contain ':': 80:80"),
                         ("is-task=bogus", "invalid filter 'is-task=[bogus]'")]:
            r = bbd.docker("ps", "-a", "--filter", flt)
            assert (r.returncode, r.stderr) == (1, f"Error response from daemon: {msg}\n"), flt
    finally:
        bbd.docker("rm", "-f", "pf-new")
