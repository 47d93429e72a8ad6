"""docker cp sees the container's volumes, binds and /etc files (not its tmpfs), running or not; read-only
mounts refuse writes with moby's text; symlinks in volumes stay inside the container; nothing stays mounted."""

from __future__ import annotations

import io
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.support.daemon import DOCKER_CLI, Daemon

pytestmark = pytest.mark.root


@pytest.fixture
def name() -> Iterator[str]:
    """A unique prefix for what a test creates (the module's daemon removes its containers)."""
    yield "cpm" + uuid.uuid4().hex[:8]


def _cp_out(d: Daemon, src: str) -> tuple[int, bytes, str]:
    """``docker cp src -``: (exit code, the one file's content or b"", stderr)."""
    r = subprocess.run([DOCKER_CLI, "cp", src, "-"], env=d.env, capture_output=True, timeout=60)
    if r.returncode != 0:
        return r.returncode, b"", r.stderr.decode()
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tf:
        f = tf.extractfile(tf.getmembers()[0])
        return 0, f.read() if f is not None else b"", r.stderr.decode()


def _ok(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert r.returncode == 0, r.stderr
    return r


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in the test's (the host's) mount namespace."""
    p = str(path)
    points = [ln.split()[4] for ln in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [m for m in points if m == p or m.startswith(p + "/")]


def _rootfs(d: Daemon, cid: str) -> Path:
    return d.data_root / "containers" / cid / "bundle" / "rootfs"


def _cid(d: Daemon, ref: str) -> str:
    return _ok(d.docker("inspect", "-f", "{{.Id}}", ref)).stdout.strip()


def test_cp_named_volume_running(bbd: Daemon, name: str, tmp_path: Path) -> None:
    _ok(bbd.docker("run", "-d", "--name", name, "-v", f"{name}:/vol", "busybox", "sh", "-c",
                   "echo in-volume > /vol/v.txt; sleep 600"))
    _ok(bbd.docker("exec", name, "true"))
    since = _ok(bbd.docker("system", "info", "-f", "{{.SystemTime}}")).stdout.strip()
    assert _cp_out(bbd, f"{name}:/vol/v.txt")[:2] == (0, b"in-volume\n")
    until = _ok(bbd.docker("system", "info", "-f", "{{.SystemTime}}")).stdout.strip()
    events = _ok(bbd.docker("events", "--since", since, "--until", until, "--filter", "type=volume",
                            "--filter", f"volume={name}", "--format", "{{.Action}}")).stdout.split()
    assert events == ["mount", "unmount"]  # as dockerd: the view mounts the volume for the operation
    src = tmp_path / "to-vol.txt"
    src.write_text("from host\n")
    _ok(bbd.docker("cp", str(src), f"{name}:/vol/"))
    assert bbd.docker("exec", name, "cat", "/vol/to-vol.txt").stdout == "from host\n"
    # the write is in the volume: another container using it sees it
    assert _ok(bbd.docker("run", "--rm", "-v", f"{name}:/other", "busybox", "cat", "/other/to-vol.txt")).stdout \
        == "from host\n"
    # only the container's own rootfs is mounted on the host, not the view's binds
    rootfs = _rootfs(bbd, _cid(bbd, name))
    assert _mounts_under(rootfs) == [str(rootfs)]
    _ok(bbd.docker("rm", "-f", name))


def test_cp_bind_and_read_only_bind(bbd: Daemon, name: str, tmp_path: Path) -> None:
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (rw / "b.txt").write_text("bind file\n")
    (ro / "r.txt").write_text("read only\n")
    _ok(bbd.docker("run", "-d", "--name", name, "-v", f"{rw}:/bind", "-v", f"{ro}:/robind:ro",
                   "busybox", "sleep", "600"))
    assert _cp_out(bbd, f"{name}:/bind/b.txt")[:2] == (0, b"bind file\n")
    assert _cp_out(bbd, f"{name}:/robind/r.txt")[:2] == (0, b"read only\n")
    src = tmp_path / "new.txt"
    src.write_text("new\n")
    _ok(bbd.docker("cp", str(src), f"{name}:/bind/"))
    assert (rw / "new.txt").read_text() == "new\n"
    for dest in (f"{name}:/robind/", f"{name}:/robind"):
        r = bbd.docker("cp", str(src), dest)
        assert r.returncode == 1, r
        assert "Error response from daemon: mounted volume is marked read-only" in r.stderr
    assert not (ro / "new.txt").exists()
    # the Docker SDK gets moby's status and text
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as tf:
        info = tarfile.TarInfo("sdk.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"sdk"))
    ct = docker.DockerClient(base_url=bbd.host).containers.get(name)
    with pytest.raises(docker.errors.APIError) as ei:
        ct.put_archive("/robind", tar.getvalue())
    assert ei.value.status_code == 400 and ei.value.explanation == "mounted volume is marked read-only"
    assert ct.put_archive("/bind", tar.getvalue()) is True
    assert (rw / "sdk.txt").read_bytes() == b"sdk"
    _ok(bbd.docker("rm", "-f", name))


def test_cp_onto_a_file_bind(bbd: Daemon, name: str, tmp_path: Path) -> None:
    """A file bind-mounted in the container is seen, but cannot be replaced (as dockerd: EBUSY)."""
    hf = tmp_path / "hf"
    hf.write_text("host file\n")
    _ok(bbd.docker("create", "--name", name, "-v", f"{hf}:/etc/hf", "busybox", "true"))
    assert _cp_out(bbd, f"{name}:/etc/hf")[:2] == (0, b"host file\n")
    src = tmp_path / "new"
    src.write_text("new\n")
    r = bbd.docker("cp", str(src), f"{name}:/etc/hf")
    assert r.returncode == 1 and "Error response from daemon: unlinkat /etc/hf: device or resource busy" in r.stderr
    assert hf.read_text() == "host file\n"
    assert _mounts_under(_rootfs(bbd, _cid(bbd, name)).parent) == []
    _ok(bbd.docker("rm", name))


def test_cp_stopped_and_created_containers_volumes(bbd: Daemon, client: docker.DockerClient, name: str,
                                                   tmp_path: Path) -> None:
    _ok(bbd.docker("run", "--name", name, "-v", f"{name}:/data", "busybox", "sh", "-c", "echo kept > /data/k.txt"))
    assert _ok(bbd.docker("inspect", "-f", "{{.State.Status}}", name)).stdout.strip() == "exited"
    assert _cp_out(bbd, f"{name}:/data/k.txt")[:2] == (0, b"kept\n")
    src = tmp_path / "later.txt"
    src.write_text("later\n")
    _ok(bbd.docker("cp", str(src), f"{name}:/data/"))
    assert _ok(bbd.docker("run", "--rm", "-v", f"{name}:/v", "busybox", "cat", "/v/later.txt")).stdout == "later\n"
    # a created, never started container (its anonymous volume over an image directory shows the copy)
    created = f"{name}c"
    _ok(bbd.docker("create", "--name", created, "-v", f"{name}2:/data", "-v", "/etc", "busybox", "cat",
                   "/data/later.txt"))
    _ok(bbd.docker("cp", str(src), f"{created}:/data/"))
    assert _cp_out(bbd, f"{created}:/etc/passwd")[1].startswith(b"root:x:0:0:")
    bits, stat = client.containers.get(created).get_archive("/data/later.txt")
    assert stat["name"] == "later.txt" and stat["size"] == 6
    with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as tf:
        f = tf.extractfile("later.txt")
        assert f is not None and f.read() == b"later\n"
    assert _ok(bbd.docker("start", "-a", created)).stdout == "later\n"
    for ref in (name, created):
        assert _mounts_under(_rootfs(bbd, _cid(bbd, ref)).parent) == []
    _ok(bbd.docker("rm", "-v", name, created))


def test_symlinks_in_volume_resolve_inside_container(bbd: Daemon, name: str, tmp_path: Path) -> None:
    _ok(bbd.docker("run", "-d", "--name", name, "-v", f"{name}:/vol", "busybox", "sh", "-c",
                   "ln -s / /vol/rootlink; ln -s ../../../../../../.. /vol/uplink; echo inside > /marker; "
                   "sleep 600"))
    _ok(bbd.docker("exec", name, "true"))
    hostname = _ok(bbd.docker("exec", name, "cat", "/etc/hostname")).stdout.encode()
    assert _cp_out(bbd, f"{name}:/vol/rootlink/etc/hostname")[:2] == (0, hostname)
    assert _cp_out(bbd, f"{name}:/vol/uplink/marker")[:2] == (0, b"inside\n")
    host_file = tmp_path / "host-only.txt"
    host_file.write_text("host secret\n")
    code, _, err = _cp_out(bbd, f"{name}:/vol/rootlink{host_file}")
    assert code == 1 and "Could not find the file" in err
    # writes through the links land in the container, not on the host
    fname = f"{name}.txt"
    src = tmp_path / fname
    src.write_text("through link\n")
    _ok(bbd.docker("cp", str(src), f"{name}:/vol/rootlink/tmp/"))
    _ok(bbd.docker("cp", str(src), f"{name}:/vol/uplink/"))
    assert not Path("/tmp", fname).exists() and not Path("/", fname).exists()
    assert bbd.docker("exec", name, "cat", f"/tmp/{fname}", f"/{fname}").stdout == "through link\n" * 2
    _ok(bbd.docker("stop", "-t", "0", name))
    assert _cp_out(bbd, f"{name}:/vol/rootlink/marker")[:2] == (0, b"inside\n")
    assert _mounts_under(_rootfs(bbd, _cid(bbd, name)).parent) == []
    _ok(bbd.docker("rm", "-v", name))


def test_read_only_rootfs_volume_writable_and_tmpfs_not_seen(bbd: Daemon, name: str, tmp_path: Path) -> None:
    _ok(bbd.docker("run", "-d", "--name", name, "--read-only", "-v", f"{name}:/vol", "--tmpfs", "/tt",
                   "--mount", "type=tmpfs,dst=/t2", "busybox", "sh", "-c", "echo t > /tt/t.txt; sleep 600"))
    _ok(bbd.docker("exec", name, "true"))
    src = tmp_path / "f.txt"
    src.write_text("f\n")
    _ok(bbd.docker("cp", str(src), f"{name}:/vol/"))
    assert bbd.docker("exec", name, "cat", "/vol/f.txt").stdout == "f\n"
    for dest in ("/etc/", "/tt/"):  # --tmpfs is not a volume for this rule (as moby)
        r = bbd.docker("cp", str(src), f"{name}:{dest}")
        assert r.returncode == 1 and "Error response from daemon: container rootfs is marked read-only" in r.stderr
    _ok(bbd.docker("cp", str(src), f"{name}:/t2/"))  # a --mount tmpfs is
    # as dockerd: cp works on its own view of the rootfs, where the container's tmpfs is not mounted
    code, _, err = _cp_out(bbd, f"{name}:/tt/t.txt")
    assert code == 1 and f"Could not find the file /tt/t.txt in container {name}" in err
    _ok(bbd.docker("rm", "-f", "-v", name))
