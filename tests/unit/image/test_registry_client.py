"""Registry client pieces: challenges, X-Registry-Auth, insecure hosts; retries against a fake
registry on loopback (aiohttp test server) that fails before it answers."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from aiohttp import web

from skiff.errors import InvalidParameter
from skiff.image.errors import DigestMismatch, RegistryError
from skiff.image.registry.auth import AuthConfig, parse_challenges, parse_registry_auth
from skiff.image.registry.client import RegistryClient, api_host, is_insecure
from skiff.oci.digest import Digest


def test_challenges() -> None:
    [c] = parse_challenges(['Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                            'scope="repository:library/busybox:pull"'])
    assert c.scheme == "bearer" and c.params == {"realm": "https://auth.docker.io/token",
                                                 "service": "registry.docker.io",
                                                 "scope": "repository:library/busybox:pull"}
    [b] = parse_challenges(['Basic realm="Registry Realm"'])
    assert b.scheme == "basic" and b.params["realm"] == "Registry Realm"


def test_registry_auth_header() -> None:
    a = AuthConfig(username="u", password="p:w", server_address="r.example")
    assert parse_registry_auth(a.encode()) == a
    legacy = base64.urlsafe_b64encode(json.dumps({"auth": base64.b64encode(b"x:y").decode()}).encode()).decode()
    assert parse_registry_auth(legacy).username == "x" and parse_registry_auth(legacy).password == "y"
    assert parse_registry_auth("") == AuthConfig() and parse_registry_auth("e30=").empty  # "{}"
    with pytest.raises(InvalidParameter):
        parse_registry_auth("!!!notbase64json")


def test_insecure_and_hosts() -> None:
    assert is_insecure("127.0.0.1:5000") and is_insecure("localhost:5000") and is_insecure("[::1]:5000")
    assert not is_insecure("registry.example.com")
    assert is_insecure("10.1.2.3:5000", ["10.0.0.0/8"]) and is_insecure("my.reg:5000", ["my.reg:5000"])
    assert api_host("docker.io") == "registry-1.docker.io" and api_host("quay.io") == "quay.io"


def _serve(app: web.Application) -> Any:
    async def start() -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return runner, port
    return start


def test_retries_5xx_and_broken_transfers() -> None:
    blob = b"layer-bytes" * 1000
    digest = Digest.of(blob)
    calls = {"manifest": 0, "blob": 0}

    async def v2(_: web.Request) -> web.Response:
        return web.json_response({})

    async def manifest(_: web.Request) -> web.Response:
        calls["manifest"] += 1
        if calls["manifest"] < 3:
            return web.Response(status=503)
        return web.Response(body=b'{"schemaVersion":2}', content_type="application/vnd.oci.image.manifest.v1+json")

    async def get_blob(req: web.Request) -> web.StreamResponse:
        calls["blob"] += 1
        resp = web.StreamResponse(headers={"Content-Length": str(len(blob))})
        await resp.prepare(req)
        if calls["blob"] == 1:  # die mid-transfer
            await resp.write(blob[:100])
            assert req.transport is not None
            req.transport.close()
            return resp
        await resp.write(blob)
        return resp

    app = web.Application()
    app.router.add_get("/v2/", v2)
    app.router.add_get("/v2/x/manifests/{ref}", manifest)
    app.router.add_get("/v2/x/blobs/{digest}", get_blob)

    async def main() -> None:
        runner, port = await _serve(app)()
        try:
            async with RegistryClient(f"127.0.0.1:{port}", backoff=0.01) as c:
                m = await c.get_manifest("x", "latest")
                assert m.data == b'{"schemaVersion":2}' and calls["manifest"] == 3
                got = bytearray()
                await c.fetch_blob("x", digest, got.extend, on_restart=got.clear)
                assert bytes(got) == blob and calls["blob"] == 2
                with pytest.raises(DigestMismatch):
                    await c.get_manifest("x", str(Digest.of(b"other")))
            async with RegistryClient(f"127.0.0.1:{port}", backoff=0.01, retries=1) as c:
                calls["manifest"] = 0
                with pytest.raises(RegistryError):
                    await c.get_manifest("x", "latest")
        finally:
            await runner.cleanup()
    asyncio.run(main())


def test_manifest_flood_refused() -> None:
    async def v2(_: web.Request) -> web.Response:
        return web.json_response({})

    async def huge(_: web.Request) -> web.Response:
        return web.Response(body=b" " * (5 << 20), content_type="application/vnd.oci.image.manifest.v1+json")

    app = web.Application()
    app.router.add_get("/v2/", v2)
    app.router.add_get("/v2/x/manifests/{ref}", huge)

    async def main() -> None:
        runner, port = await _serve(app)()
        try:
            async with RegistryClient(f"127.0.0.1:{port}", backoff=0.01) as c:
                with pytest.raises(RegistryError, match="larger than"):
                    await c.get_manifest("x", "latest")
        finally:
            await runner.cleanup()
    asyncio.run(main())
