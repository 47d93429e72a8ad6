"""Pure logic of the container engine: status texts, name rules, state machine, secure paths,
detach keys, timestamps, Go file modes, and the CLI's create body."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pytest

from skiff.engine.containers.archive import go_file_mode, secure_join
from skiff.engine.containers.io import parse_detach_keys
from skiff.engine.containers.lifecycle import parse_signal
from skiff.engine.containers.record import ContainerRecord, InvalidTransition, validate_name
from skiff.engine.containers.timeparse import parse_timestamp
from skiff.engine.containers.views import human_duration, status_text
from skiff.errors import InvalidParameter


def _rec(**kw: object) -> ContainerRecord:
    base: dict[str, object] = dict(id="a" * 64, name="/x", created_ns=time.time_ns(), image="busybox",
                                   image_id="sha256:" + "b" * 64, config={}, host_config={})
    base.update(kw)
    return ContainerRecord(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("secs", "text"), [
    (0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (120, "2 minutes"), (3600, "About an hour"), (7200, "2 hours"), (3 * 86400, "3 days"),
    (20 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_human_duration(secs: float, text: str) -> None:
    assert human_duration(secs) == text


def test_status_text() -> None:
    now = time.time_ns()
    assert status_text(_rec()) == "Created"
    assert status_text(_rec(status="running", started_ns=now - 125 * 10**9)) == "Up 2 minutes"
    assert status_text(_rec(status="paused", started_ns=now)) == "Up Less than a second (Paused)"
    assert status_text(_rec(status="exited", exit_code=3, finished_ns=now - 3 * 10**9)) == "Exited (3) 3 seconds ago"
    assert status_text(_rec(status="restarting", exit_code=1, finished_ns=now)) == \
        "Restarting (1) Less than a second ago"


def test_names_and_transitions() -> None:
    assert validate_name("web") == "/web" and validate_name("/a.b-c_d") == "/a.b-c_d"
    for bad in ("x", "-x", "a b", "a/b"):
        with pytest.raises(InvalidParameter):
            validate_name(bad)
    r = _rec()
    r.transition("running")
    r.transition("paused")
    with pytest.raises(InvalidTransition):
        r.transition("created")
    assert ContainerRecord.from_json(r.to_json()) == r


def test_secure_join(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../..", root / "up")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    assert secure_join(str(root), "/abs/passwd") == str(root / "etc" / "passwd")
    assert secure_join(str(root), "/up/etc") == str(root / "etc")
    assert secure_join(str(root), "../../x") == str(root / "x")
    assert secure_join(str(root), "/abs", follow_last=False) == str(root / "abs")
    with pytest.raises(InvalidParameter):
        secure_join(str(root), "/loop1/x")


def test_go_file_mode(tmp_path: Path) -> None:
    assert go_file_mode(os.stat(tmp_path)) & (1 << 31)
    f = tmp_path / "f"
    f.write_text("")
    os.chmod(f, 0o4755)
    assert go_file_mode(os.stat(f)) == 0o755 | (1 << 23)


def test_detach_keys_and_signals() -> None:
    assert parse_detach_keys("") == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x") == b"\x01x"
    with pytest.raises(InvalidParameter):
        parse_detach_keys("ctrl-ab")
    assert parse_signal("SIGTERM") == 15 and parse_signal("kill") == 9 and parse_signal("2") == 2
    with pytest.raises(InvalidParameter):
        parse_signal("NOPE")


def test_parse_timestamp() -> None:
    assert parse_timestamp("1700000000.5") == 1700000000_500000000
    assert parse_timestamp("2024-01-02T03:04:05Z") == 1704164645 * 10**9
    assert abs(parse_timestamp("10m") - (time.time_ns() - 600 * 10**9)) < 10**9
    with pytest.raises(InvalidParameter):
        parse_timestamp("yesterday")


def test_cli_create_body() -> None:
    from skiff.cli.commands.run_opts import add_create_flags, build_create_body, parse_bytes

    p = argparse.ArgumentParser(add_help=False)
    add_create_flags(p)
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("args", nargs=argparse.REMAINDER)
    ns = p.parse_args(["-it", "--rm", "-h", "hh", "-e", "A=1", "-m", "64m", "--cpus", "1.5", "-p", "8080:80",
                       "--restart", "no", "--name", "n", "-v", "/a:/b:ro", "busybox", "sh", "-c", "x"])
    body = build_create_body(ns)
    assert body["Image"] == "busybox" and body["Cmd"] == ["sh", "-c", "x"] and body["Hostname"] == "hh"
    assert body["Tty"] and body["OpenStdin"] and body["StdinOnce"] and body["Env"] == ["A=1"]
    hc = body["HostConfig"]
    assert hc["Memory"] == 64 << 20 and hc["NanoCpus"] == 1_500_000_000 and hc["AutoRemove"]
    assert hc["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert hc["Binds"] == ["/a:/b:ro"] and body["ExposedPorts"] == {"80/tcp": {}}
    assert parse_bytes("1g") == 1 << 30 and parse_bytes("512k") == 512 << 10
