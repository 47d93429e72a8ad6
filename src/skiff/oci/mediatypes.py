"""Media types of OCI image-spec and Docker distribution objects, and their families."""

from __future__ import annotations

__all__ = [
    "OCI_MANIFEST", "OCI_INDEX", "OCI_CONFIG", "OCI_LAYER", "OCI_LAYER_GZIP", "OCI_LAYER_ZSTD",
    "OCI_LAYER_NONDIST", "OCI_LAYER_NONDIST_GZIP", "OCI_LAYER_NONDIST_ZSTD", "OCI_EMPTY",
    "DOCKER_MANIFEST", "DOCKER_MANIFEST_LIST", "DOCKER_CONFIG", "DOCKER_LAYER_GZIP",
    "DOCKER_LAYER_FOREIGN", "DOCKER_LAYER", "DOCKER_SCHEMA1", "DOCKER_SCHEMA1_SIGNED",
    "MANIFEST_TYPES", "INDEX_TYPES", "SCHEMA1_TYPES", "CONFIG_TYPES", "LAYER_TYPES",
    "ACCEPT_MANIFESTS", "compression_of", "is_layer",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYER_TYPES = frozenset({
    OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_LAYER_NONDIST, OCI_LAYER_NONDIST_GZIP,
    OCI_LAYER_NONDIST_ZSTD, DOCKER_LAYER_GZIP, DOCKER_LAYER_FOREIGN, DOCKER_LAYER,
})

# The Accept header for manifest GETs: every type we can use, best first (like containerd).
ACCEPT_MANIFESTS = (DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX)


def compression_of(media_type: str) -> str:
    """'gzip', 'zstd' or '' (plain tar) for a layer media type; unknown types count as gzip like Docker."""
    if media_type.endswith("+zstd"):
        return "zstd"
    if media_type in (OCI_LAYER, OCI_LAYER_NONDIST, DOCKER_LAYER):
        return ""
    return "gzip"


def is_layer(media_type: str) -> bool:
    return media_type in LAYER_TYPES
