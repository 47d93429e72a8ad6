"""skiffd as a process: flags + daemon.json, socket permissions, pidfile, refusals."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, running_daemon


def _skiffd(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "skiff.daemon", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_socket_mode_and_pidfile(skiffd: Daemon) -> None:
    st = skiffd.socket.stat()
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_uid == 0
    pidfile = skiffd.exec_root / "skiffd.pid"
    assert int(pidfile.read_text()) == skiffd.pid
    assert (skiffd.data_root / "skiff.db").exists()
    code = skiffd.stop()
    assert code == 0
    assert not pidfile.exists() and not skiffd.socket.exists()


def test_second_daemon_refused_by_pidfile(skiffd: Daemon) -> None:
    r = _skiffd("--data-root", str(skiffd.data_root), "--exec-root", str(skiffd.exec_root),
                "-H", f"unix://{skiffd.socket}2", "--config-file", str(skiffd.data_root.parent / "daemon.json"))
    assert r.returncode == 1
    assert "pid file found, ensure skiffd is not running" in r.stderr


def test_config_conflict_and_unknown_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"data-root": str(tmp_path / "a"), "debug": True}))
    r = _skiffd("--config-file", str(cfg), "--data-root", str(tmp_path / "b"))
    assert r.returncode == 1
    assert ("the following directives are specified both as a flag and in the configuration file: "
            f"data-root: (from flag: {tmp_path / 'b'}, from file: {tmp_path / 'a'})") in r.stderr
    cfg.write_text(json.dumps({"no-such-option": 1}))
    r = _skiffd("--config-file", str(cfg))
    assert r.returncode == 1
    assert "the following directives don't match any configuration option: no-such-option" in r.stderr
    r = _skiffd("--config-file", str(tmp_path / "missing.json"))
    assert r.returncode == 1 and "no such file or directory" in r.stderr


def test_plain_tcp_refused(tmp_path: Path) -> None:
    r = _skiffd("--data-root", str(tmp_path / "d"), "--exec-root", str(tmp_path / "e"),
                "--config-file", "/dev/null", "-H", "tcp://127.0.0.1:23750")
    assert r.returncode == 1
    assert "refusing to listen on tcp://127.0.0.1:23750 without mutual TLS" in r.stderr


def test_bad_runtime_and_log_level(tmp_path: Path) -> None:
    r = _skiffd("--config-file", "/dev/null", "--default-runtime", "nope")
    assert r.returncode == 1 and "specified default runtime 'nope' does not exist" in r.stderr
    r = _skiffd("--config-file", "/dev/null", "--log-level", "loud")
    assert r.returncode == 1 and "invalid logging level: loud" in r.stderr


def test_flag_and_file_conflict_refuses_start(tmp_path: Path) -> None:
    cfg = tmp_path / "conf.json"
    cfg.write_text(json.dumps({"live-restore": False}))
    want = r"specified both as a flag and in the configuration file: live-restore: \(from flag: true, from file: false\)"
    with pytest.raises(RuntimeError, match=want), \
            running_daemon(tmp_path, ["--config-file", str(cfg), "--live-restore=true"]):
        pass


def test_config_file_values(tmp_path: Path) -> None:
    cfg = tmp_path / "conf.json"
    cfg.write_text(json.dumps({"live-restore": False, "labels": ["site=test"], "default-runtime": "runc",
                               "experimental": True}))
    with running_daemon(tmp_path, ["--config-file", str(cfg)]) as d:
        env = d.env
        out = subprocess.run(["/usr/local/bin/docker", "info", "--format",
                              "{{.LiveRestoreEnabled}} {{.Labels}} {{.DefaultRuntime}} {{.ExperimentalBuild}}"],
                             env=env, capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "false [site=test] runc true"
    assert os.environ.get("SKIFF_HOST") != d.host


def test_stops_promptly_with_open_event_stream(skiffd: Daemon) -> None:
    import time

    watcher = subprocess.Popen(["/usr/local/bin/docker", "events"], env=skiffd.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        t = time.monotonic()
        assert skiffd.stop() == 0
        assert time.monotonic() - t < 5
        watcher.wait(10)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()


def test_validate_flag(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"log-level": "debug"}))
    r = _skiffd("--validate", "--config-file", str(cfg))
    assert r.returncode == 0 and r.stdout == "configuration OK\n"
    cfg.write_text(json.dumps({"log-level": "loud"}))
    r = _skiffd("--validate", "--config-file", str(cfg))
    assert r.returncode == 1 and "invalid logging level: loud" in r.stderr
