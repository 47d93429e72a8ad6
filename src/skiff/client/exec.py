"""docker exec over the API: create, start (hijacked unless detached), resize, inspect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skiff.client.api import APIClient
from skiff.client.transport import Hijacked

__all__ = ["create", "start", "start_detached", "resize", "inspect"]


def create(c: APIClient, cid: str, body: Mapping[str, Any]) -> str:
    return str(c.post(f"/containers/{cid}/exec", None, dict(body))["Id"])


def start(c: APIClient, eid: str, tty: bool, console_size: tuple[int, int] | None = None) -> Hijacked:
    body: dict[str, Any] = {"Detach": False, "Tty": tty}
    if console_size:
        body["ConsoleSize"] = list(console_size)
    return c.hijack("POST", f"/exec/{eid}/start", None, body)


def start_detached(c: APIClient, eid: str) -> None:
    c.request("POST", f"/exec/{eid}/start", None, {"Detach": True, "Tty": False}).read()


def resize(c: APIClient, eid: str, h: int, w: int) -> None:
    c.request("POST", f"/exec/{eid}/resize", {"h": str(h), "w": str(w)}).read()


def inspect(c: APIClient, eid: str) -> dict[str, Any]:
    result: dict[str, Any] = c.get(f"/exec/{eid}/json")
    return result
