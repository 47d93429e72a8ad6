"""Fixtures for skiff-runtime's command tests: a private --root, a runner, a busybox bundle.

The pytest process becomes a child subreaper so container inits re-parented after ``create``
exits are ours to reap (PID 1 here does not reap), and every test deletes what it left behind.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.bundle import RUNTIME, make_bundle


@dataclass
class Result:
    rc: int
    out: str
    err: str


class Runtime:
    """Runs ``skiff-runtime --root <tmp> ...``. Output goes through files, not pipes: a created
    container inherits the caller's stdio, and a pipe would stay open as long as it lives."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self.log = log

    def __call__(self, *args: str, timeout: float = 30, stdin: str | None = None,
                 log_json: bool = False) -> Result:
        extra = ["--log", str(self.log), "--log-format", "json"] if log_json else []
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run([RUNTIME, "--root", str(self.root), *extra, *args], stdout=out, stderr=err,
                               input=stdin.encode() if stdin is not None else None,
                               stdin=None if stdin is not None else subprocess.DEVNULL, timeout=timeout)
            out.seek(0)
            err.seek(0)
            return Result(p.returncode, out.read().decode(), err.read().decode())

    def ok(self, *args: str, **kw: object) -> Result:
        r = self(*args, **kw)  # type: ignore[arg-type]
        assert r.rc == 0, f"skiff-runtime {' '.join(args)} failed ({r.rc}): {r.err}"
        return r


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.fixture(scope="session", autouse=True)
def _subreaper() -> None:
    if os.geteuid() == 0:
        from skiff.sys.prctl import set_child_subreaper

        set_child_subreaper(True)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(tmp_path / "state", tmp_path / "runtime.log")
    try:
        yield runtime
    finally:
        if runtime.root.is_dir():
            for cid in os.listdir(runtime.root):
                runtime("delete", "--force", cid)
        _reap()


@pytest.fixture
def cid() -> str:
    return f"skiff-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bundle(tmp_path: Path, busybox_rootfs: Path) -> Path:
    """A busybox bundle running `true`; tests change process.args with edit_config."""
    return make_bundle(tmp_path / "bundle", busybox_rootfs, ["true"])


def run_output(rt: Runtime, bundle: Path, cid: str, *args: str) -> Result:
    """`run` with the container's stdout captured in a file (what most checks need)."""
    return rt("run", "--bundle", str(bundle), cid, *args)


def leftovers(rt: Runtime, bundle: Path, cid: str) -> list[str]:
    """What a failed create must not leave: state dir, mounts of the rootfs, cgroups, processes."""
    found = []
    if (rt.root / cid).exists():
        found.append(f"state dir {rt.root / cid}")
    rootfs = str((bundle / "rootfs").resolve())
    with open("/proc/self/mountinfo") as f:
        found += [f"mount {line.split()[4]}" for line in f if rootfs in line]
    for ctrl in ("pids", "memory", "freezer", "cpu", "devices"):
        base = Path("/sys/fs/cgroup") / ctrl
        if base.is_dir():
            found += [f"cgroup {p}" for p in base.rglob(cid)]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink(f"/proc/{pid}/root").startswith(rootfs):
                    found.append(f"process {pid}")
            except OSError:
                pass
    return found


__all__ = ["Result", "Runtime", "leftovers", "run_output"]
