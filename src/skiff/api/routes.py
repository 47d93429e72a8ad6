"""The route type and the assembly of every resource module's route table.

A resource module (``skiff/api/<resource>.py``) exposes ``routes(services) -> list[Route]``
whose first lines read like swagger's paths::

    def routes(services: Services) -> list[Route]:
        h = _Handlers(services.get(ContainerBackend))
        return [
            Route("GET", "/containers/json", h.list),
            Route("POST", "/containers/{id}/start", h.start),
            Route("GET", "/containers/{id}/json", h.inspect),
        ]

Every route is served both under ``/v1.NN`` and without a prefix. Add a resource by adding its
module name to ``RESOURCES`` below (already listed: just create the module). A module whose
backend the daemon does not provide yet is skipped with a warning, so the daemon still starts.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType

from aiohttp import web

from skiff.api.backends import MissingBackend, Services

__all__ = ["Route", "Handler", "RESOURCES", "collect"]

log = logging.getLogger("skiff.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# skiff.api.<name> modules whose route tables make the API, in this order.
RESOURCES: tuple[str, ...] = (
    "system", "containers", "exec", "images", "build", "networks", "volumes", "distribution",
    "auth", "swarm", "plugins",
)


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path (aiohttp syntax, ``{id}``), handler, optional minimum version."""

    method: str
    path: str
    handler: Handler
    min_version: str | None = None


def _load(name: str) -> ModuleType | None:
    full = f"skiff.api.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise


def collect(services: Services, resources: tuple[str, ...] = RESOURCES) -> list[Route]:
    """Every route of every present resource module whose backends are provided."""
    table: list[Route] = []
    for name in resources:
        mod = _load(name)
        if mod is None:
            continue
        try:
            table.extend(mod.routes(services))
        except MissingBackend as exc:
            log.warning("API resource %s disabled: no backend %s", name, exc)
    return table
