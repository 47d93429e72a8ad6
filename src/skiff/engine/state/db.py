"""The SQLite database every engine service shares: one file, WAL journal, fsync'd commits.

Why SQLite: one writer at a time is plenty for a container engine, WAL lets readers run beside the
writer, and a transaction that committed survives a crash or a power cut (``synchronous=FULL``).
Services never see the connection: they declare their tables with ``schema()`` once and then run
short statements through ``execute``/``query``/``transaction``. Calls are thread-safe (one lock),
so the event loop, worker threads and monitor callbacks may all use the store.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from skiff.errors import System

__all__ = ["StateDB", "DB_NAME"]

DB_NAME = "skiff.db"

Params = Sequence[Any] | dict[str, Any]


class StateDB:
    """One SQLite database file (``<data-root>/skiff.db``) in WAL mode."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                                         timeout=30.0)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise System(f"cannot open state database {path}: {exc}") from exc
        self._lock = threading.RLock()
        self._depth = 0

    @classmethod
    def open(cls, data_root: Path) -> StateDB:
        return cls(data_root / DB_NAME)

    def side_connection(self) -> StateDB:
        """A second connection to the same file without an fsync per commit (WAL, synchronous=NORMAL):
        for records that may lose their last moments in a power cut but must not slow the loop
        (the event ring). It survives a daemon crash all the same."""
        return StateDB(self.path, durable=False)

    def schema(self, ddl: str) -> None:
        """Create a service's tables and indexes if missing (idempotent ``CREATE ... IF NOT EXISTS``).

        For tables whose shape will change, prefer ``migrate`` (numbered, append-only steps).
        """
        with self._lock:
            self._conn.executescript(ddl)

    def migrate(self, name: str, steps: Sequence[str]) -> int:
        """Bring service ``name``'s tables to ``len(steps)``: run the DDL steps not yet applied.

        Steps are append-only: never edit a released step, add a new one. Each step commits with
        its version bump, so a crash leaves the schema at a known version. Returns that version.
        """
        with self._lock:
            self._conn.execute("CREATE TABLE IF NOT EXISTS schema_versions (name TEXT PRIMARY KEY, "
                               "version INTEGER NOT NULL)")
            row = self._conn.execute("SELECT version FROM schema_versions WHERE name = ?", (name,)).fetchone()
            version = int(row[0]) if row else 0
            if version > len(steps):
                raise System(f"state database schema of {name} is version {version}, newer than this "
                             f"skiffd knows ({len(steps)})")
            for i in range(version, len(steps)):
                with self.transaction() as conn:
                    for stmt in steps[i].split(";"):
                        if stmt.strip():
                            conn.execute(stmt)
                    conn.execute("INSERT INTO schema_versions (name, version) VALUES (?, ?) ON CONFLICT(name) "
                                 "DO UPDATE SET version = excluded.version", (name, i + 1))
            return len(steps)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All statements inside commit together or not at all; nested uses join the outer one."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction (or the caller's); return rows changed."""
        with self.transaction() as conn:
            return conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        with self.transaction() as conn:
            conn.executemany(sql, rows)

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._conn.execute(sql, params).fetchone()
            return row

    def close(self) -> None:
        with self._lock:
            self._conn.close()
