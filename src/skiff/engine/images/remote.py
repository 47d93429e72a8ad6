"""What the image engine asks registries directly: the login check (``POST /auth``), a manifest's
descriptor and platforms (``GET /distribution``), the v1 search index, and ``import``'s URL download."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skiff.errors import InvalidParameter, Unauthorized, Unavailable
from skiff.image import reference
from skiff.image.errors import RegistryUnauthorized
from skiff.image.registry.auth import AuthConfig
from skiff.image.registry.client import RegistryClient, is_insecure
from skiff.oci.digest import Digest

__all__ = ["registry_domain", "login", "distribution", "search", "download", "LoginFailed"]


class LoginFailed(Unauthorized):
    """POST /auth with credentials the registry refused (HTTP 401, as dockerd answers)."""


def registry_domain(server_address: str) -> str:
    """``https://index.docker.io/v1/``, ``http://host:5000``, ``host:5000/v2/`` -> the registry host."""
    s = server_address.strip()
    if not s:
        return "docker.io"
    if "://" not in s:
        s = "//" + s
    host = urllib.parse.urlsplit(s).netloc or s.strip("/")
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io", "docker.io") else host


async def login(auth: AuthConfig, insecure: Sequence[str] = ()) -> dict[str, str]:
    """Check the credentials against the registry's ``/v2/`` (basic or token flow)."""
    domain = registry_domain(auth.server_address)
    async with RegistryClient(domain, auth, insecure=insecure, retries=1) as client:
        try:
            async with client.request("GET", "/v2/", ()):
                pass
        except RegistryUnauthorized as exc:
            base = await client.base()
            raise LoginFailed(f"login attempt to {base}/v2/ failed with status: 401 Unauthorized"
                              if "incorrect" not in exc.message else exc.message) from None
    return {"Status": "Login Succeeded", "IdentityToken": ""}

async def distribution(name: str, auth: AuthConfig | None = None, insecure: Sequence[str] = ()) -> dict[str, Any]:
    """GET /distribution/{name}/json: the manifest descriptor and the platforms it serves."""

    ref = reference.parse(name)
    if not ref.digest:
        ref = ref.with_default_tag()
    async with RegistryClient(ref.domain, auth, insecure=insecure) as client:
        m = await client.get_manifest(ref.path, str(ref.digest) if ref.digest else ref.tag)
    doc = json.loads(m.data)
    media_type = m.media_type or doc.get("mediaType", "")
    platforms: list[dict[str, Any]] = []
    if doc.get("manifests"):
        for d in doc["manifests"]:
            p = d.get("platform")
            if isinstance(p, dict) and p.get("os") != "unknown":
                platforms.append({k: v for k, v in p.items() if v})
    else:
        async with RegistryClient(ref.domain, auth, insecure=insecure) as client:
            cfg_digest = (doc.get("config") or {}).get("digest", "")
            chunks: list[bytes] = []
            if cfg_digest:
                await client.fetch_blob(ref.path, Digest.parse(cfg_digest), chunks.append)
            cfg = json.loads(b"".join(chunks) or b"{}")
        plat = {"architecture": cfg.get("architecture", ""), "os": cfg.get("os", "")}
        if cfg.get("variant"):
            plat["variant"] = cfg["variant"]
        platforms.append(plat)
    return {"Descriptor": {"mediaType": media_type, "digest": str(m.digest), "size": len(m.data)},
            "Platforms": platforms}

async def search(term: str, limit: int, filters: Mapping[str, Sequence[str]],
                 auth: AuthConfig | None = None, insecure: Sequence[str] = ()) -> list[dict[str, Any]]:
    """GET /images/search: asks the index's v1 search API (Docker Hub, or the registry named in
    the term). Registries without an index (distribution v2) fail with a clear error."""
    import aiohttp

    if not 1 <= limit <= 100:
        raise InvalidParameter(f"limit {limit} is outside the range of [1, 100]")
    domain, _, rest = term.partition("/")
    if rest and ("." in domain or ":" in domain or domain == "localhost"):
        index, query = domain, rest
    else:
        index, query = "docker.io", term
    host = "index.docker.io" if index == "docker.io" else index
    schemes = ["https", "http"] if is_insecure(index, insecure) else ["https"]
    headers = {}
    if auth is not None and not auth.empty and auth.username:
        headers["Authorization"] = auth.basic_header()
    last = ""
    for scheme in schemes:
        url = f"{scheme}://{host}/v1/search?q={urllib.parse.quote(query)}&n={limit}"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as s, \
                    s.get(url, headers=headers) as resp:
                if resp.status == 404:
                    raise Unavailable(f"Unexpected status code 404: the registry {index} has no search "
                                      "index (search is not supported without an index)")
                if resp.status != 200:
                    raise Unavailable(f"Unexpected status code {resp.status}")
                doc = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            last = f'Get "{url}": {exc or type(exc).__name__}'
            continue
        results = [r for r in (doc.get("results") or []) if isinstance(r, dict)]
        return [r for r in results if _search_match(r, filters)][:limit]
    raise Unavailable(last or f"cannot reach the index of {index}")


def _search_match(r: Mapping[str, Any], filters: Mapping[str, Sequence[str]]) -> bool:
    for v in filters.get("stars", []):
        try:
            if int(r.get("star_count") or 0) < int(v):
                return False
        except ValueError:
            raise InvalidParameter(f"invalid filter 'stars={v}'") from None
    for key, field_ in (("is-official", "is_official"), ("is-automated", "is_automated")):
        for v in filters.get(key, []):
            if v.lower() not in ("true", "false", "1", "0"):
                raise InvalidParameter(f"invalid filter '{key}={v}'")
            if bool(r.get(field_)) != (v.lower() in ("true", "1")):
                return False
    return True




async def download(url: str, dest: Path) -> None:
    import aiohttp

    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        url = "http://" + url
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=30)) as s, \
                s.get(url) as resp:
            if resp.status >= 400:
                raise InvalidParameter(f"Get \"{url}\": unexpected status {resp.status} {resp.reason}")
            with open(dest, "wb") as f:
                async for chunk in resp.content.iter_chunked(1 << 20):
                    await asyncio.to_thread(f.write, chunk)
    except aiohttp.ClientError as exc:
        raise InvalidParameter(f"Get \"{url}\": {exc}") from exc
