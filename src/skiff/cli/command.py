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

    __slots__ = ("aliases", "args", "error_exit", "help", "long", "name", "run", "setup", "usage")

    def __init__(self, name: str, help: str, run: Runner, usage: str = "[OPTIONS]",  # noqa: A002
                 setup: Callable[[argparse.ArgumentParser], object] | None = None,
                 aliases: tuple[str, ...] = (), args: tuple[int, int | None] = (0, 0),
                 error_exit: Callable[[BaseException], int] = exit_code, long: str = "") -> None:
        self.name, self.help, self.run, self.usage = name, help, run, usage
        self.long = long  # --help's description when docker has a longer one than the list line
        self.setup, self.aliases, self.args, self.error_exit = setup, aliases, args, error_exit

    def __repr__(self) -> str:
        return f"Command({self.name!r})"


_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _flag_label(action: argparse.Action) -> str:
    """How pflag names a flag in its errors: "-n, --last" or "--tail"."""
    longs = [o for o in action.option_strings if o.startswith("--")]
    shorts = [o for o in action.option_strings if not o.startswith("--")]
    return f"{shorts[0]}, {longs[0]}" if shorts and longs else (longs or shorts)[0]


class CommandParser(argparse.ArgumentParser):
    """argparse with docker's messages: unknown flags exit 125, never argparse's own text."""

    def __init__(self, path: str, usage_line: str, short: str, **kw: Any) -> None:
        super().__init__(prog=path, usage=f"{path} {usage_line}", description=short, add_help=False,
                         allow_abbrev=False, **kw)
        self.path = path
        self.usage_line = f"{path} {usage_line}"
        self.aliases: list[str] = []  # other command lines for the same verb, shown in --help
        self.add_argument("-h", "--help", action="store_true", help="Print usage")

    _argv: list[str] = []

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._argv = list(args or [])  # for pflag's "'n' in -n" when a short flag lacks its value
        return super().parse_known_args(self._bool_values(self._argv), namespace)

    def _bool_values(self, argv: list[str]) -> list[str]:
        """pflag's --flag=true/false for boolean flags (argparse's store_true takes no value)."""
        out: list[str] = []
        # run/create/exec/top: what follows the first positional is the container's command line
        stop_at_positional = any(x.nargs == argparse.REMAINDER for x in self._actions)
        for i, a in enumerate(argv):
            if a == "--" or (stop_at_positional and not a.startswith("-")):
                return out + argv[i:]
            name, eq, value = a.partition("=")
            action = self._option_string_actions.get(name) if eq and name.startswith("-") else None
            if action is None or action.nargs != 0 or not isinstance(action, argparse._StoreTrueAction):
                out.append(a)
                continue
            if value in _GO_TRUE:
                out.append(name)
            elif value not in _GO_FALSE:
                raise UsageError(self._docker_message(
                    f'invalid argument "{value}" for "{_flag_label(action)}" flag: strconv.ParseBool: '
                    f'parsing "{value}": invalid syntax'))
        return out

    def error(self, message: str) -> NoReturn:
        raise UsageError(self._docker_message(message), USAGE)

    def _docker_message(self, message: str) -> str:
        if message.startswith("unrecognized arguments: "):
            bad = message.split(": ", 1)[1].split()[0]
            text = f"unknown flag: {bad}" if bad.startswith("-") else f"unknown argument: {bad}"
        elif message.startswith("argument ") and ": invalid int value: " in message:
            names = message.split()[1].rstrip(":").split("/")
            action = self._option_string_actions.get(names[0])
            value = message.rsplit(": invalid int value: ", 1)[1].strip("'")
            label = _flag_label(action) if action is not None else names[-1]
            text = (f'invalid argument "{value}" for "{label}" flag: strconv.ParseInt: parsing "{value}": '
                    "invalid syntax")
        elif message.startswith("invalid argument "):
            text = message
        elif message.startswith("argument ") and "expected one argument" in message:
            names = message.split()[1].rstrip(":").split("/")
            typed = next((a for a in reversed(self._argv) if a in names), names[-1])
            text = f"flag needs an argument: {typed if typed.startswith('--') else f'{typed[1:]!r} in {typed}'}"
        else:
            text = message
        return f"{text}\n\nUsage:  {self.usage_line}\n\nRun '{self.path} --help' for more information"

    def format_help(self) -> str:
        """cobra's usage template as docker sets it up: usage line, description, aliases, options
        (pflag's FlagUsagesWrapped: sorted, aligned, wrapped at the terminal width - 1)."""
        text = f"Usage:  {self.usage_line}\n\n{self.description}"
        if len(self.aliases) > 1:
            text += f"\n\nAliases:\n  {', '.join(self.aliases)}"
        flags = flag_usages(self)
        if flags:
            text += "\n\nOptions:\n" + flags.rstrip()
        return text + "\n"


FORMAT_HELP = """Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"""
INSPECT_FORMAT_HELP = """Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"""


