"""OCI/Docker data model: digests, chain IDs, manifests, indexes, configs, platforms."""

from __future__ import annotations

import json

import pytest

from skiff.oci import mediatypes as mt
from skiff.oci.digest import Digest, Digester, DigestError, chain_id, chain_ids
from skiff.oci.image_spec import (
    ContainerConfig,
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    Schema1Error,
    SpecError,
    parse_config,
    parse_manifest,
    parse_platform,
)


def test_digest_parse_and_of() -> None:
    d = Digest.of(b"hello")
    assert d == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert d.algorithm == "sha256" and d.hex.startswith("2cf24d") and d.short() == "2cf24dba5fb0"
    assert Digest.parse(str(d)) == d
    for bad, msg in (("sha256:xyz", "length"), ("nocolon", "format"), ("md5:" + "0" * 32, "unsupported"),
                     ("sha256:" + "A" * 64, "format")):
        with pytest.raises(DigestError, match=msg):
            Digest.parse(bad)
    g = Digester()
    g.update(b"hel")
    g.update(memoryview(b"lo"))
    assert g.digest() == d and g.size == 5


def test_chain_ids() -> None:
    a, b, c = (Digest.of(x) for x in (b"a", b"b", b"c"))
    ids = chain_ids([a, b, c])
    assert ids[0] == a
    assert ids[1] == Digest.of(f"{a} {b}".encode())
    assert ids[2] == Digest.of(f"{ids[1]} {c}".encode())
    assert chain_id([]) is None and chain_id([a, b, c]) == ids[2]


def _desc(data: bytes, media_type: str, **extra: object) -> dict[str, object]:
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data), **extra}


def test_manifest_roundtrip_keeps_raw_bytes() -> None:
    raw = json.dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST,
                      "config": _desc(b"{}", mt.DOCKER_CONFIG),
                      "layers": [_desc(b"l1", mt.DOCKER_LAYER_GZIP)]}, indent=3).encode()
    m = parse_manifest(raw)
    assert isinstance(m, Manifest)
    assert m.media_type == mt.DOCKER_MANIFEST and m.bytes == raw and m.digest == Digest.of(raw)
    assert m.layers[0].size == 2
    again = parse_manifest(m.to_json())
    assert isinstance(again, Manifest) and again.config == m.config and again.layers == m.layers
    # Docker descriptors serialize size before digest, OCI ones digest before size (Go struct order).
    assert list(json.loads(m.to_json())["config"]) == ["mediaType", "size", "digest"]


def test_oci_without_media_type_is_detected() -> None:
    raw = json.dumps({"schemaVersion": 2, "config": _desc(b"{}", mt.OCI_CONFIG), "layers": []}).encode()
    assert parse_manifest(raw, mt.OCI_MANIFEST).media_type == mt.OCI_MANIFEST
    idx = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    assert isinstance(parse_manifest(idx), Index)


def test_schema1_refused() -> None:
    with pytest.raises(Schema1Error, match="schema 1 support has been removed"):
        parse_manifest(json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}).encode())
    with pytest.raises(SpecError):
        parse_manifest(b"not json")
    with pytest.raises(SpecError):
        parse_manifest(json.dumps({"schemaVersion": 2, "config": {"digest": "bad"}, "layers": []}).encode())


def test_index_platform_selection() -> None:
    def entry(arch: str, variant: str = "", os: str = "linux") -> dict[str, object]:
        plat = {"architecture": arch, "os": os, **({"variant": variant} if variant else {})}
        return _desc(arch.encode() + variant.encode() + os.encode(), mt.OCI_MANIFEST, platform=plat)
    idx = parse_manifest(json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
        entry("unknown", os="unknown"), entry("arm", "v6"), entry("arm", "v7"), entry("arm64", "v8"),
        entry("amd64"), entry("s390x")]}).encode())
    assert isinstance(idx, Index)

    def pick(spec: str) -> str | None:
        d = idx.select(parse_platform(spec))
        return None if d is None or d.platform is None else str(d.platform)
    assert pick("linux/amd64") == "linux/amd64"
    assert pick("linux/arm/v7") == "linux/arm/v7"
    assert pick("linux/arm") == "linux/arm/v7"
    assert pick("linux/arm/v6") == "linux/arm/v6"
    assert pick("linux/arm64") == "linux/arm64/v8"
    assert pick("linux/aarch64") == "linux/arm64/v8"
    assert pick("linux/x86_64") == "linux/amd64"
    assert pick("linux/riscv64") is None
    with pytest.raises(SpecError):
        parse_platform("a/b/c/d")


def test_config_parse_and_serialize() -> None:
    raw = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}}, "Labels": {"a": "b"},
                   "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000}},
        "rootfs": {"type": "layers", "diff_ids": [str(Digest.of(b"x"))]},
        "history": [{"created_by": "x"}, {"created_by": "y", "empty_layer": True}],
    }).encode()
    cfg = parse_config(raw)
    assert cfg.digest == Digest.of(raw) and cfg.config.cmd == ("sh",) and cfg.config.exposed_ports == ("80/tcp",)
    assert cfg.history[1].empty_layer and cfg.chain_ids == [Digest.of(b"x")]
    docker = cfg.config.to_docker_json()
    assert docker["Entrypoint"] is None and docker["Cmd"] == ["sh"] and docker["Labels"] == {"a": "b"}
    new = cfg.with_changes(config=ContainerConfig(cmd=("echo",)))
    assert new.raw == b"" and parse_config(new.to_json()).config.cmd == ("echo",)
    assert parse_config(ImageConfig().to_json()).diff_ids == ()
    d = Descriptor.from_json(_desc(b"x", mt.OCI_LAYER))
    assert Descriptor.from_json(d.to_json()) == d
    assert Platform(architecture="arm64", variant="v8").normalized().variant == ""
