"""Progress in Docker's JSON message format, as an async iterator of dicts the API layer streams.

An operation gets a :class:`Progress` and calls ``status``/``bytes``/``aux``; :func:`run` runs the
operation and yields its messages in order. Byte counters are throttled (like Docker's progress
reader) so a fast transfer does not flood the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from skiff.errors import SkiffError

__all__ = ["Progress", "run", "human_size", "progress_bar", "error_message"]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_size(size: float) -> str:
    """go-units HumanSize: decimal units, 4 significant digits (``1.235MB``)."""
    i = 0
    while size >= 1000 and i < len(_UNITS) - 1:
        size /= 1000
        i += 1
    return f"{size:.4g}{_UNITS[i]}"


def progress_bar(current: int, total: int) -> str:
    """jsonmessage.JSONProgress.String() at the daemon's width: ``[==>   ]  1.2MB/3.4MB``."""
    if total <= 0:
        return f"{human_size(current):>8}"
    pct = min(50, int(current / total * 100) // 2)
    box = f"[{'=' * pct}>{' ' * (50 - pct)}] "
    if current > total:
        return box + f"{human_size(current):>8}"
    return box + f"{human_size(current):>8}/{human_size(total)}"


def error_message(exc: BaseException) -> dict[str, Any]:
    """The final message of a failed stream: {"errorDetail": {"message": ...}, "error": ...}."""
    text = exc.message if isinstance(exc, SkiffError) else str(exc)
    return {"errorDetail": {"message": text}, "error": text}


class Progress:
    """Collects messages; ``interval`` throttles byte updates per id."""

    def __init__(self, interval: float = 0.1) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.interval = interval
        self._last: dict[str, float] = {}
        self.messages: list[dict[str, Any]] | None = None  # set to [] to keep a copy (tests, logs)

    def emit(self, msg: dict[str, Any]) -> None:
        if self.messages is not None:
            self.messages.append(msg)
        self.queue.put_nowait(msg)

    def status(self, status: str, id: str = "") -> None:  # noqa: A002 - Docker's field name
        msg: dict[str, Any] = {"status": status}
        if id:
            msg = {"status": status, "progressDetail": {}, "id": id}
        self.emit(msg)

    def bytes(self, status: str, id: str, current: int, total: int, force: bool = False) -> None:  # noqa: A002
        now = time.monotonic()
        if not force and current < total and now - self._last.get(id, 0.0) < self.interval:
            return
        self._last[id] = now
        self.emit({"status": status, "progressDetail": {"current": current, "total": total},
                   "progress": progress_bar(current, total), "id": id})

    def aux(self, data: dict[str, Any]) -> None:
        self.emit({"progressDetail": {}, "aux": data})


class _Null(Progress):
    def emit(self, msg: dict[str, Any]) -> None:
        if self.messages is not None:
            self.messages.append(msg)


def null() -> Progress:
    """A Progress that discards messages (for internal copies)."""
    return _Null()


async def run(op: Callable[[Progress], Awaitable[Any]]) -> AsyncIterator[dict[str, Any]]:
    """Run ``op`` and yield its messages; its exception is raised after the messages before it.

    If the consumer stops early (client went away), the operation is cancelled.
    """
    p = Progress()
    task = asyncio.ensure_future(op(p))
    task.add_done_callback(lambda _t: p.queue.put_nowait(None))
    try:
        while True:
            msg = await p.queue.get()
            if msg is None:
                break
            yield msg
        while not p.queue.empty():
            msg = p.queue.get_nowait()
            if msg is not None:
                yield msg
        task.result()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
