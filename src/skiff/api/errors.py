"""THE map from error class to HTTP status, and the one place errors become replies.

Handlers raise ``skiff.errors`` classes (or subclasses) and never choose a status. Anything that
is not a SkiffError is a bug: it is logged with its traceback and the client gets a 500 with a
one-line message, never the traceback.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

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

__all__ = ["STATUS", "status_for", "error_response", "error_body"]

log = logging.getLogger("skiff.api")

# Most specific first; a subclass of two classes gets the first listed.
STATUS: tuple[tuple[type[SkiffError], int], ...] = (
    (NotModified, 304),
    (NotFound, 404),
    (InvalidParameter, 400),
    (Conflict, 409),
    (Unauthorized, 401),
    (Forbidden, 403),
    (Unavailable, 503),
    (Unimplemented, 501),
    (System, 500),
)


def status_for(exc: BaseException) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(message: str) -> bytes:
    return (json.dumps({"message": message}, separators=(",", ":")) + "\n").encode()


def error_response(exc: BaseException) -> web.Response:
    """The reply for an error a handler raised: ``{"message": ...}`` with the class's status."""
    status = status_for(exc)
    if status == 304:
        return web.Response(status=304)
    if isinstance(exc, SkiffError):
        message = exc.message
        if status >= 500:
            log.error("handler error (%d): %s", status, message)
    else:
        log.error("unexpected error", exc_info=exc)
        message = f"internal error: {type(exc).__name__}: {exc}"
    return web.Response(status=status, body=error_body(message), content_type="application/json")
