"""The build cache index: (parent image, step) -> the image that step produced.

A key is the SHA-256 of the parent image ID and the step's full signature: its history line
(which already holds the expanded words, the build args in scope for RUN and the content hash of
COPY/ADD sources) plus what the line leaves out (mounts, network, chown/chmod, the --from image).
File mtimes never enter a key. The index survives restarts (one JSON file, replaced atomically);
entries whose image is gone are dropped on lookup.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

__all__ = ["CacheStore", "JsonCacheStore", "MemoryCacheStore", "cache_key"]


def cache_key(parent_id: str, signature: Iterable[str]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([parent_id, *signature], separators=(",", ":")).encode())
    return h.hexdigest()


class CacheStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def put(self, key: str, image_id: str) -> None: ...

    def forget(self, key: str) -> None: ...

    def prune(self) -> list[str]:
        """Drop every entry; return the image IDs they pointed at (the engine may delete them)."""
        ...


class MemoryCacheStore:
    def __init__(self) -> None:
        self._map: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._map.get(key)

    def put(self, key: str, image_id: str) -> None:
        with self._lock:
            self._map[key] = image_id

    def forget(self, key: str) -> None:
        with self._lock:
            self._map.pop(key, None)

    def prune(self) -> list[str]:
        with self._lock:
            ids = sorted(set(self._map.values()))
            self._map.clear()
            return ids


class JsonCacheStore(MemoryCacheStore):
    """The index in ``<dir>/index.json``, written temp + fsync + rename after each change."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__()
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "index.json"
        try:
            data = json.loads(self.path.read_text())
            if isinstance(data, dict):
                self._map = {str(k): str(v) for k, v in data.items()}
        except (FileNotFoundError, ValueError):
            pass

    def _save(self) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".index-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self._map, f, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, key: str, image_id: str) -> None:
        with self._lock:
            self._map[key] = image_id
            self._save()

    def forget(self, key: str) -> None:
        with self._lock:
            if self._map.pop(key, None) is not None:
                self._save()

    def prune(self) -> list[str]:
        with self._lock:
            ids = sorted(set(self._map.values()))
            self._map.clear()
            self._save()
            return ids
