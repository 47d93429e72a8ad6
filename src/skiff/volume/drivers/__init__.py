"""Volume drivers. Only ``local`` exists (drivers/local.py); other names are refused as Docker refuses
a missing plugin. A driver owns the volume's data directory and its kernel mount, nothing else: names,
labels and references are the volume service's (skiff.volume.service)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from skiff.errors import NotFound

__all__ = ["Driver", "DEFAULT_DRIVER", "check_driver"]

DEFAULT_DRIVER = "local"


class Driver(Protocol):
    """What the volume service asks of a driver (drivers/local.py's LocalDriver)."""

    name: str
    scope: str

    def create(self, name: str, opts: Mapping[str, str]) -> str:
        """Make the volume (idempotent); return its mountpoint."""
        ...

    def exists(self, name: str) -> bool: ...

    def names(self) -> list[str]: ...

    def path(self, name: str) -> str: ...

    def needs_mount(self, name: str) -> bool: ...

    def mount(self, name: str) -> str:
        """Mount the volume's filesystem if it has one and it is not mounted; return the path."""
        ...

    def unmount(self, name: str) -> None: ...

    def remove(self, name: str) -> None: ...


def check_driver(name: str) -> str:
    """The driver name to use ("" = local); Docker's error for any other (no plugins here)."""
    if name in ("", DEFAULT_DRIVER):
        return DEFAULT_DRIVER
    raise NotFound(f'error looking up volume plugin {name}: plugin "{name}" not found')
