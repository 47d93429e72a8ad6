"""Containers over the Docker API: functions taking an APIClient and returning Docker's JSON."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from skiff.client.api import APIClient
from skiff.client.streams import encode_filters
from skiff.client.transport import Hijacked, Response

__all__ = ["create", "start", "stop", "restart", "kill", "remove", "wait_request", "inspect", "list_containers",
           "attach", "resize", "logs", "top", "stats", "rename", "update", "pause", "unpause", "prune",
           "archive_stat", "get_archive", "put_archive", "export", "changes", "commit"]


def _b(v: bool) -> str | None:
    return "1" if v else None


def create(c: APIClient, body: Mapping[str, Any], name: str = "", platform: str = "") -> dict[str, Any]:
    result: dict[str, Any] = c.post("/containers/create", {"name": name or None, "platform": platform or None},
                                    dict(body))
    return result


def start(c: APIClient, cid: str, detach_keys: str = "") -> None:
    c.request("POST", f"/containers/{cid}/start", {"detachKeys": detach_keys or None}).read()


def stop(c: APIClient, cid: str, timeout: int | None = None, signal: str = "") -> None:
    c.request("POST", f"/containers/{cid}/stop", {"t": None if timeout is None else str(timeout),
                                                  "signal": signal or None}).read()


def restart(c: APIClient, cid: str, timeout: int | None = None, signal: str = "") -> None:
    c.request("POST", f"/containers/{cid}/restart", {"t": None if timeout is None else str(timeout),
                                                     "signal": signal or None}).read()


def kill(c: APIClient, cid: str, signal: str = "") -> None:
    c.request("POST", f"/containers/{cid}/kill", {"signal": signal or None}).read()


def pause(c: APIClient, cid: str) -> None:
    c.request("POST", f"/containers/{cid}/pause").read()


def unpause(c: APIClient, cid: str) -> None:
    c.request("POST", f"/containers/{cid}/unpause").read()


def remove(c: APIClient, cid: str, force: bool = False, volumes: bool = False, link: bool = False) -> None:
    c.request("DELETE", f"/containers/{cid}", {"force": _b(force), "v": _b(volumes), "link": _b(link)}).read()


def wait_request(c: APIClient, cid: str, condition: str = "not-running") -> Response:
    """The wait long poll, open once the headers are back: ``.json()`` blocks for the result."""
    return c.stream("POST", f"/containers/{cid}/wait", {"condition": condition})


def inspect(c: APIClient, cid: str, size: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = c.get(f"/containers/{cid}/json", {"size": _b(size)})
    return result


def list_containers(c: APIClient, all: bool = False, limit: int = -1, size: bool = False,  # noqa: A002
                    filters: Mapping[str, Iterable[str]] | None = None) -> list[dict[str, Any]]:
    params = {"all": _b(all), "limit": str(limit) if limit > 0 else None, "size": _b(size),
              "filters": encode_filters(filters)}
    result: list[dict[str, Any]] = c.get("/containers/json", params) or []
    return result


def attach(c: APIClient, cid: str, stdin: bool, stdout: bool, stderr: bool, detach_keys: str = "",
           logs: bool = False) -> Hijacked:
    return c.hijack("POST", f"/containers/{cid}/attach", {
        "stream": "1", "stdin": _b(stdin), "stdout": _b(stdout), "stderr": _b(stderr), "logs": _b(logs),
        "detachKeys": detach_keys or None})


def resize(c: APIClient, cid: str, h: int, w: int) -> None:
    c.request("POST", f"/containers/{cid}/resize", {"h": str(h), "w": str(w)}).read()


def logs(c: APIClient, cid: str, follow: bool = False, stdout: bool = True, stderr: bool = True,
         since: str = "", until: str = "", timestamps: bool = False, tail: str = "all",
         details: bool = False) -> Response:
    return c.stream("GET", f"/containers/{cid}/logs", {
        "follow": _b(follow), "stdout": _b(stdout), "stderr": _b(stderr), "since": since or None,
        "until": until or None, "timestamps": _b(timestamps), "tail": tail, "details": _b(details)})


def top(c: APIClient, cid: str, ps_args: str = "") -> dict[str, Any]:
    result: dict[str, Any] = c.get(f"/containers/{cid}/top", {"ps_args": ps_args or None})
    return result


def stats(c: APIClient, cid: str, stream: bool = True) -> Iterator[dict[str, Any]]:
    params = {"stream": "1" if stream else "0", "one-shot": None if stream else "1"}
    yield from c.stream("GET", f"/containers/{cid}/stats", params).iter_json()


def rename(c: APIClient, cid: str, name: str) -> None:
    c.request("POST", f"/containers/{cid}/rename", {"name": name}).read()


def update(c: APIClient, cid: str, body: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = c.post(f"/containers/{cid}/update", None, dict(body))
    return result


def prune(c: APIClient, filters: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = c.post("/containers/prune", {"filters": encode_filters(filters)})
    return result


def archive_stat(c: APIClient, cid: str, path: str) -> dict[str, Any]:
    import base64
    import json
    resp = c.request("HEAD", f"/containers/{cid}/archive", {"path": path})
    resp.read()
    raw = resp.raw.headers.get("X-Docker-Container-Path-Stat") or ""
    result: dict[str, Any] = json.loads(base64.b64decode(raw)) if raw else {}
    return result


def get_archive(c: APIClient, cid: str, path: str) -> Response:
    return c.stream("GET", f"/containers/{cid}/archive", {"path": path})


def put_archive(c: APIClient, cid: str, path: str, data: bytes, no_overwrite_dir_non_dir: bool = False,
                copy_uid_gid: bool = False) -> None:
    c.request("PUT", f"/containers/{cid}/archive", {"path": path, "noOverwriteDirNonDir": _b(no_overwrite_dir_non_dir),
                                                    "copyUIDGID": _b(copy_uid_gid)}, data,
              headers={"Content-Type": "application/x-tar"}).read()


def export(c: APIClient, cid: str) -> Response:
    return c.stream("GET", f"/containers/{cid}/export")


def changes(c: APIClient, cid: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = c.get(f"/containers/{cid}/changes") or []
    return result


def commit(c: APIClient, cid: str, repo: str = "", tag: str = "", comment: str = "", author: str = "",
           pause: bool = True, changes: Iterable[str] = ()) -> dict[str, Any]:
    params: dict[str, Any] = {"container": cid, "repo": repo or None, "tag": tag or None, "comment": comment or None,
                              "author": author or None, "pause": "1" if pause else "0"}
    ch = list(changes)
    if ch:
        params["changes"] = ch
    result: dict[str, Any] = c.post("/commit", params, {})
    return result
