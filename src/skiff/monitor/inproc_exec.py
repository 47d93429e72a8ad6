"""``exec`` with Skiff's own runtime, run by the monitor itself instead of a runtime command.

Why: ``skiff-runtime exec`` forked from the monitor still cost an extra fork, argument parsing, a
process JSON written and read back, a pid file, and imports of what the CLI path needs; that was
about two thirds of the monitor's share of ``docker exec``. The monitor is single-threaded, so it
can call the runtime library (``setns_exec.exec_in``) directly: the library forks the process
(joining the container's pid namespace around the fork) and returns once it has exec'd. The child
becomes the monitor's own child, so the monitor reaps it as it reaps any exec.
External runtimes (runc, crun) keep the command path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["exec_in_process", "runtime_root", "describe_error"]

_DEFAULT_ROOT = "/run/skiff-runtime"


def runtime_root(runtime_args: Sequence[str]) -> str:
    """The ``--root`` among the runtime's global options (the runtime's default otherwise)."""
    args = list(runtime_args)
    for i, a in enumerate(args):
        if a == "--root" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--root="):
            return a.split("=", 1)[1]
    return _DEFAULT_ROOT


def exec_in_process(runtime_args: Sequence[str], container_id: str, process: Mapping[str, Any],
                    stdio: tuple[int, int, int] | None, console_socket: str = "") -> int:
    """Start ``process`` in the container; its pid once it has exec'd. Raises what the runtime
    raises (its message is the one ``skiff-runtime exec`` would print)."""
    from skiff.runtime.container import load
    from skiff.runtime.setns_exec import ExecOptions, exec_in
    from skiff.runtime.specconv import parse_process

    c = load(runtime_root(runtime_args), container_id)
    opts = ExecOptions(process=parse_process(dict(process)), detach=True, console_socket=console_socket,
                       stdio=stdio)
    return exec_in(c, opts)


def describe_error(exc: BaseException) -> str:
    """The text ``skiff-runtime`` reports for ``exc`` (cli.main._report), without the log framing."""
    from skiff.errors import SkiffError

    if isinstance(exc, SkiffError):
        return str(exc)
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        return f"{text}: {exc.filename}" if exc.filename else text
    return f"internal error: {type(exc).__name__}: {exc}"

