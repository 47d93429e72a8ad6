"""`skiff X --help`, bare nouns, unknown commands and argument-count errors print docker CLI v28's
text (cobra's usage template, pflag's wrapped flag list), with `skiff` where docker says `docker`."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.daemon import DOCKER_CLI, Daemon

_ENV: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _daemon_env(bbd: Daemon) -> Iterator[None]:
    """docker hides flags its daemon's API version lacks (volume prune -a, images --tree) when no daemon
    answers: both CLIs talk to the same skiffd."""
    _ENV.update(bbd.env)
    yield
    _ENV.clear()


def _run(cli: list[str], args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli, *args], env=_ENV, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def _as_skiff(text: str) -> str:
    return re.sub(r"\bdocker ([a-z\[])", r"skiff \1", text).replace("Run 'docker ", "Run 'skiff ") \
        .replace("docker: ", "skiff: ")


def _same(*args: str) -> None:
    s = _run([sys.executable, "-m", "skiff.cli.main"], args)
    d = _run([DOCKER_CLI], args)
    assert (s.stdout, s.stderr, s.returncode) == (_as_skiff(d.stdout), _as_skiff(d.stderr), d.returncode), args


@pytest.mark.parametrize("cmd", [
    "ps", "container ls", "logs", "stop", "restart", "exec", "inspect", "version", "info", "events", "images",
    "image ls", "stats", "rm", "start", "top", "port", "kill", "export", "update", "wait", "rename", "cp",
    "commit", "attach", "pull", "diff", "pause", "run", "create", "volume ls", "volume create", "volume inspect", "volume rm",
    "volume prune", "system prune", "container inspect", "image history", "image inspect", "image push", "image load",
    "image save", "image rm", "network create", "network connect", "network ls", "network inspect",
])
def test_help(cmd: str) -> None:
    _same(*cmd.split(), "--help")


@pytest.mark.parametrize("noun", ["container", "volume", "image"])
def test_noun_help(noun: str) -> None:
    _same(noun, "--help")
    _same(noun)                 # on stderr, exit 0
    _same(noun, "frob")         # unknown command


@pytest.mark.parametrize("args", [
    ("cp", "a"), ("commit",), ("commit", "a", "b", "c"), ("port",), ("volume", "create", "a", "b"),
    ("rename", "a"), ("version", "x"), ("ps", "x"), ("logs",), ("exec", "c"), ("top",), ("wait",),
    ("ps", "--nope"), ("run", "--nope", "busybox"), ("create", "--nope", "busybox"), ("run",), ("volume", "ls", "--nope"),
    ("nosuchcmd",), ("logs", "--tail"),
])
def test_usage_errors(args: tuple[str, ...]) -> None:
    _same(*args)


@pytest.mark.parametrize("args", [("-H",), ("--host",), ("ps", "-n"), ("ps", "--last"), ("logs", "-n"), ("--nope", "ps")])
def test_flag_errors(args: tuple[str, ...]) -> None:
    _same(*args)


@pytest.mark.parametrize("args", [("-H", "bogus://x", "ps"), ("--context", "nosuch-skiff-ctx", "ps")])
def test_failed_to_initialize(args: tuple[str, ...]) -> None:
    """docker's endpoint errors name docker (its endpoint, ~/.docker): skiff prints them verbatim."""
    s = _run([sys.executable, "-m", "skiff.cli.main"], args)
    d = _run([DOCKER_CLI], args)
    assert (s.stdout, s.stderr, s.returncode) == (d.stdout, d.stderr, d.returncode)
    assert s.stderr.startswith("Failed to initialize: unable to resolve docker endpoint: ")


@pytest.mark.parametrize("args", [("ps", "-n", "abc"), ("stop", "-t", "x", "c"), ("ps", "--size=maybe"),
                                  ("run", "--cpu-shares", "x", "busybox"), ("run", "--rm=maybe", "busybox")])
def test_flag_value_errors(args: tuple[str, ...]) -> None:
    _same(*args)


def test_bool_flag_values(bbd: Daemon) -> None:
    """pflag's --flag=false/true for booleans; after the image, flags belong to the container's command."""
    for args in (("ps", "--all=false", "-q"), ("ps", "-a=true", "-q"), ("run", "--rm=true", "busybox", "echo", "--rm=false")):
        s, d = bbd.skiff(*args), bbd.docker(*args)
        assert (s.stdout, s.stderr, s.returncode) == (d.stdout, d.stderr, d.returncode), args
