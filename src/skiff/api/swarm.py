"""Swarm endpoints for a node that is not in a swarm: moby's 503 for every one of them."""

from __future__ import annotations

from aiohttp import web

from skiff.api.backends import Services
from skiff.api.routes import Route
from skiff.errors import Unavailable, Unimplemented

__all__ = ["routes", "NotASwarmManager", "NotInSwarm"]

_MESSAGE = ("This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" "
            "to connect this node to swarm and try again.")


class NotASwarmManager(Unavailable):
    def __init__(self) -> None:
        super().__init__(_MESSAGE)


async def _not_manager(request: web.Request) -> web.StreamResponse:
    raise NotASwarmManager()


class NotInSwarm(Unavailable):
    def __init__(self) -> None:
        super().__init__("This node is not part of a swarm")


async def _not_in_swarm(request: web.Request) -> web.StreamResponse:
    raise NotInSwarm()


async def _no_swarm_support(request: web.Request) -> web.StreamResponse:
    raise Unimplemented("Skiff does not implement swarm mode")


def routes(services: Services) -> list[Route]:
    table = [Route("GET", "/swarm", _not_manager), Route("POST", "/swarm/init", _no_swarm_support),
             Route("POST", "/swarm/join", _no_swarm_support), Route("POST", "/swarm/leave", _not_in_swarm),
             Route("POST", "/swarm/update", _not_manager), Route("GET", "/swarm/unlockkey", _not_manager),
             Route("POST", "/swarm/unlock", _not_manager)]
    for noun in ("nodes", "services", "tasks", "secrets", "configs"):
        table += [Route("GET", f"/{noun}", _not_manager),
                  Route("GET", f"/{noun}/{{id}}", _not_manager),
                  Route("DELETE", f"/{noun}/{{id}}", _not_manager),
                  Route("POST", f"/{noun}/{{id}}/update", _not_manager)]
        if noun in ("services", "secrets", "configs"):
            table.append(Route("POST", f"/{noun}/create", _not_manager))
    table.append(Route("GET", "/services/{id}/logs", _not_manager))
    table.append(Route("GET", "/tasks/{id}/logs", _not_manager))
    return table
