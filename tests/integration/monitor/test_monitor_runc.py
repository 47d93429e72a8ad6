"""The monitor running busybox bundles through runc: logs, exit codes, detach, reconnect, attach, TTY."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from skiff.monitor.client import MonitorClient
from skiff.monitor.logreader import LogFile
from skiff.monitor.protocol import LogConfig, MonitorOptions
from skiff.monitor.spawn import MonitorHandle, MonitorStartError, find_monitors, spawn_monitor
from tests.integration.monitor.conftest import RUNC, new_id

pytestmark = pytest.mark.root

JSON_LINE = r'^\{"log":".*","stream":"(stdout|stderr)","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z"\}$'


def _opts(tmp_path: Path, bundle: Path, runc_root: Path, **kw: object) -> MonitorOptions:
    state = tmp_path / "state" / str(kw.pop("cid", new_id()))
    base: dict[str, object] = {
        "container_id": state.name, "bundle": str(bundle), "state_dir": str(state), "runtime": RUNC,
        "runtime_args": ("--root", str(runc_root)), "log_path": str(state / "container.log"), "start": True,
    }
    base.update(kw)
    return MonitorOptions(**base)  # type: ignore[arg-type]


def _spawn(opts: MonitorOptions, pids: list[int], **kw: bool) -> MonitorHandle:
    h = spawn_monitor(opts, **kw)
    pids.append(h.monitor_pid)
    return h


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS"))


def _wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:  # the test process is a subreaper (see conftest), so the monitor ends as our zombie
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} still alive")


def test_json_file_logs_and_exit_code(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                                      monitor_pids: list[int]) -> None:
    import re
    bundle = make_bundle(["sh", "-c", "echo 'a <b> & \"c\"'; echo oops >&2; printf tail; exit 3"])
    h = _spawn(_opts(tmp_path, bundle, runc_root), monitor_pids)
    st = MonitorClient(h.socket_path).wait(timeout=20)
    assert st.exit_code == 3 and st.signal == 0 and not st.oom_killed
    assert st.finished_at_ns >= st.started_at_ns > 0
    lines = (Path(h.state_dir) / "container.log").read_text().splitlines()
    assert all(re.match(JSON_LINE, ln) for ln in lines), lines
    recs = [json.loads(ln) for ln in lines]
    out = [r["log"] for r in recs if r["stream"] == "stdout"]
    assert out == ['a <b> & "c"\n', "tail"]
    assert '\\u003cb\\u003e \\u0026' in lines[[r["log"] for r in recs].index(out[0])]
    assert [r["log"] for r in recs if r["stream"] == "stderr"] == ["oops\n"]
    _wait_gone(h.monitor_pid)
    exit_rec = json.loads((Path(h.state_dir) / "exit.json").read_text())
    assert exit_rec["exit_code"] == 3
    assert not (Path(h.state_dir) / "monitor.sock").exists()
    listed = subprocess.run([RUNC, "--root", str(runc_root), "list", "-q"], capture_output=True, text=True)
    assert h.container_id not in listed.stdout


def test_sigkill_is_137_and_signal_forwarding(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                                              monitor_pids: list[int]) -> None:
    bundle = make_bundle(["sleep", "100"])
    h = _spawn(_opts(tmp_path, bundle, runc_root), monitor_pids)
    c = MonitorClient(h.socket_path)
    assert c.status()["state"] == "running"
    c.signal(signal.SIGKILL)
    st = c.wait(timeout=20)
    assert (st.exit_code, st.signal) == (137, 9)


def test_survives_spawner_kill_and_reconnects(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                                              monitor_pids: list[int]) -> None:
    """A spawner process (the daemon) is killed -9; the container runs on; a new client reconnects."""
    bundle = make_bundle(["sh", "-c", "while read l; do echo got:$l; done; echo bye; exit 7"])
    opts = _opts(tmp_path, bundle, runc_root, open_stdin=True, stdin_once=True, start=False)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the "daemon"
        try:
            os.close(r)
            h = spawn_monitor(opts)
            os.write(w, json.dumps([h.monitor_pid, h.init_pid]).encode())
            time.sleep(100)
        finally:
            os._exit(0)
    os.close(w)
    mpid, ipid = json.loads(os.read(r, 1000))
    os.close(r)
    monitor_pids.append(mpid)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    # the monitor is not a child of the dead spawner's process tree any more
    with open(f"/proc/{mpid}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    assert ppid != pid  # re-parented to the subreaper (this test process), not the dead spawner
    with open(f"/proc/{ipid}/stat") as f:
        assert int(f.read().rsplit(")", 1)[1].split()[1]) == mpid  # the monitor is the init's parent
    found = {m.container_id: m for m in find_monitors(str(tmp_path / "state"))}
    info = found[opts.container_id]
    assert info.alive and info.monitor_pid == mpid and info.exit is None
    c = MonitorClient(info.socket_path)
    assert c.status()["state"] == "created"
    att = c.attach(stdin=True)
    c.start()
    att.write(b"one\ntwo\n")
    att.close_stdin()
    got = b""
    while (msg := att.read()) is not None:
        got += msg[1]
    assert got == b"got:one\ngot:two\nbye\n"
    assert att.exit is not None and att.exit.exit_code == 7
    _wait_gone(mpid)
    info2 = find_monitors(str(tmp_path / "state"))[0]
    assert not info2.alive and info2.exit is not None and info2.exit.exit_code == 7
    assert MonitorClient(info2.socket_path).wait().exit_code == 7  # from exit.json


def test_tty_console_socket_resize(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                                   monitor_pids: list[int]) -> None:
    bundle = make_bundle(["sh", "-c", "tty; stty size; read x; stty size; echo x=$x"], tty=True)
    opts = _opts(tmp_path, bundle, runc_root, tty=True, open_stdin=True, start=False, console_size=(24, 80))
    h = _spawn(opts, monitor_pids)
    c = MonitorClient(h.socket_path)
    att = c.attach(stdin=True)
    c.start()
    buf = b""
    while b"24 80" not in buf:
        msg = att.read()
        assert msg is not None, buf
        buf += msg[1]
    assert b"/dev/pts/0" in buf
    c.resize(50, 132)
    att.write(b"hi\n")
    while (msg := att.read()) is not None:
        buf += msg[1]
    assert b"50 132" in buf and b"x=hi" in buf
    assert att.exit is not None and att.exit.exit_code == 0
    with LogFile(opts.log_path) as lf:
        text = b"".join(e.data for e in lf.entries())
    assert b"50 132\r\n" in text and all(e.stream == 1 for e in LogFile(opts.log_path).entries())


def test_rotation_and_tail(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                           monitor_pids: list[int]) -> None:
    bundle = make_bundle(["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done"])
    log = LogConfig("json-file", (("max-size", "20k"), ("max-file", "3")))
    opts = _opts(tmp_path, bundle, runc_root, log=log)
    h = _spawn(opts, monitor_pids)
    assert MonitorClient(h.socket_path).wait(timeout=30).exit_code == 0
    files = sorted(p.name for p in Path(h.state_dir).glob("container.log*"))
    assert files == ["container.log", "container.log.1", "container.log.2"]
    assert all(p.stat().st_size < 21 * 1024 for p in Path(h.state_dir).glob("container.log*"))
    with LogFile(opts.log_path) as lf:
        tail = [e.data for e in lf.entries(tail=3)]
    assert tail == [b"line-2997\n", b"line-2998\n", b"line-2999\n"]
    with LogFile(opts.log_path) as lf:
        allrec = [e.data for e in lf.entries()]
    assert allrec[-1] == b"line-2999\n" and len(allrec) < 3000  # oldest rotated away


def test_local_driver_and_follow(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                                 monitor_pids: list[int]) -> None:
    bundle = make_bundle(["sh", "-c", "echo first; sleep 1; echo second >&2; sleep 0.5"])
    opts = _opts(tmp_path, bundle, runc_root, log=LogConfig("local"))
    h = _spawn(opts, monitor_pids)
    time.sleep(0.5)
    lf = LogFile(opts.log_path, "local")
    first = list(lf.entries())
    fol = lf.follower()
    st = MonitorClient(h.socket_path).wait(timeout=20)
    more = fol.poll()
    fol.close()
    lf.close()
    assert st.exit_code == 0
    assert [(e.stream, e.data) for e in first] == [(1, b"first\n")]
    assert [(e.stream, e.data) for e in more] == [(2, b"second\n")]


def test_create_failure_is_reported(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                                    monitor_pids: list[int]) -> None:
    bundle = make_bundle(["/no/such/binary"])
    with pytest.raises(MonitorStartError) as e:
        spawn_monitor(_opts(tmp_path, bundle, runc_root))
    assert "no such file" in str(e.value).lower() or "not found" in str(e.value).lower()
    assert "level=" not in str(e.value)  # the runtime's message itself, not its log line


def test_exec_python_mode(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                          monitor_pids: list[int]) -> None:
    bundle = make_bundle(["sh", "-c", "echo hi"])
    h = _spawn(_opts(tmp_path, bundle, runc_root), monitor_pids, exec_python=True)
    assert MonitorClient(h.socket_path).wait(timeout=20).exit_code == 0


@pytest.mark.slow
def test_fast_writer_keeps_monitor_rss_flat(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                                            monitor_pids: list[int]) -> None:
    """200 MB through the monitor (json-file with rotation) while an attached client reads slowly."""
    bundle = make_bundle(["sh", "-c", "yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789 | head -c 200000000"])
    log = LogConfig("json-file", (("max-size", "50m"), ("max-file", "2")))
    opts = _opts(tmp_path, bundle, runc_root, log=log, start=False, cid=new_id())
    h = _spawn(opts, monitor_pids, exec_python=True)
    c = MonitorClient(h.socket_path)
    att = c.attach()
    c.start()
    rss: list[int] = []
    got = 0
    t0 = time.monotonic()
    while (msg := att.read()) is not None:
        got += len(msg[1])
        if len(rss) < 1000 and got % (8 << 20) < 65536:
            with open(f"/proc/{h.monitor_pid}/status") as f:
                rss.append(next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS")))
    elapsed = time.monotonic() - t0
    assert got == 200_000_000
    assert att.exit is not None and att.exit.exit_code == 0
    assert rss and max(rss) - min(rss) < 8 * 1024, rss  # KiB: flat within 8 MiB
    print(f"monitor: 200 MB in {elapsed:.1f}s, RSS {min(rss)}..{max(rss)} KiB")


def test_stalled_client_pauses_output_then_resumes(tmp_path: Path, make_bundle: Callable[..., Path],
                                                   runc_root: Path, monitor_pids: list[int]) -> None:
    """A client that stops reading pauses the container's output (bounded memory), not the monitor."""
    bundle = make_bundle(["sh", "-c", "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 30000000; echo done"])
    opts = _opts(tmp_path, bundle, runc_root, start=False)
    h = _spawn(opts, monitor_pids)
    c = MonitorClient(h.socket_path)
    stalled = c.attach()
    stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # spawn_monitor forks the test process itself, so its RSS starts at pytest's (large in a full
    # run): what must stay bounded is the growth while the client stalls.
    rss_before_kb = _rss_kb(h.monitor_pid)
    c.start()
    time.sleep(1.5)
    rss_kb = _rss_kb(h.monitor_pid)
    assert c.status()["state"] == "running"  # the monitor still answers while paused
    logged = (Path(h.state_dir) / "container.log").stat().st_size
    assert logged < 20_000_000  # output is held back, not buffered in the monitor
    assert rss_kb - rss_before_kb < 40_000, (rss_before_kb, rss_kb)
    stalled.close()  # the slow client goes away: output flows again
    assert c.wait(timeout=60).exit_code == 0
    with LogFile(opts.log_path) as lf:
        assert lf.entries(tail=1).__next__().data.endswith(b"done\n")  # head cut a line; done follows


