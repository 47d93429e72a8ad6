"""The skiff CLI's own features (--output local/tar, the terminal step view, builder prune) and
the API seen by other clients (the docker SDK's images.build, network modes, POST /build/cancel)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from tests.integration.build_api.conftest import build, run_image, write
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def test_output_local_and_tar(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox AS b\nRUN mkdir /out && echo art > /out/artifact\n"
                                               "FROM scratch\nCOPY --from=b /out/ /\n"})
    dest = tmp_path / "dest"
    r = bd.skiff("build", "-o", f"type=local,dest={dest}", str(ctx))
    assert r.returncode == 0, r.stderr
    assert (dest / "artifact").read_text() == "art\n"
    tar = tmp_path / "out.tar"
    r = bd.skiff("build", "--output", f"type=tar,dest={tar}", str(ctx))
    assert r.returncode == 0, r.stderr
    with tarfile.open(tar) as tf:
        assert tf.extractfile("artifact").read() == b"art\n"  # type: ignore[union-attr]
    assert "io.skiff.build.output" not in bd.docker("ps", "-a", "--format", "{{.Labels}}").stdout


def test_terminal_step_view(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN echo visible-output && sleep 0.3\nCMD true\n"})
    skiff = [os.path.join(os.path.dirname(sys.executable), "skiff"), "build", "-t", "ttyview", str(ctx)]
    r = subprocess.run(["script", "-qec", " ".join(skiff), "/dev/null"], env={**bd.env, "COLUMNS": "160"},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[+] Building" in r.stdout
    assert "Step 2/3 : RUN echo visible-output" in r.stdout
    assert "Successfully tagged ttyview:latest" in r.stdout
    assert run_image(bd, "ttyview", "echo", "ok") == "ok\n"


def test_network_modes(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\n"
        "RUN ls /sys/class/net | sort | tr '\\n' ' ' > /ifaces\n"
        "RUN --network=none ls /sys/class/net | tr '\\n' ' ' > /ifaces-none\n"
        "CMD cat /ifaces /ifaces-none\n")})
    r = build(bd, "docker", ctx, "-t", "netmodes", "--network", "host")
    assert r.returncode == 0, r.stderr
    out = run_image(bd, "netmodes", "cat", "/ifaces-none")
    assert out.split() == ["lo"]
    seen = set(run_image(bd, "netmodes", "cat", "/ifaces").split())
    stable = {"lo", "eth0"} & set(os.listdir("/sys/class/net"))  # other tests add and remove links
    assert stable <= seen and len(seen) > 1
    r = build(bd, "docker", ctx, "-t", "netmodes-none", "--network", "none", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert run_image(bd, "netmodes-none", "cat", "/ifaces").split() == ["lo"]
    # default: Docker's bridge through the network engine (eth0 + lo, as a container gets)
    r = build(bd, "skiff", ctx, "-t", "netmodes-default", "--no-cache")
    assert r.returncode == 0, r.stderr
    assert run_image(bd, "netmodes-default", "cat", "/ifaces").split() == ["eth0", "lo"]
    # a user network by name, and an unknown one refused before anything runs
    assert bd.docker("network", "create", "skbuildnet").returncode == 0
    try:
        r = build(bd, "docker", ctx, "-t", "netmodes-user", "--network", "skbuildnet", "--no-cache")
        assert r.returncode == 0, r.stderr
        assert run_image(bd, "netmodes-user", "cat", "/ifaces").split() == ["eth0", "lo"]
    finally:
        bd.docker("network", "rm", "skbuildnet")
    r = build(bd, "docker", ctx, "-t", "netmodes-bad", "--network", "nosuchnet", "--no-cache")
    assert r.returncode == 1


def test_docker_sdk_build(bd: Daemon, tmp_path: Path) -> None:
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=bd.env["DOCKER_HOST"], version="1.44")
    try:
        ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nARG WHO\nRUN echo hi-$WHO > /w\nCMD cat /w\n"})
        image, logs = client.images.build(path=str(ctx), tag="sdk-built", buildargs={"WHO": "sdk"}, rm=True)
        lines = "".join(x.get("stream", "") for x in logs)
        assert "Successfully built" in lines
        assert client.containers.run(image.id, remove=True, network_mode="none") == b"hi-sdk\n"
        with pytest.raises(docker.errors.BuildError) as ei:
            client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 7\n"), rm=True)
        assert "returned a non-zero code: 7" in str(ei.value)
    finally:
        client.close()


def test_cancel_stops_a_running_step(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN echo started && sleep 60\n"})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(ctx / "Dockerfile", "Dockerfile")
    sock = bd.env["DOCKER_HOST"].removeprefix("unix://")
    import http.client
    import socket as socketmod

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socketmod.socket(socketmod.AF_UNIX)
            self.sock.connect(sock)

    result: dict[str, str] = {}

    def run_build() -> None:
        c = Conn("localhost", timeout=120)
        c.request("POST", "/v1.44/build?buildid=cancel-me&t=cancelled", body=buf.getvalue(),
                  headers={"Content-Type": "application/x-tar"})
        result["body"] = c.getresponse().read().decode()

    t = threading.Thread(target=run_build)
    started = time.monotonic()
    t.start()
    time.sleep(3)
    c = Conn("localhost", timeout=30)
    c.request("POST", "/v1.44/build/cancel?id=cancel-me")
    assert c.getresponse().status == 200
    t.join(60)
    assert not t.is_alive()
    assert time.monotonic() - started < 30
    assert "started" in result["body"]
    assert "errorDetail" in result["body"]
    assert "cancelled:latest" not in bd.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
