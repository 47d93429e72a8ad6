"""The resident forker: spawns monitors quickly, is their parent and reaps them, outlives its client."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from skiff.monitor.client import MonitorClient
from skiff.monitor.forker import ForkerClient, start_forker
from skiff.monitor.protocol import MonitorOptions
from skiff.monitor.spawn import MonitorStartError
from tests.integration.monitor.conftest import RUNC, new_id

pytestmark = pytest.mark.root


@pytest.fixture
def forker(tmp_path: Path) -> Iterator[tuple[str, int]]:
    sock = str(tmp_path / "exec" / "forker.sock")
    pid = start_forker(sock)
    yield sock, pid
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:  # our zombie if this test process is a subreaper (see conftest), else gone by itself
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        except ChildProcessError:
            if not os.path.exists(f"/proc/{pid}"):
                break
        time.sleep(0.02)


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_forker_spawns_and_reaps(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                                 forker: tuple[str, int]) -> None:
    sock, fpid = forker
    assert os.getsid(fpid) != os.getsid(0)  # detached from its starter (own session)
    assert start_forker(sock) == fpid  # found again, not started twice
    bundle = make_bundle(["sh", "-c", "echo hi; sleep 1; exit 2"])
    fc = ForkerClient(sock)
    handles = []
    t0 = time.monotonic()
    for _ in range(3):
        cid = new_id()
        state = tmp_path / "state" / cid
        handles.append(fc.spawn(MonitorOptions(container_id=cid, bundle=str(bundle), state_dir=str(state),
                                               runtime=RUNC, runtime_args=("--root", str(runc_root)),
                                               log_path=str(state / "c.log"), start=True)))
        assert _ppid(handles[-1].monitor_pid) == fpid  # the forker is the monitors' parent (subreaper)
    elapsed = time.monotonic() - t0
    for h in handles:
        assert MonitorClient(h.socket_path).wait(timeout=20).exit_code == 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{h.monitor_pid}") for h in handles):
        time.sleep(0.05)
    assert not any(os.path.exists(f"/proc/{h.monitor_pid}") for h in handles)  # reaped, no zombies
    print(f"3 spawns through the forker: {elapsed * 1000:.0f} ms")


def test_forker_reports_errors_and_async(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                                         forker: tuple[str, int]) -> None:
    sock, _ = forker
    bad = make_bundle(["/no/such/binary"], name="bad")
    cid = new_id()
    state = tmp_path / "state" / cid
    opts = MonitorOptions(container_id=cid, bundle=str(bad), state_dir=str(state), runtime=RUNC,
                          runtime_args=("--root", str(runc_root)), log_path=str(state / "c.log"), start=True)
    with pytest.raises(MonitorStartError):
        ForkerClient(sock).spawn(opts)
    good = make_bundle(["true"], name="good")
    cid = new_id()
    state = tmp_path / "state" / cid
    opts = MonitorOptions(container_id=cid, bundle=str(good), state_dir=str(state), runtime=RUNC,
                          runtime_args=("--root", str(runc_root)), log_path=str(state / "c.log"), start=True)
    h = asyncio.run(ForkerClient(sock).aspawn(opts))
    assert MonitorClient(h.socket_path).wait(timeout=20).exit_code == 0


def test_forker_records_exit_when_a_monitor_is_killed(tmp_path: Path, make_bundle: Callable[..., Path],
                                                      runc_root: Path, forker: tuple[str, int]) -> None:
    sock, _ = forker
    bundle = make_bundle(["sleep", "60"])
    cid = new_id()
    state = tmp_path / "state" / cid
    h = ForkerClient(sock).spawn(MonitorOptions(container_id=cid, bundle=str(bundle), state_dir=str(state),
                                                runtime=RUNC, runtime_args=("--root", str(runc_root)),
                                                log_path=str(state / "c.log"), start=True))
    os.kill(h.monitor_pid, signal.SIGKILL)  # the monitor dies; the container runs on, adopted by the forker
    time.sleep(0.3)
    assert os.path.exists(f"/proc/{h.init_pid}")
    os.kill(h.init_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (state / "exit.json").exists():
        time.sleep(0.05)
    st = MonitorClient(h.socket_path).wait()  # the socket is stale: falls back to exit.json
    assert (st.exit_code, st.signal) == (137, 9) and "forker" in st.error


def test_idle_forker_exits_when_its_socket_is_gone(tmp_path: Path) -> None:
    sock = tmp_path / "exec2" / "forker.sock"
    pid = start_forker(str(sock))
    sock.unlink()  # what removing a test's exec-root does
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        except ChildProcessError:
            if not os.path.exists(f"/proc/{pid}"):
                break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        raise AssertionError("the idle forker did not exit")
