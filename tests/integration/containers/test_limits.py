"""Limits and security options: --memory OOM kill, --pids-limit, --cpus, --read-only, --init, networks."""

from __future__ import annotations

import json

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def test_memory_oom_killed(bbd: Daemon) -> None:
    r = bbd.docker("run", "--name", "oomer", "-m", "16m", "--memory-swap", "16m", "busybox", "sh", "-c",
                   "x=a; while true; do x=$x$x; done")
    assert r.returncode == 137
    st = json.loads(bbd.docker("inspect", "oomer").stdout)[0]["State"]
    assert st["OOMKilled"] is True and st["ExitCode"] == 137


def test_pids_limit(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "--pids-limit", "8", "busybox", "sh", "-c",
                   "for i in $(seq 20); do sleep 1 & done; wait")
    assert "can't fork" in r.stderr


def test_cpus_quota(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "--cpus", "0.5", "busybox", "sh", "-c",
                   "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max")
    assert r.stdout.strip() == "50000"


def test_read_only_rootfs(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "--read-only", "busybox", "touch", "/x")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    assert bbd.docker("run", "--rm", "--read-only", "--tmpfs", "/run", "busybox", "touch", "/run/x").returncode == 0


def test_init_is_pid1(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "--init", "busybox", "ps", "-o", "pid,args")
    assert "1 /sbin/docker-init -- ps" in r.stdout


def test_network_modes(bbd: Daemon) -> None:
    import socket
    assert bbd.docker("run", "--rm", "--network", "host", "busybox", "hostname").stdout.strip() == socket.gethostname()
    r = bbd.docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "addr")
    assert "127.0.0.1/8" in r.stdout
    hosts = bbd.docker("run", "--rm", "--network", "none", "busybox", "cat", "/etc/hosts").stdout
    assert "localhost" in hosts


def test_published_port_in_ps_and_port(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "pub", "-p", "127.0.0.1::80", "busybox", "httpd", "-f", "-p", "80")
    try:
        port = bbd.docker("port", "pub", "80").stdout.strip()
        assert port.startswith("127.0.0.1:")
        host_port = port.rsplit(":", 1)[1]
        ps = bbd.docker("ps", "--filter", f"publish={host_port}/tcp", "--format", "{{.Names}} {{.Ports}}").stdout
        assert ps.strip() == f"pub {port}->80/tcp"
        # moby: publish= is the host port, expose= the container's
        assert bbd.docker("ps", "-q", "--filter", "publish=80/tcp").stdout.strip() == ""
        assert bbd.docker("ps", "--filter", "expose=80/tcp", "--format", "{{.Names}}").stdout.strip() == "pub"
    finally:
        bbd.docker("rm", "-f", "pub")
