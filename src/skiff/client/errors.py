"""THE map from HTTP status to ``skiff.errors`` class, for replies from a daemon (Skiff or dockerd).

Every error the daemon sends becomes an instance of a ``DaemonError`` subclass that is also the
matching ``skiff.errors`` class (``isinstance(e, NotFound)`` works). ``str(e)`` reads as docker
prints it: "Error response from daemon: <message>"; ``e.message`` is the daemon's text alone.
"""

from __future__ import annotations

from skiff.errors import (
    Conflict,
    Forbidden,
    InvalidParameter,
    NotFound,
    NotModified,
    SkiffError,
    System,
    Unauthorized,
    Unavailable,
    Unimplemented,
)

__all__ = ["DaemonError", "DaemonUnreachable", "from_status", "STATUS_CLASSES"]

STATUS_CLASSES: dict[int, type[SkiffError]] = {
    304: NotModified,
    400: InvalidParameter,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    501: Unimplemented,
    503: Unavailable,
}


class DaemonError(SkiffError):
    """An error reply from the daemon; ``status`` is the HTTP status."""

    status: int = 500

    def __init__(self, message: str = "", status: int = 500) -> None:
        super().__init__(message)
        self.status = status

    def __str__(self) -> str:
        return f"Error response from daemon: {self.message}"


class DaemonUnreachable(Unavailable):
    """No daemon answers at the host (connection refused, no socket, TLS handshake failure)."""

    def __init__(self, host: str, detail: str = "") -> None:
        super().__init__(f"Cannot connect to the Docker daemon at {host}. Is the docker daemon running?")
        self.host = host
        self.detail = detail


_CACHE: dict[type[SkiffError], type[DaemonError]] = {}


def _daemon_class(base: type[SkiffError]) -> type[DaemonError]:
    cls = _CACHE.get(base)
    if cls is None:
        cls = type("Daemon" + base.__name__, (DaemonError, base), {"__module__": __name__})
        _CACHE[base] = cls
    return cls


def from_status(status: int, message: str) -> DaemonError:
    """The error for a reply of ``status`` carrying ``message``."""
    base = STATUS_CLASSES.get(status)
    if base is None:
        base = System if status >= 500 else InvalidParameter
    return _daemon_class(base)(message, status)
