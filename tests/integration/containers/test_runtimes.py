"""``--runtime``: Skiff's own by default, runc and crun as external runtimes, through the docker CLI.

On this hybrid cgroup host crun refuses to run by itself ("cgroups in hybrid mode not supported");
through skiffd it works (engine/containers/runtimes.py runs it without the cgroup2 mount)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def test_default_runtime_is_skiffs(bbd: Daemon) -> None:
    info = json.loads(bbd.docker("info", "--format", "{{json .}}").stdout)
    assert info["DefaultRuntime"] == "skiff"
    assert {"skiff", "runc", "crun"} <= set(info["Runtimes"])
    cid = bbd.docker("create", "busybox", "true").stdout.strip()
    assert bbd.docker("inspect", "-f", "{{.HostConfig.Runtime}}", cid).stdout.strip() == "skiff"
    bbd.docker("rm", cid)


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_external_runtime_lifecycle(bbd: Daemon, runtime: str) -> None:
    if shutil.which(runtime) is None:
        pytest.skip(f"{runtime} not installed")
    r = bbd.docker("run", "--rm", "--runtime", runtime, "--network", "none", "busybox", "sh", "-c", "echo hi; exit 3")
    assert (r.returncode, r.stdout) == (3, "hi\n"), r.stderr
    name = f"rt-{runtime}"
    r = bbd.docker("run", "-d", "--name", name, "--runtime", runtime, "--network", "none", "--memory", "64m",
                   "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    try:
        r = bbd.docker("exec", name, "sh", "-c", "echo in; exit 4")
        assert (r.returncode, r.stdout) == (4, "in\n"), r.stderr
        assert bbd.docker("pause", name).returncode == 0
        assert bbd.docker("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "paused"
        assert bbd.docker("unpause", name).returncode == 0
        assert bbd.docker("update", "--memory", "96m", name).returncode == 0
        usage = bbd.docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name).stdout
        assert usage.strip().endswith("/ 96MiB"), usage
        assert "sleep 300" in bbd.docker("top", name).stdout
        assert bbd.docker("stop", "-t", "1", name).returncode == 0
        st = json.loads(bbd.docker("inspect", name).stdout)[0]
        assert (st["State"]["ExitCode"], st["HostConfig"]["Runtime"]) == (137, runtime)
    finally:
        bbd.docker("rm", "-f", name)
    state_root = Path(str(bbd.exec_root)) / "runtime" / runtime
    leftovers = [p.name for p in state_root.iterdir()] if state_root.is_dir() else []
    assert leftovers == []


def test_unknown_runtime_is_refused(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "--runtime", "nosuch", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.startswith("docker: Error response from daemon: unknown or invalid runtime name: nosuch")
    assert bbd.docker("ps", "-aq").stdout.strip() == ""
