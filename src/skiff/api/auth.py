"""POST /auth: check registry credentials (``docker login``) against the registry's ``/v2/``."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from skiff.api.backends import Services
from skiff.api.httputil import json_body, json_response
from skiff.api.routes import Route
from skiff.errors import InvalidParameter
from skiff.image.registry.auth import AuthConfig

__all__ = ["routes", "AuthBackend", "auth_config_from_json"]


class AuthBackend(Protocol):
    async def login(self, auth: AuthConfig) -> dict[str, str]: ...


def routes(services: Services) -> list[Route]:
    h = _Handlers(services.get(AuthBackend))
    return [Route("POST", "/auth", h.auth)]


def auth_config_from_json(d: Any) -> AuthConfig:
    """Docker's AuthConfig JSON (keys in any case) -> AuthConfig."""
    if not isinstance(d, dict):
        raise InvalidParameter("invalid JSON: expected an object")
    low = {str(k).lower(): v for k, v in d.items() if isinstance(v, str)}
    return AuthConfig(username=low.get("username", ""), password=low.get("password", ""),
                      identity_token=low.get("identitytoken", ""), registry_token=low.get("registrytoken", ""),
                      server_address=low.get("serveraddress", ""))


class _Handlers:
    def __init__(self, backend: AuthBackend) -> None:
        self.backend = backend

    async def auth(self, request: web.Request) -> web.StreamResponse:
        cfg = auth_config_from_json(await json_body(request))
        return json_response(await self.backend.login(cfg))
