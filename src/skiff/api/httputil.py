"""Small helpers every handler uses: the request's API version, query parameters, JSON in and out.

Docker clients send booleans as ``1``/``0`` and sometimes ``true``/``false``; ``query_bool``
accepts all of them. ``filters(request)`` returns the parsed ``Filters`` (both JSON forms).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiohttp import web

from skiff.api.versions import DEFAULT_VERSION, at_least
from skiff.engine.filters import Filters
from skiff.errors import InvalidParameter

T = TypeVar("T")

__all__ = ["API_VERSION_KEY", "SHUTDOWN_KEY", "PREPARED_KEY", "shutting_down", "until_shutdown", "api_version", "version_at_least", "query_bool", "query_int",
           "query_str", "query_list", "filters", "json_body", "json_response", "dumps"]

API_VERSION_KEY = web.RequestKey("skiff.api_version", str)
SHUTDOWN_KEY = web.AppKey("skiff.shutdown", asyncio.Event)
# Set once the reply's headers went out (or the connection was hijacked): errors can no longer
# become a status reply.
PREPARED_KEY = web.RequestKey("skiff.prepared", bool)


def shutting_down(request: web.Request) -> asyncio.Event:
    """Set when the daemon stops: long streams (events, logs -f, stats) should end when it is."""
    ev = request.app.get(SHUTDOWN_KEY)
    if ev is None:
        ev = asyncio.Event()
    return ev


async def until_shutdown(request: web.Request, aw: Awaitable[T]) -> T | None:
    """Await ``aw``; None (and ``aw`` cancelled) if the daemon starts shutting down first."""
    stop = asyncio.ensure_future(shutting_down(request).wait())
    task = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait({stop, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if task in done:
        return task.result()
    task.cancel()
    return None

_TRUE = frozenset({"1", "true", "True", "TRUE", "yes"})
_FALSE = frozenset({"0", "false", "False", "FALSE", "no", ""})


def api_version(request: web.Request) -> str:
    """The API version this request is served at (from its ``/v1.NN`` prefix or the default)."""
    return request.get(API_VERSION_KEY, DEFAULT_VERSION)


def version_at_least(request: web.Request, version: str) -> bool:
    return at_least(api_version(request), version)


def query_str(request: web.Request, name: str, default: str | None = None) -> str | None:
    return request.query.get(name, default)


def query_list(request: web.Request, name: str) -> list[str]:
    """A repeatable parameter (``?t=a&t=b``)."""
    return list(request.query.getall(name, []))


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise InvalidParameter(f"invalid value for {name}: {raw!r}: strconv.ParseBool: parsing "
                           f"\"{raw}\": invalid syntax")


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: strconv.Atoi: parsing \"{raw}\": "
                               "invalid syntax") from None


def filters(request: web.Request, accepted: tuple[str, ...] | None = None) -> Filters:
    """The ``filters`` parameter, parsed; with ``accepted``, unknown names get moby's 400."""
    f = Filters.parse(request.query.get("filters"))
    if accepted is not None:
        f.validate(accepted)
    return f


async def json_body(request: web.Request, required: bool = True) -> Any:
    """The request's JSON body; ``None`` when empty and not required."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise InvalidParameter("invalid JSON: EOF")
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"invalid JSON: {exc}") from exc


def dumps(data: Any) -> bytes:
    """JSON as Go's encoder writes it: compact, one trailing newline."""
    return (json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumps(data), content_type="application/json")
