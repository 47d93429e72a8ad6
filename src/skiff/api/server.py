"""The HTTP server: one aiohttp application served on unix sockets and on mutual-TLS TCP.

``make_app(routes)`` registers every route twice (``/v{version}/path`` and ``/path``), adds the
version/error middleware and the headers moby puts on every reply. ``ApiServer`` listens on the
configured hosts: a unix socket (mode 0660, group ``skiff`` or root) and, only with client
certificates required, TCP.
"""

from __future__ import annotations

import asyncio
import functools
import grp
import logging
import os
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web, web_protocol
from aiohttp.http_parser import HttpRequestParserPy
from aiohttp.web_protocol import RequestHandler

import skiff
from skiff.api import versions
from skiff.api.errors import error_body, error_response
from skiff.api.httputil import API_VERSION_KEY, PREPARED_KEY, SHUTDOWN_KEY
from skiff.api.routes import Handler, Route
from skiff.api.streams import HIJACKED_KEY
from skiff.errors import InvalidParameter, SkiffError, System

__all__ = ["make_app", "ApiServer", "TLSFiles", "SERVER_HEADER", "PREPARED_KEY", "setup_runner"]

log = logging.getLogger("skiff.api")

SERVER_HEADER = f"Skiff/{skiff.__version__} (linux)"
MAX_BODY = 64 * 1024 * 1024


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """moby's VersionMiddleware headers, on every reply (errors and streams included)."""
    response.headers["Server"] = SERVER_HEADER
    response.headers["Api-Version"] = versions.DEFAULT_VERSION
    response.headers["Ostype"] = "linux"
    request[PREPARED_KEY] = True


@web.middleware
async def _api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        request[API_VERSION_KEY] = versions.check(request.match_info.get("version"))
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            message = "page not found"
        elif exc.status == 405:
            message = "method not allowed"
        else:
            message = exc.text or exc.reason
        return web.Response(status=exc.status, body=error_body(message),
                            content_type="application/json")
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception as exc:
        conn = request.get(HIJACKED_KEY)
        if conn is not None:  # nothing may be written on a hijacked stream: log and hang up
            log.error("%s %s failed on a hijacked connection", request.method, request.path, exc_info=exc)
            conn.close()
            return conn.response
        if request.get(PREPARED_KEY):
            # Headers are gone already: nothing to do but log and drop the connection.
            if isinstance(exc, SkiffError):
                log.warning("%s %s failed after the reply started: %s", request.method, request.path, exc)
            else:
                log.error("%s %s failed after the reply started", request.method, request.path,
                          exc_info=exc)
            raise
        return error_response(exc)


def _gate(handler: Handler, min_version: str) -> Handler:
    @functools.wraps(handler)
    async def gated(request: web.Request) -> web.StreamResponse:
        v = request.get(API_VERSION_KEY, versions.DEFAULT_VERSION)
        if versions.less_than(v, min_version):
            raise InvalidParameter(f"{request.path} requires API version {min_version}, but the "
                                   f"Docker daemon API version is {v}")
        return await handler(request)
    return gated


def make_app(routes: Sequence[Route], *, debug: bool = False) -> web.Application:
    """The aiohttp application serving ``routes`` at every supported version."""
    app = web.Application(middlewares=[_api_middleware], client_max_size=MAX_BODY)
    app[SHUTDOWN_KEY] = asyncio.Event()
    app.on_response_prepare.append(_on_prepare)
    for r in routes:
        handler = _gate(r.handler, r.min_version) if r.min_version else r.handler
        app.router.add_route(r.method, "/v{version:[0-9.]+}" + r.path, handler)
        app.router.add_route(r.method, r.path, handler)
    return app


