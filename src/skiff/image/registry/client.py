"""Distribution API v2 client on aiohttp: ping, auth, manifests, blobs (pull, mount, upload).

One :class:`RegistryClient` talks to one registry host for one operation (a pull or a push), so its
token cache matches the scopes that operation needs. https is the default; hosts in
``insecure`` and loopback hosts (like Docker) fall back to plain http when https fails. Transient
failures (connection errors, 5xx, 429) are retried with exponential backoff.

Example::

    async with RegistryClient("127.0.0.1:5000", auth) as c:
        data, media_type, digest = await c.get_manifest("library/busybox", "latest")
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import ssl
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from skiff.image.errors import (
    BlobNotFound,
    DigestMismatch,
    ManifestUnknown,
    PullAccessDenied,
    RegistryError,
    RegistryUnauthorized,
)
from skiff.image.reference import Reference
from skiff.image.registry.auth import AuthConfig, Token, parse_challenges, scope_for
from skiff.oci import mediatypes as mt
from skiff.oci.digest import Digest

__all__ = ["RegistryClient", "FetchedManifest", "api_host", "is_insecure"]

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_CHUNK = 1 << 20
MAX_MANIFEST = 4 << 20
USER_AGENT = "skiff/0.1 (docker-compatible)"


def api_host(domain: str) -> str:
    """``docker.io`` is served from ``registry-1.docker.io``; every other domain is itself."""
    return "registry-1.docker.io" if domain in ("docker.io", "index.docker.io") else domain


def is_insecure(domain: str, insecure: Iterable[str] = ()) -> bool:
    """Loopback registries and configured ``insecure-registries`` (host[:port] or CIDR) may use http."""
    host = urllib.parse.urlsplit("//" + domain).hostname or domain
    if host == "localhost":
        return True
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None and ip.is_loopback:
        return True
    for entry in insecure:
        if entry in (domain, host):
            return True
        if ip is not None and "/" in entry:
            with contextlib.suppress(ValueError):
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
    return False


def tls_context(domain: str, certs_dir: Path | None, insecure: bool) -> ssl.SSLContext | bool:
    """Docker's certs.d: ``<certs_dir>/<host:port>/*.crt`` are extra CAs, ``*.cert``+``*.key``
    client certificates. Insecure registries skip verification (they may also be plain http)."""
    if insecure:
        return False
    d = certs_dir / domain if certs_dir is not None else None
    if d is None or not d.is_dir():
        return True
    ctx = ssl.create_default_context()
    for ca in sorted(d.glob("*.crt")):
        ctx.load_verify_locations(cafile=str(ca))
    for cert in sorted(d.glob("*.cert")):
        key = cert.with_suffix(".key")
        if not key.is_file():
            raise RegistryError(f"missing key {key.name} for client certificate {cert}")
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


@dataclass(frozen=True)
class FetchedManifest:
    data: bytes
    media_type: str
    digest: Digest


class RegistryClient:
    """See the module docstring. Use as an async context manager."""

    def __init__(self, domain: str, auth: AuthConfig | None = None, *, insecure: Iterable[str] = (),
                 retries: int = 4, backoff: float = 0.25, connections: int = 8,
                 session: aiohttp.ClientSession | None = None, certs_dir: Path | None = None) -> None:
        self.domain = domain
        self.host = api_host(domain)
        self.auth = auth or AuthConfig()
        self.insecure = is_insecure(domain, insecure)
        self.retries = retries
        self.backoff = backoff
        self._own_session = session is None
        self._session = session or aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit_per_host=connections,
                                           ssl=tls_context(domain, certs_dir, self.insecure)),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120),
            headers={"User-Agent": USER_AGENT}, auto_decompress=False)
        self._base: str | None = None
        self._challenge: tuple[str, dict[str, str]] | None = None  # (scheme, params)
        self._tokens: dict[str, Token] = {}
        self._token_lock = asyncio.Lock()
        self._sessions: dict[tuple[str, str], str] = {}  # (repo, digest) -> upload URL from a failed mount

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._sessions:
            await self.discard_sessions()
        if self._own_session:
            await self._session.close()

    # -- endpoint and auth -----------------------------------------------------------------------
    async def base(self) -> str:
        """Find the scheme by pinging /v2/ (https first; http only for insecure hosts)."""
        if self._base is not None:
            return self._base
        schemes = ["https", "http"] if self.insecure else ["https"]
        last: Exception | None = None
        for scheme in schemes:
            url = f"{scheme}://{self.host}"
            try:
                async with self._session.get(f"{url}/v2/", allow_redirects=True) as resp:
                    if resp.status == 401:
                        self._remember_challenge(resp)
                    elif resp.status != 200:  # like Docker's ping: only 200 or 401 mean "a registry"
                        last = RegistryError(f"received unexpected HTTP status: {resp.status} {resp.reason}")
                        continue
                    self._base = url
                    return url
            except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError) as exc:
                last = exc
        raise RegistryError(f'Get "https://{self.host}/v2/": {last}')

    async def ping(self) -> None:
        await self.base()

    def _remember_challenge(self, resp: aiohttp.ClientResponse) -> None:
        for ch in parse_challenges(resp.headers.getall("WWW-Authenticate", [])):
            if ch.scheme in ("bearer", "basic"):
                self._challenge = (ch.scheme, ch.params)
                return

    async def _auth_header(self, scopes: tuple[str, ...]) -> str | None:
        if self._challenge is None:
            return None
        scheme, params = self._challenge
        if scheme == "basic":
            return self.auth.basic_header() if not self.auth.empty else None
        if self.auth.registry_token:
            return f"Bearer {self.auth.registry_token}"
        key = " ".join(sorted(scopes))
        async with self._token_lock:
            tok = self._tokens.get(key)
            if tok is None or not tok.valid:
                tok = await self._fetch_token(params, scopes)
                self._tokens[key] = tok
        return f"Bearer {tok.value}"

    async def _fetch_token(self, params: dict[str, str], scopes: tuple[str, ...]) -> Token:
        realm = params.get("realm")
        if not realm:
            raise RegistryError("bearer challenge without a realm")
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query += [("scope", s) for s in scopes]
        headers = {}
        if self.auth.identity_token:  # OAuth2 refresh token (docker login with identity tokens)
            form = {"grant_type": "refresh_token", "refresh_token": self.auth.identity_token,
                    "client_id": "skiff", "service": params.get("service", ""), "scope": " ".join(scopes)}
            ctx = self._session.post(realm, data=form)
        else:
            if not self.auth.empty:
                headers["Authorization"] = self.auth.basic_header()
                query.append(("account", self.auth.username))
            ctx = self._session.get(realm, params=query, headers=headers)
        try:
            async with ctx as resp:
                body = await resp.read()
                if resp.status in (401, 403):
                    raise RegistryUnauthorized(_error_text(body) or "unauthorized: incorrect username or password")
                if resp.status != 200:
                    raise RegistryError(f"token server: received unexpected HTTP status: {resp.status}")
                return Token.from_response(json.loads(body))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RegistryError(f"token server {realm}: {exc}") from exc
        except ValueError as exc:
            raise RegistryError(f"token server {realm}: {exc}") from exc

    # -- one request with auth and retries ---------------------------------------------------------
    @contextlib.asynccontextmanager
    async def request(self, method: str, path: str, scopes: tuple[str, ...], *,
                      headers: dict[str, str] | None = None, body: Callable[[], Any] | None = None,
                      params: dict[str, str] | None = None, ok: Iterable[int] = (200,),
                      absolute: bool = False) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send, answer one auth challenge, retry transient failures; yields a response in ``ok``."""
        url = path if absolute else (await self.base()) + path
        okset = set(ok)
        attempt = 0
        challenged = False
        while True:
            hdrs = dict(headers or {})
            auth = await self._auth_header(scopes)
            if auth:
                hdrs["Authorization"] = auth
            try:
                resp = await self._session.request(method, url, headers=hdrs, params=params,
                                                   data=body() if body else None, allow_redirects=True)
            except (TimeoutError, aiohttp.ClientConnectionError) as exc:
                if attempt >= self.retries:
                    raise RegistryError(f'{method} "{url}": {exc}') from exc
                attempt += 1
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            if resp.status == 401 and not challenged:
                challenged = True
                old = self._challenge
                self._remember_challenge(resp)
                resp.release()
                if self._challenge is not None:
                    if old != self._challenge:
                        self._tokens.clear()
                    else:  # the token may lack a scope the registry now wants: ask again once
                        self._tokens.pop(" ".join(sorted(scopes)), None)
                    continue
            if resp.status in _RETRY_STATUS and attempt < self.retries:
                resp.release()
                attempt += 1
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            try:
                if resp.status not in okset:
                    await _raise_for(resp, method, url)
                yield resp
            finally:
                resp.release()
            return

    # -- manifests -------------------------------------------------------------------------------
    async def get_manifest(self, repo: str, reference: str,
                           accept: Iterable[str] = mt.ACCEPT_MANIFESTS) -> FetchedManifest:
        """GET a manifest by tag or digest; a digest reference is verified. Raises ManifestUnknown."""
        headers = {"Accept": ", ".join(accept)}
        try:
            async with self.request("GET", f"/v2/{repo}/manifests/{reference}", (scope_for(repo, "pull"),),
                                    headers=headers) as resp:
                buf = bytearray()
                async for chunk in resp.content.iter_chunked(1 << 16):
                    buf += chunk
                    if len(buf) > MAX_MANIFEST:  # like containerd: a manifest is small; refuse a flood
                        raise RegistryError(f"manifest for {repo}:{reference} is larger than {MAX_MANIFEST} bytes")
                data = bytes(buf)
                media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        except _NotFound as exc:
            if exc.code == "NAME_UNKNOWN":  # moby distribution/errors.go notFoundError
                raise ManifestUnknown(f"repository {_familiar(self.domain, repo, '')} not found: "
                                      f"{exc.message}") from None
            shown = _familiar(self.domain, repo, reference)
            raise ManifestUnknown(f"manifest for {shown} not found: "
                                  f"{exc.message or 'manifest unknown: manifest unknown'}") from None
        except RegistryUnauthorized as exc:
            if exc.denied or "insufficient_scope" in exc.message:
                raise PullAccessDenied(_familiar(self.domain, repo, ""), exc.message) from None
            raise
        actual = Digest.of(data)
        if reference.startswith("sha256:") and actual != reference:
            raise DigestMismatch(reference, actual)
        return FetchedManifest(data=data, media_type=media_type, digest=actual)

    async def tags(self, repo: str) -> list[str]:
        """GET /v2/<repo>/tags/list, following ``Link: <...>; rel="next"`` pages."""
        out: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list"
        absolute = False
        while path:
            async with self.request("GET", path, (scope_for(repo, "pull"),), absolute=absolute) as resp:
                body = await resp.json(content_type=None)
                link = resp.headers.get("Link", "")
            out += [t for t in (body.get("tags") or []) if isinstance(t, str)]
            path = None
            if 'rel="next"' in link:
                path = await self._abs(link.split(";")[0].strip().strip("<>"))
                absolute = True
        return out

    async def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> Digest:
        async with self.request("PUT", f"/v2/{repo}/manifests/{reference}", (scope_for(repo, "pull,push"),),
                                headers={"Content-Type": media_type}, body=lambda: data, ok=(201, 200)) as resp:
            d = resp.headers.get("Docker-Content-Digest")
        return Digest.parse(d) if d else Digest.of(data)

    # -- blobs -----------------------------------------------------------------------------------
    async def blob_size(self, repo: str, digest: Digest, *, push: bool = False) -> int | None:
        """HEAD a blob: its size, or None when the registry does not have it in ``repo``."""
        try:
            async with self.request("HEAD", f"/v2/{repo}/blobs/{digest}",
                                    (scope_for(repo, "pull,push" if push else "pull"),)) as resp:
                return int(resp.headers.get("Content-Length", "-1"))
        except _NotFound:
            return None

    async def fetch_blob(self, repo: str, digest: Digest, sink: Callable[[bytes], Awaitable[None] | None],
                         *, on_restart: Callable[[], None] | None = None) -> None:
        """Stream a blob into ``sink``; a broken transfer restarts (``on_restart`` resets the sink)."""
        attempt = 0
        while True:
            try:
                async with self.request("GET", f"/v2/{repo}/blobs/{digest}", (scope_for(repo, "pull"),)) as resp:
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        r = sink(chunk)
                        if r is not None:
                            await r
                return
            except _NotFound:
                raise BlobNotFound(digest) from None
            except (TimeoutError, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
                if attempt >= self.retries or on_restart is None:
                    raise RegistryError(f"error pulling blob {digest}: {exc}") from exc
                attempt += 1
                on_restart()
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))

    async def mount_blob(self, repo: str, digest: Digest, from_repo: str) -> bool:
        """Cross-repository mount; True when the registry mounted it (201)."""
        scopes = (scope_for(repo, "pull,push"), scope_for(from_repo, "pull"))
        async with self.request("POST", f"/v2/{repo}/blobs/uploads/", scopes,
                                params={"mount": str(digest), "from": from_repo}, ok=(201, 202)) as resp:
            mounted = resp.status == 201
            location = resp.headers.get("Location", "")
        if not mounted and location:
            # The registry opened an upload session instead: keep it for the upload (as Docker does);
            # close the one a previous candidate left.
            old = self._sessions.pop((repo, digest), None)
            self._sessions[(repo, digest)] = await self._abs(location)
            if old:
                await self._cancel_upload(repo, old)
        return mounted

    async def _cancel_upload(self, repo: str, location: str) -> None:
        with contextlib.suppress(Exception):
            async with self.request("DELETE", location, (scope_for(repo, "pull,push"),), ok=(204, 200, 404),
                                    absolute=True):
                pass

    async def discard_sessions(self) -> None:
        """Close upload sessions opened by failed mounts and never used."""
        while self._sessions:
            (repo, _), location = self._sessions.popitem()
            await self._cancel_upload(repo, location)

    async def _abs(self, location: str) -> str:
        return urllib.parse.urljoin(await self.base() + "/", location)

    async def upload_blob(self, repo: str, digest: Digest, size: int, read: Callable[[int, int], bytes],
                          progress: Callable[[int], None] | None = None, chunk_size: int = 0) -> None:
        """Upload ``size`` bytes got by ``read(offset, n)``: monolithic (one PATCH-less PUT) or, with
        ``chunk_size``, in PATCH chunks with Content-Range. The whole upload is retried on failure."""
        scopes = (scope_for(repo, "pull,push"),)
        attempt = 0
        while True:
            try:
                await self._upload_once(repo, digest, size, read, progress, chunk_size, scopes)
                return
            except RegistryError:
                if attempt >= self.retries:
                    raise
                attempt += 1
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))

    async def _upload_once(self, repo: str, digest: Digest, size: int, read: Callable[[int, int], bytes],
                           progress: Callable[[int], None] | None, chunk_size: int,
                           scopes: tuple[str, ...]) -> None:
        location = self._sessions.pop((repo, digest), "")
        if not location:
            async with self.request("POST", f"/v2/{repo}/blobs/uploads/", scopes, ok=(202,)) as resp:
                location = await self._abs(resp.headers["Location"])

        def streamer(start: int, end: int) -> Callable[[], Any]:
            async def gen() -> AsyncIterator[bytes]:
                off = start
                while off < end:
                    data = read(off, min(_CHUNK, end - off))
                    if not data:
                        raise RegistryError(f"blob {digest} is shorter than {size}")
                    off += len(data)
                    if progress:
                        progress(len(data))
                    yield data
            return gen

        if chunk_size > 0:
            off = 0
            while off < size:
                end = min(size, off + chunk_size)
                headers = {"Content-Type": "application/octet-stream", "Content-Length": str(end - off),
                           "Content-Range": f"{off}-{end - 1}"}
                async with self.request("PATCH", location, scopes, headers=headers, body=streamer(off, end),
                                        ok=(202, 204), absolute=True) as resp:
                    location = await self._abs(resp.headers.get("Location", location))
                off = end
            body: Callable[[], Any] | None = None
            headers = {"Content-Length": "0"}
        else:
            gen = streamer(0, size)
            body = gen
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        sep = "&" if "?" in location else "?"
        async with self.request("PUT", f"{location}{sep}digest={urllib.parse.quote(str(digest))}", scopes,
                                headers=headers, body=body, ok=(201, 204), absolute=True):
            pass


