"""API versions: what Skiff speaks and moby's version checks for ``/v1.NN/`` prefixes.

A request path may carry ``/v<major>.<minor>/``; without it the default version applies (moby
still serves unversioned paths). Out-of-range versions get moby's 400 messages exactly.
"""

from __future__ import annotations

from skiff.errors import InvalidParameter

__all__ = ["DEFAULT_VERSION", "MIN_VERSION", "VersionUnsupported", "parse", "less_than",
           "greater_than", "at_least", "check"]

DEFAULT_VERSION = "1.51"
MIN_VERSION = "1.24"


class VersionUnsupported(InvalidParameter):
    """The client asked for an API version outside MIN_VERSION..DEFAULT_VERSION (400)."""


def parse(v: str) -> tuple[int, ...]:
    """``"1.41"`` -> ``(1, 41)``; non-numeric parts count as 0, as Go's versions.compare does."""
    out = []
    for part in v.split("."):
        try:
            out.append(int(part))
        except ValueError:
            out.append(0)
    return tuple(out)


def _cmp(a: str, b: str) -> int:
    pa, pb = parse(a), parse(b)
    n = max(len(pa), len(pb))
    pa += (0,) * (n - len(pa))
    pb += (0,) * (n - len(pb))
    return (pa > pb) - (pa < pb)


def less_than(a: str, b: str) -> bool:
    return _cmp(a, b) < 0


def greater_than(a: str, b: str) -> bool:
    return _cmp(a, b) > 0


def at_least(a: str, b: str) -> bool:
    """True if version ``a`` >= ``b`` (for version-gated parameters in handlers)."""
    return _cmp(a, b) >= 0


def check(requested: str | None) -> str:
    """The version a request is served at; raises moby's 400 for an unsupported one."""
    version = requested or DEFAULT_VERSION
    if less_than(version, MIN_VERSION):
        raise VersionUnsupported(
            f"client version {version} is too old. Minimum supported API version is {MIN_VERSION}, "
            "please upgrade your client to a newer version")
    if greater_than(version, DEFAULT_VERSION):
        raise VersionUnsupported(
            f"client version {version} is too new. Maximum supported API version is {DEFAULT_VERSION}")
    return version
