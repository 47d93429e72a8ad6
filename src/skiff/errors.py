"""One error vocabulary for every layer of Skiff.

Errors are raised where they happen, as subclasses of these classes, with Docker's exact text
("No such container: x"). They are mapped once per direction: ``api/errors.py`` (class -> HTTP
status), ``client/errors.py`` (HTTP status -> class) and ``cli/exitcodes.py`` (class -> exit code).
Nobody compares message strings. This module imports nothing so that every layer may use it.
"""

__all__ = [
    "SkiffError",
    "NotFound",
    "Conflict",
    "InvalidParameter",
    "NotModified",
    "Forbidden",
    "Unauthorized",
    "Unavailable",
    "Unimplemented",
    "System",
]


class SkiffError(Exception):
    """Base of every error Skiff raises on purpose; the message is what the user sees."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(SkiffError):
    """The named object does not exist (HTTP 404)."""


class Conflict(SkiffError):
    """The request conflicts with the object's state: name in use, container running (409)."""


class InvalidParameter(SkiffError):
    """The caller's input is malformed or out of range (400)."""


class NotModified(SkiffError):
    """The object is already in the asked-for state: started, stopped (304)."""


class Forbidden(SkiffError):
    """The operation is not allowed on this object: built-in network, read-only rootfs (403)."""


class Unauthorized(SkiffError):
    """Credentials are missing or were refused (401)."""


class Unavailable(SkiffError):
    """A service this needs is not available now: swarm, a registry, the daemon (503)."""


class Unimplemented(SkiffError):
    """Skiff does not implement this (yet): a feature, a driver, an endpoint (501)."""


class System(SkiffError):
    """An internal failure with no better class: the kernel or disk said no (500)."""
