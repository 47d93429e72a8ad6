"""OCI image-spec and Docker schema2 objects: descriptors, manifests, indexes, image configs.

JSON from outside is parsed once (:func:`parse_manifest`, :func:`parse_config`) into frozen
dataclasses; ``to_json`` serializes canonically (struct order, compact) for objects Skiff creates.
Objects that came from elsewhere keep their exact bytes (``raw``), because their digest is of those
bytes and re-serializing would change it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from skiff.oci import mediatypes as mt
from skiff.oci.digest import Digest, DigestError, chain_ids

__all__ = [
    "SpecError", "Schema1Error", "Platform", "Descriptor", "Manifest", "Index", "HealthConfig",
    "ContainerConfig", "History", "ImageConfig", "parse_manifest", "parse_config", "parse_platform",
    "canonical_json",
]


class SpecError(ValueError):
    """A manifest, index or config does not follow the spec."""


class Schema1Error(SpecError):
    """Docker image manifest v2 schema 1 is refused, as Docker 28 does."""


def canonical_json(obj: Any) -> bytes:
    """Compact JSON in insertion order, UTF-8, as Go's encoding/json writes it (no HTML escaping)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _str(d: Mapping[str, Any], key: str, default: str = "") -> str:
    v = d.get(key, default)
    if v is None:
        return default
    if not isinstance(v, str):
        raise SpecError(f"{key}: expected a string")
    return v


def _strs(v: Any, key: str) -> tuple[str, ...] | None:
    if v is None:
        return None
    if isinstance(v, str):  # Docker tolerates a bare string for Cmd/Entrypoint in old configs.
        return (v,)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise SpecError(f"{key}: expected a list of strings")
    return tuple(v)


def _labels(v: Any, key: str) -> dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise SpecError(f"{key}: expected a map of strings")
    return dict(v)


@dataclass(frozen=True)
class Platform:
    """os/architecture[/variant]; used to pick one manifest out of an index."""

    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Platform:
        return cls(os=_str(d, "os"), architecture=_str(d, "architecture"), variant=_str(d, "variant"),
                   os_version=_str(d, "os.version"), os_features=_strs(d.get("os.features"), "os.features") or ())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    def normalized(self) -> Platform:
        """Normalize like containerd's platforms package (x86_64 -> amd64, arm64 default variant v8)."""
        arch, variant = self.architecture.lower(), self.variant.lower()
        arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                "armel": "arm", "i386": "386"}.get(arch, arch)
        if arch == "arm64" and variant in ("8", "v8"):
            variant = ""
        if arch == "arm":
            variant = ("v" + variant if variant.isdigit() else variant) or "v7"
        if arch == "amd64" and variant == "v1":
            variant = ""
        return replace(self, os=self.os.lower(), architecture=arch, variant=variant)

    def matches(self, other: Platform) -> bool:
        """True when ``other`` (a descriptor's platform) can run on this (the wanted) platform."""
        a, b = self.normalized(), other.normalized()
        if a.os != b.os or a.architecture != b.architecture:
            return False
        return not a.variant or a.variant == b.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def parse_platform(spec: str) -> Platform:
    """``linux``, ``linux/arm64``, ``linux/arm/v7`` -> Platform; raises SpecError."""
    parts = spec.strip().split("/")
    if not spec.strip() or len(parts) > 3 or any(not p for p in parts):
        raise SpecError(f'"{spec}": unknown operating system or architecture: invalid argument')
    if len(parts) == 1:
        return Platform(os=parts[0].lower()).normalized()
    return Platform(os=parts[0], architecture=parts[1], variant=parts[2] if len(parts) == 3 else "").normalized()


