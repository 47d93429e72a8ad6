"""Image references: the distribution/reference grammar and Docker's normalization.

``busybox`` -> ``docker.io/library/busybox:latest``; ``localhost:5000/x``; ``name@sha256:...``;
``name:tag@digest``. :func:`parse` takes what a user typed (normalized, like ParseNormalizedNamed);
:func:`parse_strict` takes a fully qualified name (like reference.Parse). Errors carry Docker's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from skiff.errors import InvalidParameter
from skiff.oci.digest import Digest, DigestError

__all__ = [
    "Reference", "InvalidReference", "parse", "parse_strict", "parse_search", "is_image_id",
    "DEFAULT_DOMAIN", "DEFAULT_TAG",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_alnum = r"[a-z0-9]+"
_sep = r"(?:[._]|__|[-]+)"
_path_component = rf"{_alnum}(?:{_sep}{_alnum})*"
_domain_component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_ipv6 = r"\[(?:[a-fA-F0-9:]+)\]"
_domain_name = rf"{_domain_component}(?:\.{_domain_component})*"
_host = rf"(?:{_domain_name}|{_ipv6})"
_domain = rf"{_host}(?::[0-9]+)?"
_tag = r"[\w][\w.-]{0,127}"
_digest = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_remote = rf"{_path_component}(?:/{_path_component})*"
_name = rf"(?:{_domain}/)?{_remote}"
REFERENCE_RE = re.compile(rf"^({_name})(?::({_tag}))?(?:@({_digest}))?$")
_ANCHORED_NAME = re.compile(rf"^(?:({_domain})/)?({_remote})$")
_ANCHORED_TAG = re.compile(rf"^{_tag}$")
_IDENTIFIER = re.compile(r"^[a-f0-9]{64}$")


class InvalidReference(InvalidParameter):
    """A reference string does not follow the grammar (Docker's messages)."""


@dataclass(frozen=True)
class Reference:
    """A normalized reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str = ""
    digest: Digest | None = None

    @property
    def name(self) -> str:
        """``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """``busybox``, ``user/app``, ``localhost:5000/x``: how Docker shows a repository."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path[len(OFFICIAL_PREFIX):] if self.path.startswith(OFFICIAL_PREFIX) \
                and "/" not in self.path[len(OFFICIAL_PREFIX):] else self.path
        return self.name

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def familiar(self) -> str:
        """``busybox:latest``: FamiliarString."""
        return self.familiar_name + (f":{self.tag}" if self.tag else "") + \
            (f"@{self.digest}" if self.digest else "")

    def with_default_tag(self) -> Reference:
        """TagNameOnly: a bare name gets ``latest``; a digest reference stays as is."""
        return self if self.tag or self.digest else replace(self, tag=DEFAULT_TAG)

    def with_tag(self, tag: str) -> Reference:
        if not _ANCHORED_TAG.match(tag):
            raise InvalidReference("invalid tag format")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: Digest) -> Reference:
        return replace(self, tag="", digest=digest)

    def repository(self) -> Reference:
        return replace(self, tag="", digest=None)

    @property
    def is_tagged(self) -> bool:
        return bool(self.tag)

    @property
    def is_canonical(self) -> bool:
        return self.digest is not None


def _split_docker_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    first = name[:i]
    if i == -1 or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, name[i + 1:]
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def _build(full: str) -> Reference:
    """reference.Parse of a string that already has a domain."""
    m = REFERENCE_RE.match(full)
    if m is None:
        if not full:
            raise InvalidReference("repository name must have at least one component")
        if REFERENCE_RE.match(full.lower()):
            raise InvalidReference("repository name must be lowercase")
        raise InvalidReference("invalid reference format")
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    nm = _ANCHORED_NAME.match(name)
    assert nm is not None
    domain, path = nm.group(1) or "", nm.group(2)
    dg = None
    if digest:
        try:
            dg = Digest.parse(digest)
        except DigestError as exc:
            raise InvalidReference(str(exc)) from exc
    return Reference(domain=domain, path=path, tag=tag, digest=dg)


def parse(s: str) -> Reference:
    """ParseNormalizedNamed: what a user types -> a fully qualified reference (no default tag added).

    Raises InvalidReference (InvalidParameter) with Docker's message.
    """
    if _IDENTIFIER.match(s):
        raise InvalidReference(f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_docker_domain(s)
    remote = remainder.split(":", 1)[0] if ":" in remainder else remainder
    if "@" in remote:
        remote = remote.split("@", 1)[0]
    if remote.lower() != remote:
        raise InvalidReference(f"invalid reference format: repository name ({remote}) must be lowercase")
    ref = _build(f"{domain}/{remainder}")
    if not ref.domain:  # cannot happen: _split_docker_domain always gives one
        raise InvalidReference("invalid reference format")
    return ref


def parse_strict(s: str) -> Reference:
    """reference.ParseNamed: the string must already be canonical (``docker.io/library/x``)."""
    ref = parse(s)
    if str(ref) != s:
        raise InvalidReference("repository name must be canonical")
    return ref


def parse_search(s: str) -> Reference | None:
    """Lenient parse for filters and lookups: None instead of an error."""
    try:
        return parse(s)
    except InvalidReference:
        return None


def is_image_id(s: str) -> bool:
    """A full ``sha256:<hex>`` or bare 64-hex image ID."""
    return bool(_IDENTIFIER.match(s.removeprefix("sha256:")))
