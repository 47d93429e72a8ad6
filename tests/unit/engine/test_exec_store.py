"""Exec records in the state DB: each fact as written, read back after a reopen (a restart)."""

from __future__ import annotations

from pathlib import Path

from skiff.engine.containers.exec import ExecRecord
from skiff.engine.containers.exec_store import ExecStore
from skiff.engine.state import StateDB


def _rec(eid: str, cid: str = "c" * 64) -> ExecRecord:
    return ExecRecord(id=eid, container_id=cid, cmd=["sh", "-c", "exit 3"], env=["A=b"], user="nobody",
                      working_dir="/tmp", tty=False, privileged=True, attach_stdout=True, attach_stderr=True,
                      detach_keys="ctrl-x", console_size=(24, 80))


def test_exec_records_survive_reopen(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path)
    store = ExecStore(db)
    done, running, created = _rec("e1"), _rec("e2"), _rec("e3", cid="d" * 64)
    for e in (done, running, created):
        store.created(e)
    for e, pid in ((done, 10), (running, 11)):
        e.pid, e.running, e.tty = pid, True, True  # start may turn the TTY on
        store.started(e)
    done.exit_code = 3
    store.ended(done)
    db.close()

    db = StateDB.open(tmp_path)
    loaded = {s.id: s.record() for s in ExecStore(db).load()}
    a, b, c = loaded["e1"], loaded["e2"], loaded["e3"]
    assert (a.started, a.running, a.exit_code, a.done.is_set(), a.tty) == (True, False, 3, True, True)
    assert (b.started, b.running, b.pid, b.exit_code, b.done.is_set()) == (True, True, 11, None, False)
    assert (c.started, c.running, c.exit_code, c.done.is_set(), c.tty) == (False, False, None, False, False)
    assert (a.cmd, a.env, a.user, a.working_dir, a.privileged, a.detach_keys, a.console_size) == (
        ["sh", "-c", "exit 3"], ["A=b"], "nobody", "/tmp", True, "ctrl-x", (24, 80))
    assert (a.attach_stdin, a.attach_stdout, a.attach_stderr) == (False, True, True)


def test_unknown_exit_and_forget(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path)
    store = ExecStore(db)
    e, other = _rec("e1"), _rec("e2", cid="d" * 64)
    store.created(e)
    store.created(other)
    e.running = True
    store.started(e)
    e.running, e.exit_code = False, None  # ended, nobody could learn how
    store.ended(e)
    (s,) = [x for x in store.load() if x.id == "e1"]
    assert (s.started, s.running, s.exit_code) == (True, False, None) and s.record().done.is_set()
    store.forget_container("c" * 64)
    assert [x.id for x in store.load()] == ["e2"]
    store.forget(["e2"])
    assert store.load() == []


def test_gc_forgets_execs_ended_one_pass_ago(tmp_path: Path) -> None:
    """As moby's execCommandGC: a pass marks the ended execs, the next one forgets them (memory and
    table); running and created ones stay."""
    from types import SimpleNamespace

    from skiff.engine.containers.exec import ExecManager

    db = StateDB.open(tmp_path)
    cid = "c" * 64
    ctr = SimpleNamespace(id=cid, exec_ids=[])
    svc = SimpleNamespace(db=db, _cache={cid: ctr}, records=lambda: [ctr], removal_hooks=[],
                          state_dir=lambda c: tmp_path / "state" / c)
    (tmp_path / "state" / cid).mkdir(parents=True)
    exit_file = tmp_path / "state" / cid / "exec-e1.exit.json"  # the monitor's record of e1's exit
    exit_file.write_text('{"exit_code": 0}')
    mgr = ExecManager(svc)  # type: ignore[arg-type]
    old, running, created = _rec("e1"), _rec("e2"), _rec("e3")
    for e in (old, running, created):
        mgr.store.created(e)
        mgr.execs[e.id] = e
    old.exit_code = 0
    old.done.set()
    mgr.store.ended(old)
    running.running = True
    mgr.gc()
    assert set(mgr.execs) == {"e1", "e2", "e3"}
    late = _rec("e4")
    mgr.store.created(late)
    mgr.execs[late.id] = late
    late.done.set()  # ended after the first pass: stays one more
    mgr.gc()
    assert set(mgr.execs) == {"e2", "e3", "e4"} and not exit_file.exists()
    assert sorted(s.id for s in mgr.store.load()) == ["e2", "e3", "e4"]
    mgr.gc()
    assert set(mgr.execs) == {"e2", "e3"}