def test_immediate_restart_with_same_id(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                                        monitor_pids: list[int]) -> None:
    """A restart policy starts the same container again as soon as wait() returns."""
    bundle = make_bundle(["sh", "-c", "echo run; exit 1"])
    opts = _opts(tmp_path, bundle, runc_root)
    for _ in range(3):
        h = _spawn(opts, monitor_pids)
        assert MonitorClient(h.socket_path).wait(timeout=20).exit_code == 1
    with LogFile(opts.log_path) as lf:
        assert [e.data for e in lf.entries()] == [b"run\n"] * 3  # logs accumulate across restarts


def test_log_dir_is_created_and_setup_errors_are_reported(tmp_path: Path, make_bundle: Callable[..., Path],
                                                          runc_root: Path, monitor_pids: list[int]) -> None:
    bundle = make_bundle(["sh", "-c", "echo x"])
    opts = _opts(tmp_path, bundle, runc_root, log_path=str(tmp_path / "data" / "c1" / "c1-json.log"))
    h = _spawn(opts, monitor_pids)
    assert MonitorClient(h.socket_path).wait(timeout=20).exit_code == 0
    assert (tmp_path / "data" / "c1" / "c1-json.log").read_text().startswith('{"log":"x\\n"')
    (tmp_path / "blocker").write_text("")
    bad = _opts(tmp_path, bundle, runc_root, log_path=str(tmp_path / "blocker" / "c.log"))
    with pytest.raises(MonitorStartError, match="File exists"):  # reported, not a silent death
        spawn_monitor(bad)


def test_long_state_dir_path(tmp_path: Path, make_bundle: Callable[..., Path], runc_root: Path,
                             monitor_pids: list[int]) -> None:
    """Unix socket paths are limited to 108 bytes; deep exec-roots must still work (TTY too)."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    bundle = make_bundle(["sh", "-c", "tty"], tty=True)
    cid = new_id()
    opts = _opts(tmp_path, bundle, runc_root, cid=cid, tty=True, state_dir=str(deep / cid),
                 log_path=str(deep / cid / "c.log"))
    assert len(os.path.join(opts.state_dir, "monitor.sock")) > 108
    h = _spawn(opts, monitor_pids)
    assert MonitorClient(h.socket_path).wait(timeout=20).exit_code == 0
    with LogFile(opts.log_path) as lf:
        assert b"/dev/pts/0" in b"".join(e.data for e in lf.entries())
