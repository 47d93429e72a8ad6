"""stop / kill / restart / pause / unpause / rename / update / top / stats / restart policies / health."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def _state(d: Daemon, name: str) -> dict:
    return json.loads(d.docker("inspect", name).stdout)[0]["State"]


def test_stop_signal_and_timeout(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "trap", "busybox", "sh", "-c", "trap 'exit 42' TERM; while true; do sleep 0.1; done")
    t = time.monotonic()
    assert bbd.docker("stop", "trap").returncode == 0
    assert time.monotonic() - t < 5
    assert _state(bbd, "trap")["ExitCode"] == 42
    assert bbd.docker("stop", "trap").returncode == 0  # 304 already stopped
    bbd.docker("run", "-d", "--name", "stubborn", "--stop-timeout", "1", "busybox", "sh", "-c",
               "trap '' TERM; while true; do sleep 0.1; done")
    t = time.monotonic()
    bbd.docker("stop", "stubborn")
    assert 0.8 < time.monotonic() - t < 6
    assert _state(bbd, "stubborn")["ExitCode"] == 137


def test_kill_and_errors(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "kk", "busybox", "sh", "-c", "trap 'exit 143' TERM; sleep 100 & wait")
    assert bbd.docker("kill", "-s", "TERM", "kk").returncode == 0
    time.sleep(0.5)
    st = _state(bbd, "kk")
    assert st["Status"] == "exited" and st["ExitCode"] == 143
    r = bbd.docker("kill", "kk")
    assert r.returncode == 1 and "is not running" in r.stderr


def test_pause_unpause(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "pp", "busybox", "sleep", "100")
    assert bbd.docker("pause", "pp").returncode == 0
    assert _state(bbd, "pp")["Paused"] is True
    assert "(Paused)" in bbd.docker("ps", "--filter", "name=pp", "--format", "{{.Status}}").stdout
    r = bbd.docker("exec", "pp", "true")
    assert r.returncode != 0 and "paused" in r.stderr
    assert bbd.docker("unpause", "pp").returncode == 0
    assert _state(bbd, "pp")["Status"] == "running"
    bbd.docker("rm", "-f", "pp")


def test_restart_rename_top(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "r1", "busybox", "sleep", "100")
    pid1 = _state(bbd, "r1")["Pid"]
    assert bbd.docker("restart", "-t", "0", "r1").returncode == 0
    st = _state(bbd, "r1")
    assert st["Running"] and st["Pid"] != pid1
    assert bbd.docker("rename", "r1", "r2").returncode == 0
    assert bbd.docker("inspect", "-f", "{{.Name}}", "r2").stdout.strip() == "/r2"
    top = bbd.docker("top", "r2").stdout.splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"] and "sleep 100" in top[1]
    bbd.docker("rm", "-f", "r2")


def test_update_and_stats(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "uu", "-m", "64m", "busybox", "sleep", "100")
    assert bbd.docker("update", "-m", "128m", "--memory-swap", "256m", "--restart", "on-failure:3", "uu").returncode == 0
    hc = json.loads(bbd.docker("inspect", "uu").stdout)[0]["HostConfig"]
    assert hc["Memory"] == 128 << 20 and hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    out = bbd.docker("stats", "--no-stream", "uu").stdout.splitlines()
    assert out[0].split()[:4] == ["CONTAINER", "ID", "NAME", "CPU"]
    assert "128MiB" in out[1] and out[1].split()[-1] == "1"
    bbd.docker("rm", "-f", "uu")


def test_stats_network_counters(bbd: Daemon) -> None:
    """NET I/O comes from the container's own namespace: traffic to its gateway shows up in eth0."""
    bbd.docker("run", "-d", "--name", "netc", "busybox", "sleep", "100")
    try:
        gw = json.loads(bbd.docker("inspect", "netc").stdout)[0]["NetworkSettings"]["Networks"]["bridge"]["Gateway"]
        assert bbd.docker("exec", "netc", "ping", "-c", "3", "-W", "2", gw).returncode == 0
        raw = bbd.docker("stats", "--no-stream", "--format", "{{json .}}", "netc").stdout
        net_io = json.loads(raw)["NetIO"]
        assert not net_io.startswith("0B /"), net_io
        bbd.docker("run", "-d", "--name", "nonec", "--network", "none", "busybox", "sleep", "100")
        assert json.loads(bbd.docker("stats", "--no-stream", "--format", "{{json .}}", "nonec").stdout)["NetIO"] == "0B / 0B"
    finally:
        bbd.docker("rm", "-f", "netc", "nonec")


