"""User namespaces: the maps written by the parent, root inside is an unprivileged id outside."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.runtime.conftest import Runtime, run_output
from tests.support.bundle import edit_config

pytestmark = pytest.mark.root

BASE = 100000


def _userns(c: dict, args: list[str]) -> None:
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": BASE, "size": 65536}]
    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": BASE, "size": 65536}]
    # the cgroup and sysfs mounts need privileges a user namespace does not have over the host's
    c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("cgroup", "sysfs")]
    c["process"]["args"] = args


@pytest.fixture
def userns_bundle(bundle: Path) -> Iterator[Path]:
    """The bundle moved to a 0711 dir of its own: the mapped root must reach the rootfs, and
    pytest keeps (and, in concurrent sessions, resets) its tmp root at 0700."""
    base = Path(tempfile.mkdtemp(prefix="skiff-test-userns-"))
    try:
        base.chmod(0o711)
        moved = Path(shutil.move(str(bundle), str(base / "bundle")))
        os.chown(moved / "rootfs", BASE, BASE)
        for dirpath, dirnames, filenames in os.walk(moved / "rootfs"):
            for name in dirnames + filenames:
                os.lchown(os.path.join(dirpath, name), BASE, BASE)
        yield moved
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_maps_inside(rt: Runtime, userns_bundle: Path, cid: str) -> None:
    edit_config(userns_bundle, lambda c: _userns(c, ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"]))
    r = run_output(rt, userns_bundle, cid)
    assert r.rc == 0, r.err
    lines = [line.split() for line in r.out.splitlines()]
    assert lines == [["0", str(BASE), "65536"], ["0", str(BASE), "65536"], ["0"]]


def test_root_inside_is_mapped_outside(rt: Runtime, userns_bundle: Path, cid: str) -> None:
    edit_config(userns_bundle, lambda c: _userns(c, ["sleep", "30"]))
    rt.ok("run", "-d", "-b", str(userns_bundle), cid)
    pid = json.loads(rt.ok("state", cid).out)["pid"]
    status = Path(f"/proc/{pid}/status").read_text()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == [str(BASE)] * 4
    assert Path(f"/proc/{pid}/ns/user").readlink() != Path("/proc/self/ns/user").readlink()
    r = rt.ok("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map")
    assert r.out.split() == ["0", "0", str(BASE), "65536"]


def test_userns_without_maps_refused(rt: Runtime, bundle: Path, cid: str) -> None:
    edit_config(bundle, lambda c: c["linux"]["namespaces"].append({"type": "user"}))
    r = rt("create", "-b", str(bundle), cid)
    assert r.rc == 1 and "no uid or gid mappings" in r.err
