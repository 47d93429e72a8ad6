"""docker cp both ways (no escape through symlinks), export, diff, commit, container prune."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.support.daemon import DOCKER_CLI, Daemon

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def box(bbd: Daemon) -> str:
    r = bbd.docker("run", "-d", "--name", "cpbox", "busybox", "sh", "-c",
                   "echo data > /tmp/f; ln -s ../../../../../ /tmp/esc; ln -s /etc /tmp/etc; sleep 600")
    assert r.returncode == 0, r.stderr
    bbd.docker("exec", "cpbox", "true")
    return "cpbox"


def test_cp_out_and_in(bbd: Daemon, box: str, tmp_path: Path) -> None:
    assert bbd.docker("cp", f"{box}:/tmp/f", str(tmp_path)).returncode == 0
    assert (tmp_path / "f").read_text() == "data\n"
    src = tmp_path / "in.txt"
    src.write_text("from host\n")
    assert bbd.docker("cp", str(src), f"{box}:/tmp/").returncode == 0
    assert bbd.docker("exec", box, "cat", "/tmp/in.txt").stdout == "from host\n"
    missing = bbd.docker("cp", f"{box}:/nope", str(tmp_path))
    assert missing.returncode == 1 and "Could not find the file /nope in container" in missing.stderr


def test_cp_symlink_does_not_escape(bbd: Daemon, box: str, tmp_path: Path) -> None:
    marker = tmp_path / "host-secret"
    marker.write_text("secret\n")
    r = bbd.docker("cp", f"{box}:/tmp/esc{marker}", str(tmp_path / "got"))
    assert r.returncode != 0 and not (tmp_path / "got").exists()
    out = subprocess.run([DOCKER_CLI, "cp", f"{box}:/tmp/etc/passwd", "-"], env=bbd.env, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tf:
        data = tf.extractfile(tf.getmembers()[0])
        assert data is not None and data.read().startswith(b"root:x:0:0:root:/root:/bin/sh")


def test_diff_export_commit(bbd: Daemon, box: str) -> None:
    diff = bbd.docker("diff", box).stdout.splitlines()
    assert "A /tmp/f" in diff and "C /tmp" in diff
    exp = subprocess.run([DOCKER_CLI, "export", box], env=bbd.env, capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(exp.stdout)) as tf:
        names = tf.getnames()
    assert "tmp/f" in names and "bin/busybox" in names
    iid = bbd.docker("commit", "-c", 'CMD ["cat", "/tmp/f"]', box, "committed:v1").stdout.strip()
    assert iid.startswith("sha256:")
    assert bbd.docker("run", "--rm", "committed:v1").stdout == "data\n"
    assert bbd.docker("inspect", "-f", "{{.State.Status}}", box).stdout.strip() == "running"


def test_cp_into_stopped_and_prune(bbd: Daemon, tmp_path: Path) -> None:
    bbd.docker("create", "--name", "stopped1", "busybox", "cat", "/x.txt")
    (tmp_path / "x.txt").write_text("x\n")
    assert bbd.docker("cp", str(tmp_path / "x.txt"), "stopped1:/").returncode == 0
    assert bbd.docker("start", "-a", "stopped1").stdout == "x\n"
    r = bbd.docker("container", "prune", "-f")
    assert "stopped1" not in bbd.docker("ps", "-a", "--format", "{{.Names}}").stdout
    assert "Total reclaimed space" in r.stdout
