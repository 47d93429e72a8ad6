"""Image endpoints: create (pull / import), push, tag, remove, list, inspect, history, save, load,
prune, search. Handlers parse, call one ImageBackend method, and reply (streams via api/streams.py)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from aiohttp import web

from skiff.api.backends import Services
from skiff.api.httputil import (
    PREPARED_KEY,
    filters,
    json_response,
    query_bool,
    query_int,
    query_list,
    query_str,
    version_at_least,
)
from skiff.api.routes import Route
from skiff.api.streams import stream_messages
from skiff.engine.filters import Filters
from skiff.errors import InvalidParameter
from skiff.image.registry.auth import AuthConfig, parse_registry_auth

__all__ = ["routes", "ImageBackend", "LIST_FILTERS", "PRUNE_FILTERS"]

LIST_FILTERS = ("dangling", "label", "before", "since", "reference", "until")
PRUNE_FILTERS = ("dangling", "label", "label!", "until")
SEARCH_FILTERS = ("is-automated", "is-official", "stars")


class ImageBackend(Protocol):
    """What the image endpoints need (engine.images.ImageEngine)."""

    async def pull(self, image: str, tag: str = "", *, platform: str = "",
                   auth: AuthConfig | None = None) -> AsyncIterator[dict[str, Any]]: ...

    async def push(self, image: str, tag: str = "", *,
                   auth: AuthConfig | None = None) -> AsyncIterator[dict[str, Any]]: ...

    async def import_image(self, body: AsyncIterable[bytes] | None, *, src: str = "-", repo: str = "",
                           tag: str = "", message: str = "", changes: Sequence[str] = (),
                           platform: str = "") -> AsyncIterator[dict[str, Any]]: ...

    def tag(self, source: str, repo: str, tag: str = "") -> str: ...

    def remove(self, name: str, force: bool = False, noprune: bool = False) -> list[dict[str, str]]: ...

    def list_images(self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None,  # noqa: A002
                    shared_size: bool = False) -> list[dict[str, Any]]: ...

    def inspect(self, name: str) -> dict[str, Any]: ...

    def history(self, name: str) -> list[dict[str, Any]]: ...

    def prune(self, filters: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]: ...

    def save(self, names: Sequence[str]) -> AsyncIterator[bytes]: ...

    def load(self, body: AsyncIterable[bytes], quiet: bool = False) -> AsyncIterator[dict[str, Any]]: ...

    async def search(self, term: str, limit: int, filters: Mapping[str, Sequence[str]],
                     auth: AuthConfig | None = None) -> list[dict[str, Any]]: ...


def routes(services: Services) -> list[Route]:
    h = _Handlers(services.get(ImageBackend))
    return [
        Route("POST", "/images/create", h.create),
        Route("GET", "/images/json", h.ls),
        Route("GET", "/images/search", h.search),
        Route("GET", "/images/get", h.save_many),
        Route("POST", "/images/load", h.load),
        Route("POST", "/images/prune", h.prune, min_version="1.25"),
        Route("GET", "/images/{name:.+}/json", h.inspect),
        Route("GET", "/images/{name:.+}/history", h.history),
        Route("GET", "/images/{name:.+}/get", h.save_one),
        Route("POST", "/images/{name:.+}/push", h.push),
        Route("POST", "/images/{name:.+}/tag", h.tag),
        Route("DELETE", "/images/{name:.+}", h.remove),
    ]


def _auth(request: web.Request) -> AuthConfig:
    return parse_registry_auth(request.headers.get("X-Registry-Auth"))


def _body(request: web.Request) -> AsyncIterator[bytes]:
    return request.content.iter_chunked(1 << 20)


def _fdict(f: Filters) -> dict[str, list[str]]:
    keys: list[str] = f.keys()
    return {k: f.get(k) for k in keys}


class _Handlers:
    def __init__(self, images: ImageBackend) -> None:
        self.images = images

    async def create(self, request: web.Request) -> web.StreamResponse:
        src = query_str(request, "fromSrc") or ""
        image = query_str(request, "fromImage") or ""
        tag = query_str(request, "tag") or ""
        platform = query_str(request, "platform") or ""
        if image:  # moby: fromImage wins over fromSrc
            msgs = await self.images.pull(image, tag, platform=platform, auth=_auth(request))
        elif src:
            msgs = await self.images.import_image(
                _body(request) if src == "-" else None, src=src, repo=query_str(request, "repo") or "",
                tag=tag, message=query_str(request, "message") or "", changes=query_list(request, "changes"),
                platform=platform)
        else:
            raise InvalidParameter("either fromImage or fromSrc is required")
        return await stream_messages(request, msgs)

    async def push(self, request: web.Request) -> web.StreamResponse:
        msgs = await self.images.push(request.match_info["name"], query_str(request, "tag") or "",
                                      auth=_auth(request))
        return await stream_messages(request, msgs)

    async def tag(self, request: web.Request) -> web.StreamResponse:
        self.images.tag(request.match_info["name"], query_str(request, "repo") or "",
                        query_str(request, "tag") or "")
        return web.Response(status=201)

    async def remove(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.images.remove(request.match_info["name"], force=query_bool(request, "force"),
                                                noprune=query_bool(request, "noprune")))

    async def ls(self, request: web.Request) -> web.StreamResponse:
        f = filters(request, LIST_FILTERS)
        legacy = query_str(request, "filter")  # API < 1.41: ?filter=<reference>
        fdict = _fdict(f)
        if legacy and not version_at_least(request, "1.41"):
            fdict.setdefault("reference", []).append(legacy)
        out = self.images.list_images(all=query_bool(request, "all"), filters=fdict,
                                      shared_size=query_bool(request, "shared-size"))
        if not version_at_least(request, "1.44"):
            for img in out:
                img.setdefault("VirtualSize", img.get("Size", 0))
        return json_response(out)

    async def inspect(self, request: web.Request) -> web.StreamResponse:
        data = self.images.inspect(request.match_info["name"])
        if not version_at_least(request, "1.44"):
            data.setdefault("VirtualSize", data.get("Size", 0))
        return json_response(data)

    async def history(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.images.history(request.match_info["name"]))

    async def save_one(self, request: web.Request) -> web.StreamResponse:
        return await self._save(request, [request.match_info["name"]])

    async def save_many(self, request: web.Request) -> web.StreamResponse:
        return await self._save(request, query_list(request, "names"))

    async def _save(self, request: web.Request, names: list[str]) -> web.StreamResponse:
        chunks = self.images.save(names)
        first = await anext(chunks, b"")  # an error here is still the reply's status
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/x-tar"
        await resp.prepare(request)
        request[PREPARED_KEY] = True
        if first:
            await resp.write(first)
        async for chunk in chunks:
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def load(self, request: web.Request) -> web.StreamResponse:
        msgs = self.images.load(_body(request), quiet=query_bool(request, "quiet"))
        return await stream_messages(request, msgs)

    async def prune(self, request: web.Request) -> web.StreamResponse:
        f = filters(request, PRUNE_FILTERS)
        return json_response(self.images.prune(_fdict(f)))

    async def search(self, request: web.Request) -> web.StreamResponse:
        term = query_str(request, "term") or ""
        if not term:
            raise InvalidParameter("term is required")
        f = filters(request, SEARCH_FILTERS)
        limit = query_int(request, "limit", 25)
        limit = 25 if limit is None or limit == 0 else limit
        return json_response(await self.images.search(term, limit, _fdict(f),
                                                      auth=_auth(request)))
