"""System endpoints: ping, version, info, events, disk usage."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from skiff.client.api import APIClient, Ping
from skiff.client.streams import encode_filters

__all__ = ["ping", "version", "info", "events", "df"]


def ping(c: APIClient) -> Ping:
    return c.ping()


def version(c: APIClient) -> dict[str, Any]:
    result: dict[str, Any] = c.get("/version")
    return result


def info(c: APIClient) -> dict[str, Any]:
    result: dict[str, Any] = c.get("/info")
    return result


def events(c: APIClient, since: str | None = None, until: str | None = None,
           filters: Mapping[str, Iterable[str]] | None = None) -> Iterator[dict[str, Any]]:
    """The event stream; ends at ``until`` (or never without it)."""
    params = {"since": since, "until": until, "filters": encode_filters(filters)}
    yield from c.stream("GET", "/events", params).iter_json()


def df(c: APIClient, types: Iterable[str] = ()) -> dict[str, Any]:
    params = [("type", t) for t in types] if c.version_at_least("1.42") else None
    result: dict[str, Any] = c.get("/system/df", params)
    return result
