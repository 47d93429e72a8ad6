"""Prune and volume commands change the daemon, so each CLI gets the same fresh state in turn:
skiff's and docker CLI v28's output and exit status must match (IDs masked)."""

from __future__ import annotations

import re
import subprocess

from tests.support.daemon import Daemon

_ID = re.compile(r"\b[0-9a-f]{64}\b")


def _setup(d: Daemon) -> None:
    d.docker("create", "--name", "pr1", "-v", "/x", "busybox")
    d.docker("create", "--name", "pr2", "busybox")
    d.docker("volume", "create", "pv")
    d.docker("volume", "create", "--label", "keep=1", "pv2")


def _steps(run: object) -> list[tuple[str, str, int]]:
    assert callable(run)
    out = []
    for args, stdin in [
        (("volume", "create", "pv3"), None), (("volume", "create", "pv3"), None), (("volume", "ls", "-q"), None),
        (("volume", "rm", "pv3", "nosuch"), None), (("volume", "prune"), "n\n"), (("container", "prune"), "n\n"),
        (("system", "prune"), "n\n"), (("image", "prune"), "n\n"), (("volume", "prune", "-f", "--filter", "label=zzz"), None),
        (("container", "prune", "-f"), None), (("volume", "prune", "-f"), None), (("volume", "prune", "-af"), None),
        (("system", "prune", "-f"), None), (("image", "prune", "-f"), None),
    ]:
        r: subprocess.CompletedProcess[str] = run(*args, input=stdin)
        out.append((_ID.sub("ID", r.stdout), _ID.sub("ID", r.stderr.replace("docker", "skiff")), r.returncode))
    return out


def test_prune_and_volumes_same_as_docker(bbd: Daemon) -> None:
    try:
        _setup(bbd)
        skiff = _steps(bbd.skiff)
        bbd.docker("rm", "-f", "pr1", "pr2")
        bbd.docker("volume", "prune", "-af")
        _setup(bbd)
        docker = _steps(bbd.docker)
        assert skiff == docker
    finally:
        bbd.docker("rm", "-f", "pr1", "pr2")
        bbd.docker("volume", "prune", "-af")
