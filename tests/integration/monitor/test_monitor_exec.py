"""Exec through the monitor: stdio pipes with stdin half-close, TTY, detached, signals, exit records."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from skiff.engine.containers.spec import ImageConfig, SpecContext, build_spec, exec_process, parse_create
from skiff.errors import Conflict
from skiff.monitor.client import Attachment, MonitorClient
from skiff.monitor.protocol import MonitorOptions
from skiff.monitor.spawn import MonitorHandle, spawn_monitor
from tests.integration.monitor.conftest import RUNC, new_id

pytestmark = pytest.mark.root


def start_container(tmp_path: Path, rootfs: Path, runc_root: Path, pids: list[int],
                    cmd: list[str]) -> tuple[MonitorHandle, dict[str, Any]]:
    cid = new_id()
    cfg, host = parse_create({"Cmd": cmd})
    spec = build_spec(ImageConfig(), cfg, host, SpecContext(container_id=cid, rootfs=str(rootfs)))
    bundle = tmp_path / f"bundle-{cid}"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(spec))
    state = tmp_path / "state" / cid
    h = spawn_monitor(MonitorOptions(container_id=cid, bundle=str(bundle), state_dir=str(state), runtime=RUNC,
                                     runtime_args=("--root", str(runc_root)), log_path=str(state / "c.log"),
                                     start=True))
    pids.append(h.monitor_pid)
    return h, spec


def drain(att: Attachment) -> dict[int, bytes]:
    out = {1: b"", 2: b""}
    while (msg := att.read()) is not None:
        out[msg[0]] += msg[1]
    return out


def test_exec_pipes_stdin_and_exit_code(tmp_path: Path, busybox_rootfs: Path, runc_root: Path,
                                        monitor_pids: list[int]) -> None:
    h, spec = start_container(tmp_path, busybox_rootfs, runc_root, monitor_pids, ["sleep", "60"])
    c = MonitorClient(h.socket_path)
    proc = exec_process(spec, ["sh", "-c", "cat; echo err >&2; echo $FOO; id -u; exit 5"], env=["FOO=bar"],
                        user="nobody", rootfs=str(busybox_rootfs))
    att = c.exec("e1", proc, stdin=True)
    assert att.pid > 0
    att.write(b"from-stdin\n")
    att.close_stdin()
    out = drain(att)
    assert out[1] == b"from-stdin\nbar\n65534\n" and out[2] == b"err\n"
    assert att.exit is not None and att.exit.exit_code == 5
    assert c.exec_exit("e1") is not None and c.exec_exit("e1").exit_code == 5  # type: ignore[union-attr]
    assert c.status()["state"] == "running"  # the container is untouched
    c.signal(signal.SIGKILL)
    assert c.wait(timeout=20).exit_code == 137


def test_exec_tty_resize_and_detached(tmp_path: Path, busybox_rootfs: Path, runc_root: Path,
                                      monitor_pids: list[int]) -> None:
    h, spec = start_container(tmp_path, busybox_rootfs, runc_root, monitor_pids, ["sleep", "60"])
    c = MonitorClient(h.socket_path)
    att = c.exec("t1", exec_process(spec, ["sh", "-c", "tty; stty size; read x; stty size; echo TERM=$TERM"],
                                    tty=True), stdin=True, console_size=(30, 100))
    buf = b""
    while b"30 100" not in buf:
        msg = att.read()
        assert msg is not None, buf
        buf += msg[1]
    c.resize(40, 120, exec_id="t1")
    att.write(b"\n")
    buf += b"".join(m for _, m in iter_all(att))
    assert b"/dev/pts/" in buf and b"40 120" in buf and b"TERM=xterm" in buf
    assert att.exit is not None and att.exit.exit_code == 0
    d = c.exec("d1", exec_process(spec, ["sh", "-c", "sleep 0.2; exit 3"]), detach=True)
    d.close()
    deadline = time.monotonic() + 10
    while c.exec_exit("d1") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert c.exec_exit("d1").exit_code == 3  # type: ignore[union-attr]
    long = c.exec("k1", exec_process(spec, ["sleep", "60"]))
    assert c.status("k1")["state"] == "running"
    with pytest.raises(Conflict, match="duplicate exec id"):
        c.exec("k1", exec_process(spec, ["true"]))
    c.signal(signal.SIGTERM, exec_id="k1")
    drain(long)
    assert long.exit is not None and long.exit.exit_code == 143
    c.signal(signal.SIGKILL)
    c.wait(timeout=20)
    with pytest.raises(Exception):  # noqa: B017 - the monitor is gone or refuses: no exec after exit
        c.exec("late", exec_process(spec, ["true"]))


def iter_all(att: Attachment) -> list[tuple[int, bytes]]:
    out = []
    while (msg := att.read()) is not None:
        out.append(msg)
    return out


def test_async_client(tmp_path: Path, busybox_rootfs: Path, runc_root: Path, monitor_pids: list[int]) -> None:
    import asyncio

    from skiff.monitor.aclient import AsyncMonitorClient

    h, spec = start_container(tmp_path, busybox_rootfs, runc_root, monitor_pids, ["sleep", "60"])

    async def go() -> None:
        c = AsyncMonitorClient(h.socket_path)
        assert (await c.status())["state"] == "running"
        att = await c.exec("a1", exec_process(spec, ["sh", "-c", "read l; echo got:$l; exit 4"]), stdin=True)
        await att.write(b"x\n")
        got = b""
        while (msg := await att.read()) is not None:
            got += msg[1]
        assert got == b"got:x\n" and att.exit is not None and att.exit.exit_code == 4
        await att.close()
        waiter = asyncio.ensure_future(c.wait())
        await c.signal(signal.SIGKILL)
        st = await asyncio.wait_for(waiter, 20)
        assert st.exit_code == 137

    asyncio.run(go())


def test_async_wait_for_a_detached_exec(tmp_path: Path, busybox_rootfs: Path, runc_root: Path,
                                        monitor_pids: list[int]) -> None:
    """``V``: the exit of a detached exec is told as it happens, and still known after it is gone."""
    import asyncio

    from skiff.monitor.aclient import AsyncMonitorClient

    h, spec = start_container(tmp_path, busybox_rootfs, runc_root, monitor_pids, ["sleep", "60"])

    async def go() -> None:
        c = AsyncMonitorClient(h.socket_path)
        att = await c.exec("w1", exec_process(spec, ["sh", "-c", "sleep 0.3; exit 6"]), detach=True)
        await att.close()
        waiter = asyncio.ensure_future(c.wait_exec("w1"))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        st = await asyncio.wait_for(waiter, 20)
        assert st is not None and st.exit_code == 6
        again = await c.wait_exec("w1")  # finished: from its exit file
        assert again is not None and again.exit_code == 6
        with pytest.raises(Conflict, match="no such exec"):  # neither running nor finished here
            await c.wait_exec("nosuch")
        await c.signal(signal.SIGKILL)

    asyncio.run(go())


def test_processes_start_with_default_signal_dispositions(tmp_path: Path, busybox_rootfs: Path, runc_root: Path,
                                                          monitor_pids: list[int]) -> None:
    """The monitor ignores SIGTERM/SIGINT/SIGHUP for itself; its runtime and containers must not inherit that."""
    h, spec = start_container(tmp_path, busybox_rootfs, runc_root, monitor_pids, ["sleep", "60"])
    c = MonitorClient(h.socket_path)
    att = c.exec("s1", exec_process(spec, ["cat", "/proc/self/status"]))
    status = drain(att)[1].decode()
    ignored = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("SigIgn:")), 16)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        assert not ignored & (1 << (sig - 1)), f"{sig!r} is ignored in the container"
    c.signal(signal.SIGKILL)
    c.wait(timeout=20)
