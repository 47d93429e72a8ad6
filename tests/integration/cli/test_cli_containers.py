"""skiff's container commands print what docker CLI v28 prints against the same skiffd: run/create
errors (withHelp texts, 125/126/127), exec, start/rename/update errors, top with ps options, port,
logs, wait, stats, and the lifecycle verbs (each CLI on its own twin container)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.support.daemon import Daemon

Same = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def ctrs(bbd: Daemon) -> Iterator[Daemon]:
    assert bbd.docker("run", "-d", "--name", "web", "-p", "127.0.0.1::80", "busybox", "sleep", "1000").returncode == 0
    bbd.docker("create", "--name", "idle", "busybox", "echo", "hi")
    bbd.docker("run", "--name", "ex3", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    yield bbd
    bbd.docker("rm", "-f", "web", "idle", "ex3")


@pytest.mark.parametrize("args", [
    ("run", "--rm", "busybox", "sh", "-c", "echo hi; exit 7"),
    ("run", "--rm", "busybox", "nosuchcmd"),          # 127, with docker's "Error waiting for container" log line
    ("run", "--rm", "busybox", "/etc"),                # 126
    ("run", "--rm", "--name", "web", "busybox", "true"),  # daemon error: 125 with withHelp
    ("create", "--name", "web", "busybox"),            # the same error from create: plain, exit 1
    ("run", "--rm", "-p", "abc", "busybox", "true"), ("run", "--rm", "-p", "x:80", "busybox", "true"),
    ("run", "--rm", "--memory", "foo", "busybox", "true"), ("create", "--memory", "foo", "busybox"),
    ("run", "--rm", "--restart", "always", "busybox", "true"),
    ("run", "--rm", "--nope", "busybox"), ("run",), ("create",), ("create", "--nope", "busybox"),
    ("exec", "web", "echo", "hi"), ("exec", "web", "sh", "-c", "exit 4"), ("exec", "web", "nosuchcmd"),
    ("exec", "nosuch", "echo"), ("exec", "idle", "echo"), ("exec", "web"), ("exec",),
    ("start", "nosuch"), ("start", "idle", "nosuch"), ("rename", "nosuch", "x"), ("rename", "idle", "web"),
    ("update", "nosuch"), ("update", "--memory", "64m", "nosuch"),
    ("top", "web"), ("top", "web", "-o", "pid,comm"), ("port", "web", "80"), ("port", "web", "81"), ("port", "ex3"),
    ("logs", "ex3"), ("logs", "--tail", "1", "ex3"), ("logs", "nosuch"), ("wait", "ex3"), ("wait", "nosuch"),
    ("diff", "idle"), ("kill", "ex3"), ("pause", "ex3"), ("stop", "nosuch"), ("rm", "nosuch"),
    ("stats", "--no-stream", "--format", "{{.Name}} {{.ID}} {{.PIDs}}", "web"), ("stats", "--no-stream", "nosuch"),
])
def test_same_as_docker(ctrs: Daemon, same: Same, args: tuple[str, ...]) -> None:
    same(*args)


def test_stats_columns(ctrs: Daemon, same: Same) -> None:
    r = ctrs.skiff("stats", "--no-stream", "web")
    d = ctrs.docker("stats", "--no-stream", "web")
    assert r.stdout.splitlines()[0] == d.stdout.splitlines()[0]


@pytest.mark.parametrize("verbs", [
    [("stop",), ("start",), ("restart", "-t", "1"), ("pause",), ("unpause",), ("kill",), ("rm",)],
    [("kill", "-s", "KILL"), ("wait",), ("rm", "-v")],
])
def test_lifecycle_twins(ctrs: Daemon, verbs: list[tuple[str, ...]]) -> None:
    for name in ("tw-skiff", "tw-docker"):
        assert ctrs.docker("run", "-d", "--name", name, "busybox", "sleep", "1000").returncode == 0
    try:
        for verb in verbs:
            s = ctrs.skiff(*verb, "tw-skiff")
            d = ctrs.docker(*verb, "tw-docker")
            assert (s.stdout.replace("tw-skiff", "N"), s.stderr.replace("tw-skiff", "N"), s.returncode) == \
                (d.stdout.replace("tw-docker", "N"), d.stderr.replace("tw-docker", "N"), d.returncode), verb
    finally:
        ctrs.docker("rm", "-f", "tw-skiff", "tw-docker")


@pytest.mark.parametrize("flags", [
    (),
    ("--cap-add", "NET_admin", "--cap-drop", "chown", "-e", "X=1", "-l", "k=v", "--pids-limit", "50",
     "--oom-kill-disable", "--memory-swappiness", "5", "--annotation", "a=b", "--cgroupns", "host"),
    ("-it", "-p", "127.0.0.1::80", "--restart", "on-failure:3", "-m", "64m", "--cpus", "0.5", "--ulimit",
     "nofile=100:200", "--tmpfs", "/t:size=1m", "--health-cmd", "true", "--health-interval", "5s", "--stop-signal",
     "SIGINT", "--stop-timeout", "3", "--dns", "1.1.1.1", "--add-host", "a:1.2.3.4", "--read-only", "--init",
     "--user", "1:1", "-w", "/tmp", "--entrypoint", "sh", "--blkio-weight-device", "/dev/null:200",
     "--device-read-iops", "/dev/null:100", "--mount", "type=volume,src=cmv,dst=/mv", "--network", "none"),
])
def test_create_body_as_docker(ctrs: Daemon, flags: tuple[str, ...]) -> None:
    """The same flags make the same container: skiff builds docker's create request."""
    try:
        assert ctrs.skiff("create", "--name", "cb-s", *flags, "busybox").returncode == 0
        assert ctrs.docker("create", "--name", "cb-d", *flags, "busybox").returncode == 0
        for field in ("HostConfig", "Config", "Mounts"):
            fmt = f"{{{{json .{field}}}}}"
            s = ctrs.docker("inspect", "-f", fmt, "cb-s").stdout.replace('"Hostname":"', "")
            d = ctrs.docker("inspect", "-f", fmt, "cb-d").stdout.replace('"Hostname":"', "")
            s_id, d_id = (ctrs.docker("inspect", "-f", "{{.Id}}", n).stdout.strip()[:12] for n in ("cb-s", "cb-d"))
            assert s.replace(s_id, "ID") == d.replace(d_id, "ID"), field
    finally:
        ctrs.docker("rm", "-v", "cb-s", "cb-d")
        ctrs.docker("volume", "rm", "cmv")


def test_stats_stream_frames(ctrs: Daemon) -> None:
    """Streaming stats redraw as docker does (cursor home, lines ending in ESC[K, ESC[J), frame for frame."""
    import sys
    import time

    from tests.support.daemon import DOCKER_CLI

    frames = []
    for argv in ([sys.executable, "-m", "skiff.cli.main"], [DOCKER_CLI]):
        p = subprocess.Popen([*argv, "stats", "--format", "{{.Name}} {{.PIDs}}", "web"], env=ctrs.env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            time.sleep(4)
        finally:
            p.kill()  # the process we started (docker stats ignores SIGTERM)
            out = p.communicate(timeout=30)[0]
        frames.append(out.split(b"\x1b[J")[0])
    assert frames[0] == frames[1] and frames[0].startswith(b"\x1b[Hweb 1\n")
