"""Volumes: the engine side of ``/volumes`` and of containers' named and anonymous volumes.

``VolumeEngine`` wraps :class:`skiff.volume.service.VolumeService` (local driver under
``<data-root>/volumes``) with the state database (one JSON row per volume, written before a call
returns), Docker's JSON shapes, filters and events (``create``, ``destroy``, ``mount``, ``unmount``,
``prune``), and ``/system/df``'s volume part.

For the container service it implements ``engine.containers.seams.VolumeBackend``:
``mount_volume(name, cid, options)`` creates the volume if needed ("" = anonymous), takes the
container's reference, mounts a ``type=``/``device=`` volume on first use, copies image content into
a new empty volume when given ``copy_from``; ``unmount_volume(name, cid)`` drops the mount (the last
one out unmounts) and, unless ``release=False``, the reference; ``remove_anonymous(name)`` removes an
anonymous volume nobody references (``docker rm -v``; a named volume is kept, as Docker keeps it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from skiff.engine.config import DaemonConfig
from skiff.engine.events import EventBus
from skiff.engine.filters import Filters, InvalidFilter
from skiff.engine.state import StateDB
from skiff.errors import Conflict, InvalidParameter
from skiff.volume.drivers import DEFAULT_DRIVER
from skiff.volume.drivers.local import LocalDriver
from skiff.volume.service import ANONYMOUS_LABEL, VolumeMeta, VolumeService

__all__ = ["VolumeEngine", "DbCatalog", "ANONYMOUS_LABEL", "LIST_FILTERS", "PRUNE_FILTERS", "volume_json", "go_rfc3339"]

log = logging.getLogger("skiff.volumes")

LIST_FILTERS = ("dangling", "driver", "label", "name")
PRUNE_FILTERS = ("label", "label!", "all")

_MIGRATIONS = [
    "CREATE TABLE volumes (name TEXT PRIMARY KEY, doc TEXT NOT NULL)",
]


class DbCatalog:
    """Volume records in the state database: one row per volume (refs and mounts inside)."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        db.migrate("volumes", _MIGRATIONS)

    def load(self) -> list[VolumeMeta]:
        out = []
        for name, doc in self.db.query("SELECT name, doc FROM volumes"):
            try:
                d = json.loads(doc)
            except ValueError:
                log.warning("volume %s: unreadable record dropped", name)
                continue
            out.append(VolumeMeta(name=name, driver=d.get("Driver") or DEFAULT_DRIVER, labels=d.get("Labels"),
                                  options=d.get("Options"), created_ns=int(d.get("CreatedNs") or 0),
                                  refs=frozenset(d.get("Refs") or ()), mounts=frozenset(d.get("Mounts") or ())))
        return out

    def put(self, meta: VolumeMeta) -> None:
        doc = {"Driver": meta.driver, "Labels": None if meta.labels is None else dict(meta.labels),
               "Options": None if meta.options is None else dict(meta.options), "CreatedNs": meta.created_ns,
               "Refs": sorted(meta.refs), "Mounts": sorted(meta.mounts)}
        self.db.execute("INSERT OR REPLACE INTO volumes (name, doc) VALUES (?, ?)", (meta.name, json.dumps(doc)))

    def delete(self, name: str) -> None:
        self.db.execute("DELETE FROM volumes WHERE name = ?", (name,))


def go_rfc3339(ns: int) -> str:
    """Go's ``time.Format(time.RFC3339)`` of a local time: seconds, ``Z`` or ``+hh:mm``."""
    text = datetime.fromtimestamp(ns / 1e9).astimezone().replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def volume_json(meta: VolumeMeta, mountpoint: str, usage: tuple[int, int] | None = None) -> dict[str, Any]:
    """Docker's ``volume.Volume`` (field order as Go marshals it)."""
    out: dict[str, Any] = {
        "CreatedAt": go_rfc3339(meta.created_ns or time.time_ns()),
        "Driver": meta.driver,
        "Labels": None if meta.labels is None else dict(meta.labels),
        "Mountpoint": mountpoint,
        "Name": meta.name,
        "Options": None if meta.options is None else dict(meta.options),
        "Scope": "local",
    }
    if usage is not None:
        out["UsageData"] = {"Size": usage[0], "RefCount": usage[1]}
    return out


def _parse_go_bool(value: str) -> bool:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise InvalidParameter(f"invalid filter 'all': strconv.ParseBool: parsing \"{value}\": invalid syntax")


