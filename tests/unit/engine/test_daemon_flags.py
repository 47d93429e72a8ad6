"""skiffd's command line: only given flags count, named options, booleans as dockerd takes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from skiff.daemon import parse_args
from skiff.engine.config import load_config


def test_only_given_flags(tmp_path: Path) -> None:
    args = parse_args(["--data-root", str(tmp_path), "-H", "unix:///a", "--host", "unix:///b",
                                      "--live-restore=false", "--add-runtime", "x=/bin/x", "--log-opt",
                                      "max-size=1m", "-D", "--config-file", str(tmp_path / "d.json")])
    flags = args.flags
    assert flags == {"data-root": str(tmp_path), "hosts": ["unix:///a", "unix:///b"], "live-restore": False,
                     "runtimes": {"x": "/bin/x"}, "log-opts": {"max-size": "1m"}, "debug": True}
    assert args.config_file == tmp_path / "d.json" and not args.version and not args.validate
    c = load_config(flags)
    assert c.hosts == ("unix:///a", "unix:///b") and c.log_level == "debug" and c.runtimes["x"] == "/bin/x"
    assert parse_args(["-v"]).version is True
    assert parse_args(["--validate"]).validate is True


def test_runtime_alias() -> None:
    assert parse_args(["--runtime", "runc"]).flags == {"default-runtime": "runc"}


def test_bad_bool() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--live-restore=maybe"])
