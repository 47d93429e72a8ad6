"""Volume endpoints (create, list, inspect, remove, prune), returning Docker's JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from skiff.client.api import APIClient
from skiff.client.streams import encode_filters

__all__ = ["create", "list_volumes", "inspect", "remove", "prune"]


def create(c: APIClient, name: str = "", driver: str = "local", driver_opts: Mapping[str, str] | None = None,
           labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """As the docker CLI sends it: DriverOpts and Labels always present (maybe empty)."""
    body = {"Driver": driver, "DriverOpts": dict(driver_opts or {}), "Labels": dict(labels or {}), "Name": name}
    result: dict[str, Any] = c.post("/volumes/create", body=body)
    return result


def list_volumes(c: APIClient, filters: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = c.get("/volumes", {"filters": encode_filters(filters)}) or {}
    return result


def inspect(c: APIClient, name: str) -> dict[str, Any]:
    result: dict[str, Any] = c.get(f"/volumes/{name}")
    return result


def remove(c: APIClient, name: str, force: bool = False) -> None:
    c.delete(f"/volumes/{name}", {"force": "1" if force else None})


def prune(c: APIClient, filters: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = c.post("/volumes/prune", {"filters": encode_filters(filters)}) or {}
    return result
