"""What the API needs from the engine: small Protocols, and the registry daemon.py fills.

Each resource module asks the registry for the Protocols it uses::

    def routes(services: Services) -> list[Route]:
        backend = services.get(ContainerBackend)

and daemon.py, the composition root, provides the concrete engine services::

    services.provide(ContainerBackend, containers_service)

Protocols live here or at the top of the resource module that uses them (declared by the user).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar, cast

from skiff.engine.events import Event, Subscription
from skiff.engine.filters import Filters

__all__ = ["Services", "MissingBackend", "SystemBackend", "EventsBackend"]

T = TypeVar("T")


class MissingBackend(LookupError):
    """A resource module asked for a backend the daemon did not provide (its routes are skipped)."""


class Services:
    """Protocol class -> implementation, filled by daemon.py and read by the resource modules."""

    def __init__(self) -> None:
        self._impls: dict[object, object] = {}

    def provide(self, proto: Callable[..., object], impl: object) -> None:
        """Register ``impl`` for ``proto`` (annotate a variable with the Protocol to type-check it)."""
        self._impls[proto] = impl

    def get(self, proto: Callable[..., T]) -> T:
        try:
            return cast(T, self._impls[proto])
        except KeyError:
            raise MissingBackend(getattr(proto, "__name__", repr(proto))) from None

    def has(self, proto: object) -> bool:
        return proto in self._impls


class SystemBackend(Protocol):
    """``/_ping``, ``/version``, ``/info``, ``/system/df`` (engine.system.SystemService)."""

    def ping_headers(self) -> Mapping[str, str]: ...

    def version(self) -> dict[str, Any]: ...

    def info(self) -> dict[str, Any]: ...

    def disk_usage(self, types: frozenset[str]) -> dict[str, Any]: ...


class EventsBackend(Protocol):
    """``/events`` (engine.events.EventBus)."""

    def history(self, since_ns: int | None, until_ns: int | None,
                filters: Filters | None = None) -> list[Event]: ...

    def subscribe(self) -> AbstractAsyncContextManager[Subscription]: ...
