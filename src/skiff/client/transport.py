"""How the client reaches the daemon: unix socket, TCP, or TCP with TLS, over skiff.client.http.

No aiohttp, no http.client (ssl + email cost ~35 ms): ``skiff version`` must start fast. ``Transport.request`` returns a ``Response``
(buffered, or streaming for logs/events/progress); ``Transport.hijack`` upgrades a connection to
raw bidirectional bytes for attach/exec.

Host resolution (``resolve_host``): the ``-H`` flag, else ``SKIFF_HOST``, else ``DOCKER_HOST``,
else ``unix:///run/skiff/skiff.sock``. There is deliberately no fall-back to
/var/run/docker.sock: silently talking to another engine would be surprising; set
DOCKER_HOST=unix:///var/run/docker.sock to drive dockerd.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from skiff.client.errors import DaemonUnreachable, from_status
from skiff.client.http import Connection, HTTPResponse, ProtocolError
from skiff.errors import InvalidParameter

if TYPE_CHECKING:
    import ssl

__all__ = ["DEFAULT_HOST", "TLSConfig", "Transport", "Response", "Hijacked", "resolve_host",
           "tls_from_env"]

DEFAULT_HOST = "unix:///run/skiff/skiff.sock"

Query = Mapping[str, Any] | list[tuple[str, Any]] | None


def resolve_host(flag: str | None = None, env: Mapping[str, str] | None = None) -> str:
    e = os.environ if env is None else env
    host = flag or e.get("SKIFF_HOST") or e.get("DOCKER_HOST") or DEFAULT_HOST
    if "://" not in host:
        host = ("unix://" + host) if host.startswith("/") else ("tcp://" + host)
    return host


class TLSConfig:
    """Client TLS: ``verify`` checks the daemon's certificate against ``ca``."""

    def __init__(self, ca: str | None = None, cert: str | None = None, key: str | None = None,
                 verify: bool = True) -> None:
        self.ca, self.cert, self.key, self.verify = ca, cert, key, verify

    def __repr__(self) -> str:
        return f"TLSConfig(ca={self.ca!r}, cert={self.cert!r}, key={self.key!r}, verify={self.verify})"

    def context(self) -> ssl.SSLContext:
        import ssl  # only TLS users pay for it

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.verify:
            if self.ca:
                ctx.load_verify_locations(cafile=self.ca)
            else:
                ctx.load_default_certs()
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert and self.key:
            ctx.load_cert_chain(self.cert, self.key)
        return ctx


def tls_from_env(env: Mapping[str, str] | None = None, *, tls: bool = False, verify: bool = False,
                 ca: str | None = None, cert: str | None = None, key: str | None = None) -> TLSConfig | None:
    """Docker's rules: DOCKER_TLS_VERIFY/--tlsverify verify; DOCKER_CERT_PATH holds ca/cert/key.pem."""
    e = os.environ if env is None else env
    verify = verify or bool(e.get("DOCKER_TLS_VERIFY"))
    if not (tls or verify or ca or cert or key):
        return None
    cert_dir = Path(e.get("DOCKER_CERT_PATH") or Path.home() / ".docker")

    def pick(given: str | None, name: str) -> str | None:
        if given:
            return given
        p = cert_dir / name
        return str(p) if p.exists() else None

    return TLSConfig(ca=pick(ca, "ca.pem"), cert=pick(cert, "cert.pem"), key=pick(key, "key.pem"),
                     verify=verify)


