"""System endpoints: ping, version, info, events, disk usage."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from skiff.api.backends import EventsBackend, Services, SystemBackend
from skiff.api.httputil import (
    dumps,
    filters,
    json_response,
    query_list,
    query_str,
    until_shutdown,
    version_at_least,
)
from skiff.api.routes import Route
from skiff.engine.events import Event, matches, parse_timestamp
from skiff.engine.system import DF_TYPES
from skiff.errors import InvalidParameter

__all__ = ["routes"]


def routes(services: Services) -> list[Route]:
    h = _Handlers(services.get(SystemBackend), services.get(EventsBackend))
    return [
        Route("GET", "/_ping", h.ping),
        Route("HEAD", "/_ping", h.ping_head),
        Route("GET", "/version", h.version),
        Route("GET", "/info", h.info),
        Route("GET", "/events", h.events),
        Route("GET", "/system/df", h.df),
    ]


_NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}


class _Handlers:
    def __init__(self, system: SystemBackend, events: EventsBackend) -> None:
        self.system = system
        self.bus = events

    def _ping_headers(self) -> dict[str, str]:
        return {**_NO_CACHE, **self.system.ping_headers()}

    async def ping(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="OK", headers=self._ping_headers(),
                            content_type="text/plain", charset="utf-8")

    async def ping_head(self, request: web.Request) -> web.StreamResponse:
        headers = {**self._ping_headers(), "Content-Type": "text/plain; charset=utf-8",
                   "Content-Length": "0"}
        return web.Response(headers=headers)

    async def version(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.system.version())

    async def info(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.system.info())  # sources answer from memory, on the loop

    async def df(self, request: web.Request) -> web.StreamResponse:
        types = frozenset(query_list(request, "type")) if version_at_least(request, "1.42") else frozenset()
        for t in types:
            if t not in DF_TYPES:
                raise InvalidParameter(f"unknown object type: {t}")
        # disk usage may walk directories: a worker thread keeps the loop free
        du = await asyncio.to_thread(self.system.disk_usage, types)
        if not version_at_least(request, "1.44"):  # moby still sets VirtualSize (= Size) before 1.44
            for img in du.get("Images") or []:
                img.setdefault("VirtualSize", img.get("Size", 0))
        return json_response(du)

    async def events(self, request: web.Request) -> web.StreamResponse:
        f = filters(request)  # moby's getEvents checks no names: an unknown one matches like none given
        since_raw, until_raw = query_str(request, "since"), query_str(request, "until")
        since = parse_timestamp(since_raw) if since_raw else None
        until = parse_timestamp(until_raw) if until_raw else None
        if since is not None and until is not None and since > until:
            raise InvalidParameter(f"`since` time ({since_raw}) cannot be after `until` time ({until_raw})")
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/json"
        async with self.bus.subscribe() as sub:  # subscribe first: nothing falls between history and live
            await resp.prepare(request)
            last = 0
            if since is not None:
                for ev in self.bus.history(since, until, f):
                    await resp.write(dumps(ev.to_json()))
                    last = ev.time_nano
            ev_live: Event | None
            only_past = until is not None and until <= time.time_ns()
            while not only_past:
                timeout = None if until is None else max(0.0, (until - time.time_ns()) / 1e9)
                ev_live = await until_shutdown(request, sub.get(timeout))
                if ev_live is None:  # until reached, or the daemon is stopping
                    break
                if until is not None and ev_live.time_nano > until:
                    break
                if ev_live.time_nano <= last or not matches(ev_live, f):
                    continue
                if since is not None and ev_live.time_nano < since:
                    continue
                await resp.write(dumps(ev_live.to_json()))
        await resp.write_eof()
        return resp
