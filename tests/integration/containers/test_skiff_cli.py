"""The skiff CLI's container commands against skiffd: output, columns, exit codes like docker's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def test_run_exit_codes(bbd: Daemon) -> None:
    r = bbd.skiff("run", "--rm", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    assert bbd.skiff("run", "--rm", "busybox", "sh", "-c", "exit 3").returncode == 3
    r = bbd.skiff("run", "--rm", "busybox", "nosuchcmd")
    assert r.returncode == 127 and "executable file not found" in r.stderr
    assert bbd.skiff("run", "--rm", "--bogus", "busybox").returncode == 125
    r = bbd.skiff("run", "--rm", "-i", "busybox", "cat", input="in\n")
    assert r.stdout == "in\n"


def test_ps_inspect_logs_exec(bbd: Daemon) -> None:
    cid = bbd.skiff("run", "-d", "--name", "sk1", "-l", "k=v", "busybox", "sh", "-c", "echo hello; sleep 100").stdout.strip()
    assert len(cid) == 64
    ps = bbd.skiff("ps").stdout.splitlines()
    assert ps[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert any(line.startswith(cid[:12]) and line.endswith("sk1") for line in ps[1:])
    assert bbd.skiff("ps", "-q", "--filter", "label=k=v").stdout.split() == [cid[:12]]
    assert bbd.skiff("ps", "--format", "{{.Names}} {{.State}}").stdout.split() == ["sk1", "running"]
    assert json.loads(bbd.skiff("inspect", "sk1").stdout)[0]["Id"] == cid
    assert bbd.skiff("logs", "sk1").stdout == "hello\n"
    assert bbd.skiff("exec", "-e", "A=b", "sk1", "sh", "-c", "echo $A").stdout == "b\n"
    assert bbd.skiff("exec", "sk1", "sh", "-c", "exit 6").returncode == 6
    top = bbd.skiff("top", "sk1").stdout
    assert "sleep 100" in top
    stats = bbd.skiff("stats", "--no-stream", "sk1").stdout.splitlines()
    assert stats[0].split()[:3] == ["CONTAINER", "ID", "NAME"] and "sk1" in stats[1]
    assert bbd.skiff("stop", "-t", "1", "sk1").stdout.strip() == "sk1"
    assert bbd.skiff("wait", "sk1").stdout.strip() == "137"
    assert bbd.skiff("rm", "sk1").returncode == 0
    r = bbd.skiff("rm", "sk1")
    assert r.returncode == 1 and "No such container: sk1" in r.stderr


def test_tty_run(bbd: Daemon) -> None:
    skiff = f"{sys.executable} -m skiff.cli.main"
    r = subprocess.run(["script", "-qec", f"stty rows 25 cols 90; {skiff} run -it --rm busybox sh -c 'stty size; exit 5'",
                        "/dev/null"], env=bbd.env, capture_output=True, timeout=30)
    assert r.returncode == 5 and b"25 90" in r.stdout


def test_cp_diff_commit_lifecycle(bbd: Daemon, tmp_path: Path) -> None:
    bbd.skiff("run", "-d", "--name", "sk2", "busybox", "sh", "-c", "echo x > /tmp/x; sleep 100")
    bbd.skiff("exec", "sk2", "true")
    assert bbd.skiff("cp", "sk2:/tmp/x", str(tmp_path / "x")).returncode == 0
    assert (tmp_path / "x").read_text() == "x\n"
    (tmp_path / "in").write_text("in\n")
    assert bbd.skiff("cp", str(tmp_path / "in"), "sk2:/tmp/").returncode == 0
    assert bbd.skiff("exec", "sk2", "cat", "/tmp/in").stdout == "in\n"
    assert "A /tmp/x" in bbd.skiff("diff", "sk2").stdout.splitlines()
    assert bbd.skiff("commit", "sk2", "skc:1").stdout.startswith("sha256:")
    assert bbd.skiff("pause", "sk2").returncode == 0
    assert "(Paused)" in bbd.skiff("ps", "--format", "{{.Status}}", "--filter", "name=sk2").stdout
    assert bbd.skiff("unpause", "sk2").returncode == 0
    assert bbd.skiff("rename", "sk2", "sk3").returncode == 0
    assert bbd.skiff("restart", "-t", "0", "sk3").returncode == 0
    assert bbd.skiff("kill", "sk3").returncode == 0
    assert bbd.skiff("container", "rm", "sk3").returncode == 0
    bbd.skiff("create", "--name", "sk4", "busybox", "echo", "created")
    assert bbd.skiff("start", "-a", "sk4").stdout == "created\n"
    assert "Total reclaimed space" in bbd.skiff("container", "prune", "-f").stdout
