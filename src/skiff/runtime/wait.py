"""Waiting for a container process from the runtime's side, forwarding signals to it."""

from __future__ import annotations

import _signal  # the C module: ``signal`` itself imports enum, milliseconds of every `run`
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


__all__ = ["exit_code", "wait_forwarding"]

_FORWARD = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1,
            _signal.SIGUSR2, _signal.SIGWINCH)


def exit_code(status: int) -> int:
    """A wait status as a shell exit code: 128+n when killed by signal n."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_forwarding(pid: int) -> int:
    """Wait for ``pid`` (our child, or an orphan we reap as subreaper), forwarding signals to it."""
    def forward(signum: int, _frame: Any) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for s in _FORWARD:
        _signal.signal(s, forward)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return 255
    return exit_code(status)
