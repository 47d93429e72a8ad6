"""``exec`` with Skiff's own runtime, run from the monitor without a runtime command.

Why: ``skiff-runtime exec`` forked from the monitor still cost an extra fork, argument parsing, a
process JSON written and read back, a pid file, and imports of what the CLI path needs; that was
about two thirds of the monitor's share of ``docker exec``. The monitor is single-threaded, so it
forks the exec'd process itself, inside the container's pid namespace, and the child runs the
runtime library's exec steps (``setns_exec``) up to execve; the monitor learns success from EOF
on the close-on-exec sync pipe, or reads the runtime's error there.
External runtimes (runc, crun) keep the command path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["exec_in_process", "runtime_root", "describe_error", "ExecFailed"]

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
                    stdio: tuple[int, int, int] | None, console_socket: str = "", init_pid: int = 0) -> int:
    """Start ``process`` in the container; its pid once it has exec'd. Raises what the runtime
    raises (its message is the one ``skiff-runtime exec`` would print).

    With ``init_pid`` (the container's init, which the monitor holds) the monitor joins the
    container's pid namespace for one fork and the child does all the rest: reading the
    container's state, joining its namespaces and cgroups, and exec. One process, and the monitor
    itself runs almost none of the runtime's Python: done in the monitor, the first exec left
    ~0.8 MB more private memory in every monitor (copy-on-write of the preloaded runtime, parser
    garbage). A container with a user namespace needs the runtime's own double fork: a short-lived
    fork of the monitor runs ``exec_in`` then (``_exec_in_fork``)."""
    from skiff.runtime import sync
    from skiff.sys import ns

    if not init_pid or _has_userns(init_pid):
        return _exec_in_fork(runtime_args, container_id, process, stdio, console_socket)
    parent, child = sync.pair()
    saved = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        ns.setns_path(f"/proc/{init_pid}/ns/pid", ns.CLONE_NEWPID)
        try:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - becomes the exec'd process or exits
                parent.close()
                _direct_child(child, runtime_args, container_id, process, stdio, console_socket)
        finally:
            ns.setns(saved, ns.CLONE_NEWPID)
    finally:
        os.close(saved)
    child.close()
    try:
        msg = sync.recv(parent)  # EOF: the sync fds are close-on-exec, so the process exec'd
    finally:
        parent.close()
    if msg.get("t") == "error":
        os.waitpid(pid, 0)
        raise ExecFailed(f"exec failed: {msg.get('msg')}")
    return pid


def _has_userns(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    except OSError:
        return False


def _direct_child(ch: Any, runtime_args: Sequence[str], container_id: str, process: Mapping[str, Any],
                  stdio: tuple[int, int, int] | None, console_socket: str) -> None:
    """In the container's pid namespace already: setns_exec's child, from the container's state."""
    import gc

    gc.disable()
    try:
        from skiff.runtime import setns_exec, sync
        from skiff.runtime.container import load
        from skiff.runtime.specconv import parse_process

        c = load(runtime_root(runtime_args), container_id)
        opts = setns_exec.ExecOptions(process=parse_process(dict(process)), detach=True,
                                      console_socket=console_socket, stdio=stdio)
        setns_exec.exec_child(c, opts, ch)  # execs, or reports and exits
    except BaseException as exc:
        try:
            sync.send(ch, "error", msg=describe_error(exc))
        except BaseException:
            pass
    os._exit(127)


def _exec_in_fork(runtime_args: Sequence[str], container_id: str, process: Mapping[str, Any],
                  stdio: tuple[int, int, int] | None, console_socket: str) -> int:
    """``setns_exec.exec_in`` in a short-lived fork of the monitor, which reports the pid (or the
    runtime's error) through a pipe. The exec'd process is the fork's child; when the fork exits
    it is re-parented to the monitor (a child subreaper), which reaps it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and never returns
        os.close(r)
        _child(w, runtime_args, container_id, process, stdio, console_socket)
    os.close(w)
    chunks = []
    try:
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    kind, _, rest = b"".join(chunks).decode(errors="replace").partition(" ")
    if kind == "pid":
        return int(rest)
    raise ExecFailed(rest if kind == "error" else "exec: the runtime process ended without a word")


class ExecFailed(Exception):
    """The runtime's exec failed; ``str()`` is its message."""


def _child(w: int, runtime_args: Sequence[str], container_id: str, process: Mapping[str, Any],
           stdio: tuple[int, int, int] | None, console_socket: str) -> None:
    import gc

    gc.disable()  # a collection would copy the monitor's frozen heap for nothing
    try:
        import _signal

        _signal.set_wakeup_fd(-1)
        from skiff.runtime.container import load
        from skiff.runtime.setns_exec import ExecOptions, exec_in
        from skiff.runtime.specconv import parse_process

        c = load(runtime_root(runtime_args), container_id)
        opts = ExecOptions(process=parse_process(dict(process)), detach=True, console_socket=console_socket,
                           stdio=stdio)
        msg = f"pid {exec_in(c, opts)}"
        code = 0
    except BaseException as exc:
        msg, code = f"error {describe_error(exc)}", 1
    try:
        os.write(w, msg.encode())
    finally:
        os._exit(code)


def describe_error(exc: BaseException) -> str:
    """The text ``skiff-runtime`` reports for ``exc`` (cli.main._report), without the log framing."""
    from skiff.errors import SkiffError

    if isinstance(exc, (SkiffError, ExecFailed)):
        return str(exc)
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        return f"{text}: {exc.filename}" if exc.filename else text
    return f"internal error: {type(exc).__name__}: {exc}"

