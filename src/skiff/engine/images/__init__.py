"""The daemon's image engine (wired by daemon.py's images block).

- :mod:`.engine`: :class:`ImageEngine` wraps ``skiff.image.service.ImageService`` for every /images
  verb and adds events, the snapshotter choice (overlay2, vfs fallback) and import's sources.
  ``engine.service`` (the ImageService) and ``engine.snapshotter`` are what containers and builds take.
- :mod:`.changes`: ``parse_changes(lines, base)`` for ``--change`` (import and commit).
- :mod:`.remote`: the registry login check, distribution inspect, search, URL download.
"""

from skiff.engine.images.changes import VALID_CHANGES, parse_changes
from skiff.engine.images.engine import ImageEngine, build_image_engine, make_snapshotter
from skiff.engine.images.remote import LoginFailed, registry_domain

__all__ = ["ImageEngine", "build_image_engine", "make_snapshotter", "parse_changes", "VALID_CHANGES",
           "registry_domain", "LoginFailed"]
