"""The event bus: every engine service publishes here; ``/events`` and ``docker events`` read it.

Events are kept in the state database as a bounded ring (the newest ``keep`` events), so a
``since`` that reaches back before a daemon restart still works. They are written through a side
connection without an fsync per commit (a power cut may lose the last ones; a crash does not). Live subscribers get each event
through an asyncio queue. ``publish`` may be called from any thread (monitor callbacks, workers):
it hops to the loop with ``call_soon_threadsafe``.

Usage::

    bus.publish("container", "start", cid, {"name": "web", "image": "busybox"})
    async with bus.subscribe() as sub:
        async for ev in sub: ...
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from skiff.engine.filters import Filters
from skiff.engine.state.db import StateDB
from skiff.errors import InvalidParameter

__all__ = ["Event", "EventBus", "Subscription", "matches", "parse_timestamp"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_nano INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time ON events(time_nano);
"""


@dataclass(frozen=True)
class Event:
    """One message of Docker's event stream."""

    type: str
    action: str
    actor_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    scope: str = "local"
    time_nano: int = 0

    def to_json(self) -> dict[str, Any]:
        """Docker's ``events.Message``, with the deprecated status/id/from for containers and images."""
        doc: dict[str, Any] = {}
        if self.type in ("container", "image"):
            doc["status"] = self.action
            doc["id"] = self.actor_id
            if self.type == "container" and self.attributes.get("image"):
                doc["from"] = self.attributes["image"]
        doc.update({
            "Type": self.type,
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": dict(self.attributes)},
            "scope": self.scope,
            "time": self.time_nano // 1_000_000_000,
            "timeNano": self.time_nano,
        })
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Event:
        actor = doc.get("Actor") or {}
        return cls(type=doc.get("Type", ""), action=doc.get("Action", ""), actor_id=actor.get("ID", ""),
                   attributes=dict(actor.get("Attributes") or {}), scope=doc.get("scope", "local"),
                   time_nano=int(doc.get("timeNano", 0)))


def _strip_tag(ref: str) -> str:
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if "@" in ref:
        return ref.split("@", 1)[0]
    return ref[:colon] if colon > slash else ref


def matches(ev: Event, f: Filters) -> bool:
    """moby's ``events.Filter.Include``: every present filter must accept the event."""
    if not f:
        return True
    if any(v in ("health_status", "exec_create", "exec_start") for v in f.get("event")):
        ok_event = f.fuzzy_match("event", ev.action)
    else:
        ok_event = f.exact_match("event", ev.action)
    if not ok_event or not f.exact_match("type", ev.type) or not f.exact_match("scope", ev.scope):
        return False
    name = ev.attributes.get("name", "")
    for kind in ("daemon", "container", "plugin", "volume", "network", "node", "service", "secret",
                 "config"):
        if f.contains(kind) and not (f.fuzzy_match(kind, ev.actor_id) or f.fuzzy_match(kind, name)):
            return False
    if f.contains("image"):
        image_name = ev.attributes.get("name" if ev.type == "image" else "image", "")
        if not any(f.exact_match("image", s) for s in
                   (ev.actor_id, image_name, _strip_tag(ev.actor_id), _strip_tag(image_name)) if s):
            return False
    return f.match_kv("label", ev.attributes)


def parse_timestamp(value: str, now: float | None = None) -> int:
    """Docker's since/until: ``secs[.nanos]``, RFC 3339, or a duration ago (``10m``); -> ns."""
    v = value.strip()
    if not v:
        raise InvalidParameter("empty timestamp")
    try:
        if "." in v:
            secs, _, frac = v.partition(".")
            return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9])
        return int(v) * 1_000_000_000
    except ValueError:
        pass
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    for unit in sorted(units, key=len, reverse=True):
        if v.endswith(unit):
            try:
                amount = float(v[: -len(unit)])
            except ValueError:
                break
            base = time.time() if now is None else now
            return int((base - amount * units[unit]) * 1_000_000_000)
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(f"failed to parse value as time or duration: \"{value}\"") from None
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


class Subscription:
    """A live feed of events; iterate it, or ``get(timeout)``."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=4096)

    def _offer(self, ev: Event) -> None:
        try:
            self._queue.put_nowait(ev)
        except asyncio.QueueFull:  # a stalled reader loses events rather than growing memory
            pass

    async def get(self, timeout: float | None = None) -> Event | None:
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()


class EventBus:
    """Publish/subscribe hub with a persisted ring of recent events."""

    def __init__(self, db: StateDB | None = None, keep: int = 10_000) -> None:
        # Events are written on the publisher's thread (often the loop): no fsync per event.
        self._db = db.side_connection() if db is not None and db.durable else db
        self._keep = keep
        self._subs: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._memory: list[Event] = []
        self._last_ns = 0
        self._published = 0
        if db is not None:
            db.schema(_SCHEMA)

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop that owns the subscribers; publishers on other threads hop onto it."""
        self._loop = loop

    @property
    def listeners(self) -> int:
        return len(self._subs)

    def publish(self, type: str, action: str, actor_id: str,  # noqa: A002
                attributes: Mapping[str, str] | None = None, scope: str = "local") -> Event:
        with self._lock:
            now = time.time_ns()
            if now <= self._last_ns:  # strictly increasing, so since/until windows are exact
                now = self._last_ns + 1
            self._last_ns = now
            ev = Event(type, action, actor_id, dict(attributes or {}), scope, now)
            self._store(ev)
            loop = self._loop
            if loop is None or loop.is_closed():
                self._deliver(ev)
            else:
                # Always through the loop's queue, under the lock: subscribers see publish order
                # whichever thread published.
                loop.call_soon_threadsafe(self._deliver, ev)
        return ev

    def _deliver(self, ev: Event) -> None:
        for sub in list(self._subs):
            sub._offer(ev)

    def _store(self, ev: Event) -> None:
        if self._db is None:
            self._memory.append(ev)
            del self._memory[: -self._keep]
            return
        self._db.execute("INSERT INTO events (time_nano, doc) VALUES (?, ?)",
                         (ev.time_nano, json.dumps(ev.to_json(), separators=(",", ":"))))
        self._published += 1
        if self._published % 500 == 0:
            self._db.execute("DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?",
                             (self._keep,))

    def history(self, since_ns: int | None, until_ns: int | None,
                filters: Filters | None = None) -> list[Event]:
        """Stored events with ``since <= time <= until`` that pass the filters, oldest first."""
        lo = since_ns if since_ns is not None else 0
        hi = until_ns if until_ns is not None else 2**62
        if self._db is None:
            evs = [e for e in self._memory if lo <= e.time_nano <= hi]
        else:
            rows = self._db.query("SELECT doc FROM events WHERE time_nano >= ? AND time_nano <= ? "
                                  "ORDER BY seq", (lo, hi))
            evs = [Event.from_json(json.loads(r[0])) for r in rows]
        f = filters or Filters()
        return [e for e in evs if matches(e, f)]

    def close(self) -> None:
        """Close the event ring's own database connection (daemon shutdown)."""
        if self._db is not None and not self._db.durable:
            self._db.close()

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription(self)
        self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)