@dataclass(frozen=True)
class Descriptor:
    """A typed pointer to content: media type, digest, size (+ platform for index entries)."""

    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    artifact_type: str = ""

    @classmethod
    def from_json(cls, d: Any) -> Descriptor:
        if not isinstance(d, dict):
            raise SpecError("descriptor: expected an object")
        try:
            digest = Digest.parse(d.get("digest", ""))
        except DigestError as exc:
            raise SpecError(f"descriptor digest: {exc}") from exc
        size = d.get("size", 0)
        if not isinstance(size, int) or size < 0:
            raise SpecError("descriptor size: expected a non-negative integer")
        plat = d.get("platform")
        return cls(media_type=_str(d, "mediaType"), digest=digest, size=size,
                   urls=_strs(d.get("urls"), "urls") or (), annotations=_labels(d.get("annotations"), "annotations"),
                   platform=Platform.from_json(plat) if isinstance(plat, dict) else None,
                   artifact_type=_str(d, "artifactType"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type}
        if self.media_type.startswith("application/vnd.docker."):
            out["size"] = self.size
            out["digest"] = str(self.digest)
        else:
            out["digest"] = str(self.digest)
            out["size"] = self.size
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


class _ContentAddressed:
    """Exact bytes and digest of a document: the bytes it arrived with (``raw``), or its
    canonical serialization when Skiff made it, so digests of outside objects never change."""

    raw: bytes

    def to_json(self) -> bytes:
        raise NotImplementedError

    @property
    def bytes(self) -> bytes:
        return self.raw or self.to_json()

    @property
    def digest(self) -> Digest:
        return Digest.of(self.bytes)


@dataclass(frozen=True)
class Manifest(_ContentAddressed):
    """An image manifest (OCI or Docker schema2): one config and an ordered list of layers."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    raw: bytes = b""

    def to_json(self) -> bytes:
        out: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type,
                               "config": self.config.to_json(), "layers": [x.to_json() for x in self.layers]}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return canonical_json(out)


@dataclass(frozen=True)
class Index(_ContentAddressed):
    """An OCI image index or Docker manifest list: manifests for several platforms."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    raw: bytes = b""

    def to_json(self) -> bytes:
        out: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type,
                               "manifests": [x.to_json() for x in self.manifests]}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return canonical_json(out)

    def select(self, want: Platform) -> Descriptor | None:
        """The first image manifest for ``want``; a variant-less entry is a fallback for any variant."""
        best: Descriptor | None = None
        for d in self.manifests:
            if d.platform is None or d.media_type not in (mt.MANIFEST_TYPES | mt.INDEX_TYPES):
                continue
            if d.platform.os == "unknown":  # attestation manifests (buildkit)
                continue
            if want.matches(d.platform):
                if want.normalized().variant or d.platform.normalized().variant == want.normalized().variant:
                    return d
                best = best or d
        if best is None and want.normalized().variant:
            loose = Platform(os=want.os, architecture=want.architecture)
            for d in self.manifests:
                if d.platform is not None and loose.matches(d.platform) and not d.platform.variant:
                    return d
        return best


def parse_manifest(data: bytes, media_type: str = "") -> Manifest | Index:
    """Parse manifest bytes; ``media_type`` is the Content-Type if known. Raises SpecError/Schema1Error."""
    try:
        d = json.loads(data)
    except ValueError as exc:
        raise SpecError(f"invalid manifest JSON: {exc}") from exc
    if not isinstance(d, dict):
        raise SpecError("manifest: expected an object")
    declared = d.get("mediaType") or ""
    kind = declared or (media_type if media_type and not media_type.startswith(("text/", "application/json"))
                        else "")
    if kind in mt.SCHEMA1_TYPES or d.get("schemaVersion") == 1:
        raise Schema1Error(
            "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. "
            "Suggest the author of the image to upgrade the image to the OCI Format or Docker Image "
            "manifest v2, schema 2.")
    if d.get("schemaVersion") != 2:
        raise SpecError("manifest: unsupported schemaVersion")
    if not kind:
        kind = mt.OCI_INDEX if "manifests" in d else mt.OCI_MANIFEST
    annotations = _labels(d.get("annotations"), "annotations")
    if kind in mt.INDEX_TYPES:
        ms = d.get("manifests") or []
        if not isinstance(ms, list):
            raise SpecError("index: manifests must be a list")
        return Index(media_type=kind, manifests=tuple(Descriptor.from_json(x) for x in ms),
                     annotations=annotations, raw=bytes(data))
    if kind in mt.MANIFEST_TYPES or "config" in d:
        layers = d.get("layers") or []
        if not isinstance(layers, list) or "config" not in d:
            raise SpecError("manifest: config and layers are required")
        return Manifest(media_type=kind, config=Descriptor.from_json(d["config"]),
                        layers=tuple(Descriptor.from_json(x) for x in layers), annotations=annotations,
                        raw=bytes(data))
    raise SpecError(f"unsupported manifest media type {kind}")


