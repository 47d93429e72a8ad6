"""Pull and push against a real registry (distribution 2.8) on 127.0.0.1: tags, digests, auth."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from skiff.errors import NotFound, SkiffError, Unauthorized
from skiff.image.registry.auth import AuthConfig
from skiff.image.service import ImageService
from skiff.oci.image_spec import ContainerConfig
from tests.integration.image.registry_fixture import (
    PASSWORD,
    USER,
    Registry,
    layer_tar,
    skopeo,
    write_oci_layout,
)


async def _drain(it: Any) -> list[dict[str, Any]]:
    return [m async for m in it]


def drain(it: Any) -> list[dict[str, Any]]:
    return asyncio.run(_drain(it))


def statuses(msgs: list[dict[str, Any]]) -> list[str]:
    return [m.get("status", "") for m in msgs]


def _import(service: ImageService, repo: str, files: dict[str, bytes] | None = None) -> str:
    tar = layer_tar(files or {"hello.txt": b"hello from skiff\n"})
    rec = asyncio.run(service.import_image(io.BytesIO(tar), repo=repo, config=ContainerConfig(cmd=("/bin/sh",))))
    return str(rec.id)


def test_push_then_pull_by_tag_and_digest(registry: Registry, service: ImageService, tmp_path: Path) -> None:
    image_id = _import(service, f"{registry.host}/test/app:v1")
    msgs = drain(service.push(f"{registry.host}/test/app:v1"))
    st = statuses(msgs)
    assert st[0] == f"The push refers to repository [{registry.host}/test/app]"
    assert "Pushed" in st and any(s.startswith("v1: digest: sha256:") for s in st)
    aux = next(m["aux"] for m in msgs if "aux" in m)
    assert aux["Tag"] == "v1" and aux["Size"] > 0
    # pushing again: every layer already exists
    assert "Layer already exists" in statuses(drain(service.push(f"{registry.host}/test/app:v1")))

    other = ImageService(tmp_path / "other", service.unpacker.__class__())
    try:
        msgs = drain(other.pull(f"{registry.host}/test/app:v1"))
        st = statuses(msgs)
        assert st[0] == "Pulling from test/app" and msgs[0]["id"] == "v1"
        assert "Pull complete" in st and "Download complete" in st
        assert st[-2] == f"Digest: {aux['Digest']}"
        assert st[-1] == f"Status: Downloaded newer image for {registry.host}/test/app:v1"
        rec = other.resolve(f"{registry.host}/test/app:v1")
        assert str(rec.id) == image_id
        assert other.repo_digests(rec) == [f"{registry.host}/test/app@{aux['Digest']}"]
        assert statuses(drain(other.pull(f"{registry.host}/test/app:v1")))[-1] == \
            f"Status: Image is up to date for {registry.host}/test/app:v1"
        # by digest, into a third store
        third = ImageService(tmp_path / "third", service.unpacker.__class__())
        try:
            st = statuses(drain(third.pull(f"{registry.host}/test/app@{aux['Digest']}")))
            assert st[-1] == f"Status: Downloaded newer image for {registry.host}/test/app@{aux['Digest']}"
            assert str(third.resolve(f"{registry.host}/test/app@{aux['Digest']}").id) == image_id
        finally:
            third.close()
    finally:
        other.close()


def test_pull_and_push_errors_have_dockers_texts(registry: Registry, service: ImageService) -> None:
    _import(service, f"{registry.host}/some/repo:1")
    drain(service.push(f"{registry.host}/some/repo:1"))
    async def first() -> dict[str, Any]:
        return await service.pull(f"{registry.host}/some/repo:nope").__anext__()
    with pytest.raises(NotFound) as ei:  # before any message: the API can still answer 404
        asyncio.run(first())
    assert str(ei.value) == f"manifest for {registry.host}/some/repo:nope not found: manifest unknown: manifest unknown"
    with pytest.raises(NotFound) as ei:
        drain(service.pull(f"{registry.host}/nothing/here:latest"))
    assert str(ei.value).startswith(f"manifest for {registry.host}/nothing/here:latest not found")  # 2.8 says so
    with pytest.raises(NotFound) as ei:
        drain(service.push(f"{registry.host}/not/local:1"))
    assert str(ei.value) == f"An image does not exist locally with the tag: {registry.host}/not/local"


def test_basic_auth(start_registry: Any, service: ImageService) -> None:
    reg = start_registry("htpasswd")
    _import(service, f"{reg.host}/private/app:1")
    with pytest.raises(Unauthorized):
        drain(service.push(f"{reg.host}/private/app:1"))
    with pytest.raises(Unauthorized):
        drain(service.push(f"{reg.host}/private/app:1", auth=AuthConfig(username=USER, password="wrong")))
    good = AuthConfig(username=USER, password=PASSWORD)
    assert "Pushed" in statuses(drain(service.push(f"{reg.host}/private/app:1", auth=good)))
    svc2 = ImageService(service.root.parent / "basic2", service.unpacker.__class__())
    try:
        with pytest.raises(Unauthorized):
            drain(svc2.pull(f"{reg.host}/private/app:1"))
        drain(svc2.pull(f"{reg.host}/private/app:1", auth=good))
        assert svc2.resolve(f"{reg.host}/private/app:1")
    finally:
        svc2.close()


def test_token_auth_and_cross_repo_mount(start_registry: Any, service: ImageService) -> None:
    reg = start_registry("token")
    assert reg.token is not None
    good = AuthConfig(username=USER, password=PASSWORD)
    _import(service, f"{reg.host}/team/base:1", {"big.bin": b"x" * 300_000})
    drain(service.push(f"{reg.host}/team/base:1", auth=good))
    assert any(r["user"] == USER and "repository:team/base:pull,push" in r["scopes"] for r in reg.token.requests)
    # anonymous push is refused by the token's (pull-only) scope
    service.tag(f"{reg.host}/team/base:1", f"{reg.host}/team/anon:1")
    with pytest.raises(Unauthorized):
        drain(service.push(f"{reg.host}/team/anon:1"))
    # the same image under another repository: its blobs are mounted, not uploaded
    service.tag(f"{reg.host}/team/base:1", f"{reg.host}/team/copy:1")
    before = len(reg.blob_files())
    msgs = statuses(drain(service.push(f"{reg.host}/team/copy:1", auth=good)))
    assert "Mounted from team/base" in msgs, msgs
    assert "Pushed" not in msgs
    assert len(reg.blob_files()) == before
    assert any("repository:team/base:pull" in r["scopes"] and "repository:team/copy:pull,push" in r["scopes"]
               for r in reg.token.requests)
    # an identity token (docker login with OAuth) is exchanged by POST for an access token
    reg.token.refresh_tokens["refresh-abc"] = USER
    service.tag(f"{reg.host}/team/base:1", f"{reg.host}/team/oauth:1")
    assert "Pushed" not in statuses(drain(service.push(f"{reg.host}/team/oauth:1",
                                                       auth=AuthConfig(identity_token="refresh-abc"))))
    # anonymous pull works with an anonymous token (pull scope)
    svc2 = ImageService(service.root.parent / "tok2", service.unpacker.__class__())
    try:
        drain(svc2.pull(f"{reg.host}/team/copy:1"))
        assert any(r["user"] == "" for r in reg.token.requests)
    finally:
        svc2.close()


def test_multi_arch_index_platform_selection(registry: Registry, service: ImageService, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    digests = write_oci_layout(layout, [
        ("linux", "amd64", [layer_tar({"arch": b"amd64"})]),
        ("linux", "arm64/v8", [layer_tar({"arch": b"arm64"})]),
        ("linux", "arm/v7", [layer_tar({"arch": b"armv7"})]),
    ], as_index=True)
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{registry.host}/multi:latest")
    got = {}
    for plat in ("linux/amd64", "linux/arm64", "linux/arm/v7"):
        svc = ImageService(tmp_path / plat.replace("/", "-"), service.unpacker.__class__())
        try:
            msgs = drain(svc.pull(f"{registry.host}/multi", platform=plat))
            rec = svc.resolve(f"{registry.host}/multi:latest")
            assert rec.index_digest == digests["index"]
            assert rec.manifest_digest == digests[plat if plat != "linux/arm64" else "linux/arm64/v8"]
            assert statuses(msgs)[-2] == f"Digest: {digests['index']}"
            got[plat] = svc.config_of(rec).architecture
        finally:
            svc.close()
    assert got == {"linux/amd64": "amd64", "linux/arm64": "arm64", "linux/arm/v7": "arm"}
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x in the manifest list entries"):
        drain(service.pull(f"{registry.host}/multi", platform="linux/s390x"))
    # a single-platform image and an explicit --platform that it does not match
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{registry.host}/single:1",
           "--override-arch", "arm64")
    with pytest.raises(NotFound) as ei:
        drain(service.pull(f"{registry.host}/single:1", platform="linux/arm/v7"))
    assert str(ei.value) == (f"image with reference {registry.host}/single:1 was found but does not match the "
                             "specified platform: wanted linux/arm/v7, actual: linux/arm64")


def test_skopeo_reads_what_skiff_pushes_and_skiff_pulls_what_skopeo_pushed(
        registry: Registry, service: ImageService, tmp_path: Path) -> None:
    image_id = _import(service, f"{registry.host}/interop/a:1")
    drain(service.push(f"{registry.host}/interop/a:1"))
    out = tmp_path / "skopeo-out"
    skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/interop/a:1", f"dir:{out}")
    raw = skopeo("inspect", "--raw", "--config", "--tls-verify=false", f"docker://{registry.host}/interop/a:1").stdout
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == image_id  # the image ID survives the trip
    assert json.loads(raw)["config"]["Cmd"] == ["/bin/sh"]
    assert (out / "manifest.json").exists()

    layout = tmp_path / "layout"
    write_oci_layout(layout, [("linux", "amd64", [layer_tar({"a": b"1"}), layer_tar({"b": b"2"})])],
                     gzip_layers=False)
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{registry.host}/interop/b:2")
    drain(service.pull(f"{registry.host}/interop/b:2"))
    rec = service.resolve(f"{registry.host}/interop/b:2")
    assert len(rec.layers) == 2 and service.config_of(rec).config.cmd == ("/bin/sh",)


def test_chunked_upload_and_zstd_layers(registry: Registry, service: ImageService, tmp_path: Path) -> None:
    import zstandard

    service.push_chunk_size = 64 * 1024  # PATCH with Content-Range, then PUT ?digest=
    _import(service, f"{registry.host}/chunked/a:1", {"big": bytes(range(256)) * 2000})
    assert "Pushed" in statuses(drain(service.push(f"{registry.host}/chunked/a:1")))
    other = ImageService(tmp_path / "chunked-pull", service.unpacker.__class__())
    try:
        drain(other.pull(f"{registry.host}/chunked/a:1"))
        assert other.resolve(f"{registry.host}/chunked/a:1").id == service.resolve(f"{registry.host}/chunked/a:1").id
    finally:
        other.close()

    # an OCI image with zstd layers (made by hand, pushed by skopeo): diff IDs verified through zstd
    layout = tmp_path / "zstd"
    layers = [layer_tar({"z": b"zstd layer"})]
    write_oci_layout(layout, [("linux", "amd64", layers)], gzip_layers=False)
    man_path = next(p for p in (layout / "blobs/sha256").iterdir() if b'"schemaVersion"' in p.read_bytes())
    man = json.loads(man_path.read_bytes())
    z = zstandard.ZstdCompressor().compress(layers[0])
    zd = hashlib.sha256(z).hexdigest()
    (layout / "blobs/sha256" / zd).write_bytes(z)
    man["layers"] = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": f"sha256:{zd}",
                      "size": len(z)}]
    mb = json.dumps(man).encode()
    md = hashlib.sha256(mb).hexdigest()
    (layout / "blobs/sha256" / md).write_bytes(mb)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": man["mediaType"], "digest": f"sha256:{md}", "size": len(mb),
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{registry.host}/zstd/img:1")
    drain(service.pull(f"{registry.host}/zstd/img:1"))
    rec = service.resolve(f"{registry.host}/zstd/img:1")
    assert rec.layers[0].media_type.endswith("+zstd") and rec.layers[0].size == len(layers[0])


def test_many_layers_in_parallel(registry: Registry, service: ImageService, tmp_path: Path) -> None:
    rec = service.resolve(_import(service, f"{registry.host}/many/layers:1", {"l0": b"0" * 100_000}))
    for i in range(1, 12):
        rec = asyncio.run(service.commit_image(str(rec.id), io.BytesIO(layer_tar({f"l{i}": os.urandom(300_000)})),
                                               service.config_of(rec), refs=[f"{registry.host}/many/layers:1"]))
    drain(service.push(f"{registry.host}/many/layers:1"))
    other = ImageService(tmp_path / "many", service.unpacker.__class__(), max_concurrent_downloads=12)
    try:
        msgs = drain(other.pull(f"{registry.host}/many/layers:1"))
        assert statuses(msgs).count("Pull complete") == 12
        assert other.resolve(f"{registry.host}/many/layers:1").id == rec.id
    finally:
        other.close()


def test_pull_all_tags(registry: Registry, service: ImageService, tmp_path: Path) -> None:
    _import(service, f"{registry.host}/tags/x:a", {"a": b"a"})
    _import(service, f"{registry.host}/tags/x:b", {"b": b"b"})
    drain(service.push(f"{registry.host}/tags/x"))  # no tag: every tag of the repository
    other = ImageService(tmp_path / "alltags", service.unpacker.__class__())
    try:
        msgs = statuses(drain(other.pull(f"{registry.host}/tags/x", all_tags=True)))
        assert msgs[-1] == f"Status: Downloaded newer image for {registry.host}/tags/x"
        assert sorted(other.repo_tags(r)[0] for r in other.images.all()) == [
            f"{registry.host}/tags/x:a", f"{registry.host}/tags/x:b"]
    finally:
        other.close()


def test_failed_mount_reuses_its_upload_session(registry: Registry, service: ImageService, tmp_path: Path) -> None:
    _import(service, f"{registry.host}/m/two:1", {"y": os.urandom(50_000)})
    service.tag(f"{registry.host}/m/two:1", f"{registry.host}/m/three:1")  # never pushed: mounts fail
    msgs = statuses(drain(service.push(f"{registry.host}/m/two:1")))
    assert "Pushed" in msgs and not any(m.startswith("Mounted") for m in msgs)
    uploads = list((registry.workdir / "data/docker/registry/v2/repositories/m").rglob("_uploads/*"))
    assert uploads == []  # every session opened by a failed mount was used or closed
    other = ImageService(tmp_path / "mnt", service.unpacker.__class__())
    try:
        drain(other.pull(f"{registry.host}/m/two:1"))
    finally:
        other.close()


def test_https_registry_with_a_ca_from_certs_d(tmp_path: Path, service: ImageService) -> None:
    import aiohttp

    from skiff.image.registry.client import RegistryClient, tls_context

    reg = Registry(tmp_path / "tls-registry", tls=True)
    reg.start()
    try:
        certs = tmp_path / "certs.d"
        (certs / reg.host).mkdir(parents=True)
        (certs / reg.host / "ca.crt").write_bytes((reg.workdir / "ca.crt").read_bytes())
        ctx = tls_context(reg.host, certs, insecure=False)
        assert not isinstance(ctx, bool)

        async def ping(ssl_arg: Any) -> str:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_arg))
            async with RegistryClient(reg.host, session=session, retries=0) as c:
                try:
                    return await c.base()
                finally:
                    await session.close()
        assert asyncio.run(ping(ctx)) == f"https://{reg.host}"  # verified against the certs.d CA
        with pytest.raises(SkiffError):
            asyncio.run(ping(True))  # the system CAs do not know it; http is no answer either
        # the service: loopback is insecure like Docker, so https without verification works
        _import(service, f"{reg.host}/tls/img:1")
        assert "Pushed" in statuses(drain(service.push(f"{reg.host}/tls/img:1")))
    finally:
        reg.stop()