def test_restart_policy_on_failure(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "rp", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        d = json.loads(bbd.docker("inspect", "rp").stdout)[0]
        if d["RestartCount"] == 2 and d["State"]["Status"] == "exited":
            break
        time.sleep(0.2)
    assert d["RestartCount"] == 2 and d["State"]["ExitCode"] == 3
    bbd.docker("rm", "-f", "rp")


def test_healthcheck(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "hc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "200ms",
               "--health-retries", "2", "busybox", "sh", "-c", "touch /tmp/ok; sleep 100")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        h = _state(bbd, "hc").get("Health", {})
        if h.get("Status") == "healthy":
            break
        time.sleep(0.2)
    assert h["Status"] == "healthy" and h["Log"][-1]["ExitCode"] == 0
    assert "(healthy)" in bbd.docker("ps", "--filter", "name=hc", "--format", "{{.Status}}").stdout
    assert bbd.docker("ps", "-q", "--filter", "health=healthy").stdout.strip()
    bbd.docker("exec", "hc", "rm", "/tmp/ok")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _state(bbd, "hc")["Health"]["Status"] != "unhealthy":
        time.sleep(0.2)
    h = _state(bbd, "hc")["Health"]
    assert h["Status"] == "unhealthy" and h["FailingStreak"] >= 2 and len(h["Log"]) <= 5
    bbd.docker("rm", "-f", "hc")


def test_kill_errors_as_docker(bbd: Daemon) -> None:
    """moby's router wraps every kill error in "cannot kill container: <ref>: ..." (and checks the
    signal before it looks the container up)."""
    cid = bbd.docker("create", "--name", "kx", "busybox", "true").stdout.strip()
    try:
        r = bbd.docker("kill", "kx")
        assert (r.returncode, r.stderr) == (
            1, f"Error response from daemon: cannot kill container: kx: container {cid} is not running\n")
        r = bbd.docker("kill", "nosuch-kx")
        assert (r.returncode, r.stderr) == (
            1, "Error response from daemon: cannot kill container: nosuch-kx: No such container: nosuch-kx\n")
        r = bbd.docker("kill", "-s", "BOGUS", "nosuch-kx")
        assert (r.returncode, r.stderr) == (
            1, "Error response from daemon: cannot kill container: nosuch-kx: Invalid signal: BOGUS\n")
        for n in ("65", "32", "-1"):
            r = bbd.docker("kill", "-s", n, "kx")
            assert (r.returncode, r.stderr) == (
                1, f"Error response from daemon: cannot kill container: kx: the linux daemon does not support signal {n}\n")
    finally:
        bbd.docker("rm", "-f", "kx")


def test_update_checks_as_docker(bbd: Daemon) -> None:
    """docker update validates as dockerd: limits by create's rules, restart policies, and memory above
    the swap limit already set (a container made without -m has none: --memory-swap is needed)."""
    cid = bbd.docker("run", "-d", "--name", "ux", "busybox", "sleep", "100").stdout.strip()
    bbd.docker("create", "--name", "ux2", "-m", "10m", "busybox", "true")
    try:
        hc = json.loads(bbd.docker("inspect", "ux2").stdout)[0]["HostConfig"]
        assert (hc["Memory"], hc["MemorySwap"]) == (10 << 20, 20 << 20)  # swap defaults to twice the memory
        assert bbd.docker("update", "-m", "15m", "ux2").stdout == "ux2\n"
        cases = [
            (["-m", "10m"], f"Cannot update container {cid}: Memory limit should be smaller than already set "
                            "memoryswap limit, update the memoryswap at the same time"),
            (["-m", "3m"], "Minimum memory limit allowed is 6MB"),
            (["--restart", "bogus"], "invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', "
                                     "'on-failure', or 'unless-stopped'"),
            (["--restart", "on-failure:-2"], "invalid restart policy: maximum retry count cannot be negative"),
            (["--restart", "always:3"], "invalid restart policy: maximum retry count can only be used with "
                                        "'on-failure'"),
            (["--cpuset-cpus", "99"], "Requested CPUs are not available - requested 99, available: "),
        ]
        for args, msg in cases:
            r = bbd.docker("update", *args, "ux")
            assert r.returncode == 1 and r.stdout == "", (args, r)
            assert r.stderr.startswith(f"Error response from daemon: {msg}"), (args, r.stderr)
        assert bbd.docker("update", "-m", "10m", "--memory-swap", "20m", "ux").returncode == 0
        hc = json.loads(bbd.docker("inspect", "ux").stdout)[0]["HostConfig"]
        assert (hc["Memory"], hc["MemorySwap"], hc["RestartPolicy"]["Name"]) == (10 << 20, 20 << 20, "no")
    finally:
        bbd.docker("rm", "-f", "ux", "ux2")


def test_start_of_paused_container_as_docker(bbd: Daemon) -> None:
    """A paused container is also running: moby checks paused first and refuses the start (409)."""
    bbd.docker("run", "-d", "--name", "pstart", "busybox", "sleep", "100")
    try:
        assert bbd.docker("pause", "pstart").returncode == 0
        r = bbd.docker("start", "pstart")
        assert (r.returncode, r.stdout, r.stderr) == (
            1, "", "Error response from daemon: cannot start a paused container, try unpause instead\n"
                   "Error: failed to start containers: pstart\n")
        assert _state(bbd, "pstart")["Paused"] is True
    finally:
        bbd.docker("rm", "-f", "pstart")


def test_rename_errors_as_docker(bbd: Daemon) -> None:
    """moby wraps a name it cannot reserve in "Error when allocating new name: ...", with the "/"."""
    bbd.docker("create", "--name", "rn1", "busybox", "true")
    other = bbd.docker("create", "--name", "rn2", "busybox", "true").stdout.strip()
    try:
        r = bbd.docker("rename", "rn1", "rn2")
        assert (r.returncode, r.stderr) == (1, (
            'Error response from daemon: Error when allocating new name: Conflict. The container name "/rn2" is '
            f'already in use by container "{other}". You have to remove (or rename) that container to be able to '
            "reuse that name.\nError: failed to rename container named rn1\n"))
        r = bbd.docker("rename", "rn1", "bad name")
        assert (r.returncode, r.stderr) == (1, (
            "Error response from daemon: Error when allocating new name: Invalid container name (/bad name), only "
            "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\nError: failed to rename container named rn1\n"))
        r = bbd.docker("rename", "rn1", "rn1")
        assert r.returncode == 1 and "Renaming a container with the same name as its current name" in r.stderr
    finally:
        bbd.docker("rm", "-f", "rn1", "rn2")


def test_update_runtime_refusal_as_docker(bbd: Daemon) -> None:
    """A limit the runtime refuses comes back as moby's "Cannot update container <id>: <cause>"."""
    cid = bbd.docker("run", "-d", "--name", "ux3", "busybox", "sleep", "100").stdout.strip()
    try:
        r = bbd.docker("update", "--cpu-shares", "1", "ux3")
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr.startswith(f"Error response from daemon: Cannot update container {cid}: ")
        assert "the minimum allowed cpu-shares is 2" in r.stderr
    finally:
        bbd.docker("rm", "-f", "ux3")
    cid = bbd.docker("run", "-d", "--rm", "--name", "ux4", "busybox", "sleep", "100").stdout.strip()
    try:
        r = bbd.docker("update", "--restart", "always", "ux4")
        assert (r.returncode, r.stderr) == (1, f"Error response from daemon: Cannot update container {cid}: Restart "
                                               "policy cannot be updated because AutoRemove is enabled for the "
                                               "container\n")
    finally:
        bbd.docker("rm", "-f", "ux4")


def test_not_running_errors_as_docker(bbd: Daemon) -> None:
    """pause and top of a container that is not running: moby v28's errNotRunning text (lower case)."""
    cid = bbd.docker("create", "--name", "nr1", "busybox", "true").stdout.strip()
    try:
        for args in (["pause", "nr1"], ["top", "nr1"]):
            r = bbd.docker(*args)
            assert (r.returncode, r.stderr) == (
                1, f"Error response from daemon: container {cid} is not running\n"), args
        r = bbd.docker("unpause", "nr1")
        assert (r.returncode, r.stderr) == (1, f"Error response from daemon: Container {cid} is not paused\n")
    finally:
        bbd.docker("rm", "-f", "nr1")


def test_update_response_as_docker(bbd: Daemon) -> None:
    """POST /containers/{id}/update answers {"Warnings": null} when nothing was discarded, as dockerd."""
    import docker

    bbd.docker("create", "--name", "ux5", "busybox", "true")
    api = docker.APIClient(base_url=bbd.host)
    try:
        assert api.update_container("ux5", mem_limit="20m", memswap_limit=-1) == {"Warnings": None}
    finally:
        api.close()
        bbd.docker("rm", "-f", "ux5")


def test_restarting_container_as_docker(bbd: Daemon) -> None:
    """Between restarts: rm names the state, exec/pause/top get moby's errContainerIsRestarting, and a
    kill calls the restarts off (exit 0), leaving the container exited."""
    cid = bbd.docker("run", "-d", "--name", "rsx", "--restart", "always", "busybox", "sh", "-c", "exit 1").stdout.strip()
    try:
        deadline = time.monotonic() + 20
        while True:
            d = json.loads(bbd.docker("inspect", "rsx").stdout)[0]
            if d["State"]["Status"] == "restarting" and d["RestartCount"] >= 4:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # the backoff has grown to 1.6 s by the fourth restart: the next steps see it restarting
        r = bbd.docker("rm", "rsx")
        assert (r.returncode, r.stderr) == (1, 'Error response from daemon: cannot remove container "/rsx": container '
                                               "is restarting: stop the container before removing or force remove\n")
        want = f"Error response from daemon: Container {cid} is restarting, wait until the container is running\n"
        for args in (["exec", "rsx", "true"], ["pause", "rsx"]):
            r = bbd.docker(*args)
            assert (r.returncode, r.stderr) == (1, want), args
        assert bbd.docker("kill", "rsx").stdout == "rsx\n"
        time.sleep(1)
        assert _state(bbd, "rsx")["Status"] == "exited"
    finally:
        bbd.docker("rm", "-f", "rsx")


def test_update_pids_and_cpu_conflicts_as_docker(bbd: Daemon) -> None:
    """update --pids-limit 0 or -1 lifts the limit (stored as 0, as moby's router does); CPU quota/period
    cannot be changed once --cpus is set (and the reverse): moby's conflicting update options."""
    cid = bbd.docker("run", "-d", "--name", "ux6", "--pids-limit", "50", "--cpus", "0.5", "busybox",
                     "sleep", "100").stdout.strip()
    try:
        import docker

        api = docker.APIClient(base_url=bbd.host)
        try:
            for lift in (lambda: bbd.docker("update", "--pids-limit", "-1", "ux6"),  # the CLI does not send 0
                         lambda: api._post_json(api._url("/containers/{0}/update", "ux6"), data={"PidsLimit": 0})):
                assert bbd.docker("update", "--pids-limit", "20", "ux6").returncode == 0
                lift()
                assert bbd.docker("inspect", "-f", "{{json .HostConfig.PidsLimit}}", "ux6").stdout == "0\n"
                assert bbd.docker("exec", "ux6", "cat", "/sys/fs/cgroup/pids/pids.max").stdout.strip() in ("max", "")
        finally:
            api.close()
        r = bbd.docker("update", "--cpu-quota", "50000", "ux6")
        assert (r.returncode, r.stderr) == (1, f"Error response from daemon: Cannot update container {cid}: "
                                               "Conflicting options: CPU Quota cannot be updated as NanoCPUs has "
                                               "already been set\n")
    finally:
        bbd.docker("rm", "-f", "ux6")