@dataclass(frozen=True)
class HealthConfig:
    """Docker's Healthcheck (durations in nanoseconds)."""

    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Test": list(self.test)}
        for key, v in (("Interval", self.interval), ("Timeout", self.timeout), ("StartPeriod", self.start_period),
                       ("StartInterval", self.start_interval), ("Retries", self.retries)):
            if v:
                out[key] = v
        return out


@dataclass(frozen=True)
class ContainerConfig:
    """The ``config`` section of an image config: the defaults a container starts with."""

    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    args_escaped: bool = False
    healthcheck: HealthConfig | None = None
    on_build: tuple[str, ...] = ()
    shell: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Any) -> ContainerConfig:
        if not d:
            return cls()
        if not isinstance(d, dict):
            raise SpecError("config: expected an object")
        hc = d.get("Healthcheck")
        health = None
        if isinstance(hc, dict):
            health = HealthConfig(test=_strs(hc.get("Test"), "Healthcheck.Test") or (),
                                  interval=int(hc.get("Interval") or 0), timeout=int(hc.get("Timeout") or 0),
                                  start_period=int(hc.get("StartPeriod") or 0),
                                  start_interval=int(hc.get("StartInterval") or 0),
                                  retries=int(hc.get("Retries") or 0))
        return cls(user=_str(d, "User"), exposed_ports=tuple(sorted(d.get("ExposedPorts") or {})),
                   env=_strs(d.get("Env"), "Env") or (), entrypoint=_strs(d.get("Entrypoint"), "Entrypoint"),
                   cmd=_strs(d.get("Cmd"), "Cmd"), volumes=tuple(sorted(d.get("Volumes") or {})),
                   working_dir=_str(d, "WorkingDir"), labels=_labels(d.get("Labels"), "Labels"),
                   stop_signal=_str(d, "StopSignal"), args_escaped=bool(d.get("ArgsEscaped")),
                   healthcheck=health, on_build=_strs(d.get("OnBuild"), "OnBuild") or (),
                   shell=_strs(d.get("Shell"), "Shell") or ())

    def to_json(self) -> dict[str, Any]:
        """The image-config form (OCI fields, Docker extras only when set)."""
        out: dict[str, Any] = {}
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.volumes:
            out["Volumes"] = {v: {} for v in self.volumes}
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.args_escaped:
            out["ArgsEscaped"] = True
        if self.healthcheck is not None:
            out["Healthcheck"] = self.healthcheck.to_json()
        if self.on_build:
            out["OnBuild"] = list(self.on_build)
        if self.shell:
            out["Shell"] = list(self.shell)
        return out

    def to_docker_json(self) -> dict[str, Any]:
        """The shape ``docker image inspect`` shows under ``Config`` (every key, nulls included)."""
        out: dict[str, Any] = {
            "Hostname": "", "Domainname": "", "User": self.user, "AttachStdin": False, "AttachStdout": False,
            "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False,
        }
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        out["Env"] = list(self.env) or None
        out["Cmd"] = list(self.cmd) if self.cmd is not None else None
        if self.healthcheck is not None:
            out["Healthcheck"] = self.healthcheck.to_json()
        if self.args_escaped:
            out["ArgsEscaped"] = True
        out["Image"] = ""
        out["Volumes"] = {v: {} for v in self.volumes} or None
        out["WorkingDir"] = self.working_dir
        out["Entrypoint"] = list(self.entrypoint) if self.entrypoint is not None else None
        out["OnBuild"] = list(self.on_build) or None
        out["Labels"] = dict(self.labels) or None
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.shell:
            out["Shell"] = list(self.shell)
        return out


