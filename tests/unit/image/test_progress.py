"""Docker's JSON progress messages: sizes, bars, throttling, errors, the run() iterator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from skiff.errors import NotFound
from skiff.image.progress import Progress, error_message, human_size, progress_bar, run


def test_human_size_like_go_units() -> None:
    assert [human_size(x) for x in (0, 999, 1000, 1234567, 5_000_000_000)] == ["0B", "999B", "1kB", "1.235MB", "5GB"]


def test_progress_bar_like_jsonmessage() -> None:
    bar = progress_bar(1_000_000, 4_000_000)
    assert bar == "[" + "=" * 12 + ">" + " " * 38 + "]      1MB/4MB"
    assert progress_bar(5, 4).endswith("      5B") and "/" not in progress_bar(5, 4)


def test_throttle_and_messages() -> None:
    p = Progress(interval=10)
    p.messages = []
    p.status("Pulling fs layer", "abc")
    p.bytes("Downloading", "abc", 1, 100)
    p.bytes("Downloading", "abc", 2, 100)  # throttled
    p.bytes("Downloading", "abc", 100, 100)  # the last one always goes out
    p.status("Digest: sha256:x")
    assert [m.get("progressDetail") for m in p.messages] == [
        {}, {"current": 1, "total": 100}, {"current": 100, "total": 100}, None]
    assert p.messages[0] == {"status": "Pulling fs layer", "progressDetail": {}, "id": "abc"}
    assert error_message(NotFound("No such image: x")) == {"errorDetail": {"message": "No such image: x"},
                                                           "error": "No such image: x"}


def test_run_yields_then_raises() -> None:
    async def op(p: Progress) -> None:
        p.status("one")
        await asyncio.sleep(0)
        p.status("two")
        raise NotFound("gone")

    async def main() -> list[dict[str, Any]]:
        out = []
        with pytest.raises(NotFound):
            async for m in run(op):
                out.append(m)
        return out
    assert [m["status"] for m in asyncio.run(main())] == ["one", "two"]

    cancelled = asyncio.Event()

    async def slow(p: Progress) -> None:
        p.status("start")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def consumer_leaves() -> bool:
        it = run(slow)
        await it.__anext__()
        await it.aclose()  # type: ignore[attr-defined]
        return cancelled.is_set()
    assert asyncio.run(consumer_leaves())
