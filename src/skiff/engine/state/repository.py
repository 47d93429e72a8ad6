"""A typed repository of JSON documents keyed by id: the simplest durable record for a resource.

A service that needs no SQL of its own declares one repository for its frozen dataclass::

    CONTAINERS = Repository(db, "containers", Codec(to_json=rec.to_dict, from_json=Record.from_dict))
    CONTAINERS.put(rec.id, rec)          # durable when it returns
    CONTAINERS.get(id) -> Record | None

Each repository is a table ``(id TEXT PRIMARY KEY, doc TEXT, updated REAL)``. Several puts and
deletes commit together inside ``db.transaction()``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from skiff.engine.state.db import StateDB

__all__ = ["Codec", "Repository"]

T = TypeVar("T")

_TABLE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a record becomes JSON and back (usually ``to_dict`` / ``from_dict`` of a dataclass)."""

    to_json: Callable[[T], Any]
    from_json: Callable[[Any], T]


class Repository(Generic[T]):
    """Durable id -> record map stored in one table of the state database."""

    def __init__(self, db: StateDB, table: str, codec: Codec[T]) -> None:
        if not _TABLE.match(table):
            raise ValueError(f"bad table name {table!r}")
        self.db = db
        self.table = table
        self.codec = codec
        db.schema(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, doc TEXT NOT NULL, "
                  "updated REAL NOT NULL)")

    def put(self, key: str, record: T) -> None:
        doc = json.dumps(self.codec.to_json(record), separators=(",", ":"))
        self.db.execute(f"INSERT INTO {self.table} (id, doc, updated) VALUES (?, ?, ?) "
                        "ON CONFLICT(id) DO UPDATE SET doc=excluded.doc, updated=excluded.updated",
                        (key, doc, time.time()))

    def get(self, key: str) -> T | None:
        row = self.db.query_one(f"SELECT doc FROM {self.table} WHERE id = ?", (key,))
        return None if row is None else self.codec.from_json(json.loads(row[0]))

    def delete(self, key: str) -> bool:
        return self.db.execute(f"DELETE FROM {self.table} WHERE id = ?", (key,)) > 0

    def ids(self) -> list[str]:
        return [r[0] for r in self.db.query(f"SELECT id FROM {self.table} ORDER BY id")]

    def items(self) -> Iterator[tuple[str, T]]:
        for key, doc in self.db.query(f"SELECT id, doc FROM {self.table} ORDER BY id"):
            yield key, self.codec.from_json(json.loads(doc))

    def values(self) -> list[T]:
        return [v for _, v in self.items()]

    def count(self) -> int:
        row = self.db.query_one(f"SELECT COUNT(*) FROM {self.table}")
        return int(row[0]) if row else 0

    def by_prefix(self, prefix: str) -> list[str]:
        """Ids starting with ``prefix`` (Docker's unique-prefix lookup), by a range scan of the key."""
        if not prefix:
            return self.ids()
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return [r[0] for r in self.db.query(
            f"SELECT id FROM {self.table} WHERE id >= ? AND id < ? ORDER BY id", (prefix, upper))]