def _flag_type(a: argparse.Action) -> str:
    """pflag's type name shown after the flag (UnquoteUsage): "" for booleans."""
    if a.nargs == 0 or a.metavar == "":  # "": a boolean flag taking an optional =value (--sig-proxy=false)
        return ""
    if isinstance(a.metavar, str) and a.metavar.islower():
        return a.metavar
    if a.dest == "filter":
        return "filter"
    if a.type is int:
        return "int"
    if isinstance(a, argparse._AppendAction):
        return "list"
    return "string"


def _wrap_n(i: int, slop: int, s: str) -> tuple[str, str]:
    if i + slop > len(s):
        return s, ""
    w = max(s.rfind(" ", 0, i), s.rfind("\t", 0, i), s.rfind("\n", 0, i))
    if w <= 0:
        return s, ""
    nl = s.rfind("\n", 0, i)
    if 0 < nl < w:
        return s[:nl], s[nl + 1:]
    return s[:w], s[w + 1:]


def _wrap(i: int, w: int, s: str) -> str:
    """pflag's wrap: ``s`` in a column starting at ``i`` of a ``w``-wide terminal."""
    width = w - i
    r = ""
    if width < 24:
        i, width = 16, w - 16
        r = "\n" + " " * i
    if width < 24:
        return s.replace("\n", r)
    slop = 5
    width -= slop
    line, s = _wrap_n(width, slop, s)
    r += line.replace("\n", "\n" + " " * i)
    while s:
        line, s = _wrap_n(width, slop, s)
        r += "\n" + " " * i + line.replace("\n", "\n" + " " * i)
    return r


def _term_cols() -> int:
    try:
        return os.get_terminal_size(0).columns - 1
    except OSError:
        return 79


def flag_usages(p: argparse.ArgumentParser) -> str:
    """pflag's FlagUsagesWrapped for the parser's flags (help hidden, as docker hides it)."""
    entries = []
    for a in p._actions:
        # docker hides its persistent -h/--help; run/create (-h is --hostname) show a local --help
        if not a.option_strings or (a.dest == "help" and "-h" in a.option_strings) or a.help == argparse.SUPPRESS:
            continue
        longs = [o[2:] for o in a.option_strings if o.startswith("--")]
        short = getattr(a, "shorthand", None)  # a short form parsed by another action (history -H)
        shorts = [o[1:] for o in a.option_strings if not o.startswith("--")] or ([str(short)] if short else [])
        name = longs[0] if longs else shorts[0]
        line = f"  -{shorts[0]}, --{name}" if shorts and longs else f"      --{name}"
        kind = _flag_type(a)
        if kind:
            line += " " + kind
        usage = a.help or ""
        if a.dest == "format" and usage == "Format output using a custom template":
            inspect_like = "-f" in a.option_strings or getattr(p, "path", "").endswith(" events")
            usage = INSPECT_FORMAT_HELP if inspect_like else FORMAT_HELP
        d = a.default
        if kind and d not in (None, False, 0, "", [], ()) and "(default" not in usage:
            usage += f' (default "{d}")' if kind == "string" else f" (default {d})"
        entries.append((name, line, usage))
    if not entries:
        return ""
    entries.sort(key=lambda e: e[0])
    maxlen = max(len(line) + 1 for _, line, _ in entries)
    cols = _term_cols()
    return "".join(f"{line} {' ' * (maxlen - len(line))} {_wrap(maxlen + 2, cols, usage)}\n"
                   for _, line, usage in entries)


def build_parser(path: str, cmd: Command) -> CommandParser:
    p = CommandParser(path, cmd.usage, cmd.long or cmd.help)
    if cmd.setup is not None:
        cmd.setup(p)
    if not any(not a.option_strings for a in p._actions):  # positionals are checked by check_args
        p.add_argument("args", nargs="*", metavar="ARG")
    return p


def _plural(n: int) -> str:
    return "argument" if n == 1 else "arguments"


def check_args(path: str, cmd: Command, args: list[str]) -> None:
    """docker's NoArgs/ExactArgs/RequiresMinArgs/RequiresMaxArgs/RequiresRangeArgs, with their
    messages as written in cli/required.go (exit 1)."""
    lo, hi = cmd.args
    n = len(args)
    usage = f"\n\nUsage:  {path} {cmd.usage}\n\n"
    if hi is not None and lo == hi:
        if n != lo:
            what = "accepts no arguments" if lo == 0 else f"requires {lo} {_plural(lo)}"
            raise UsageError(f"skiff: '{path}' {what}{usage}Run '{path} --help' for more information", GENERIC)
    elif hi is None:
        if n < lo:
            raise UsageError(f"skiff: '{path}' requires at least {lo} {_plural(lo)}{usage}"
                             f"See '{path} --help' for more information", GENERIC)
    elif lo == 0:
        if n > hi:  # docker's text has this typo ("SRun")
            raise UsageError(f"skiff: '{path}' requires at most {hi} {_plural(hi)}{usage}"
                             f"SRun '{path} --help' for more information", GENERIC)
    elif n < lo or n > hi:
        raise UsageError(f"skiff: '{path}' requires at least {lo} and at most {hi} {_plural(hi)}{usage}"
                         f"Run '{path} --help' for more information", GENERIC)
