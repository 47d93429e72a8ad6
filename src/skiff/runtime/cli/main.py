"""``skiff-runtime``: runc's command line. One module per command, imported lazily.

Interfaces: a command module defines ``USAGE: str`` and ``run(g: Globals, argv: list[str]) -> int``
(``argv`` is what follows the command name). To add one, add its name and module path to
``COMMANDS`` below. Errors: raise ``skiff.errors`` subclasses; ``main`` prints them (and logs them
to ``--log``) and exits 1.
"""

from __future__ import annotations

import os
import sys

from skiff.runtime.frozen import frozen

__all__ = ["main", "Globals", "COMMANDS"]

#: command name -> module (each has USAGE and run(g, argv)).
COMMANDS: dict[str, str] = {
    "create": "skiff.runtime.cli.create",
    "start": "skiff.runtime.cli.start",
    "state": "skiff.runtime.cli.state",
    "kill": "skiff.runtime.cli.kill",
    "delete": "skiff.runtime.cli.delete",
    "run": "skiff.runtime.cli.run",
    "exec": "skiff.runtime.cli.exec",
    "list": "skiff.runtime.cli.list",
    "spec": "skiff.runtime.cli.spec",
    "features": "skiff.runtime.cli.features",
    "ps": "skiff.runtime.cli.ps",
    "pause": "skiff.runtime.cli.pause",
    "resume": "skiff.runtime.cli.resume",
    "update": "skiff.runtime.cli.update",
    "events": "skiff.runtime.cli.events",
}
VERSION = "skiff-runtime version 0.1.0\nspec: 1.0.2"
_HELP = {
    "create": "create a container", "start": "execute the user process of a created container",
    "state": "output the state of a container", "kill": "send a signal to the container's init",
    "delete": "delete a container and what it holds", "run": "create and start a container",
    "exec": "execute a new process inside a container", "list": "list containers",
    "spec": "create a new specification file", "features": "show the enabled features",
    "ps": "display the processes of a container", "pause": "suspend all processes of a container",
    "resume": "resume all processes of a paused container", "update": "update resource limits",
    "events": "display container events and statistics",
}


@frozen
class Globals:
    root: str
    log: str = ""
    log_format: str = "text"
    debug: bool = False


_USAGE = """usage: skiff-runtime [global options] command [command options] [arguments...]

An OCI runtime with runc's command line.

global options:
   --root value        root directory for storage of container state (default: /run/skiff-runtime)
   --log value         log file (default: none; errors go to stderr)
   --log-format value  log format: text or json (default: text)
   --debug             enable debug logging
   --systemd-cgroup    refused: skiff-runtime manages cgroupfs directly
   --version, -v       print the version

commands:
""" + "".join(f"   {name:10s} {_HELP.get(name, '')}\n" for name in COMMANDS)


def _globals(argv: list[str]) -> tuple[Globals, list[str]]:
    from skiff.runtime.cli.args import Opt, parse
    from skiff.runtime.errors import InvalidConfig, Unsupported

    spec = {
        "root": Opt("root", "value"), "log": Opt("log", "value"), "log-format": Opt("log_format", "value"),
        "debug": Opt("debug"), "systemd-cgroup": Opt("systemd_cgroup"), "criu": Opt("criu", "value"),
        "rootless": Opt("rootless", "value"), "version": Opt("version"), "v": Opt("version"),
        "help": Opt("help"), "h": Opt("help"),
    }
    opts, rest = parse(argv, spec)
    if opts["version"]:
        print(VERSION)
        raise SystemExit(0)
    if opts["help"] or not rest:
        sys.stdout.write(_USAGE)
        raise SystemExit(0)
    fmt = str(opts["log_format"] or "text")
    if fmt not in ("text", "json"):
        raise InvalidConfig(f"invalid log-format: {fmt}")
    g = Globals(root=str(opts["root"] or "/run/skiff-runtime"), log=str(opts["log"] or ""),
                log_format=fmt, debug=bool(opts["debug"]))
    from skiff.runtime.cli import log

    log.configure(g.log, g.log_format, g.debug)
    if opts["systemd_cgroup"]:
        raise Unsupported("--systemd-cgroup is not supported: skiff-runtime manages cgroupfs directly")
    return g, rest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        g, rest = _globals(args)
        name = rest[0]
        mod_name = COMMANDS.get(name)
        if mod_name is None:
            from skiff.runtime.errors import InvalidConfig

            raise InvalidConfig(f"No help topic for '{name}'")
        try:
            __import__(mod_name)  # not importlib: it costs start-up time
            mod = sys.modules[mod_name]
        except ModuleNotFoundError as exc:
            if exc.name != mod_name:
                raise
            from skiff.errors import Unimplemented

            raise Unimplemented(f"command {name!r} is not implemented yet") from None
        if "--help" in rest[1:2] or "-h" in rest[1:2]:
            sys.stdout.write(mod.USAGE)
            return 0
        return int(mod.run(g, rest[1:]))
    except SystemExit as exc:
        return int(exc.code or 0)
    except BaseException as exc:
        return _report(exc)


def _report(exc: BaseException) -> int:
    from skiff.errors import SkiffError
    from skiff.runtime.cli import log

    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, SkiffError):
        log.error(str(exc))
    elif isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        log.error(f"{text}: {exc.filename}" if exc.filename else text)
    else:
        import traceback

        log.error(f"internal error: {type(exc).__name__}: {exc}")
        if os.environ.get("SKIFF_RUNTIME_DEBUG"):
            traceback.print_exc()
    return 1


if __name__ == "__main__":
    sys.exit(main())
