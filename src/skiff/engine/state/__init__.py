"""The engine's crash-safe state store: one SQLite database (WAL, fsync'd commits) under data-root.

Every engine service keeps its records here through a small typed repository of its own
(``Repository`` for JSON documents keyed by id, or its own tables through ``StateDB.schema``).
A commit that returned is on disk: ``synchronous=FULL`` makes SQLite fsync the WAL per commit.
"""

from skiff.engine.state.db import StateDB
from skiff.engine.state.repository import Codec, Repository

__all__ = ["StateDB", "Repository", "Codec"]
