"""Errors of the image service, with Docker's texts, as subclasses of skiff.errors classes."""

from __future__ import annotations

from skiff.errors import Conflict, InvalidParameter, NotFound, System, Unauthorized, Unavailable

__all__ = [
    "NoSuchImage", "BlobNotFound", "DigestMismatch", "SizeMismatch", "ImageInUse", "RegistryError",
    "RegistryUnauthorized", "ManifestUnknown", "UnsupportedManifest", "InvalidArchive",
]


class NoSuchImage(NotFound):
    """``No such image: busybox:latest``."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"No such image: {ref}")


class BlobNotFound(NotFound):
    def __init__(self, digest: str) -> None:
        super().__init__(f"content digest {digest}: not found")


class DigestMismatch(System):
    """Received bytes do not hash to the digest that named them; nothing was stored."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"filesystem layer verification failed for digest {expected} (got {actual})")
        self.expected, self.actual = expected, actual


class SizeMismatch(System):
    def __init__(self, digest: str, expected: int, actual: int) -> None:
        super().__init__(f"unexpected commit size {actual}, expected {expected} for {digest}: failed precondition")


class ImageInUse(Conflict):
    """Removal refused because a container uses the image."""


class RegistryError(Unavailable):
    """The registry failed or could not be reached."""


class RegistryUnauthorized(Unauthorized):
    pass


class ManifestUnknown(NotFound):
    pass


class UnsupportedManifest(InvalidParameter):
    pass


class InvalidArchive(InvalidParameter):
    """A docker-archive / OCI layout tar is malformed."""
