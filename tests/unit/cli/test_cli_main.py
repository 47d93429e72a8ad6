"""The command tree, docker's usage errors and exit codes, without a daemon."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from skiff.cli.command import Cli
from skiff.cli.exitcodes import run_exit_code
from skiff.cli.main import run
from skiff.client.errors import DaemonUnreachable, from_status
from skiff.errors import NotFound


def _run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(args, Cli(out=out, err=err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKIFF_HOST", f"unix://{tmp_path}/nope.sock")
    monkeypatch.delenv("DOCKER_API_VERSION", raising=False)


def test_version_flag_and_help() -> None:
    code, out, _ = _run(["--version"])
    assert code == 0 and out.startswith("Skiff version ")
    code, out, _ = _run([])
    assert code == 0 and "Usage:  skiff [OPTIONS] COMMAND" in out
    code, out, _ = _run(["system", "--help"])
    assert code == 0 and "events" in out
    code, out, _ = _run(["version", "--help"])
    assert code == 0 and "Usage:  skiff version [OPTIONS]" in out and "--format" in out


def test_unknown_flag_is_125() -> None:
    code, _, err = _run(["version", "--bad"])
    assert code == 125
    assert err.startswith("unknown flag: --bad\n\nUsage:  skiff version [OPTIONS]")
    code, _, err = _run(["--nope", "version"])
    assert code == 125 and "unknown flag: --nope" in err


def test_unknown_command_is_1() -> None:
    code, _, err = _run(["frobnicate"])
    assert code == 1 and "unknown command: skiff frobnicate" in err


def test_context_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    meta = tmp_path / "contexts" / "meta" / hashlib.sha256(b"x").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text('{"Name": "x"}')
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    code, _, err = _run(["--context", "x", "version"])  # an existing context: refused
    assert code == 1 and "does not support docker contexts" in err
    code, _, err = _run(["--context", "y", "version"])  # none: docker's text
    assert code == 1 and err.startswith('Failed to initialize: unable to resolve docker endpoint: context "y": '
                                        "context not found: open ")


def test_cannot_connect_message() -> None:
    code, out, err = _run(["info"])
    assert code == 1
    assert "Cannot connect to the Docker daemon at unix://" in out
    assert "Is the docker daemon running?" in out
    code, out, err = _run(["system", "df"])
    assert code == 1
    assert err.startswith("Cannot connect to the Docker daemon at unix://")
    assert "Traceback" not in err


def test_version_without_daemon_prints_client_then_fails() -> None:
    code, out, err = _run(["version"])
    assert code == 1
    assert out.startswith("Client:\n Version:") and "Server:" not in out
    assert "Cannot connect to the Docker daemon" in err


def test_template_parse_error_exit_64() -> None:
    code, _, err = _run(["version", "--format", "{{.Client"])
    assert code == 64 and err == "template parsing error: template: version:1: unclosed action\n"  # docker v28's text


def test_events_bad_since() -> None:
    code, _, err = _run(["events", "--since", "x"])
    assert code == 1 and 'failed to parse value as time or duration: "x"' in err


def test_bad_filter_format() -> None:
    code, _, err = _run(["events", "--filter", "novalue"])
    assert code == 125 and "bad format of filter (expected name=value)" in err


def test_run_exit_codes() -> None:
    assert run_exit_code(from_status(400, "exec: \"nope\": executable file not found in $PATH")) == 127
    assert run_exit_code(from_status(400, "exec: \"/etc\": permission denied")) == 126
    assert run_exit_code(from_status(500, "boom")) == 125
    assert run_exit_code(DaemonUnreachable("unix:///x")) == 125
    assert isinstance(from_status(404, "No such container: x"), NotFound)


def test_system_prune_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out, err = _run(["system", "prune", "--volumes"])
    assert code == 0  # docker v28 swallows its cancelledErr: nothing on stderr, exit 0
    assert out.startswith("WARNING! This will remove:\n  - all stopped containers\n"
                          "  - all anonymous volumes not used by at least one container\n")
    assert out.endswith("Are you sure you want to continue? [y/N] ")
    assert err == ""


def test_noun_verbs_aliases_and_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    import types

    from skiff.cli.command import Command

    def ls(cli: Cli, ns: argparse.Namespace) -> int:
        cli.print(f"listing all={ns.all}")
        return 0

    def rm(cli: Cli, ns: argparse.Namespace) -> int:
        cli.print(" ".join(ns.args))
        return 0

    fake = types.ModuleType("skiff.cli.commands.container")
    fake.NOUN, fake.HELP = "container", "Manage containers"  # type: ignore[attr-defined]
    fake.COMMANDS = [  # type: ignore[attr-defined]
        Command("ls", "List containers", ls, setup=lambda p: p.add_argument("-a", "--all", action="store_true"),
                aliases=("list", "ps")),
        Command("rm", "Remove", rm, usage="[OPTIONS] CONTAINER [CONTAINER...]", args=(1, None)),
    ]
    monkeypatch.setitem(__import__("sys").modules, "skiff.cli.commands.container", fake)
    for argv in (["ps", "-a"], ["container", "ls", "--all"], ["container", "list", "-a"], ["container", "ps", "-a"]):
        assert _run(argv) == (0, "listing all=True\n", ""), argv
    assert _run(["rm", "a", "b"])[1] == "a b\n"
    code, _, err = _run(["ps", "extra"])
    assert code == 1 and err.startswith("skiff: 'skiff ps' accepts no arguments\n\nUsage:  skiff ps [OPTIONS]")
    code, _, err = _run(["rm"])
    assert code == 1 and "'skiff rm' requires at least 1 argument" in err
    code, _, err = _run(["container", "frob"])
    assert code == 1 and "unknown command: skiff container frob" in err
    code, _, err = _run(["container"])  # docker prints a bare noun's help on stderr
    assert code == 0 and "  ls          List containers" in err
    code, out, _ = _run(["container", "--help"])
    assert code == 0 and "  ls          List containers" in out
    code, out, _ = _run(["ps", "--help"])
    assert "Aliases:\n  skiff container ls, skiff container list, skiff container ps, skiff ps\n" in out
