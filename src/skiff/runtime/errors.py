"""The runtime's errors, as subclasses of ``skiff.errors`` classes, with runc's wording."""

from __future__ import annotations

from skiff.errors import Conflict, InvalidParameter, NotFound, System, Unimplemented

__all__ = ["InvalidConfig", "ContainerNotFound", "ContainerExists", "InvalidState", "InitFailed",
           "Unsupported", "HookFailed"]


class InvalidConfig(InvalidParameter):
    """config.json (or a command-line value) is malformed or asks for something impossible."""


class Unsupported(Unimplemented):
    """The config asks for a feature this machine or Skiff cannot provide (AppArmor, idmap)."""


class ContainerNotFound(NotFound):
    def __init__(self, container_id: str) -> None:
        super().__init__(f"container does not exist: {container_id}")


class ContainerExists(Conflict):
    def __init__(self, container_id: str) -> None:
        super().__init__(f"container with id exists: {container_id}")


class InvalidState(Conflict):
    """A lifecycle transition the container's current state does not allow."""


class InitFailed(System):
    """The container's init process reported an error while setting the container up."""


class HookFailed(System):
    """A hook exited non-zero, timed out or could not be started."""
