"""THE map from error class to the CLI's exit code, as docker's CLI exits.

docker exits 1 for a failed command (daemon errors included: ``docker rm nosuch`` -> 1), 125 for
bad flags/usage of flags, and for ``run``-style commands 125 when the engine fails, 126 when the
command cannot be invoked and 127 when it cannot be found. A command that must return another
status (``run`` returns the container's exit code) raises ``StatusError(code)``.
"""

from __future__ import annotations

from skiff.errors import SkiffError

__all__ = ["GENERIC", "USAGE", "ENGINE", "CANNOT_INVOKE", "NOT_FOUND", "INTERRUPTED", "StatusError",
           "UsageError", "exit_code", "run_exit_code"]

GENERIC = 1          # a command failed (daemon error, bad argument count, ...)
USAGE = 125          # unknown flag / bad flag value (cobra's flag errors in docker)
ENGINE = 125         # run/create: the engine failed before the container ran
CANNOT_INVOKE = 126  # run/exec: the command exists but cannot be executed
NOT_FOUND = 127      # run/exec: the command was not found
INTERRUPTED = 130


class StatusError(SkiffError):
    """Exit with ``code`` after printing ``message`` (if any): e.g. run's container status."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code


class UsageError(SkiffError):
    """Bad flags or arguments; printed with the command's usage line."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def exit_code(err: BaseException) -> int:
    """The exit code for an error that ends an ordinary command."""
    if isinstance(err, StatusError | UsageError):
        return err.code
    if isinstance(err, KeyboardInterrupt):
        return INTERRUPTED
    return GENERIC


# The daemon's reply carries only a status and a message, so telling "not found" from "cannot
# execute" is done on the message, exactly as docker's CLI (cli/command/container/run.go,
# toStatusError) does. This is the one place in Skiff allowed to look at error text.
_NOT_FOUND_TEXT = ("executable file not found", "no such file or directory",
                   "system cannot find the file specified")
_CANNOT_INVOKE_TEXT = ("permission denied", "is a directory")


def run_exit_code(err: BaseException) -> int:
    """The exit code docker run/start/exec give for ``err`` (125, 126 or 127)."""
    if isinstance(err, StatusError | UsageError):
        return err.code
    text = str(err)
    if any(t in text for t in _NOT_FOUND_TEXT):
        return NOT_FOUND
    if any(t in text for t in _CANNOT_INVOKE_TEXT):
        return CANNOT_INVOKE
    return ENGINE