class VolumeEngine:
    """``/volumes`` API backend, ``/system/df`` source, and the containers' VolumeBackend."""

    def __init__(self, config: DaemonConfig, db: StateDB, events: EventBus) -> None:
        self.events = events
        self.driver = LocalDriver(config.data_root / "volumes")
        self.service = VolumeService(self.driver, DbCatalog(db))
        self._pruning = threading.Lock()

    # ---- API ------------------------------------------------------------------------------------
    def create(self, name: str = "", driver: str = "", driver_opts: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        meta, created = self.service.create(name, driver, driver_opts, labels)
        if created:
            self._event("create", meta)
        return self._json(meta)

    def inspect(self, name: str) -> dict[str, Any]:
        return self._json(self.service.get(name))

    def list_volumes(self, filters: Filters) -> dict[str, Any]:
        filters.validate(LIST_FILTERS)
        dangling = filters.get_bool("dangling", False) if filters.contains("dangling") else None
        out = []
        for meta in self.service.volumes():
            if not filters.exact_match("driver", meta.driver) or not filters.match("name", meta.name):
                continue
            if not self._labels_match(filters, meta):
                continue
            if dangling is not None and bool(meta.refs) == dangling:
                continue
            out.append(self._json(meta))
        return {"Volumes": out, "Warnings": None}

    def remove(self, name: str, force: bool = False) -> None:
        meta = self.service.remove(name, force=force)
        if meta is not None:
            self._event("destroy", meta)

    def prune(self, filters: Filters) -> dict[str, Any]:
        """Unreferenced local volumes without mount options; only anonymous ones unless ``all=true``."""
        filters.validate(PRUNE_FILTERS)
        if not self._pruning.acquire(blocking=False):
            raise Conflict("a prune operation is already running")
        try:
            return self._prune(filters)
        finally:
            self._pruning.release()

    def _prune(self, filters: Filters) -> dict[str, Any]:
        all_values = filters.get("all")
        if len(all_values) > 1:
            raise InvalidFilter(f"invalid filter 'all={all_values}': only one value is expected")
        every = bool(all_values) and _parse_go_bool(all_values[0])
        deleted: list[str] = []
        reclaimed = 0
        for meta in self.service.volumes():
            if meta.refs or meta.driver != DEFAULT_DRIVER or meta.options:
                continue
            if not every and not meta.anonymous:
                continue
            if not self._labels_match(filters, meta):
                continue
            size = self.service.size(meta.name)
            try:
                self.remove(meta.name)
            except Exception as e:
                log.warning("prune: could not remove volume %s: %s", meta.name, e)
                continue
            reclaimed += max(size, 0)
            deleted.append(meta.name)
        self.events.publish("volume", "prune", "", {"reclaimed": str(reclaimed)})
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    def disk_usage(self, types: frozenset[str]) -> dict[str, Any]:
        """``/system/df`` Volumes: local volumes without mount options, with UsageData (size, refs)."""
        if types and "volume" not in types:
            return {}
        vols = [self._json(m, (self.service.size(m.name), len(m.refs))) for m in self.service.volumes()
                if m.driver == DEFAULT_DRIVER and not m.options]
        return {"Volumes": vols}

    # ---- the container service's VolumeBackend ----------------------------------------------------
    def mount_volume(self, name: str, container_id: str, options: Mapping[str, str], *, copy_from: str = "",
                     driver: str = "", labels: Mapping[str, str] | None = None, destination: str = "",
                     read_write: bool = True, propagation: str = "") -> tuple[str, str]:
        """Create if needed ("" = anonymous), reference, mount; copy ``copy_from`` into a new empty
        volume (pass "" for ``nocopy``). Returns (name, host path)."""
        vol_name, _ = self.reference_volume(name, container_id, driver=driver, options=options, labels=labels)
        path = self.service.mount(vol_name, container_id)
        if copy_from:
            try:
                self.service.copy_up(vol_name, copy_from)
            except OSError as e:
                log.warning("copy-up of %s into volume %s: %s", copy_from, vol_name, e)
        meta = self.service.get(vol_name)
        self._event("mount", meta, container=container_id, destination=destination,
                    **{"read/write": "true" if read_write else "false"}, propagation=propagation)
        return vol_name, path

    def reference_volume(self, name: str, container_id: str, *, driver: str = "",
                         options: Mapping[str, str] | None = None,
                         labels: Mapping[str, str] | None = None) -> tuple[str, str]:
        """Docker's create-time step: the volume exists and ``container_id`` holds it (no mount)."""
        meta, created = self.service.create(name, driver, dict(options) if options else None,
                                            dict(labels) if labels else None, ref=container_id)
        if created:
            self._event("create", meta)
        return meta.name, self.service.mountpoint(meta.name)

    def unmount_volume(self, name: str, container_id: str, *, release: bool = True) -> None:
        if not self.service.exists(name):
            return
        meta = self.service.get(name)
        was_mounted = container_id in meta.mounts
        if release:
            self.service.release(name, container_id)
        else:
            self.service.unmount(name, container_id)
        if was_mounted:
            self._event("unmount", meta, container=container_id)

    def remove_anonymous(self, name: str) -> None:
        """``docker rm -v``: an anonymous volume nobody references any more goes; others stay."""
        if not self.service.exists(name):
            return
        meta = self.service.get(name)
        if meta.anonymous and not meta.refs:
            self.remove(name)

    def forget_container(self, container_id: str) -> None:
        """Drop every reference of a container that no longer exists."""
        self.service.forget_ref(container_id)

    def in_use(self, name: str) -> list[str]:
        return self.service.in_use(name)

    # ---- helpers --------------------------------------------------------------------------------
    def _json(self, meta: VolumeMeta, usage: tuple[int, int] | None = None) -> dict[str, Any]:
        return volume_json(meta, self.service.mountpoint(meta.name), usage)

    def _event(self, action: str, meta: VolumeMeta, **attrs: str) -> None:
        self.events.publish("volume", action, meta.name, {"driver": meta.driver, **attrs})

    @staticmethod
    def _labels_match(f: Filters, meta: VolumeMeta) -> bool:
        labels = dict(meta.labels or {})
        if not f.match_kv("label", labels):
            return False
        return not (f.contains("label!") and f.match_kv("label!", labels))
