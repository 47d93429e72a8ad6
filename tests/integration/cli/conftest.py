"""Fixtures for the skiff CLI's integration tests: a runner for `skiff` against the ``skiffd`` fixture."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from tests.support.daemon import Daemon

SKIFF = [sys.executable, "-m", "skiff.cli.main"]


@pytest.fixture
def skiff(skiffd: Daemon) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*SKIFF, *args], env={**skiffd.env, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)
    return run


@pytest.fixture(scope="module")
def bbd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A skiffd with busybox:latest shared by one module's docker-vs-skiff comparisons."""
    from tests.support.images import busybox_daemon

    with busybox_daemon(tmp_path_factory.mktemp("cli")) as d:
        yield d


def _as_skiff(text: str) -> str:
    """docker's messages name the program: `docker run` is `skiff run` in skiff's (the daemon stays docker)."""
    return re.sub(r"\bdocker\b", "skiff", text).replace("skiff daemon", "docker daemon")


@pytest.fixture
def same(bbd: Daemon) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `skiff ARGS` and `docker ARGS` against the same daemon; assert stdout, stderr (program name
    aside) and exit status are equal; return skiff's result. Tried up to three times: "2 seconds ago"
    may turn into "3 seconds ago" between the two runs."""
    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:  # noqa: A002
        for _ in range(3):
            s = bbd.skiff(*args, input=input)
            d = bbd.docker(*args, input=input)
            if (s.stdout, s.stderr, s.returncode) == (d.stdout, _as_skiff(d.stderr), d.returncode):
                break
        assert (s.stdout, s.stderr, s.returncode) == (d.stdout, _as_skiff(d.stderr), d.returncode), args
        return s
    return run
