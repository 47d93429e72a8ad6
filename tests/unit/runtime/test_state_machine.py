"""The container state machine, state.json records and frozen records."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skiff.errors import Conflict, InvalidParameter
from skiff.runtime.container import TRANSITIONS, Container, Status, load
from skiff.runtime.errors import ContainerNotFound
from skiff.runtime.frozen import frozen, replace
from skiff.runtime.rootfs import secure_join
from skiff.runtime.state import ContainerRecord, read_record, validate_id, write_record


class _Fixed(Container):
    def __init__(self, status: Status) -> None:
        super().__init__("/nonexistent", ContainerRecord(id="c", bundle="/b", rootfs="/b/rootfs"))
        self._status = status

    def status(self) -> Status:
        return self._status


@pytest.mark.parametrize(("op", "cur", "target"), [
    ("start", Status.CREATED, Status.RUNNING), ("kill", Status.RUNNING, Status.STOPPED),
    ("delete", Status.STOPPED, Status.STOPPED), ("force-delete", Status.CREATED, Status.STOPPED),
    ("pause", Status.RUNNING, Status.PAUSED), ("resume", Status.PAUSED, Status.RUNNING),
    ("force-delete", Status.RUNNING, Status.STOPPED),
])
def test_allowed(op: str, cur: Status, target: Status) -> None:
    assert _Fixed(cur).transition(op) == target


@pytest.mark.parametrize(("op", "cur", "message"), [
    ("start", Status.RUNNING, "cannot start an already running container"),
    ("start", Status.STOPPED, "cannot start a container that has stopped"),
    ("kill", Status.STOPPED, "container not running"),
    ("delete", Status.RUNNING, "cannot delete container c that is not stopped: running"),
    ("delete", Status.CREATED, "cannot delete container c that is not stopped: created"),
    ("exec", Status.PAUSED, "cannot exec in a paused container"),
    ("resume", Status.RUNNING, "container not paused"),
])
def test_refused_is_conflict(op: str, cur: Status, message: str) -> None:
    with pytest.raises(Conflict, match=message):
        _Fixed(cur).transition(op)


def test_every_op_has_targets() -> None:
    assert all(TRANSITIONS[op] for op in TRANSITIONS)


def test_record_roundtrip_and_load(tmp_path: Path) -> None:
    d = tmp_path / "c1"
    d.mkdir()
    rec = ContainerRecord(id="c1", bundle="/b", rootfs="/b/rootfs", pid=0, status="stopped", annotations={"a": "b"},
                          config={"ociVersion": "1.0.2"})
    write_record(str(d), rec)
    assert not (d / "state.json.tmp").exists()
    assert read_record(str(d)) == rec
    c = load(str(tmp_path), "c1")
    assert c.status() == Status.STOPPED and c.oci_state()["annotations"] == {"a": "b"}
    with pytest.raises(ContainerNotFound, match="container does not exist"):
        load(str(tmp_path), "c2")


def test_record_defaults_are_not_shared() -> None:
    a = ContainerRecord(id="a", bundle="", rootfs="")
    b = ContainerRecord(id="b", bundle="", rootfs="")
    a.annotations["x"] = "y"
    assert b.annotations == {}


@pytest.mark.parametrize("bad", ["", "..", "a/b", "../x", "a b"])
def test_invalid_ids(bad: str) -> None:
    with pytest.raises(InvalidParameter):
        validate_id(bad)


def test_frozen_records() -> None:
    @frozen
    class P:
        x: int
        y: tuple[int, ...] = ()

    p = P(1)
    assert p == P(1, ()) and hash(p) == hash(P(1)) and repr(p) == "P(x=1, y=())"
    assert replace(p, x=2) == P(2)
    with pytest.raises(AttributeError):
        p.x = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        P()  # type: ignore[call-arg]


def test_secure_join_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../..", root / "up")
    assert secure_join(str(root), "/abs/passwd") == str(root / "etc/passwd")
    assert secure_join(str(root), "/up/etc") == str(root / "etc")
    assert secure_join(str(root), "../../x") == str(root / "x")
