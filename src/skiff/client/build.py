"""Build endpoints: ``POST /build`` (classic builder, JSON stream), ``/build/prune``, ``/build/cancel``.

``build`` takes the context tar already made (``skiff.build.dockerignore.write_build_context``) and
returns the daemon's messages. Secrets travel in ``X-Skiff-Build-Secrets`` (base64url JSON of
``{id: base64(content)}``), a Skiff extension: dockerd's classic builder has no secrets (they need
BuildKit's session), so a dockerd ignores the header.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from skiff.client.api import APIClient
from skiff.client.streams import encode_filters

__all__ = ["build", "prune", "cancel", "encode_secrets", "export_image_rootfs", "SECRETS_HEADER"]

SECRETS_HEADER = "X-Skiff-Build-Secrets"


def encode_secrets(secrets: Mapping[str, bytes]) -> str:
    data = {k: base64.b64encode(v).decode() for k, v in secrets.items()}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def build(c: APIClient, context: bytes, *, dockerfile: str = "Dockerfile", tags: Iterable[str] = (),
          build_args: Mapping[str, str | None] | None = None, labels: Mapping[str, str] | None = None,
          target: str = "", no_cache: bool = False, pull: bool = False, quiet: bool = False,
          network: str = "", platform: str = "", cache_from: Iterable[str] = (),
          extra_hosts: Iterable[str] = (), secrets: Mapping[str, bytes] | None = None, build_id: str = "",
          registry_config: Mapping[str, Mapping[str, str]] | None = None) -> Iterator[dict[str, Any]]:
    """The classic build's messages as they come (``stream``, ``aux``, ``errorDetail``...)."""
    params: list[tuple[str, str]] = [("dockerfile", dockerfile), ("version", "1"), ("rm", "1")]
    params += [("t", t) for t in tags]
    if build_args:
        params.append(("buildargs", json.dumps(dict(build_args))))
    if labels:
        params.append(("labels", json.dumps(dict(labels))))
    cf = list(cache_from)
    if cf:
        params.append(("cachefrom", json.dumps(cf)))
    hosts = ",".join(extra_hosts)
    for key, value in (("target", target), ("networkmode", network), ("platform", platform),
                       ("extrahosts", hosts), ("buildid", build_id)):
        if value:
            params.append((key, value))
    for key, flag in (("nocache", no_cache), ("pull", pull), ("q", quiet)):
        if flag:
            params.append((key, "1"))
    headers = {"Content-Type": "application/x-tar",
               "X-Registry-Config": base64.urlsafe_b64encode(json.dumps(dict(registry_config or {})).encode()).decode()}
    if secrets:
        headers[SECRETS_HEADER] = encode_secrets(secrets)
    yield from c.stream("POST", "/build", params, context, headers).iter_json()


def prune(c: APIClient, all: bool = False, filters: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:  # noqa: A002
    params = {"all": "1" if all else None, "filters": encode_filters(filters)}
    result: dict[str, Any] = c.post("/build/prune", params) or {}
    return result


def cancel(c: APIClient, build_id: str) -> None:
    c.request("POST", "/build/cancel", {"id": build_id}).read()


def export_image_rootfs(c: APIClient, image_id: str) -> Iterator[bytes]:
    """``--output``: the built image's filesystem as a tar, through a created (never started)
    container's ``GET /containers/{id}/export``; the container is removed afterwards."""
    created = c.post("/containers/create", None, {"Image": image_id, "Cmd": ["/"], "Entrypoint": [],
                                                  "Labels": {"io.skiff.build.output": "1"}})
    cid = created["Id"]
    try:
        yield from c.stream("GET", f"/containers/{cid}/export").chunks()
    finally:
        c.request("DELETE", f"/containers/{cid}", {"force": "1"}).read()
