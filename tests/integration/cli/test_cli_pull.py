"""run/create/pull of an image that is not there yet, from a real registry on 127.0.0.1: skiff prints
what docker CLI v28 prints ("Unable to find image 'x:latest' locally", the progress, -q, --pull,
errors), each CLI from the same empty start."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from tests.integration.image.conftest import start_registry  # noqa: F401 - reused fixture
from tests.integration.image.registry_fixture import Registry
from tests.support.daemon import Daemon


@pytest.fixture
def pushed(bbd: Daemon, start_registry: Callable[[str], Registry]) -> str:  # noqa: F811
    reg = start_registry("")
    ref = f"{reg.host}/bb"
    assert bbd.docker("tag", "busybox", ref).returncode == 0
    r = bbd.docker("push", ref)
    assert r.returncode == 0, r.stderr
    bbd.docker("rmi", ref)
    return ref


@pytest.mark.parametrize("args", [
    ("run", "--rm", "{ref}", "echo", "hi"), ("run", "--rm", "-q", "{ref}", "echo", "hi"),
    ("run", "--rm", "--pull", "always", "{ref}", "echo", "hi"), ("run", "--rm", "--pull", "never", "{ref}"),
    ("run", "--rm", "{ref}:nope", "true"), ("pull", "{ref}"), ("pull", "-q", "{ref}"), ("pull", "{ref}:nope"),
])
def test_missing_image_same_as_docker(bbd: Daemon, pushed: str, args: tuple[str, ...]) -> None:
    argv = [a.format(ref=pushed) for a in args]
    results = []
    for cli in (bbd.skiff, bbd.docker):
        bbd.docker("rmi", pushed)
        r: subprocess.CompletedProcess[str] = cli(*argv)
        results.append((r.stdout, r.stderr.replace("docker", "skiff"), r.returncode))
    bbd.docker("rmi", pushed)
    assert results[0] == results[1]