class Response:
    """A daemon reply. Read it whole (``json``/``read``) or as a stream (``iter_json``/``chunks``)."""

    def __init__(self, raw: HTTPResponse, conn: Connection | None = None) -> None:
        self.raw = raw
        self.status = raw.status
        self.headers = raw.headers
        self._conn = conn  # owned (streaming) connection, closed with the response

    def read(self) -> bytes:
        try:
            return self.raw.read()
        finally:
            self.close()

    def json(self) -> Any:
        data = self.read()
        return json.loads(data) if data.strip() else None

    def chunks(self, size: int = 32768) -> Iterator[bytes]:
        try:
            while True:
                data = self.raw.read1(size)
                if not data:
                    return
                yield data
        finally:
            self.close()

    def iter_lines(self) -> Iterator[bytes]:
        try:
            while True:
                line = self.raw.readline()
                if not line:
                    return
                yield line
        finally:
            self.close()

    def iter_json(self) -> Iterator[Any]:
        """One JSON value per line (progress, events); blank lines skipped."""
        for line in self.iter_lines():
            if line.strip():
                yield json.loads(line)

    def close(self) -> None:
        self.raw.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Hijacked:
    """A connection taken over for raw bytes (attach, exec start)."""

    def __init__(self, sock: socket.socket, leftover: bytes, content_type: str) -> None:
        self.sock = sock
        self._leftover = leftover
        self.content_type = content_type

    @property
    def multiplexed(self) -> bool:
        return "multiplexed" in self.content_type

    def recv(self, n: int = 65536) -> bytes:
        if self._leftover:
            data, self._leftover = self._leftover[:n], self._leftover[n:]
            return data
        return self.sock.recv(n)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """Half-close: tell the daemon our stdin ended, keep reading its output."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


class Transport:
    """HTTP over the configured host; one kept-alive connection plus one per stream."""

    def __init__(self, host: str, tls: TLSConfig | None = None, timeout: float | None = None) -> None:
        self.host = host
        self.tls = tls
        self.timeout = timeout
        scheme, _, rest = host.partition("://")
        self.scheme = scheme
        if scheme == "unix":
            self._path = rest
        elif scheme in ("tcp", "http", "https"):
            hostport = rest.split("/", 1)[0]
            name, sep, port = hostport.rpartition(":")
            if not sep:
                name, port = hostport, ""
            self._addr = name.strip("[]") or "localhost"
            self._port = int(port) if port else (2376 if tls or scheme == "https" else 2375)
            if scheme == "https" and self.tls is None:
                self.tls = TLSConfig(verify=True)
        else:
            raise InvalidParameter(f"unsupported protocol scheme: {scheme!r} in {host!r}")
        self._local = threading.local()  # one kept-alive connection per thread (stats, parallel ops)
        self._all: list[Connection] = []
        self._ssl: ssl.SSLContext | None = None

    def _socket(self, timeout: float | None) -> socket.socket:
        if self.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(self._path)
            except OSError:
                sock.close()
                raise
            return sock
        sock = socket.create_connection((self._addr, self._port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            if self._ssl is None:
                self._ssl = self.tls.context()
            try:
                return self._ssl.wrap_socket(sock, server_hostname=self._addr)
            except Exception:
                sock.close()
                raise
        return sock

    def _new_connection(self, timeout: float | None) -> Connection:
        host = "docker" if self.scheme == "unix" else self._addr
        return Connection(lambda: self._socket(timeout), host)

    def _unreachable(self, exc: BaseException) -> DaemonUnreachable:
        return DaemonUnreachable(self.host, str(exc))

    @staticmethod
    def url(path: str, params: Query = None) -> str:
        if not params:
            return path
        items = params.items() if isinstance(params, Mapping) else params
        pairs: list[tuple[str, str]] = []
        for k, v in items:
            if v is None:
                continue
            if isinstance(v, bool):
                v = "1" if v else "0"
            if isinstance(v, list | tuple):
                pairs.extend((k, str(x)) for x in v)
            else:
                pairs.append((k, str(v)))
        return path + ("?" + urlencode(pairs) if pairs else "")

    def request(self, method: str, path: str, params: Query = None, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, stream: bool = False,
                timeout: float | None = None) -> Response:
        """Send one request; raise the mapped error for 4xx/5xx; ``stream`` keeps the body unread."""
        url = self.url(path, params)
        hdrs = {"User-Agent": "Skiff-Client"}
        if headers:
            hdrs.update(headers)
        for attempt in (0, 1):
            if stream:
                conn = self._new_connection(timeout if timeout is not None else self.timeout)
                reused = False
            else:
                kept: Connection | None = getattr(self._local, "conn", None)
                if kept is None:
                    kept = self._local.conn = self._new_connection(self.timeout)
                    self._all.append(kept)
                conn = kept
                reused = conn.is_open
            try:
                raw = conn.request(method, url, body, hdrs)
            except ProtocolError as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # the kept-alive connection went stale: retry once on a fresh one
                raise self._unreachable(exc) from exc
            except OSError as exc:  # includes ssl.SSLError
                conn.close()
                if reused and attempt == 0 and isinstance(exc, BrokenPipeError | ConnectionResetError):
                    continue
                raise self._unreachable(exc) from exc
            if raw.status >= 400:
                try:
                    data = raw.read()
                finally:
                    if stream:
                        conn.close()
                raise from_status(raw.status, _message(data))
            if not stream:  # read it all now: the kept-alive connection is free for the next call
                return _Buffered(raw.read(), raw)
            return Response(raw, conn)
        raise AssertionError("unreachable")

    def hijack(self, method: str, path: str, params: Query = None, body: bytes | None = None,
               headers: Mapping[str, str] | None = None) -> Hijacked:
        """Send the request with ``Upgrade: tcp`` and return the raw connection after the headers."""
        conn = self._new_connection(None)
        hdrs = {"User-Agent": "Skiff-Client", "Connection": "Upgrade", "Upgrade": "tcp"}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        try:
            raw = conn.request(method, self.url(path, params), body if body is not None else b"", hdrs)
        except OSError as exc:
            conn.close()
            raise self._unreachable(exc) from exc
        if raw.status >= 400:
            data = raw.read()
            conn.close()
            raise from_status(raw.status, _message(data))
        sock, rest = conn.detach()
        return Hijacked(sock, rest, raw.headers.get("content-type", "") or "")

    def close(self) -> None:
        for conn in self._all:
            conn.close()


class _Buffered(Response):
    """A fully read reply."""

    def __init__(self, data: bytes, raw: HTTPResponse) -> None:
        self.raw = raw
        self.status = raw.status
        self.headers = raw.headers
        self._conn = None
        self._data = data

    def read(self) -> bytes:
        return self._data

    def close(self) -> None:
        return None

    def chunks(self, size: int = 32768) -> Iterator[bytes]:
        if self._data:
            yield self._data

    def iter_lines(self) -> Iterator[bytes]:
        yield from self._data.splitlines(keepends=True)


def _message(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return str(doc["message"])
    return text
