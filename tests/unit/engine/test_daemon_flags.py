"""skiffd's command line: only given flags count, named options, booleans as dockerd takes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from skiff.daemon import parse_args
from skiff.engine.config import load_config


def test_only_given_flags(tmp_path: Path) -> None:
    flags, cfg, version = parse_args(["--data-root", str(tmp_path), "-H", "unix:///a", "--host", "unix:///b",
                                      "--live-restore=false", "--add-runtime", "x=/bin/x", "--log-opt",
                                      "max-size=1m", "-D", "--config-file", str(tmp_path / "d.json")])
    assert flags == {"data-root": str(tmp_path), "hosts": ["unix:///a", "unix:///b"], "live-restore": False,
                     "runtimes": {"x": "/bin/x"}, "log-opts": {"max-size": "1m"}, "debug": True}
    assert cfg == tmp_path / "d.json" and not version
    c = load_config(flags)
    assert c.hosts == ("unix:///a", "unix:///b") and c.log_level == "debug" and c.runtimes["x"] == "/bin/x"
    assert parse_args(["-v"])[2] is True


def test_runtime_alias() -> None:
    flags, _, _ = parse_args(["--runtime", "runc"])
    assert flags == {"default-runtime": "runc"}


def test_bad_bool() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--live-restore=maybe"])