def _familiar(domain: str, repo: str, reference: str) -> str:
    """How Docker names the image in pull errors: ``busybox:latest``, ``localhost:5000/x@sha256:...``."""
    if reference.startswith("sha256:"):
        r = Reference(domain, repo, digest=Digest.parse(reference))
    else:
        r = Reference(domain, repo, tag=reference)
    return r.familiar if reference else r.familiar_name


class _NotFound(RegistryError):
    """404 from the registry (internal; callers turn it into the right NotFound)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def _error_code(body: bytes) -> str:
    try:
        errs = json.loads(body).get("errors") or []
        return str(errs[0].get("code", "")) if errs else ""
    except (ValueError, AttributeError, TypeError, IndexError):
        return ""


def _error_text(body: bytes) -> str:
    try:
        d = json.loads(body)
        errs = d.get("errors") or []
        parts = []
        for e in errs:
            code = str(e.get("code", "")).lower().replace("_", " ")
            msg = str(e.get("message", ""))
            parts.append(f"{code}: {msg}" if code and msg else code or msg)
        if parts:
            return "; ".join(parts)
        if isinstance(d.get("details"), str):
            return str(d["details"])
    except (ValueError, AttributeError, TypeError):
        pass
    return ""


async def _raise_for(resp: aiohttp.ClientResponse, method: str, url: str) -> None:
    body = await resp.read() if method != "HEAD" else b""
    text = _error_text(body)
    if resp.status == 404:
        raise _NotFound(text, _error_code(body))
    denied = text.startswith("denied") or resp.status == 403
    if resp.status == 401:
        raise RegistryUnauthorized(text or "unauthorized: authentication required", denied)
    if resp.status == 403:
        raise RegistryUnauthorized(text or "denied: requested access to the resource is denied", denied)
    raise RegistryError(text or f"received unexpected HTTP status: {resp.status} {resp.reason}")

