"""Image endpoints (pull, push, tag, rmi, list, inspect, history, save, load, import, prune, search)
and registry login (``POST /auth``). Streaming calls return iterators of Docker's JSON messages."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from skiff.client.api import APIClient
from skiff.client.streams import encode_filters

__all__ = ["encode_auth", "pull", "push", "tag", "remove", "list_images", "inspect", "history", "save",
           "load", "import_image", "prune", "search", "login"]


def encode_auth(auth: Mapping[str, str] | None) -> str:
    """The ``X-Registry-Auth`` header: base64url JSON (``{}`` when anonymous, as the docker CLI sends)."""
    return base64.urlsafe_b64encode(json.dumps(dict(auth or {})).encode()).decode()


def pull(c: APIClient, image: str, tag: str = "", platform: str = "",
         auth: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
    params = {"fromImage": image, "tag": tag or None, "platform": platform or None}
    yield from c.stream("POST", "/images/create", params, headers={"X-Registry-Auth": encode_auth(auth)}).iter_json()


def push(c: APIClient, image: str, tag: str = "", auth: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
    params = {"tag": tag or None}
    yield from c.stream("POST", f"/images/{image}/push", params,
                        headers={"X-Registry-Auth": encode_auth(auth)}).iter_json()


def tag(c: APIClient, source: str, repo: str, tag: str = "") -> None:
    c.request("POST", f"/images/{source}/tag", {"repo": repo, "tag": tag or None}).read()


def remove(c: APIClient, image: str, force: bool = False, noprune: bool = False) -> list[dict[str, str]]:
    params = {"force": "1" if force else None, "noprune": "1" if noprune else None}
    result: list[dict[str, str]] = c.delete(f"/images/{image}", params) or []
    return result


def list_images(c: APIClient, all: bool = False, filters: Mapping[str, Iterable[str]] | None = None,  # noqa: A002
                digests: bool = False, shared_size: bool = False) -> list[dict[str, Any]]:
    params = {"all": "1" if all else None, "filters": encode_filters(filters),
              "digests": "1" if digests else None, "shared-size": "1" if shared_size else None}
    result: list[dict[str, Any]] = c.get("/images/json", params) or []
    return result


def inspect(c: APIClient, image: str) -> dict[str, Any]:
    result: dict[str, Any] = c.get(f"/images/{image}/json")
    return result


def history(c: APIClient, image: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = c.get(f"/images/{image}/history") or []
    return result


def save(c: APIClient, names: Iterable[str]) -> Iterator[bytes]:
    """The docker-archive tar, in chunks."""
    resp = c.stream("GET", "/images/get", [("names", n) for n in names])
    try:
        yield from resp.chunks(1 << 20)
    finally:
        resp.close()


def load(c: APIClient, data: bytes, quiet: bool = False) -> Iterator[dict[str, Any]]:
    resp = c.stream("POST", "/images/load", {"quiet": "1" if quiet else "0"}, data,
                    headers={"Content-Type": "application/x-tar"})
    yield from resp.iter_json()


def import_image(c: APIClient, source: str, data: bytes | None = None, repo: str = "", tag: str = "",
                 message: str = "", changes: Iterable[str] = (), platform: str = "") -> Iterator[dict[str, Any]]:
    """``source`` is ``-`` (``data`` is the tar) or a URL the daemon downloads."""
    params: list[tuple[str, str]] = [("fromSrc", source)]
    for k, v in (("repo", repo), ("tag", tag), ("message", message), ("platform", platform)):
        if v:
            params.append((k, v))
    params += [("changes", ch) for ch in changes]
    headers = {"Content-Type": "application/x-tar"} if data is not None else None
    yield from c.stream("POST", "/images/create", params, data if data is not None else b"", headers).iter_json()


def prune(c: APIClient, filters: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = c.post("/images/prune", {"filters": encode_filters(filters)}) or {}
    return result


def search(c: APIClient, term: str, limit: int | None = None,
           filters: Mapping[str, Iterable[str]] | None = None) -> list[dict[str, Any]]:
    params = {"term": term, "limit": str(limit) if limit else None, "filters": encode_filters(filters)}
    result: list[dict[str, Any]] = c.get("/images/search", params) or []
    return result


def login(c: APIClient, username: str, password: str, server_address: str) -> dict[str, Any]:
    body = {"username": username, "password": password, "serveraddress": server_address}
    result: dict[str, Any] = c.post("/auth", body=body) or {}
    return result
