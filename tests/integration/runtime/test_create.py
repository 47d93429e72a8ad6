"""``create``: the process waits for ``start``; bad input fails clearly and leaves nothing behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.integration.runtime.conftest import Runtime, leftovers
from tests.support.bundle import edit_config

pytestmark = pytest.mark.root


def test_create_leaves_process_waiting(rt: Runtime, bundle: Path, cid: str, tmp_path: Path) -> None:
    marker = tmp_path / "bundle/rootfs/ran"
    edit_config(bundle, lambda c: c["process"].update(args=["touch", "/ran"]))
    pid_file = tmp_path / "pid"
    rt.ok("create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid)
    state = json.loads(rt.ok("state", cid).out)
    assert state["status"] == "created"
    assert state["pid"] == int(pid_file.read_text())
    assert os.path.exists(f"/proc/{state['pid']}")
    assert not marker.exists()
    rt.ok("start", cid)
    for _ in range(200):
        if json.loads(rt.ok("state", cid).out)["status"] == "stopped":
            break
    assert marker.exists()


def test_create_without_process_then_start_fails(rt: Runtime, bundle: Path, cid: str) -> None:
    """The runtime-spec makes ``process`` optional for create and REQUIRED for start: create
    succeeds and waits, start fails clearly and the container ends stopped (delete then works)."""
    edit_config(bundle, lambda c: c.pop("process"))
    rt.ok("create", "--bundle", str(bundle), cid)
    assert json.loads(rt.ok("state", cid).out)["status"] == "created"
    r = rt("start", cid)
    assert r.rc == 1 and "without a process" in r.err
    assert json.loads(rt.ok("state", cid).out)["status"] == "stopped"
    rt.ok("delete", cid)
    assert not (rt.root / cid).exists()
    r = rt("run", "--bundle", str(bundle), cid)
    assert r.rc == 1 and "without a process" in r.err and not (rt.root / cid).exists()


def test_duplicate_id_refused(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: c["process"].update(args=["sleep", "30"]))
    rt.ok("create", "--bundle", str(bundle), cid)
    r = rt("create", "--bundle", str(bundle), cid)
    assert r.rc == 1
    assert f"container with id exists: {cid}" in r.err
    assert json.loads(rt.ok("state", cid).out)["status"] == "created"


BAD = {
    "invalid json": lambda b: (b / "config.json").write_text("{not json"),
    "missing rootfs": lambda b: edit_config(b, lambda c: c["root"].update(path="nope")),
    "unknown namespace": lambda b: edit_config(b, lambda c: c["linux"]["namespaces"].append({"type": "bogus"})),
    "bad hook path": lambda b: edit_config(b, lambda c: c.update(hooks={"prestart": [{"path": "/no/such/hook"}]})),
    "unknown capability": lambda b: edit_config(
        b, lambda c: c["process"]["capabilities"]["bounding"].append("CAP_NOPE")),
    "missing executable": lambda b: edit_config(b, lambda c: c["process"].update(args=["/no/such/bin"])),
    "failing mount": lambda b: edit_config(b, lambda c: c["mounts"].append(
        {"destination": "/x", "type": "nosuchfs", "source": "none"})),
    "idmapped mount": lambda b: edit_config(b, lambda c: c["mounts"].append(
        {"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]})),
    "apparmor": lambda b: edit_config(b, lambda c: c["process"].update(apparmorProfile="skiff-nope")),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_fails_clearly_and_leaves_nothing(rt: Runtime, bundle: Path, cid: str, case: str) -> None:
    BAD[case](bundle)
    r = rt("create", "--bundle", str(bundle), cid, log_json=True)
    assert r.rc == 1
    assert r.err.strip(), "no error message on stderr"
    lines = [json.loads(x) for x in rt.log.read_text().splitlines()]
    assert lines[-1]["level"] == "error" and lines[-1]["msg"] and lines[-1]["time"]
    assert leftovers(rt, bundle, cid) == []


def test_bad_input_messages(rt: Runtime, bundle: Path, cid: str) -> None:
    BAD["unknown namespace"](bundle)
    assert "unknown namespace type 'bogus'" in rt("create", "-b", str(bundle), cid).err
    BAD["missing rootfs"](bundle)
    assert "rootfs" in rt("create", "-b", str(bundle), cid).err and "does not exist" in rt(
        "create", "-b", str(bundle), cid).err


def test_missing_bundle_config(rt: Runtime, tmp_path: Path, cid: str) -> None:
    r = rt("create", "--bundle", str(tmp_path), cid)
    assert r.rc == 1 and "config.json" in r.err
    assert not (rt.root / cid).exists()


def test_invalid_id(rt: Runtime, bundle: Path) -> None:
    r = rt("create", "--bundle", str(bundle), "../evil")
    assert r.rc == 1 and "invalid container id" in r.err


def test_no_pivot(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: c["process"].update(args=["sh", "-c", "ls /bin/busybox"]))
    r = rt("run", "--no-pivot", "--bundle", str(bundle), cid)
    assert r.rc == 0, r.err
    assert r.out.strip() == "/bin/busybox"


def test_preserve_fds(rt: Runtime, bundle: Path, cid: str, tmp_path: Path) -> None:
    import subprocess

    from tests.support.bundle import RUNTIME

    extra = tmp_path / "extra"
    extra.write_text("through fd 3\n")
    edit_config(bundle, lambda c: c["process"].update(args=["cat", "/proc/self/fd/3"]))
    out = tmp_path / "out"
    with open(extra) as f, open(out, "w") as o:
        p = subprocess.run([RUNTIME, "--root", str(rt.root), "run", "--preserve-fds", "1", "-b", str(bundle), cid],
                           stdout=o, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, timeout=30,
                           close_fds=False, preexec_fn=lambda: os.dup2(f.fileno(), 3))
    assert out.read_text() == "through fd 3\n", p.stderr


def test_waiting_init_does_not_hold_callers_fds(rt: Runtime, bundle: Path, cid: str) -> None:
    """A pipe the caller leaves open (not --preserve-fds) must see EOF once create returns."""
    import subprocess

    from tests.support.bundle import RUNTIME

    edit_config(bundle, lambda c: c["process"].update(args=["sleep", "30"]))
    r, w = os.pipe()
    try:
        # (stdio to DEVNULL: the container's own stdio is the caller's, and is meant to stay open)
        p = subprocess.run([RUNTIME, "--root", str(rt.root), "create", "-b", str(bundle), cid], pass_fds=(w,),
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        assert p.returncode == 0
        os.close(w)
        w = -1
        os.set_blocking(r, False)
        assert os.read(r, 1) == b""  # EOF: nobody holds the write end any more
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
