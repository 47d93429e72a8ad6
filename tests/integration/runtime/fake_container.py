"""A "container" made of a plain process this test starts, put in a real cgroup, with a state
record like ``create`` writes. Lets pause/resume/update/events/ps be tested on the real kernel
without depending on the whole create path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from skiff.runtime.cgroups import CgroupManager, new_manager
from skiff.runtime.specconv_resources import resources_from_oci

RUNTIME = str(Path(sys.executable).with_name("skiff-runtime"))
_V2_ROOT = "/sys/fs/cgroup" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "/sys/fs/cgroup/unified"


@dataclass
class FakeContainer:
    root: str
    id: str
    proc: subprocess.Popen[bytes]
    cgroup: CgroupManager

    def runtime(self, *args: str, stdin: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run([RUNTIME, "--root", self.root, *args], capture_output=True, text=True,
                              input=stdin, timeout=timeout)

    def state_file(self) -> Path:
        return Path(self.root) / self.id / "state.json"


def make_fake_container(tmp_path: Path, argv: list[str], resources: dict[str, Any]) -> Iterator[FakeContainer]:
    from skiff.runtime.state import ContainerRecord, write_record
    from skiff.sys.process import proc_stat

    cid = f"skiff-test-{uuid.uuid4().hex[:10]}"
    mgr = new_manager(f"/{cid}", cid)
    proc = subprocess.Popen(argv)
    try:
        mgr.apply(proc.pid)
        mgr.set(resources_from_oci(resources))
        root = tmp_path / "state"
        (root / cid).mkdir(parents=True)
        st = proc_stat(proc.pid)
        assert st is not None
        config = {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": argv, "cwd": "/"},
                  "linux": {"resources": resources}}
        write_record(str(root / cid), ContainerRecord(
            id=cid, bundle=str(tmp_path), rootfs=str(tmp_path / "rootfs"), pid=proc.pid, start_time=st[1],
            created="2026-01-01T00:00:00Z", status="running", cgroups_path=f"/{cid}",
            cgroup_paths=mgr.paths(), config=config))
        yield FakeContainer(str(root), cid, proc, mgr)
    finally:
        if mgr.exists() and mgr.state() == "FROZEN":
            mgr.thaw()
        for pid in mgr.pids() if mgr.exists() else []:
            if pid != proc.pid:
                try:
                    os.kill(pid, 9)  # children of our own process only
                except ProcessLookupError:
                    pass
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        mgr.destroy()


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[FakeContainer]:
    """``sleep 300`` in a cgroup with a memory limit and a pids limit."""
    yield from make_fake_container(tmp_path, ["sleep", "300"],
                                   {"memory": {"limit": 64 << 20}, "pids": {"limit": 20}})


@pytest.fixture
def spinner(tmp_path: Path) -> Iterator[FakeContainer]:
    """A busy loop in a cgroup (for freezer tests: CPU time must stop)."""
    yield from make_fake_container(tmp_path, [sys.executable, "-S", "-c", "while True: pass"], {})


def make_bundle(bundle: Path, rootfs: Path, args: list[str], linux: dict[str, Any] | None = None) -> Path:
    """A bundle from ``skiff-runtime spec`` (no terminal) with ``args`` and extra ``linux`` keys."""
    import json

    bundle.mkdir(parents=True, exist_ok=True)
    subprocess.run([RUNTIME, "spec", "--bundle", str(bundle)], check=True, capture_output=True)
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["root"] = {"path": str(rootfs), "readonly": False}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = args
    for key, val in (linux or {}).items():
        if key == "resources":
            cfg["linux"].setdefault("resources", {}).update(val)
        else:
            cfg["linux"][key] = val
    (bundle / "config.json").write_text(json.dumps(cfg))
    return bundle


@dataclass
class RunHelper:
    """``skiff-runtime`` on a temp --root; deletes (force) every container it started."""

    root: str
    ids: list[str]

    def __call__(self, *args: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run([RUNTIME, "--root", self.root, *args], capture_output=True, text=True,
                              timeout=timeout, **kw)

    def detach(self, bundle: Path, cid: str) -> subprocess.CompletedProcess[str]:
        """``run --detach``: the container keeps its stdio, so give it /dev/null, not our pipes."""
        import tempfile

        with tempfile.TemporaryFile("w+") as err:
            p = subprocess.run([RUNTIME, "--root", self.root, "run", "--detach", "--bundle", str(bundle), cid],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, text=True,
                               timeout=60)
            err.seek(0)
            return subprocess.CompletedProcess(p.args, p.returncode, "", err.read())

    def new_id(self) -> str:
        cid = f"skiff-test-{uuid.uuid4().hex[:10]}"
        self.ids.append(cid)
        return cid


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[RunHelper]:
    h = RunHelper(str(tmp_path / "rt-root"), [])
    yield h
    from skiff.runtime.cgroups.v1 import V1Manager
    from skiff.runtime.cgroups.v2 import V2Manager

    for cid in h.ids:
        h("delete", "--force", cid)
        # safety net, should delete have left them: the paths tests use (/<id>) and the default one
        for version, path in ((1, f"/{cid}"), (1, ""), (2, f"/{cid}")):
            try:  # V1Manager() itself fails on a host without v1 hierarchies
                mgr = V1Manager(path, cid) if version == 1 else V2Manager(path, cid, root=_V2_ROOT)
                mgr.destroy()
            except Exception:
                pass
