"""The Docker SDK for Python (7.2) against skiffd: run/create/start/logs/exec_run/wait/remove/stats."""

from __future__ import annotations

import docker
import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def test_run_and_logs(client: docker.DockerClient) -> None:
    assert client.containers.run("busybox", ["echo", "from-sdk"], remove=True) == b"from-sdk\n"
    with pytest.raises(docker.errors.ContainerError) as ei:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 2"], remove=True)
    assert ei.value.exit_status == 2


def test_create_start_wait_exec(client: docker.DockerClient) -> None:
    ct = client.containers.create("busybox", ["sleep", "60"], name="sdk1", labels={"a": "b"})
    ct.start()
    ct.reload()
    assert ct.status == "running" and ct.labels == {"a": "b"}
    res = ct.exec_run(["sh", "-c", "echo $X; exit 3"], environment={"X": "y"})
    assert res.exit_code == 3 and res.output == b"y\n"
    st = ct.stats(stream=False)
    assert st["name"] == "/sdk1" and "cpu_stats" in st and st["pids_stats"]["current"] >= 1
    ct.kill()
    assert ct.wait()["StatusCode"] == 137
    ct.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("sdk1")


def test_list_filters(client: docker.DockerClient) -> None:
    a = client.containers.run("busybox", ["sleep", "60"], detach=True, labels={"grp": "x"})
    try:
        assert [c.id for c in client.containers.list(filters={"label": "grp=x"})] == [a.id]
        assert client.containers.list(filters={"label": "grp=nope"}) == []
    finally:
        a.remove(force=True)


def test_logs_stream(client: docker.DockerClient) -> None:
    ct = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo l$i; sleep 0.1; done"], detach=True)
    lines = list(ct.logs(stream=True, follow=True))
    assert b"".join(lines) == b"l1\nl2\nl3\n"
    ct.remove(force=True)


def test_stats_blkio_and_df_shapes_as_docker(bbd: Daemon, client: docker.DockerClient) -> None:
    """Shapes tools iterate: on cgroup v1 every blkio_stats list is a list ([] when empty) with ops as
    the kernel names them ("Read"); system df's images carry VirtualSize before API 1.44."""
    ct = client.containers.run("busybox", ["sh", "-c", "cat /bin/busybox > /dev/null; sleep 60"], detach=True,
                               name="sdk-shapes")
    try:
        blk = ct.stats(stream=False)["blkio_stats"]
        assert len(blk) == 8
        if not __import__("os").path.exists("/sys/fs/cgroup/cgroup.controllers"):
            assert all(isinstance(v, list) for v in blk.values()), blk
            assert all(e["op"][0].isupper() for e in blk["io_service_bytes_recursive"] + blk["io_serviced_recursive"])
        old = docker.APIClient(base_url=bbd.host, version="1.41")
        try:
            assert all(img["VirtualSize"] == img["Size"] for img in old.df()["Images"])
        finally:
            old.close()
    finally:
        ct.remove(force=True)


def test_sdk_create_host_config_as_docker(client: docker.DockerClient) -> None:
    """The SDK leaves most HostConfig fields out: dockerd keeps Go's zero values for them (null for
    lists and maps, not []), and fills the daemon's defaults (restart policy "no", IPC mode, ...)."""
    ct = client.containers.create("busybox", ["true"], name="sdk-hc")
    try:
        hc = client.api.inspect_container(ct.id)["HostConfig"]
        for key in ("PortBindings", "Dns", "DnsOptions", "DnsSearch", "Devices", "Ulimits", "BlkioWeightDevice",
                    "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"):
            assert hc[key] is None, (key, hc[key])
        assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0} and hc["IpcMode"] == "private"
    finally:
        ct.remove(force=True)


def test_list_sizes_omitted_when_zero_as_docker(client: docker.DockerClient) -> None:
    """GET /containers/json?size=1: SizeRw/SizeRootFs are omitempty in moby's list (absent when 0);
    inspect's are pointers (present when asked)."""
    ct = client.containers.create("busybox", ["true"], name="sdk-size")
    try:
        (row,) = client.api.containers(all=True, size=True, filters={"name": "^sdk-size$"})
        assert "SizeRw" not in row and row["SizeRootFs"] > 0
        assert client.api.get(client.api._url("/containers/{0}/json", ct.id), params={"size": 1}).json()["SizeRw"] == 0
    finally:
        ct.remove(force=True)
