"""Network endpoints (create, ls, inspect, rm, prune, connect, disconnect); Docker's JSON back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from skiff.client.api import APIClient
from skiff.client.streams import encode_filters

__all__ = ["create", "list_networks", "inspect", "remove", "prune", "connect", "disconnect"]


def create(c: APIClient, body: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = c.post("/networks/create", body=dict(body)) or {}
    return result


def list_networks(c: APIClient, filters: Mapping[str, Iterable[str]] | None = None) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = c.get("/networks", {"filters": encode_filters(filters)}) or []
    return result


def inspect(c: APIClient, ref: str, verbose: bool = False, scope: str = "") -> dict[str, Any]:
    params = {"verbose": "true" if verbose else None, "scope": scope or None}
    result: dict[str, Any] = c.get(f"/networks/{ref}", params)
    return result


def remove(c: APIClient, ref: str) -> None:
    c.delete(f"/networks/{ref}")


def prune(c: APIClient, filters: Mapping[str, Iterable[str]] | None = None) -> list[str]:
    result: dict[str, Any] = c.post("/networks/prune", {"filters": encode_filters(filters)}) or {}
    return list(result.get("NetworksDeleted") or [])


def connect(c: APIClient, network: str, container: str, endpoint_config: Mapping[str, Any] | None = None) -> None:
    c.post(f"/networks/{network}/connect", body={"Container": container,
                                                  "EndpointConfig": dict(endpoint_config or {})})


def disconnect(c: APIClient, network: str, container: str, force: bool = False) -> None:
    c.post(f"/networks/{network}/disconnect", body={"Container": container, "Force": force})