class _HijackAwareHandler(RequestHandler):
    """aiohttp's connection handler, with two changes for Docker's hijacked connections:

    - it parses requests with aiohttp's pure-Python parser, which (unlike the C one, limited to
      websocket) treats ``Upgrade: tcp`` as an upgrade: bytes the client sends right behind the
      request are kept for the hijacker instead of being parsed as the next request;
    - a client half-closing an upgraded connection (its stdin ended) does not close our side:
      attach/exec output must still flow.
    """

    __slots__ = ("skiff_eof",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        mod: Any = web_protocol
        saved = mod.HttpRequestParser
        mod.HttpRequestParser = HttpRequestParserPy
        try:
            super().__init__(*args, **kwargs)
        finally:
            mod.HttpRequestParser = saved
        self.skiff_eof = False

    def eof_received(self) -> bool | None:  # type: ignore[override]
        if self._upgraded:
            self.skiff_eof = True
            return True
        return None


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _HijackAwareHandler(self, loop=self._loop, **self._kwargs)


async def setup_runner(app: web.Application, *, debug: bool = False,
                       shutdown_timeout: float = 1.0) -> web.AppRunner:
    """An AppRunner for ``app`` whose connections survive a half-close after an upgrade.

    At shutdown, requests still running after ``shutdown_timeout`` seconds (event streams, log
    follows, attach sessions) are cancelled: aiohttp's default of 60 s per phase kept a stopping
    daemon up for two minutes while a ``docker events`` was open. Streaming handlers can end
    at once by waiting on ``shutting_down(request)`` (httputil).
    """
    runner = web.AppRunner(app, handle_signals=False, access_log=log if debug else None,
                           handler_cancellation=True, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    server = runner.server
    if server is not None and type(server) is web.Server:
        server.__class__ = _Server  # same state, one overridden factory method
    return runner


@dataclass(frozen=True)
class TLSFiles:
    cacert: str
    cert: str
    key: str

    def server_context(self) -> ssl.SSLContext:
        """Mutual TLS: the client must present a certificate signed by ``cacert``."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(self.cert, self.key)
            ctx.load_verify_locations(cafile=self.cacert)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidParameter(f"could not load TLS certificates: {exc}") from exc
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


def _socket_gid(group: str, explicit: bool) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        if explicit:
            raise InvalidParameter(f"can't create unix socket: group {group} not found") from None
        return 0


def _remove_stale_socket(path: Path) -> None:
    if not path.exists() and not path.is_symlink():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise System(f"another daemon is listening on {path}")


class ApiServer:
    """Runs the application on every host of the configuration until ``stop``."""

    def __init__(self, app: web.Application, *, debug: bool = False) -> None:
        self.app = app
        self.debug = debug
        self.runner: web.AppRunner | None = None
        self.sockets: list[Path] = []

    async def start(self, hosts: Sequence[str], *, tls: TLSFiles | None = None, group: str = "skiff",
                    group_explicit: bool = False) -> None:
        self.runner = await setup_runner(self.app, debug=self.debug)
        for host in hosts:
            scheme, _, rest = host.partition("://")
            if scheme == "unix":
                await self._unix(Path(rest), _socket_gid(group, group_explicit))
            elif scheme == "tcp":
                if tls is None:
                    raise InvalidParameter(f"refusing to listen on {host} without mutual TLS")
                hostname, _, port = rest.rpartition(":")
                if not hostname:
                    hostname, port = rest, "2376"
                hostname = hostname.strip("[]") or "0.0.0.0"
                assert self.runner is not None
                site = web.TCPSite(self.runner, hostname, int(port), ssl_context=tls.server_context())
                await site.start()
                log.info("API listening on %s (mutual TLS)", host)
            else:
                raise InvalidParameter(f"invalid bind address ({host}): unsupported proto '{scheme}'")

    async def _unix(self, path: Path, gid: int) -> None:
        assert self.runner is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_socket(path)
        old = os.umask(0o117)  # the socket is born 0660: no window where others may connect
        try:
            site = web.UnixSite(self.runner, str(path))
            await site.start()
        finally:
            os.umask(old)
        os.chmod(path, 0o660)
        if os.geteuid() == 0:
            os.chown(path, 0, gid)
        self.sockets.append(path)
        log.info("API listening on %s", path)

    async def stop(self) -> None:
        self.app[SHUTDOWN_KEY].set()  # streaming handlers end now rather than at the timeout
        if self.runner is not None:
            await self.runner.cleanup()
        for path in self.sockets:
            path.unlink(missing_ok=True)
