"""The Engine API client: version negotiation as the Go client does, then versioned requests.

``APIClient`` is the one object resource modules take::

    from skiff.client import APIClient, system
    c = APIClient.from_env()
    system.version(c)

Negotiation: ``HEAD /_ping`` (no version prefix), falling back to ``GET /_ping`` if HEAD fails
with anything but a connection error; the daemon's ``Api-Version`` header, capped at the client's
own version (1.24 if absent), prefixes every later request. ``DOCKER_API_VERSION`` overrides it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from skiff.client.errors import DaemonError, DaemonUnreachable
from skiff.client.transport import Hijacked, Query, Response, TLSConfig, Transport, resolve_host, tls_from_env

__all__ = ["APIClient", "Ping", "CLIENT_API_VERSION", "MIN_API_VERSION"]

CLIENT_API_VERSION = "1.51"
MIN_API_VERSION = "1.24"


def _vt(v: str) -> tuple[int, ...]:
    out = []
    for p in v.split("."):
        try:
            out.append(int(p))
        except ValueError:
            out.append(0)
    return tuple(out)


class Ping:
    """What ``/_ping`` told us."""

    __slots__ = ("api_version", "builder_version", "experimental", "os_type", "swarm")

    def __init__(self, api_version: str, os_type: str, experimental: bool, builder_version: str,
                 swarm: str) -> None:
        self.api_version, self.os_type, self.experimental = api_version, os_type, experimental
        self.builder_version, self.swarm = builder_version, swarm


class APIClient:
    """A connection to one daemon, speaking the negotiated API version."""

    def __init__(self, host: str | None = None, tls: TLSConfig | None = None, version: str | None = None,
                 timeout: float | None = None) -> None:
        self.host = resolve_host(host)
        self.transport = Transport(self.host, tls, timeout)
        self._fixed_version = version or os.environ.get("DOCKER_API_VERSION") or None
        self._version: str | None = self._fixed_version
        self._ping: Ping | None = None

    @classmethod
    def from_env(cls, host: str | None = None) -> APIClient:
        return cls(host, tls_from_env())

    # ---- negotiation ---------------------------------------------------------------------
    def ping(self) -> Ping:
        """``HEAD /_ping`` then ``GET /_ping``; a 500 reply is still parsed (unhealthy daemon)."""
        resp: Response | None = None
        try:
            resp = self.transport.request("HEAD", "/_ping")
        except DaemonUnreachable:
            raise
        except DaemonError:
            resp = None
        if resp is None:
            try:
                resp = self.transport.request("GET", "/_ping")
            except DaemonError as exc:
                if exc.status != 500:
                    raise
                resp = None
        headers: Mapping[str, str] = {k.lower(): v for k, v in resp.headers.items()} if resp else {}
        if resp is not None:
            resp.read()
        p = Ping(api_version=headers.get("api-version", ""), os_type=headers.get("ostype", ""),
                 experimental=headers.get("docker-experimental", "") == "true",
                 builder_version=headers.get("builder-version", ""), swarm=headers.get("swarm", ""))
        self._ping = p
        return p

    @property
    def version(self) -> str:
        """The negotiated API version (negotiating on first use)."""
        if self._version is None:
            p = self.ping()
            v = p.api_version or MIN_API_VERSION
            self._version = v if _vt(v) < _vt(CLIENT_API_VERSION) else CLIENT_API_VERSION
        return self._version

    def version_at_least(self, v: str) -> bool:
        return _vt(self.version) >= _vt(v)

    # ---- requests ------------------------------------------------------------------------
    def _path(self, path: str) -> str:
        return f"/v{self.version}{path}"

    def request(self, method: str, path: str, params: Query = None, body: Any = None,
                headers: Mapping[str, str] | None = None, stream: bool = False,
                timeout: float | None = None) -> Response:
        """``body`` may be bytes (sent as is) or a JSON-able value (sent as JSON)."""
        hdrs = dict(headers or {})
        data: bytes | None
        if body is None or isinstance(body, bytes | bytearray):
            data = bytes(body) if body is not None else None
        else:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        return self.transport.request(method, self._path(path), params, data, hdrs, stream, timeout)

    def get(self, path: str, params: Query = None, **kw: Any) -> Any:
        return self.request("GET", path, params, **kw).json()

    def post(self, path: str, params: Query = None, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, params, body, **kw).json()

    def put(self, path: str, params: Query = None, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, params, body, **kw).json()

    def delete(self, path: str, params: Query = None, **kw: Any) -> Any:
        return self.request("DELETE", path, params, **kw).json()

    def stream(self, method: str, path: str, params: Query = None, body: Any = None,
               headers: Mapping[str, str] | None = None) -> Response:
        """A streaming reply (events, logs, progress); iterate ``iter_json()`` or ``chunks()``."""
        return self.request(method, path, params, body, headers, stream=True)

    def hijack(self, method: str, path: str, params: Query = None, body: Any = None,
               headers: Mapping[str, str] | None = None) -> Hijacked:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        return self.transport.hijack(method, self._path(path), params, data, headers)

    def close(self) -> None:
        self.transport.close()
