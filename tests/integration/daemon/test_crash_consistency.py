"""kill -9 of skiffd in the middle of a burst of API calls loses nothing it acknowledged and leaves
nothing half made: every container, volume and name it answered for is there after the restart,
and removing them all leaves no snapshot, container directory or volume behind."""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon
from tests.support.images import busybox_daemon

pytestmark = pytest.mark.root


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.unix_path)


def _call(d: Daemon, method: str, url: str, body: object = None) -> tuple[int, bytes]:
    conn = _Unix(str(d.socket))
    try:
        conn.request(method, url, json.dumps(body) if body is not None else None,
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture
def crashy(tmp_path: Path) -> Iterator[Daemon]:
    with busybox_daemon(tmp_path) as d:
        yield d


def _burst(d: Daemon, acked: dict[str, list[str]], stop: threading.Event) -> None:
    """Create containers (named), volumes and remove every third container, recording what the
    daemon answered with success; stops at the first connection error (the daemon is gone)."""
    i = 0
    while not stop.is_set():
        i += 1
        try:
            st, data = _call(d, "POST", f"/v1.41/containers/create?name=burst{i}",
                             {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}})
            if st == 201:
                acked["containers"].append(json.loads(data)["Id"])
            st, _ = _call(d, "POST", "/v1.41/volumes/create", {"Name": f"burstvol{i}"})
            if st == 201:
                acked["volumes"].append(f"burstvol{i}")
            if i % 3 == 0 and acked["containers"]:
                victim = acked["containers"].pop()
                acked["in_flight"].append(victim)  # a delete cut short by the kill may or may not be done
                st, _ = _call(d, "DELETE", f"/v1.41/containers/{victim}")
                acked["in_flight"].remove(victim)
                (acked["removed"] if st == 204 else acked["containers"]).append(victim)
        except (OSError, http.client.HTTPException):
            return


@pytest.mark.parametrize("delay", [0.4, 0.9])
def test_kill9_mid_burst_loses_nothing_acknowledged(crashy: Daemon, delay: float) -> None:
    acked: dict[str, list[str]] = {"containers": [], "volumes": [], "removed": [], "in_flight": []}
    stop = threading.Event()
    t = threading.Thread(target=_burst, args=(crashy, acked, stop))
    t.start()
    time.sleep(delay)
    crashy.kill()
    stop.set()
    t.join(15)
    assert acked["containers"], "the burst made nothing before the kill"
    print(f"acknowledged before the kill: {len(acked['containers'])} containers, {len(acked['volumes'])} volumes, "
          f"{len(acked['removed'])} removals")
    crashy.start()
    listed = {c["Id"]: c for c in json.loads(_call(crashy, "GET", "/v1.41/containers/json?all=1")[1])}
    assert set(acked["containers"]) <= set(listed)
    assert not set(acked["removed"]) & set(listed)
    vols = {v["Name"] for v in json.loads(_call(crashy, "GET", "/v1.41/volumes")[1])["Volumes"] or []}
    assert set(acked["volumes"]) <= vols
    # a container caught half made is either complete or gone: every listed one starts and runs
    for cid in listed:
        st, _ = _call(crashy, "POST", f"/v1.41/containers/{cid}/start")
        assert st == 204, (cid, st)
        st, data = _call(crashy, "POST", f"/v1.41/containers/{cid}/wait")
        assert st == 200 and json.loads(data)["StatusCode"] == 0
    # and everything goes away without leftovers
    for cid in listed:
        assert _call(crashy, "DELETE", f"/v1.41/containers/{cid}")[0] == 204
    for v in vols:
        assert _call(crashy, "DELETE", f"/v1.41/volumes/{v}")[0] == 204
    data_root = Path(crashy.data_root)
    assert os.listdir(data_root / "containers") == []
    assert sorted(os.listdir(data_root / "volumes")) in ([], ["metadata.db"])
    snaps = [s for kind in ("overlay2", "vfs") if (data_root / kind / "snapshots").is_dir()
             for s in (data_root / kind / "snapshots").iterdir()]
    st, data = _call(crashy, "GET", "/v1.41/images/json")
    layers = sum(len(json.loads(_call(crashy, "GET", f"/v1.41/images/{img['Id']}/json")[1])["RootFS"]["Layers"])
                 for img in json.loads(data))
    # what is left is the images' layers and their shared init layers, no container snapshot
    assert len(snaps) <= 2 * layers, [s.name for s in snaps]
