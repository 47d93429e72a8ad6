"""daemon.json and flags merged and validated as dockerd does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skiff.engine.config import DEFAULT_HOST, load_config
from skiff.errors import InvalidParameter


def _file(tmp_path: Path, doc: object) -> Path:
    p = tmp_path / "daemon.json"
    p.write_text(json.dumps(doc))
    return p


def test_defaults() -> None:
    c = load_config({})
    assert c.hosts == (DEFAULT_HOST,)
    assert c.live_restore is True
    assert c.default_runtime == "skiff"
    assert set(c.runtimes) >= {"skiff", "runc", "crun"}
    assert str(c.data_root) == "/var/lib/skiff" and str(c.exec_root) == "/run/skiff"
    assert c.effective_pidfile == c.exec_root / "skiffd.pid"
    assert c.get("log-driver") == "json-file"


def test_file_and_flags_merge(tmp_path: Path) -> None:
    f = _file(tmp_path, {"log-level": "debug", "live-restore": False, "labels": ["a=b"],
                         "runtimes": {"myrt": {"path": "/usr/bin/myrt"}}, "default-runtime": "myrt"})
    c = load_config({"data-root": str(tmp_path / "d")}, f)
    assert c.log_level == "debug" and c.live_restore is False and c.labels == ("a=b",)
    assert c.default_runtime == "myrt" and c.runtimes["myrt"] == "/usr/bin/myrt"
    assert c.data_root == tmp_path / "d"


def test_conflict_message(tmp_path: Path) -> None:
    f = _file(tmp_path, {"data-root": "/b", "debug": True})
    with pytest.raises(InvalidParameter) as e:
        load_config({"data-root": "/a", "debug": True}, f)
    assert e.value.message == (
        f"unable to configure the Docker daemon with file {f}: the following directives are specified "
        "both as a flag and in the configuration file: data-root: (from flag: /a, from file: /b), "
        "debug: (from flag: true, from file: true)")


def test_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="the following directives don't match any configuration "
                                               "option: bogus, zzz"):
        load_config({}, _file(tmp_path, {"zzz": 1, "bogus": 2}))


def test_named_option_hosts(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"hosts: \(from flag: \[unix:///a\], from file: \[unix:///b\]\)"):
        load_config({"hosts": ["unix:///a"]}, _file(tmp_path, {"hosts": ["unix:///b"]}))


@pytest.mark.parametrize(("flags", "match"), [
    ({"log-level": "loud"}, "invalid logging level: loud"),
    ({"default-runtime": "nope"}, "specified default runtime 'nope' does not exist"),
    ({"labels": ["novalue"]}, "bad attribute format: novalue"),
    ({"hosts": ["tcp://0.0.0.0:2375"]}, "refusing to listen on tcp://0.0.0.0:2375 without mutual TLS"),
    ({"hosts": ["tcp://0.0.0.0:2376"], "tlsverify": True}, "needs --tlscacert, --tlscert, --tlskey"),
    ({"hosts": ["ftp://x"]}, "unsupported proto 'ftp'"),
    ({"max-download-attempts": 0}, "invalid max download attempts"),
])
def test_validation(flags: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidParameter, match=match):
        load_config(flags)


def test_type_errors_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="invalid value for live-restore"):
        load_config({}, _file(tmp_path, {"live-restore": "yes"}))
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(InvalidParameter, match="unable to configure the Docker daemon with file"):
        load_config({}, bad)
    with pytest.raises(InvalidParameter, match="no such file or directory"):
        load_config({}, tmp_path / "missing.json")


def test_tls_host_ok() -> None:
    c = load_config({"hosts": ["tcp://127.0.0.1:2376"], "tlsverify": True, "tlscacert": "ca",
                     "tlscert": "c", "tlskey": "k"})
    assert c.tls and c.tlsverify
