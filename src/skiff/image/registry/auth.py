"""Registry credentials and the WWW-Authenticate challenge/token flow.

Credentials arrive from the API (``X-Registry-Auth``: base64url JSON, see :func:`parse_registry_auth`);
the CLI reads ``~/.docker/config.json`` on its side. A registry answers 401 with a challenge:
``Basic realm=...`` (send the credentials) or ``Bearer realm=...,service=...,scope=...`` (ask the
realm for a token for our scopes, with the credentials as basic auth if we have any, anonymous
otherwise, then send ``Authorization: Bearer <token>``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass

from skiff.errors import InvalidParameter

__all__ = ["AuthConfig", "Challenge", "parse_registry_auth", "parse_challenges", "Token", "scope_for"]


@dataclass(frozen=True)
class AuthConfig:
    """Docker's AuthConfig: what ``docker login`` saved for one registry."""

    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""
    server_address: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def encode(self) -> str:
        """The ``X-Registry-Auth`` form (base64url JSON), as docker clients send it."""
        d = {"username": self.username, "password": self.password, "serveraddress": self.server_address}
        if self.identity_token:
            d["identitytoken"] = self.identity_token
        if self.registry_token:
            d["registrytoken"] = self.registry_token
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode()


def parse_registry_auth(header: str | None) -> AuthConfig:
    """Decode an ``X-Registry-Auth`` header; empty or ``{}`` means anonymous. Raises InvalidParameter."""
    if not header or not header.strip():
        return AuthConfig()
    s = header.strip()
    try:
        raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
        d = json.loads(raw) if raw.strip() else {}
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter("invalid X-Registry-Auth header: " + str(exc)) from exc
    if not isinstance(d, dict):
        raise InvalidParameter("invalid X-Registry-Auth header: expected a JSON object")
    d = {k.lower(): v for k, v in d.items() if isinstance(v, str)}
    if "auth" in d and not d.get("username"):
        try:
            user, _, pw = base64.b64decode(d["auth"]).decode().partition(":")
            d["username"], d["password"] = user, pw
        except (binascii.Error, UnicodeDecodeError):
            pass
    return AuthConfig(username=d.get("username", ""), password=d.get("password", ""),
                      identity_token=d.get("identitytoken", ""), registry_token=d.get("registrytoken", ""),
                      server_address=d.get("serveraddress", ""))


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic", lower case
    params: dict[str, str]


_PARAM = re.compile(r'\s*([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Parse WWW-Authenticate header values (``Bearer realm="...",service="...",scope="..."``)."""
    out = []
    for value in values:
        m = re.match(r"\s*([A-Za-z]+)\s*(.*)$", value, re.S)
        if not m:
            continue
        params: dict[str, str] = {}
        rest = m.group(2)
        pos = 0
        while pos < len(rest):
            pm = _PARAM.match(rest, pos)
            if not pm or pm.end() == pos:
                break
            params[pm.group(1).lower()] = (pm.group(2).replace('\\"', '"') if pm.group(2) is not None
                                           else pm.group(3))
            pos = pm.end()
        out.append(Challenge(scheme=m.group(1).lower(), params=params))
    return out


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float

    @classmethod
    def from_response(cls, d: object) -> Token:
        if not isinstance(d, dict):
            raise ValueError("token response is not an object")
        value = d.get("token") or d.get("access_token")
        if not isinstance(value, str) or not value:
            raise ValueError("token response has no token")
        expires_in = d.get("expires_in")
        ttl = expires_in if isinstance(expires_in, int) and expires_in > 0 else 60
        return cls(value=value, expires_at=time.monotonic() + ttl - 5)

    @property
    def valid(self) -> bool:
        return time.monotonic() < self.expires_at


def scope_for(repository: str, actions: str) -> str:
    """``repository:library/busybox:pull`` or ``...:pull,push``."""
    return f"repository:{repository}:{actions}"
