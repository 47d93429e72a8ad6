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
