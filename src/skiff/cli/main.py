"""``skiff``: docker's command line for Skiff (and for dockerd).

Global flags come before the command word, as in docker. Only the module of the command asked
for is imported, so ``skiff version`` starts fast. No traceback ever reaches the user: errors are
printed as docker prints them and mapped to exit codes by ``skiff.cli.exitcodes``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

import skiff
from skiff.cli.command import Cli, Command, GlobalOptions, build_parser, check_args
from skiff.cli.commands import HIDDEN_NOUNS, NOUNS, SHORTCUTS, module_for
from skiff.cli.exitcodes import GENERIC, INTERRUPTED, USAGE, UsageError
from skiff.errors import SkiffError

__all__ = ["main", "run"]

_VALUE_FLAGS = {"-H": "host", "--host": "host", "--config": "config", "-c": "context",
                "--context": "context", "-l": "log_level", "--log-level": "log_level",
                "--tlscacert": "tlscacert", "--tlscert": "tlscert", "--tlskey": "tlskey"}
_BOOL_FLAGS = {"-D": "debug", "--debug": "debug", "--tls": "tls", "--tlsverify": "tlsverify",
               "-v": "version", "--version": "version", "-h": "help", "--help": "help"}
_LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")


def _shortcut_help(word: str) -> str:
    """The one-line help of the command a top-level word stands for (imported only for --help)."""
    noun, verb = SHORTCUTS[word]
    try:
        mod = importlib.import_module(module_for(noun))
    except ImportError:
        return ""
    for cmd in getattr(mod, "COMMANDS", ()):
        if cmd.name == verb or verb in cmd.aliases:
            return str(cmd.help)
    return ""


def _global_help() -> str:
    lines = ["", "Usage:  skiff [OPTIONS] COMMAND", "", "A self-sufficient runtime for containers", "",
             "Common Commands:"]
    for word in ("run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "search",
                 "version", "info"):
        lines.append(f"  {word:<11} {_shortcut_help(word)}".rstrip())
    lines += ["", "Management Commands:"]
    lines += [f"  {n:<11} {h}" for n, h in sorted(NOUNS.items())]
    lines += ["", "Commands:"]
    lines += [f"  {w:<11} {_shortcut_help(w)}".rstrip() for w in sorted(SHORTCUTS)
              if w not in ("run", "exec", "ps", "build", "pull", "push", "images", "login", "logout",
                           "search", "version", "info")]
    lines += ["", "Global Options:", _global_flags().rstrip("\n"), "",
              "Run 'skiff COMMAND --help' for more information on a command.", "",
              "For more help on how to use Docker, head to https://docs.docker.com/go/guides/"]
    return "\n".join(lines[1:]) + "\n"


def _global_flags() -> str:
    """docker's global flags in pflag's layout (defaults under the config directory, as docker shows them)."""
    import argparse

    from skiff.cli.command import flag_usages

    conf = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--config", default=conf, help="Location of client config files")
    p.add_argument("-c", "--context", help="Name of the context to use to connect to the daemon (overrides "
                   "DOCKER_HOST env var and default context set with \"docker context use\")")
    p.add_argument("-D", "--debug", action="store_true", help="Enable debug mode")
    p.add_argument("-H", "--host", action="append", help="Daemon socket to connect to")
    p.add_argument("-l", "--log-level", default="info",
                   help='Set the logging level ("debug", "info", "warn", "error", "fatal")')
    p.add_argument("--tls", action="store_true", help="Use TLS; implied by --tlsverify")
    p.add_argument("--tlscacert", default=os.path.join(conf, "ca.pem"), help="Trust certs signed only by this CA")
    p.add_argument("--tlscert", default=os.path.join(conf, "cert.pem"), help="Path to TLS certificate file")
    p.add_argument("--tlskey", default=os.path.join(conf, "key.pem"), help="Path to TLS key file")
    p.add_argument("--tlsverify", action="store_true", help="Use TLS and verify the remote")
    p.add_argument("-v", "--version", action="store_true", help="Print version information and quit")
    return flag_usages(p)


def _parse_globals(argv: Sequence[str]) -> tuple[dict[str, object], list[str]]:
    opts: dict[str, object] = {}
    i = 0
    args = list(argv)
    while i < len(args):
        a = args[i]
        if a == "--" or not a.startswith("-") or a == "-":
            break
        name, eq, value = a.partition("=")
        if name in _VALUE_FLAGS:
            if not eq:
                i += 1
                if i >= len(args):
                    what = name if name.startswith("--") else f"'{name[1:]}' in {name}"  # pflag's texts
                    raise UsageError(f"flag needs an argument: {what}\n\nUsage:  skiff [OPTIONS] COMMAND [ARG...]"
                                     "\n\nRun 'skiff --help' for more information", USAGE)
                value = args[i]
            opts[_VALUE_FLAGS[name]] = value
        elif name in _BOOL_FLAGS:
            opts[_BOOL_FLAGS[name]] = (value.lower() not in ("0", "false")) if eq else True
        else:
            raise UsageError(f"unknown flag: {name}\n\nUsage:  skiff [OPTIONS] COMMAND [ARG...]\n\n"
                             "Run 'skiff --help' for more information", USAGE)
        i += 1
    return opts, args[i:]


_SCHEMES = ("unix://", "tcp://", "ssh://", "fd://", "npipe://", "http://", "https://")


def _check_endpoint(o: GlobalOptions) -> None:
    """docker's "Failed to initialize" checks, made before any command runs: the host's scheme and,
    with TLS, the CA file."""
    host = o.host or os.environ.get("SKIFF_HOST") or os.environ.get("DOCKER_HOST") or ""
    if "://" in host and not host.startswith(_SCHEMES):
        raise UsageError(f"Failed to initialize: unable to resolve docker endpoint: invalid bind address format: "
                         f"{host}", GENERIC)
    if o.tls or o.tlsverify or os.environ.get("DOCKER_TLS_VERIFY"):
        ca = o.tlscacert or os.path.join(os.environ.get("DOCKER_CERT_PATH") or os.path.expanduser("~/.docker"),
                                         "ca.pem")
        if not os.path.exists(ca):
            raise UsageError(f"Failed to initialize: unable to resolve docker endpoint: open {ca}: no such file or "
                             "directory", GENERIC)


def _load(noun: str) -> ModuleType | None:
    name = module_for(noun)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def _find(mod: ModuleType, verb: str) -> Command | None:
    for cmd in getattr(mod, "COMMANDS", []):
        if verb == cmd.name or verb in cmd.aliases:
            return cmd
    return None


# Commands docker has at the top level only (skiff keeps them under `system`, unlisted there).
_TOP_ONLY = {("system", "inspect"), ("system", "version")}


def _noun_help(noun: str, mod: ModuleType | None) -> str:
    lines = [f"Usage:  skiff {noun} COMMAND", "", NOUNS.get(noun) or HIDDEN_NOUNS.get(noun, ""), "",
             "Commands:"]
    cmds = sorted((c for c in (getattr(mod, "COMMANDS", []) if mod else []) if (noun, c.name) not in _TOP_ONLY),
                  key=lambda c: c.name)  # cobra sorts them
    pad = max([11, *(len(c.name) for c in cmds)])
    for cmd in cmds:
        lines.append(f"  {cmd.name:<{pad}} {cmd.help}")
    lines += ["", f"Run 'skiff {noun} COMMAND --help' for more information on a command."]
    return "\n".join(lines) + "\n"


def run(argv: Sequence[str], cli: Cli | None = None) -> int:
    """Run one command line; returns the exit status (raises nothing)."""
    err = cli.err if cli is not None else sys.stderr
    cmd: Command | None = None
    try:
        opts, rest = _parse_globals(argv)
        if opts.get("context") and opts["context"] != "default":
            import hashlib
            name = str(opts["context"])
            meta = os.path.join(str(opts.get("config") or os.environ.get("DOCKER_CONFIG") or
                                    os.path.expanduser("~/.docker")), "contexts", "meta",
                                hashlib.sha256(name.encode()).hexdigest(), "meta.json")
            if not os.path.exists(meta):  # docker's text for a context that does not exist
                raise UsageError(f"Failed to initialize: unable to resolve docker endpoint: context \"{name}\": "
                                 f"context not found: open {meta}: no such file or directory", GENERIC)
            raise UsageError("skiff does not support docker contexts (--context); use -H/--host or "
                             "SKIFF_HOST/DOCKER_HOST to choose the daemon", GENERIC)
        level = str(opts.get("log_level", "info"))
        if level not in _LOG_LEVELS:
            raise UsageError(f"Unable to parse logging level: {level}", GENERIC)
        options = GlobalOptions(
            host=str(opts["host"]) if "host" in opts else None,
            config=str(opts["config"]) if "config" in opts else None,
            debug=bool(opts.get("debug")), log_level=level, tls=bool(opts.get("tls")),
            tlsverify=bool(opts.get("tlsverify")),
            tlscacert=str(opts["tlscacert"]) if "tlscacert" in opts else None,
            tlscert=str(opts["tlscert"]) if "tlscert" in opts else None,
            tlskey=str(opts["tlskey"]) if "tlskey" in opts else None)
        if cli is None:
            cli = Cli(options)
        else:
            cli.options = options
        if opts.get("version"):
            cli.print(f"Skiff version {skiff.__version__}")
            return 0
        if not rest or opts.get("help"):
            cli.print(_global_help(), end="")
            return 0
        word, rest = rest[0], rest[1:]
        if "--help" not in rest and "-h" not in rest:
            _check_endpoint(options)
        if word == "help":
            cli.print(_global_help(), end="")
            return 0
        if word in NOUNS or word in HIDDEN_NOUNS:
            noun = word
            mod = _load(noun)
            if not rest or rest[0] in ("-h", "--help", "help"):
                # docker prints a bare noun's help on stderr, --help on stdout
                (cli.out if rest else err).write(_noun_help(noun, mod))
                return 0
            verb, rest = rest[0], rest[1:]
            path = f"skiff {noun} {verb}"
        elif word in SHORTCUTS:
            noun, verb = SHORTCUTS[word]
            mod = _load(noun)
            path = f"skiff {word}"
        else:
            raise UsageError(f"skiff: unknown command: skiff {word}\n\nRun 'skiff --help' for more "
                             "information", GENERIC)
        cmd = _find(mod, verb) if mod is not None else None
        if cmd is None:
            if mod is None or word in SHORTCUTS:
                raise UsageError(f"skiff: '{path}' is not implemented yet", GENERIC)
            use = f"skiff {noun} COMMAND" if noun == "volume" else f"skiff {noun}"  # docker's Use lines
            raise UsageError(f"skiff: unknown command: {path}\n\nUsage:  {use}\n\nRun 'skiff {noun} --help' "
                             "for more information", GENERIC)
        parser = build_parser(path, cmd)
        parser.aliases = [f"skiff {noun} {n}" for n in (cmd.name, *cmd.aliases)
                          if (noun, cmd.name) not in _TOP_ONLY] + [
            f"skiff {w}" for w, target in SHORTCUTS.items() if target == (noun, cmd.name)]
        ns = parser.parse_args(rest)
        if ns.help:
            cli.print(parser.format_help(), end="")
            return 0
        if not hasattr(ns, "args"):
            ns.args = []
        check_args(path, cmd, ns.args)
        status = cmd.run(cli, ns)
        return int(status or 0)
    except UsageError as exc:
        err.write(f"{exc.message}\n")
        return exc.code
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        return 0
    except SkiffError as exc:
        text = str(exc)
        if text:
            err.write(text + "\n")
        return cmd.error_exit(exc) if cmd is not None else GENERIC
    except Exception as exc:  # a bug: say so in one line, never a traceback
        if os.environ.get("SKIFF_TRACEBACK"):
            raise
        err.write(f"skiff: internal error: {type(exc).__name__}: {exc}\n")
        return GENERIC


def main(argv: Sequence[str] | None = None) -> NoReturn:
    status = run(sys.argv[1:] if argv is None else argv)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        # stdout went away (| head): don't let the interpreter complain on exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(status)


if __name__ == "__main__":
    main()
