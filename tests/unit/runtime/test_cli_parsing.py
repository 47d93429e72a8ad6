"""The flag parser (Go conventions), signal names, the exec process builder."""

from __future__ import annotations

import signal

import pytest

from skiff.errors import InvalidParameter
from skiff.runtime.cli.args import Opt, parse
from skiff.runtime.cli.common import parse_signal
from skiff.runtime.cli.exec import build_process
from skiff.runtime.config import Capabilities, Process

SPEC = {"bundle": Opt("bundle", "value"), "b": Opt("bundle", "value"), "d": Opt("detach"),
        "env": Opt("env", "multi")}


@pytest.mark.parametrize("argv", [["-b", "x", "id"], ["--bundle", "x", "id"], ["--bundle=x", "id"],
                                  ["-bundle", "x", "id"]])
def test_value_forms(argv: list[str]) -> None:
    opts, rest = parse(argv, SPEC)
    assert opts["bundle"] == "x" and rest == ["id"]


def test_flags_stop_at_first_positional() -> None:
    opts, rest = parse(["-d", "id", "sh", "-c", "x"], SPEC)
    assert opts["detach"] is True and rest == ["id", "sh", "-c", "x"]
    opts, rest = parse(["--", "-d"], SPEC)
    assert rest == ["-d"] and opts["detach"] is False


def test_multi_and_bool_value() -> None:
    opts, _ = parse(["--env", "A=1", "--env=B=2", "-d=false"], SPEC)
    assert opts["env"] == ["A=1", "B=2"] and opts["detach"] is False


def test_unknown_flag_and_missing_value() -> None:
    with pytest.raises(InvalidParameter, match="flag provided but not defined"):
        parse(["--nope"], SPEC)
    with pytest.raises(InvalidParameter, match="needs an argument"):
        parse(["--bundle"], SPEC)


@pytest.mark.parametrize(("raw", "want"), [("KILL", 9), ("SIGKILL", 9), ("kill", 9), ("9", 9),
                                           ("TERM", 15), ("SIGRTMIN+1", int(signal.SIGRTMIN) + 1)])
def test_signals(raw: str, want: int) -> None:
    assert parse_signal(raw) == want


@pytest.mark.parametrize("raw", ["NOPE", "0", "99"])
def test_bad_signals(raw: str) -> None:
    with pytest.raises(InvalidParameter):
        parse_signal(raw)


def test_exec_process_from_template() -> None:
    base = Process(args=("sleep",), env=("PATH=/bin", "A=1"), cwd="/", capabilities=Capabilities(bounding=(5,)))
    opts: dict[str, object] = {"process": None, "env": ["A=2", "B=3"], "user": "1000:1001", "gids": [], "cap": ["CAP_SYS_ADMIN"],
            "cwd": "/tmp", "tty": False, "nnp": True}
    p = build_process(base, opts, ["sh", "-c", "x"])
    assert p.args == ("sh", "-c", "x") and p.env == ("PATH=/bin", "A=2", "B=3") and p.cwd == "/tmp"
    assert (p.user.uid, p.user.gid) == (1000, 1001) and p.no_new_privileges
    assert p.capabilities is not None and 21 in p.capabilities.effective and 5 in p.capabilities.bounding
