"""skiffd driven by the real docker CLI v28 and the Docker SDK: ping, version, info, events, df."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time

import docker
import pytest

from skiff.engine.events import EventBus
from skiff.engine.state import StateDB
from tests.support.daemon import Daemon

DOCKER = "/usr/local/bin/docker"


def _docker(d: Daemon, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOCKER, *args], env={**d.env, **(env or {})}, capture_output=True, text=True,
                          timeout=60)


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.path_ = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path_)


def _raw(d: Daemon, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    c = _Unix(str(d.socket))
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict(r.getheaders()), body


def test_docker_version(skiffd: Daemon) -> None:
    r = _docker(skiffd, "version")
    assert r.returncode == 0, r.stderr
    assert "Server: Skiff Engine" in r.stdout
    assert " Engine:\n  Version:          0.1.0\n  API version:      1.51 (minimum version 1.24)" in r.stdout
    r = _docker(skiffd, "version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}")
    assert r.stdout.strip() == "1.51 1.24 linux"


def test_docker_info(skiffd: Daemon) -> None:
    r = _docker(skiffd, "info", "--format", "{{json .}}")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["DockerRootDir"] == str(skiffd.data_root)
    assert info["CgroupDriver"] == "cgroupfs" and info["CgroupVersion"] in ("1", "2")
    assert info["LiveRestoreEnabled"] is True and info["DefaultRuntime"] == "skiff"
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    assert info["NCPU"] >= 1 and info["MemTotal"] > 0 and info["OSType"] == "linux"
    assert {"skiff", "runc", "crun"} <= set(info["Runtimes"])
    r = _docker(skiffd, "info")
    assert r.returncode == 0 and "Server Version: 0.1.0" in r.stdout and "Live Restore Enabled: true" in r.stdout


def test_ping_headers_and_versions(skiffd: Daemon) -> None:
    status, headers, body = _raw(skiffd, "GET", "/_ping")
    assert status == 200 and body == b"OK"
    assert headers["Api-Version"] == "1.51" and headers["Ostype"] == "linux"
    assert headers["Server"].startswith("Skiff/") and headers["Swarm"] == "inactive"
    assert headers["Cache-Control"] == "no-cache, no-store, must-revalidate" and headers["Pragma"] == "no-cache"
    status, headers, body = _raw(skiffd, "HEAD", "/_ping")
    assert status == 200 and headers["Content-Length"] == "0" and headers["Api-Version"] == "1.51"
    status, _, body = _raw(skiffd, "GET", "/v1.99/info")
    assert status == 400
    assert json.loads(body) == {"message": "client version 1.99 is too new. Maximum supported API version is 1.51"}
    status, _, body = _raw(skiffd, "GET", "/v1.23/version")
    assert status == 400 and b"is too old. Minimum supported API version is 1.24" in body
    assert _raw(skiffd, "GET", "/v1.24/version")[0] == 200
    status, _, body = _raw(skiffd, "GET", "/v1.51/no/such/endpoint")
    assert status == 404 and json.loads(body) == {"message": "page not found"}
    status, _, body = _raw(skiffd, "GET", "/swarm")
    assert status == 503 and b"This node is not a swarm manager" in body
    assert _raw(skiffd, "GET", "/plugins")[2].strip() == b"[]"


def test_docker_cli_out_of_range_version(skiffd: Daemon) -> None:
    r = _docker(skiffd, "version", env={"DOCKER_API_VERSION": "1.99"})
    assert r.returncode == 1
    assert "Error response from daemon: client version 1.99 is too new. Maximum supported API version is 1.51" \
        in r.stderr
    r = _docker(skiffd, "version", "--format", "{{.Server.Version}}", env={"DOCKER_API_VERSION": "1.40"})
    assert r.returncode == 0 and r.stdout.strip() == "0.1.0"


def test_docker_sdk(skiffd: Daemon) -> None:
    c = docker.DockerClient(base_url=skiffd.host, version="auto")
    try:
        assert c.ping() is True
        v = c.version()
        assert v["ApiVersion"] == "1.51" and v["MinAPIVersion"] == "1.24" and v["Os"] == "linux"
        assert c.info()["DockerRootDir"] == str(skiffd.data_root)
        assert c.api.df()["LayersSize"] == 0
    finally:
        c.close()


def _publish(d: Daemon, *events: tuple[str, str, str, dict[str, str]]) -> list[int]:
    """Append events to the daemon's store as a service would (the bus persists to the DB)."""
    db = StateDB.open(d.data_root)
    bus = EventBus(db)
    out = [bus.publish(t, a, i, attrs).time_nano for t, a, i, attrs in events]
    db.close()
    return out


