"""The Protocols the container service needs from images, networks and volumes (declared by the user).

- :class:`ImageProvider`: ``skiff.image.service.ImageService`` satisfies it as is.
- :class:`NetworkHook`: bridge and user networks (the network engineer implements it). Without a
  hook, ``none`` and ``host`` work and any other mode gets a private network namespace with only
  ``lo`` (logged once).
- :class:`VolumeBackend`: named and anonymous volumes. Without one, a volume mount is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["ImageProvider", "NetworkHook", "NetworkAttachment", "VolumeBackend", "NetworkRequest"]


class ImageProvider(Protocol):
    def resolve(self, ref_or_id: str) -> Any: ...

    def config_of(self, rec: Any) -> Any: ...

    def rootfs_for(self, image_id: str) -> Any: ...

    def container_created(self, container_id: str, image_id: str) -> None: ...

    def container_removed(self, container_id: str) -> None: ...

    def sync_container_uses(self, uses: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class NetworkRequest:
    """What the network side needs to attach one container (never the container object)."""

    container_id: str
    name: str
    mode: str  # HostConfig.NetworkMode ("bridge", a network name or id)
    hostname: str
    endpoints_config: Mapping[str, Any] = field(default_factory=dict)  # NetworkingConfig.EndpointsConfig
    port_bindings: Mapping[str, Any] = field(default_factory=dict)
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkAttachment:
    netns_path: str  # the namespace the runtime joins
    settings: Mapping[str, Any]  # inspect's NetworkSettings parts: Networks, Ports, SandboxKey, ...
    resolv_conf: str = ""  # file contents; "" = the engine's default
    hosts: str = ""


class NetworkHook(Protocol):
    async def attach_network(self, req: NetworkRequest) -> NetworkAttachment: ...

    async def detach_network(self, container_id: str) -> None: ...

    def announce_mode(self, container_id: str, mode: str, action: str) -> None:
        """``--network none|host``: the ``connect``/``disconnect`` events dockerd publishes for
        those fixed networks (nothing is attached)."""

    def validate_endpoints(self, requested: Mapping[str, Any]) -> None:
        """At create (as dockerd): refuse endpoint settings the start would fail on (InvalidParameter)."""
        ...


class VolumeBackend(Protocol):
    """engine/volumes.py's VolumeEngine: referenced at create, mounted at start, released at rm."""

    def reference_volume(self, name: str, container_id: str, *, driver: str = "",
                         options: Mapping[str, str] | None = None,
                         labels: Mapping[str, str] | None = None) -> tuple[str, str]: ...

    def mount_volume(self, name: str, container_id: str, options: Mapping[str, str], *, copy_from: str = "",
                     driver: str = "", labels: Mapping[str, str] | None = None, destination: str = "",
                     read_write: bool = True, propagation: str = "") -> tuple[str, str]: ...

    def unmount_volume(self, name: str, container_id: str, *, release: bool = True) -> None: ...

    def remove_anonymous(self, name: str) -> None: ...