@dataclass(frozen=True)
class History:
    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, v in (("created", self.created), ("created_by", self.created_by), ("author", self.author),
                       ("comment", self.comment)):
            if v:
                out[key] = v
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True)
class ImageConfig(_ContentAddressed):
    """An image config (OCI ``config.v1`` / Docker ``container.image.v1``); its digest is the image ID."""

    architecture: str = "amd64"
    os: str = "linux"
    variant: str = ""
    os_version: str = ""
    created: str = ""
    author: str = ""
    config: ContainerConfig = field(default_factory=ContainerConfig)
    diff_ids: tuple[Digest, ...] = ()
    history: tuple[History, ...] = ()
    comment: str = ""
    docker_version: str = ""
    parent: str = ""
    raw: bytes = b""

    @property
    def chain_ids(self) -> list[Digest]:
        return chain_ids(self.diff_ids)

    @property
    def platform(self) -> Platform:
        return Platform(os=self.os, architecture=self.architecture, variant=self.variant, os_version=self.os_version)

    def to_json(self) -> bytes:
        out: dict[str, Any] = {}
        if self.created:
            out["created"] = self.created
        if self.author:
            out["author"] = self.author
        out["architecture"] = self.architecture
        if self.variant:
            out["variant"] = self.variant
        out["os"] = self.os
        if self.os_version:
            out["os.version"] = self.os_version
        out["config"] = self.config.to_json()
        out["rootfs"] = {"type": "layers", "diff_ids": [str(d) for d in self.diff_ids]}
        if self.history:
            out["history"] = [h.to_json() for h in self.history]
        if self.comment:
            out["comment"] = self.comment
        if self.docker_version:
            out["docker_version"] = self.docker_version
        if self.parent:
            out["parent"] = self.parent
        return canonical_json(out)

    def with_changes(self, **kw: Any) -> ImageConfig:
        """A new config (raw dropped, so it serializes afresh)."""
        return replace(self, raw=b"", **kw)


def parse_config(data: bytes) -> ImageConfig:
    """Parse image config bytes, keeping them as ``raw``; raises SpecError."""
    try:
        d = json.loads(data)
    except ValueError as exc:
        raise SpecError(f"invalid image config JSON: {exc}") from exc
    if not isinstance(d, dict):
        raise SpecError("image config: expected an object")
    rootfs = d.get("rootfs") or {}
    try:
        diff_ids = tuple(Digest.parse(x) for x in (rootfs.get("diff_ids") or []))
    except DigestError as exc:
        raise SpecError(f"rootfs.diff_ids: {exc}") from exc
    hist = []
    for h in d.get("history") or []:
        if isinstance(h, dict):
            hist.append(History(created=_str(h, "created"), created_by=_str(h, "created_by"),
                                author=_str(h, "author"), comment=_str(h, "comment"),
                                empty_layer=bool(h.get("empty_layer"))))
    cfg = d.get("config")
    if cfg is None:
        cfg = d.get("container_config")
    return ImageConfig(architecture=_str(d, "architecture"), os=_str(d, "os"), variant=_str(d, "variant"),
                       os_version=_str(d, "os.version"), created=_str(d, "created"), author=_str(d, "author"),
                       config=ContainerConfig.from_json(cfg), diff_ids=diff_ids, history=tuple(hist),
                       comment=_str(d, "comment"), docker_version=_str(d, "docker_version"),
                       parent=_str(d, "parent"), raw=bytes(data))
