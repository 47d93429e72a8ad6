"""OCI hooks: run each with the container's state JSON on stdin, in order, with its timeout.

Which namespace a kind runs in is the caller's business: prestart, createRuntime, poststart and
poststop run from the runtime (host) side; createContainer and startContainer from the container's
init, so they see the container's namespaces (spec: config.md#posix-platform-hooks).
"""

from __future__ import annotations

import os

from skiff.runtime import fastjson
from skiff.runtime.config import Hook
from skiff.runtime.errors import HookFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any


__all__ = ["run_hooks", "run_hooks_warn", "warn"]


def run_hooks(kind: str, hooks: Sequence[Hook], state: Mapping[str, Any]) -> None:
    """Run ``hooks`` one after another; raise HookFailed on the first failure."""
    payload = fastjson.dumps(state).encode()
    for h in hooks:
        _run_one(kind, h, payload)


def run_hooks_warn(kind: str, hooks: Sequence[Hook], state: Mapping[str, Any]) -> None:
    """poststart/poststop: a failing hook is a warning and the rest still run (the spec)."""
    payload = fastjson.dumps(state).encode()
    for h in hooks:
        try:
            _run_one(kind, h, payload)
        except HookFailed as exc:
            warn(str(exc))


def _run_one(kind: str, h: Hook, payload: bytes) -> None:
    import subprocess

    argv = list(h.args) or [h.path]
    env = dict(e.split("=", 1) for e in h.env if "=" in e)
    try:
        p = subprocess.Popen(argv, executable=h.path, env=env, stdin=subprocess.PIPE,
                             close_fds=True)
    except OSError as exc:
        raise HookFailed(f"{kind} hook {h.path}: cannot start: {exc.strerror}")
    try:
        p.communicate(payload, timeout=h.timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise HookFailed(f"{kind} hook {h.path} did not finish within its timeout of {h.timeout}s")
    except BrokenPipeError:
        p.wait()
    if p.returncode != 0:
        how = (f"signal {-p.returncode}" if p.returncode < 0 else f"exit status {p.returncode}")
        raise HookFailed(f"{kind} hook {h.path} failed: {how}")


def warn(msg: str) -> None:
    """Failures of poststart/poststop hooks are warnings (spec): the lifecycle goes on."""
    os.write(2, f"skiff-runtime: warning: {msg}\n".encode())
