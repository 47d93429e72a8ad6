"""Errors of the image service, with Docker's texts, as subclasses of skiff.errors classes."""

from __future__ import annotations

from skiff.errors import Conflict, InvalidParameter, NotFound, System, Unauthorized, Unavailable

__all__ = [
    "NoSuchImage", "BlobNotFound", "DigestMismatch", "SizeMismatch", "ImageInUse", "RegistryError",
    "RegistryUnauthorized", "PullAccessDenied", "PushImageNotFound", "ManifestUnknown", "UnsupportedManifest", "InvalidArchive",
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
    """401/403 from a registry or its token server; ``denied`` when the registry said DENIED."""

    def __init__(self, message: str, denied: bool = False) -> None:
        super().__init__(message)
        self.denied = denied


class PullAccessDenied(NotFound):
    """Docker answers a denied pull as "not found": the repository may not exist or need a login."""

    def __init__(self, familiar_name: str, cause: str) -> None:
        super().__init__(f"pull access denied for {familiar_name}, repository does not exist or may require "
                         f"'docker login': {cause}")


class PushImageNotFound(NotFound):
    def __init__(self, familiar_name: str) -> None:
        super().__init__(f"An image does not exist locally with the tag: {familiar_name}")


class ManifestUnknown(NotFound):
    pass


class UnsupportedManifest(InvalidParameter):
    pass


class InvalidArchive(InvalidParameter):
    """A docker-archive / OCI layout tar is malformed."""
