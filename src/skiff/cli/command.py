"""The command framework: ``Command`` (one verb), the parser with docker's error texts, ``Cli``.

A noun module (``skiff/cli/commands/<noun>.py``) declares::

    NOUN = "container"
    HELP = "Manage containers"
    COMMANDS = [
        Command("ls", "List containers", _ls, usage="[OPTIONS]", setup=_ls_flags,
                aliases=("list", "ps")),
        Command("rm", "Remove one or more containers", _rm,
                usage="[OPTIONS] CONTAINER [CONTAINER...]", args=(1, None)),
    ]

``run(cli, ns)`` gets the parsed flags; positional arguments are ``ns.args`` (a list, checked
against ``args=(min, max)`` with docker's messages). It returns an exit status (None = 0) or raises:
daemon errors propagate and main prints them as docker does.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, NoReturn

from skiff.cli.exitcodes import GENERIC, USAGE, UsageError, exit_code

if TYPE_CHECKING:
    from skiff.client.api import APIClient

__all__ = ["Command", "CommandParser", "Cli", "GlobalOptions", "build_parser", "check_args"]


class GlobalOptions:
    """docker's global flags (before the command word). A plain class: no dataclasses import at start."""

    __slots__ = ("config", "debug", "host", "log_level", "tls", "tlscacert", "tlscert", "tlskey", "tlsverify")

    def __init__(self, host: str | None = None, config: str | None = None, debug: bool = False,
                 log_level: str = "info", tls: bool = False, tlsverify: bool = False,
                 tlscacert: str | None = None, tlscert: str | None = None, tlskey: str | None = None) -> None:
        self.host, self.config, self.debug, self.log_level = host, config, debug, log_level
        self.tls, self.tlsverify = tls, tlsverify
        self.tlscacert, self.tlscert, self.tlskey = tlscacert, tlscert, tlskey


class Cli:
    """What a command works with: output streams and a lazily made API client."""

    def __init__(self, options: GlobalOptions | None = None, out: IO[str] | None = None,
                 err: IO[str] | None = None) -> None:
        self.options = options or GlobalOptions()
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr

    @cached_property
    def client(self) -> APIClient:
        from skiff.client.api import APIClient
        from skiff.client.transport import tls_from_env

        o = self.options
        tls = tls_from_env(tls=o.tls, verify=o.tlsverify, ca=o.tlscacert, cert=o.tlscert, key=o.tlskey)
        return APIClient(o.host, tls)

    @property
    def config_dir(self) -> str:
        return self.options.config or os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")

    def print(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)

    def warn(self, text: str) -> None:
        self.err.write(text + "\n")

    @property
    def out_is_tty(self) -> bool:
        try:
            return self.out.isatty()
        except (AttributeError, ValueError):
            return False


Runner = Callable[[Cli, argparse.Namespace], "int | None"]


class Command:
    """One verb: name, one-line help, the function to run, flags, positional arg bounds.

    ``error_exit`` maps an error that ends the command to its exit code (``exitcodes.exit_code``;
    run-like commands pass ``exitcodes.run_exit_code``).
    """

    __slots__ = ("aliases", "args", "error_exit", "help", "name", "run", "setup", "usage")

    def __init__(self, name: str, help: str, run: Runner, usage: str = "[OPTIONS]",  # noqa: A002
                 setup: Callable[[argparse.ArgumentParser], object] | None = None,
                 aliases: tuple[str, ...] = (), args: tuple[int, int | None] = (0, 0),
                 error_exit: Callable[[BaseException], int] = exit_code) -> None:
        self.name, self.help, self.run, self.usage = name, help, run, usage
        self.setup, self.aliases, self.args, self.error_exit = setup, aliases, args, error_exit

    def __repr__(self) -> str:
        return f"Command({self.name!r})"


class CommandParser(argparse.ArgumentParser):
    """argparse with docker's messages: unknown flags exit 125, never argparse's own text."""

    def __init__(self, path: str, usage_line: str, short: str, **kw: Any) -> None:
        super().__init__(prog=path, usage=f"{path} {usage_line}", description=short, add_help=False,
                         allow_abbrev=False, **kw)
        self.path = path
        self.usage_line = f"{path} {usage_line}"
        self.aliases: list[str] = []  # other command lines for the same verb, shown in --help
        self.add_argument("-h", "--help", action="store_true", help="Print usage")

    def error(self, message: str) -> NoReturn:
        raise UsageError(self._docker_message(message), USAGE)

    def _docker_message(self, message: str) -> str:
        if message.startswith("unrecognized arguments: "):
            bad = message.split(": ", 1)[1].split()[0]
            text = f"unknown flag: {bad}" if bad.startswith("-") else f"unknown argument: {bad}"
        elif message.startswith("argument ") and "expected one argument" in message:
            flag = message.split()[1].split("/")[-1].rstrip(":")
            text = f"flag needs an argument: {flag}"
        else:
            text = message
        return f"{text}\n\nUsage:  {self.usage_line}\n\nRun '{self.path} --help' for more information"

    def format_help(self) -> str:
        lines = [f"\nUsage:  {self.usage_line}\n", f"{self.description}\n"]
        if len(self.aliases) > 1:
            lines.append(f"Aliases:\n  {', '.join(self.aliases)}\n")
        opts = [a for a in self._actions if a.option_strings]
        if opts:
            lines.append("Options:")
            for a in opts:
                names = ", ".join(a.option_strings)
                if a.nargs != 0:
                    metavar = a.metavar or (a.dest.upper() if a.type is not int else "int")
                    names += f" {metavar}" if isinstance(metavar, str) else ""
                lines.append(f"  {names:<24} {a.help or ''}".rstrip())
        return "\n".join(lines) + "\n"


def build_parser(path: str, cmd: Command) -> CommandParser:
    p = CommandParser(path, cmd.usage, cmd.help)
    if cmd.setup is not None:
        cmd.setup(p)
    if not any(not a.option_strings for a in p._actions):  # positionals are checked by check_args
        p.add_argument("args", nargs="*", metavar="ARG")
    return p


def _plural(n: int) -> str:
    return "argument" if n == 1 else "arguments"


def check_args(path: str, cmd: Command, args: list[str]) -> None:
    """docker's RequiresMinArgs/ExactArgs/NoArgs checks, with their messages (exit 1)."""
    lo, hi = cmd.args
    n = len(args)
    tail = f"\n\nUsage:  {path} {cmd.usage}\n\nSee '{path} --help' for more information"
    if hi is not None and lo == hi and n != lo:
        what = "accepts no arguments" if lo == 0 else f"requires exactly {lo} {_plural(lo)}"
        raise UsageError(f"skiff: '{path}' {what}{tail}", GENERIC)
    if n < lo:
        if hi is not None and hi != lo:
            raise UsageError(f"skiff: '{path}' requires at least {lo} and at most {hi} "
                             f"{_plural(hi)}{tail}", GENERIC)
        raise UsageError(f"skiff: '{path}' requires at least {lo} {_plural(lo)}{tail}", GENERIC)
    if hi is not None and n > hi:
        raise UsageError(f"skiff: '{path}' requires at most {hi} {_plural(hi)}{tail}", GENERIC)
