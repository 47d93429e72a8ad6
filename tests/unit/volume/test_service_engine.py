"""engine.volumes.VolumeEngine on a temporary state database: Docker's JSON, list filters, prune rules,
events, df, the container seam (reference at create, mount at start, release at rm), and a reopen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from skiff.engine.config import load_config
from skiff.engine.events import EventBus
from skiff.engine.filters import Filters, InvalidFilter
from skiff.engine.state import StateDB
from skiff.engine.volumes import VolumeEngine, go_rfc3339
from skiff.errors import Conflict, InvalidParameter


def _engine(tmp: Path) -> tuple[VolumeEngine, EventBus, StateDB]:
    cfg = load_config({"data-root": str(tmp / "data"), "exec-root": str(tmp / "exec")})
    db = StateDB.open(cfg.data_root)
    events = EventBus()
    return VolumeEngine(cfg, db, events), events, db


@pytest.fixture
def eng(tmp_path: Path) -> Iterator[tuple[VolumeEngine, EventBus]]:
    e, events, db = _engine(tmp_path)
    try:
        yield e, events
    finally:
        db.close()


def _actions(events: EventBus) -> list[tuple[str, str]]:
    return [(e.action, e.actor_id) for e in events.history(None, None) if e.type == "volume"]


def test_create_json_shape(eng: tuple[VolumeEngine, EventBus], tmp_path: Path) -> None:
    v, events = eng
    doc = v.create("web", "", {}, {"a": "b"})
    assert list(doc) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]
    assert doc["Labels"] == {"a": "b"} and doc["Options"] == {} and doc["Scope"] == "local"
    assert doc["Mountpoint"] == str(tmp_path / "data" / "volumes" / "web" / "_data")
    assert v.inspect("web") == doc
    assert v.create("web") == doc  # idempotent, no second event
    assert _actions(events) == [("create", "web")]
    plain = v.create("plain")
    assert plain["Labels"] is None and plain["Options"] is None


def test_go_rfc3339() -> None:
    text = go_rfc3339(1_700_000_000_123_456_789)
    assert "." not in text and (text.endswith("Z") or text[-6] in "+-")


def test_list_filters(eng: tuple[VolumeEngine, EventBus]) -> None:
    v, _ = eng
    v.create("alpha", labels={"env": "prod", "tier": "db"})
    v.create("beta", labels={"env": "dev"})
    v.reference_volume("gamma", "c" * 64)

    def names(**f: list[str]) -> list[str]:
        return [x["Name"] for x in v.list_volumes(Filters.of(f))["Volumes"]]
    assert names() == ["alpha", "beta", "gamma"]
    assert names(label=["env=prod"]) == ["alpha"]
    assert names(label=["env"]) == ["alpha", "beta"]
    assert names(label=["env", "tier=db"]) == ["alpha"]
    assert names(name=["^a"]) == ["alpha"]
    assert names(name=["ta"]) == ["beta"]
    assert names(driver=["local"]) == ["alpha", "beta", "gamma"]
    assert names(driver=["other"]) == []
    assert names(dangling=["true"]) == ["alpha", "beta"]
    assert names(dangling=["0"]) == ["gamma"]
    with pytest.raises(InvalidFilter, match="invalid filter 'until'"):
        names(until=["1h"])
    with pytest.raises(InvalidFilter):
        names(dangling=["maybe"])


def test_prune_rules(eng: tuple[VolumeEngine, EventBus]) -> None:
    v, events = eng
    v.create("named", labels={"keep": "no"})
    v.create("tmpfsv", driver_opts={"type": "tmpfs", "device": "tmpfs"})
    anon_free, _ = v.reference_volume("", "c1")
    v.unmount_volume(anon_free, "c1")
    v.reference_volume("", "c2")
    with open(os.path.join(v.inspect(anon_free)["Mountpoint"], "f"), "wb") as f:
        f.write(b"x" * 1000)
    rep = v.prune(Filters())
    assert rep == {"VolumesDeleted": [anon_free], "SpaceReclaimed": 1000}
    rep = v.prune(Filters.of({"all": ["true"], "label!": ["keep=no"]}))
    assert rep["VolumesDeleted"] == []
    rep = v.prune(Filters.of({"all": ["1"], "label": ["keep"]}))
    assert rep["VolumesDeleted"] == ["named"]
    rep = v.prune(Filters.of({"all": ["true"]}))
    assert rep["VolumesDeleted"] == []  # tmpfsv has options, anon_used is referenced
    with pytest.raises(InvalidParameter, match=r"invalid filter 'all': strconv\.ParseBool"):
        v.prune(Filters.of({"all": ["yes"]}))
    with pytest.raises(InvalidFilter, match="invalid filter 'dangling'"):
        v.prune(Filters.of({"dangling": ["true"]}))
    prunes = [e for e in events.history(None, None) if e.action == "prune"]
    assert prunes[0].attributes == {"reclaimed": "1000"} and prunes[0].actor_id == ""


def test_container_seam_and_events(eng: tuple[VolumeEngine, EventBus], tmp_path: Path) -> None:
    v, events = eng
    cid = "d" * 64
    image_dir = tmp_path / "rootfs" / "data"
    image_dir.mkdir(parents=True)
    (image_dir / "seed").write_text("from image")
    name, path = v.reference_volume("db", cid)
    assert name == "db" and v.in_use("db") == [cid]
    name, path2 = v.mount_volume("db", cid, {}, copy_from=str(image_dir), destination="/data")
    assert path2 == path and Path(path, "seed").read_text() == "from image"
    with pytest.raises(Conflict, match=rf"^remove db: volume is in use - \[{cid}\]$"):
        v.remove("db")
    v.unmount_volume("db", cid, release=False)  # container stopped: still referenced
    with pytest.raises(Conflict):
        v.remove("db")
    v.unmount_volume("db", cid)  # container removed
    v.remove_anonymous("db")  # named: kept
    assert v.inspect("db")["Name"] == "db"
    v.remove("db")
    acts = _actions(events)
    assert acts == [("create", "db"), ("mount", "db"), ("unmount", "db"), ("destroy", "db")]
    mount = next(e for e in events.history(None, None) if e.action == "mount")
    assert mount.attributes == {"driver": "local", "container": cid, "destination": "/data", "read/write": "true",
                                "propagation": ""}


def test_anonymous_through_the_seam(eng: tuple[VolumeEngine, EventBus]) -> None:
    v, _ = eng
    name, _ = v.mount_volume("", "e" * 64, {})
    assert len(name) == 64 and v.inspect(name)["Labels"] == {"com.docker.volume.anonymous": ""}
    v.remove_anonymous(name)  # still referenced: kept
    assert v.inspect(name)
    v.unmount_volume(name, "e" * 64)
    v.remove_anonymous(name)
    assert v.list_volumes(Filters())["Volumes"] == []


def test_df_counts_refs_and_skips_volumes_with_options(eng: tuple[VolumeEngine, EventBus]) -> None:
    v, _ = eng
    v.reference_volume("used", "f" * 64)
    v.create("opt", driver_opts={"type": "tmpfs", "device": "tmpfs"})
    with open(os.path.join(v.inspect("used")["Mountpoint"], "z"), "wb") as f:
        f.write(b"z" * 10)
    df = v.disk_usage(frozenset())
    assert [(x["Name"], x["UsageData"]) for x in df["Volumes"]] == [("used", {"Size": 10, "RefCount": 1})]
    assert v.disk_usage(frozenset({"image"})) == {}


def test_records_survive_reopen(tmp_path: Path) -> None:
    v, _, db = _engine(tmp_path)
    v.create("kept", "", {}, {"x": "1"})
    v.reference_volume("kept", "a" * 64)
    db.close()
    v2, _, db2 = _engine(tmp_path)
    try:
        doc = v2.inspect("kept")
        assert doc["Labels"] == {"x": "1"} and doc["Options"] == {}
        assert v2.in_use("kept") == ["a" * 64]
    finally:
        db2.close()