def test_docker_events_since_until_filters(skiffd: Daemon) -> None:
    t0 = time.time() - 1
    _publish(skiffd, ("container", "create", "c" * 64, {"name": "web", "image": "busybox"}),
             ("container", "start", "c" * 64, {"name": "web", "image": "busybox"}),
             ("volume", "create", "vol1", {"driver": "local"}))
    until = f"{time.time() + 0.5:.3f}"
    r = _docker(skiffd, "events", "--since", f"{t0:.3f}", "--until", until)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].endswith(f"container create {'c' * 64} (image=busybox, name=web)")
    assert " volume create vol1 (driver=local)" in lines[2]
    r = _docker(skiffd, "events", "--since", f"{t0:.3f}", "--until", until, "--filter", "type=container",
                "--filter", "event=start", "--format", "{{json .}}")
    docs = [json.loads(x) for x in r.stdout.splitlines()]
    assert [(e["Type"], e["Action"], e["status"], e["from"]) for e in docs] == [
        ("container", "start", "start", "busybox")]
    r = _docker(skiffd, "events", "--since", f"{t0:.3f}", "--until", until, "--filter", "container=web",
                "--format", "{{.Actor.Attributes.name}} {{.Action}}")
    assert r.stdout.splitlines() == ["web create", "web start"]
    # moby's getEvents does not check filter names: an unknown one is ignored (dockerd 20.10 and v28)
    everything = _docker(skiffd, "events", "--since", f"{t0:.3f}", "--until", until)
    r = _docker(skiffd, "events", "--since", f"{t0:.3f}", "--until", until, "--filter", "bogus=1")
    assert r.returncode == 0 and r.stdout == everything.stdout and len(r.stdout.splitlines()) >= 3


def test_sdk_events_stream_stays_open_until(skiffd: Daemon) -> None:
    c = docker.APIClient(base_url=skiffd.host, version="auto")
    try:
        start = time.time() - 1
        _publish(skiffd, ("network", "create", "n1", {"name": "net1", "type": "bridge"}),
                 ("volume", "create", "v1", {"driver": "local"}))
        until = time.time() + 1.5
        got = list(c.events(since=start, until=until, decode=True, filters={"type": ["network"]}))
        assert time.time() >= until - 0.2  # the stream stayed open until `until`, then ended
        assert [(e["Type"], e["Action"], e["Actor"]["Attributes"]["name"]) for e in got] == [
            ("network", "create", "net1")]
    finally:
        c.close()


def test_events_survive_restart(skiffd: Daemon) -> None:
    t0 = time.time() - 1
    _publish(skiffd, ("image", "pull", "busybox:latest", {"name": "busybox:latest"}))
    engine_id = json.loads(_raw(skiffd, "GET", "/info")[2])["ID"]
    skiffd.restart(kill=True)
    assert json.loads(_raw(skiffd, "GET", "/info")[2])["ID"] == engine_id
    r = _docker(skiffd, "events", "--since", f"{t0:.3f}", "--until", f"{time.time():.3f}",
                "--filter", "image=busybox")
    assert "image pull busybox:latest (name=busybox:latest)" in r.stdout


@pytest.mark.parametrize("cmd", [["system", "df"], ["plugin", "ls"]])
def test_docker_misc(skiffd: Daemon, cmd: list[str]) -> None:
    r = _docker(skiffd, *cmd)
    assert r.returncode == 0, r.stderr


def test_sighup_reload_event_live(skiffd: Daemon) -> None:
    """A live `docker events` sees the daemon's own reload event (SIGHUP, as dockerd)."""
    import os
    import signal

    watcher = subprocess.Popen([DOCKER, "events", "--filter", "type=daemon", "--format",
                                "{{.Type}} {{.Action}} {{index .Actor.Attributes \"live-restore\"}}"],
                               env=skiffd.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        os.kill(skiffd.pid, signal.SIGHUP)
        assert watcher.stdout is not None
        line = watcher.stdout.readline()
        assert line == "daemon reload true\n"
    finally:
        watcher.kill()
        watcher.wait()
    info = json.loads(_raw(skiffd, "GET", "/info")[2])
    r = _docker(skiffd, "events", "--since", "1m", "--until", f"{time.time() + 0.2:.3f}", "--format",
                "{{.Actor.ID}}")
    assert r.stdout.strip() == info["ID"]


def test_support_helpers(skiffd: Daemon) -> None:
    assert skiffd.docker("version", "--format", "{{.Server.Version}}").stdout == "0.1.0\n"
    assert skiffd.skiff("version", "--format", "{{.Server.Version}}").stdout == "0.1.0\n"


def test_system_prune_label_filter_and_events_window_as_docker(skiffd: Daemon) -> None:
    """docker system prune --filter label=... reaches the build cache prune, which accepts label as
    moby's does; events with since after until get moby's text."""
    r = _docker(skiffd, "system", "prune", "-f", "--filter", "label=nomatch=1")
    assert (r.returncode, r.stdout, r.stderr) == (0, "Total reclaimed space: 0B\n", "")
    r = _docker(skiffd, "events", "--since", "200", "--until", "100")
    assert (r.returncode, r.stderr) == (
        1, "Error response from daemon: `since` time (200) cannot be after `until` time (100)\n")
