"""The snapshot records of one snapshotter, in SQLite (WAL) inside the snapshotter's root.

Why SQLite: every change (prepare, commit, remove) is one transaction, so a crash leaves either the
old or the new record, never half of one; a restarted daemon sees exactly the acknowledged
snapshots. Data directories are created before their record and deleted after it, so a crash can
only leave an orphan directory, which ``orphans()`` lets the snapshotter sweep at start.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from skiff.storage.snapshot import (
    Info,
    Kind,
    SnapshotExists,
    SnapshotHasChildren,
    SnapshotNotFound,
    WrongSnapshotKind,
)

__all__ = ["Record", "MetaStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    key     TEXT PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    parent  TEXT REFERENCES snapshots(key),
    created REAL NOT NULL,
    labels  TEXT NOT NULL DEFAULT '{}',
    size    INTEGER NOT NULL DEFAULT -1,
    inodes  INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent);
"""


class Record:
    """One row: the public Info plus the snapshotter's private directory id and cached usage."""

    __slots__ = ("id", "info", "inodes", "size")

    def __init__(self, info: Info, id: str, size: int, inodes: int) -> None:  # noqa: A002
        self.info, self.id, self.size, self.inodes = info, id, size, inodes


def _record(row: tuple[str, str, str, str | None, float, str, int, int]) -> Record:
    key, id_, kind, parent, created, labels, size, inodes = row
    return Record(Info(Kind(kind), key, parent, created, json.loads(labels)), id_, size, inodes)


class MetaStore:
    """Thread-safe snapshot records; raises the snapshot errors of ``skiff.storage.snapshot``."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _get(self, key: str) -> Record | None:
        row = self._db.execute("SELECT * FROM snapshots WHERE key = ?", (key,)).fetchone()
        return _record(row) if row else None

    def get(self, key: str) -> Record:
        with self._lock:
            rec = self._get(key)
        if rec is None:
            raise SnapshotNotFound(key)
        return rec

    def chain(self, key: str) -> list[Record]:
        """The record of ``key`` followed by its ancestors, nearest first."""
        out = [self.get(key)]
        while out[-1].info.parent is not None:
            out.append(self.get(out[-1].info.parent))
        return out

    def create(self, key: str, id_: str, kind: Kind, parent: str | None,
               labels: Mapping[str, str] | None) -> Info:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._get(key) is not None:
                    raise SnapshotExists(key)
                if parent is not None:
                    prec = self._get(parent)
                    if prec is None:
                        raise SnapshotNotFound(parent)
                    if prec.info.kind is not Kind.COMMITTED:
                        raise WrongSnapshotKind(parent, prec.info.kind, "committed")
                info = Info(kind, key, parent, time.time(), dict(labels or {}))
                self._db.execute(
                    "INSERT INTO snapshots (key, id, kind, parent, created, labels) VALUES (?,?,?,?,?,?)",
                    (key, id_, kind.value, parent, info.created, json.dumps(info.labels)))
                self._db.execute("COMMIT")
                return info
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def commit(self, name: str, key: str, labels: Mapping[str, str] | None, size: int, inodes: int,
               parent: str | None = None, reparent: bool = False) -> Record:
        """Atomically replace active ``key`` by committed ``name`` (same data directory)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rec = self._get(key)
                if rec is None:
                    raise SnapshotNotFound(key)
                if rec.info.kind is not Kind.ACTIVE:
                    raise WrongSnapshotKind(key, rec.info.kind, "active")
                if self._get(name) is not None:
                    raise SnapshotExists(name)
                new_parent = parent if reparent else rec.info.parent
                if reparent and parent is not None:
                    prec = self._get(parent)
                    if prec is None:
                        raise SnapshotNotFound(parent)
                    if prec.info.kind is not Kind.COMMITTED:
                        raise WrongSnapshotKind(parent, prec.info.kind, "committed")
                merged = {**rec.info.labels, **(labels or {})}
                self._db.execute("DELETE FROM snapshots WHERE key = ?", (key,))
                self._db.execute(
                    "INSERT INTO snapshots (key, id, kind, parent, created, labels, size, inodes) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (name, rec.id, Kind.COMMITTED.value, new_parent, time.time(), json.dumps(merged),
                     size, inodes))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            out = self._get(name)
            assert out is not None
            return out

    def remove(self, key: str) -> Record:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rec = self._get(key)
                if rec is None:
                    raise SnapshotNotFound(key)
                child = self._db.execute("SELECT 1 FROM snapshots WHERE parent = ? LIMIT 1", (key,)).fetchone()
                if child:
                    raise SnapshotHasChildren(key)
                self._db.execute("DELETE FROM snapshots WHERE key = ?", (key,))
                self._db.execute("COMMIT")
                return rec
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def walk(self) -> Iterator[Info]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM snapshots ORDER BY created").fetchall()
        for row in rows:
            yield _record(row).info

    def ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT id FROM snapshots")}
