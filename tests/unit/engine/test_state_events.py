"""The SQLite state store and the event bus (persisted ring, since/until, filters)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from skiff.engine.events import Event, EventBus, matches, parse_timestamp
from skiff.engine.filters import Filters
from skiff.engine.state import Codec, Repository, StateDB


@dataclass(frozen=True)
class Rec:
    id: str
    name: str


def test_repository_survives_reopen(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path)
    repo = Repository(db, "recs", Codec(asdict, lambda d: Rec(**d)))
    repo.put("abc1", Rec("abc1", "one"))
    repo.put("abd2", Rec("abd2", "two"))
    repo.put("abc1", Rec("abc1", "uno"))
    assert repo.get("abc1") == Rec("abc1", "uno")
    assert repo.by_prefix("ab") == ["abc1", "abd2"] and repo.by_prefix("abc") == ["abc1"]
    assert repo.by_prefix("a_") == []
    assert repo.count() == 2
    db.close()
    db2 = StateDB.open(tmp_path)
    repo2 = Repository(db2, "recs", Codec(asdict, lambda d: Rec(**d)))
    assert [r.name for r in repo2.values()] == ["uno", "two"]
    assert repo2.delete("abd2") and not repo2.delete("abd2")
    assert db2.query_one("PRAGMA journal_mode")[0] == "wal"  # type: ignore[index]


def test_transaction_rolls_back(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path)
    repo = Repository(db, "recs", Codec(asdict, lambda d: Rec(**d)))
    try:
        with db.transaction():
            repo.put("x", Rec("x", "x"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert repo.get("x") is None


def test_event_json_shape() -> None:
    ev = Event("container", "start", "abc", {"image": "busybox", "name": "web"}, "local", 1_700_000_000_000_000_005)
    doc = ev.to_json()
    assert doc["status"] == "start" and doc["id"] == "abc" and doc["from"] == "busybox"
    assert doc["Actor"] == {"ID": "abc", "Attributes": {"image": "busybox", "name": "web"}}
    assert doc["time"] == 1_700_000_000 and doc["timeNano"] == 1_700_000_000_000_000_005
    assert "status" not in Event("network", "create", "n1").to_json()
    assert Event.from_json(doc) == ev


def test_filters_like_moby() -> None:
    ev = Event("container", "health_status: healthy", "abc123", {"name": "web", "image": "busybox:1",
                                                                  "env": "prod"})
    assert matches(ev, Filters.of(event=["health_status"]))
    assert matches(ev, Filters.of(container=["web"])) and matches(ev, Filters.of(container=["abc"]))
    assert not matches(ev, Filters.of(container=["db"]))
    assert matches(ev, Filters.of(image=["busybox"])) and matches(ev, Filters.of(image=["busybox:1"]))
    assert matches(ev, Filters.of(label=["env=prod"])) and not matches(ev, Filters.of(label=["env=dev"]))
    assert not matches(ev, Filters.of(type=["image"]))
    img = Event("image", "pull", "busybox:latest", {"name": "busybox:latest"})
    assert matches(img, Filters.of(image=["busybox"])) and not matches(img, Filters.of(container=["x"]))


def test_history_since_until_persisted(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path)
    bus = EventBus(db)
    a = bus.publish("container", "create", "c1", {"name": "one"})
    b = bus.publish("container", "start", "c1", {"name": "one"})
    c = bus.publish("volume", "create", "v1")
    assert a.time_nano < b.time_nano < c.time_nano
    db.close()
    bus2 = EventBus(StateDB.open(tmp_path))
    assert [e.action for e in bus2.history(None, None)] == ["create", "start", "create"]
    assert [e.action for e in bus2.history(b.time_nano, None)] == ["start", "create"]
    assert [e.action for e in bus2.history(None, b.time_nano)] == ["create", "start"]
    assert [e.type for e in bus2.history(None, None, Filters.of(type=["volume"]))] == ["volume"]


def test_ring_is_bounded(tmp_path: Path) -> None:
    bus = EventBus(StateDB.open(tmp_path), keep=10)
    for i in range(1000):
        bus.publish("container", "start", f"c{i}")
    assert len(bus.history(None, None)) <= 510


def test_subscribers_get_events_from_threads() -> None:
    async def main() -> list[str]:
        bus = EventBus()
        bus.bind_loop(asyncio.get_running_loop())
        got: list[str] = []
        async with bus.subscribe() as sub:
            assert bus.listeners == 1
            t = threading.Thread(target=lambda: bus.publish("container", "die", "c1", {"exitCode": "0"}))
            t.start()
            t.join()
            bus.publish("container", "destroy", "c1")
            for _ in range(2):
                ev = await sub.get(timeout=2)
                assert ev is not None
                got.append(ev.action)
        assert bus.listeners == 0
        return got

    assert asyncio.run(main()) == ["die", "destroy"]


def test_parse_timestamp() -> None:
    assert parse_timestamp("1700000000") == 1_700_000_000_000_000_000
    assert parse_timestamp("1700000000.5") == 1_700_000_000_500_000_000
    assert parse_timestamp("1700000000.000000001") == 1_700_000_000_000_000_001
    assert parse_timestamp("10s", now=100.0) == 90_000_000_000
    assert parse_timestamp("2023-11-14T22:13:20Z") == 1_700_000_000_000_000_000


def test_migrate_steps_once_and_refuse_newer(tmp_path: Path) -> None:
    import pytest

    from skiff.errors import System

    db = StateDB.open(tmp_path)
    steps = ["CREATE TABLE things (id TEXT PRIMARY KEY)",
             "ALTER TABLE things ADD COLUMN name TEXT; CREATE INDEX things_name ON things(name)"]
    assert db.migrate("things", steps[:1]) == 1
    db.execute("INSERT INTO things (id) VALUES ('a')")
    assert db.migrate("things", steps) == 2
    assert db.migrate("things", steps) == 2  # idempotent
    db.execute("UPDATE things SET name = 'x'")
    assert db.query("SELECT id, name FROM things") == [("a", "x")]
    with pytest.raises(System, match="newer than this skiffd knows"):
        db.migrate("things", steps[:1])
