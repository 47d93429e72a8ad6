"""docker exec: exec records and running them through the monitor.

State machine: created --start--> running --exit--> exited; a second start is a Conflict.
The process is the container's (``exec_process`` over the bundle's config.json) with the exec's
overrides; the monitor runs ``<runtime> exec`` and streams its output on the connection.
Records are kept in memory and in the state DB (:mod:`.exec_store`: one write at create, start
and exit), so they survive a daemon restart; ``reconcile`` learns how the execs that ran across
it ended. They go with their container (``docker rm``) and, as moby's, 5 to 10 minutes after
they ended (``gc``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skiff.engine.containers.exec_store import ExecStore
from skiff.engine.containers.io import ClientStream, parse_detach_keys, relay
from skiff.engine.containers.lifecycle import restarting_text
from skiff.engine.containers.spec import exec_process
from skiff.errors import Conflict, InvalidParameter, NotFound
from skiff.monitor.aclient import AsyncMonitorClient

if TYPE_CHECKING:
    from skiff.engine.containers.service import ContainerService

__all__ = ["ExecManager", "ExecRecord", "NoSuchExec"]

log = logging.getLogger("skiff.exec")

GC_INTERVAL = 300.0  # moby's execCommandGC: an ended exec is forgotten 5 to 10 minutes after its end


class NoSuchExec(NotFound):
    def __init__(self, eid: str) -> None:
        super().__init__(f"No such exec instance: {eid}")


@dataclass
class ExecRecord:
    id: str
    container_id: str
    cmd: list[str]
    env: list[str] = field(default_factory=list)
    user: str = ""
    working_dir: str = ""
    tty: bool = False
    privileged: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    detach_keys: str = ""
    console_size: tuple[int, int] = (0, 0)
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


class ExecManager:
    def __init__(self, svc: ContainerService) -> None:
        self.svc = svc
        self.store = ExecStore(svc.db)
        self.execs: dict[str, ExecRecord] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # reconcile's watchers, the GC (a task needs a reference)
        self._gc_marked: set[str] = set()
        self._load()
        svc.removal_hooks.append(self.forget_container)
        # container id -> (config.json's stat key, its "process"): parsed once, not at every exec
        self._procs: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}

    def create(self, ref: str, body: dict[str, Any]) -> str:
        rec = self.svc.get(ref)
        if rec.status == "paused":  # moby's getActiveContainer names it as the client did
            raise Conflict(f"Container {ref} is paused, unpause the container before exec")
        if rec.status == "restarting":
            raise Conflict(restarting_text(rec.id))
        if not rec.running:
            raise Conflict(f"container {rec.id} is not running")
        cmd = body.get("Cmd") or []
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd:
            raise InvalidParameter("No exec command specified")
        if body.get("DetachKeys"):
            parse_detach_keys(str(body["DetachKeys"]))
        cs = body.get("ConsoleSize") or (0, 0)
        eid = secrets.token_hex(32)
        e = ExecRecord(id=eid, container_id=rec.id, cmd=[str(c) for c in cmd], env=list(body.get("Env") or []),
                       user=str(body.get("User") or ""), working_dir=str(body.get("WorkingDir") or ""),
                       tty=bool(body.get("Tty")), privileged=bool(body.get("Privileged")),
                       attach_stdin=bool(body.get("AttachStdin")), attach_stdout=bool(body.get("AttachStdout")),
                       attach_stderr=bool(body.get("AttachStderr")), detach_keys=str(body.get("DetachKeys") or ""),
                       console_size=(int(cs[0] or 0), int(cs[1] or 0)))
        self.store.created(e)
        self.execs[eid] = e
        rec.exec_ids.append(eid)
        self.svc.publish(rec, "exec_create: " + " ".join(e.cmd), execID=eid)
        return eid

    def get(self, eid: str) -> ExecRecord:
        e = self.execs.get(eid)
        if e is None:
            raise NoSuchExec(eid)
        return e

    def _base_process(self, cid: str) -> dict[str, Any] | None:
        """The container's OCI process from the cache while config.json is unchanged (``docker
        update`` rewrites it), else None."""
        hit = self._procs.get(cid)
        if hit is None:
            return None
        try:
            st = os.stat(self.svc.rootfs_of(cid).parent / "config.json")
        except OSError:
            self._procs.pop(cid, None)
            return None
        return hit[1] if hit[0] == (st.st_ino, st.st_mtime_ns, st.st_size) else None

    def _process(self, e: ExecRecord, base: dict[str, Any] | None = None) -> dict[str, Any]:
        if base is None:
            with open(self.svc.rootfs_of(e.container_id).parent / "config.json", "rb") as f:
                st = os.fstat(f.fileno())
                base = json.loads(f.read())["process"]
            if len(self._procs) >= 1024:  # entries of removed containers go here at the latest
                self._procs.clear()
            self._procs[e.container_id] = ((st.st_ino, st.st_mtime_ns, st.st_size), base)
        return exec_process({"process": base}, e.cmd, env=e.env, user=e.user, working_dir=e.working_dir, tty=e.tty,
                            privileged=e.privileged, rootfs=str(self.svc.rootfs_of(e.container_id)))

    async def start(self, eid: str, client: ClientStream | None, *, detach: bool, tty: bool | None = None,
                    console_size: tuple[int, int] | None = None) -> None:
        e = self.get(eid)
        if e.started:
            raise Conflict(f"Error: Exec command {eid} has already run" if not e.running
                           else f"Error: Exec command {eid} is already running")
        rec = self.svc.get(e.container_id)
        if rec.status == "paused":
            raise Conflict(f"Container {rec.id} is paused, unpause the container before exec")
        if not rec.running:
            raise Conflict(f"container {rec.id} is not running")
        if tty is not None and tty != e.tty and not e.tty:
            e.tty = tty
        e.started = True
        base = self._base_process(rec.id)
        try:
            if base is not None and not e.user:  # no file to read: no thread hop (~1-4 ms under load)
                proc = self._process(e, base)
            else:
                proc = await asyncio.to_thread(self._process, e, base)
        except Exception:  # e.g. an unknown -u user: moby's default exit code for an exec that did not start
            e.exit_code = 126
            e.done.set()
            self._ended(e)
            raise
        mon = AsyncMonitorClient(str(self.svc.state_dir(rec.id) / "monitor.sock"))
        try:
            att = await mon.exec(eid, proc, stdin=e.attach_stdin and not detach, detach=detach,
                                 console_size=console_size or e.console_size)
        except Exception as exc:
            e.exit_code = 126 if "permission denied" in str(exc).lower() else 127 if (
                "not found" in str(exc).lower() or "no such file" in str(exc).lower()) else 126
            e.done.set()
            self._ended(e)
            msg = getattr(exc, "message", str(exc))
            raise Conflict(f"OCI runtime exec failed: {msg}: unknown") from None
        e.pid = att.pid
        e.running = True
        self.store.started(e)
        self.svc.publish(rec, "exec_start: " + " ".join(e.cmd), execID=eid)
        if detach:
            await att.close()
            asyncio.get_running_loop().create_task(self._watch_detached(e))
            return
        try:
            assert client is not None
            await relay(att, client, stdin=e.attach_stdin, detach_keys=parse_detach_keys(e.detach_keys))
        finally:
            self._finish(e, att.exit.exit_code if att.exit is not None else None)

    def _finish(self, e: ExecRecord, code: int | None, unknown: int | None = 137) -> None:
        """The exec ended with ``code``; None: its exit file's, else ``unknown``. Once only (the
        watcher and an inspect that found the exit file may both get here)."""
        if e.done.is_set():
            return
        if code is None:
            code = self._exit_file(e)
        e.running = False
        e.exit_code = code if code is not None else unknown
        e.done.set()
        self._ended(e)
        rec = self.svc._cache.get(e.container_id)
        if rec is not None:
            self.svc.publish(rec, "exec_die", execID=e.id, exitCode=str(e.exit_code))

    def _ended(self, e: ExecRecord) -> None:
        """Persist the end; the container's ExecIDs (moby's) list only execs not yet ended."""
        self.store.ended(e)
        rec = self.svc._cache.get(e.container_id)
        if rec is not None and e.id in rec.exec_ids:
            rec.exec_ids.remove(e.id)

    def _exit_file(self, e: ExecRecord) -> int | None:
        p = self.svc.state_dir(e.container_id) / f"exec-{e.id}.exit.json"
        try:
            with open(p) as f:
                return int(json.load(f).get("exit_code", 0))
        except (OSError, ValueError):
            return None

    async def _watch_detached(self, e: ExecRecord) -> None:
        """Learn a detached exec's exit from its monitor (``V``), as it happens."""
        mon = AsyncMonitorClient(str(self.svc.state_dir(e.container_id) / "monitor.sock"))
        try:
            st = await mon.wait_exec(e.id)
        except Conflict:  # a monitor older than ``V`` (started before an upgrade): poll
            await self._poll_detached(e)
            return
        self._finish(e, st.exit_code if st is not None else None)

    async def _poll_detached(self, e: ExecRecord) -> None:
        while True:
            code = self._exit_file(e)
            if code is not None:
                self._finish(e, code)
                return
            rec = self.svc._cache.get(e.container_id)
            if rec is None or not rec.running:
                self._finish(e, None)
                return
            if e.pid and not os.path.exists(f"/proc/{e.pid}"):
                await asyncio.sleep(0.2)
                self._finish(e, self._exit_file(e))
                return
            await asyncio.sleep(0.2)

    async def resize(self, eid: str, h: int, w: int) -> None:
        e = self.get(eid)
        if not e.running:
            # the CLI resizes right after start; a fast exec may be gone already
            return
        mon = AsyncMonitorClient(str(self.svc.state_dir(e.container_id) / "monitor.sock"))
        with contextlib.suppress(Exception):
            await mon.resize(h, w, exec_id=eid)

    def inspect(self, eid: str) -> dict[str, Any]:
        e = self.get(eid)
        if e.running and e.exit_code is None:
            code = self._exit_file(e)
            if code is not None:
                self._finish(e, code)
        return {
            "ID": e.id, "Running": e.running, "ExitCode": e.exit_code, "ProcessConfig": {
                "tty": e.tty, "entrypoint": e.cmd[0], "arguments": e.cmd[1:], "privileged": e.privileged,
                "user": e.user, "workingDir": e.working_dir},
            "OpenStdin": e.attach_stdin, "OpenStderr": e.attach_stderr, "OpenStdout": e.attach_stdout,
            "CanRemove": e.id in self._gc_marked, "ContainerID": e.container_id,  # moby: set by its exec GC
            "DetachKeys": e.detach_keys, "Pid": e.pid,  # moby keeps the pid after the exit
        }

    def forget_container(self, cid: str) -> None:
        """``docker rm``: the container's exec records go with it (then: "No such exec instance")."""
        for eid in [k for k, v in self.execs.items() if v.container_id == cid]:
            del self.execs[eid]
        self.store.forget_container(cid)
        self._procs.pop(cid, None)

    # ---- daemon restart ----------------------------------------------------------------------------
    def _load(self) -> None:
        """The records of the last run. Those of containers removed meanwhile (a crash between the
        container's delete and theirs) go now; ExecIDs are rebuilt from the execs not yet ended."""
        gone: list[str] = []
        live: dict[str, list[str]] = {}
        for s in self.store.load():
            if s.container_id not in self.svc._cache:
                gone.append(s.id)
                continue
            e = self.execs[s.id] = s.record()
            if not e.done.is_set():
                live.setdefault(e.container_id, []).append(e.id)
        if gone:
            self.store.forget(gone)
        for rec in self.svc.records():
            rec.exec_ids = live.get(rec.id, [])

    async def reconcile(self) -> None:
        """Learn how the execs that were running when skiffd stopped (or died) ended.

        The monitor outlives the daemon and writes every exec's exit to ``exec-<id>.exit.json``,
        also when the exec ends while skiffd is down or with its container: that file gives the
        real exit code. An exec the monitor still runs is watched again (``V``), as after a
        detached start. When neither knows it (the monitor was killed, or the machine rebooted),
        the exit cannot be learned: the exec is reported ended (Running false) with ExitCode
        null, moby's value for "no exit code", rather than a made-up one. A record whose start
        was not yet written counts as started if the monitor or an exit file knows the exec.
        """
        for e in list(self.execs.values()):
            if e.done.is_set():
                continue
            code = self._exit_file(e)
            if code is not None:
                e.started = e.running = True
                self._finish(e, code)
                continue
            rec = self.svc._cache.get(e.container_id)
            mon = AsyncMonitorClient(str(self.svc.state_dir(e.container_id) / "monitor.sock"))
            if not e.started:
                if rec is None or not rec.running:
                    continue  # created, never started: stays so (start says the container is not running)
                try:
                    st = await mon.status(e.id)
                except Exception:  # the monitor does not know it: never started
                    continue
                e.started = e.running = True
                e.pid = int(st.get("pid") or 0)
                self.store.started(e)
            e.running = True
            task = asyncio.get_running_loop().create_task(self._rewatch(e, mon))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        gc = asyncio.get_running_loop().create_task(self._gc_loop())
        self._tasks.add(gc)
        gc.add_done_callback(self._tasks.discard)

    async def _gc_loop(self) -> None:
        while True:
            await asyncio.sleep(GC_INTERVAL)
            try:
                self.gc()
            except Exception as exc:  # the next pass retries
                log.warning("exec records GC: %s", exc)

    def gc(self) -> None:
        """moby's execCommandGC, so that the table stays bounded for a long-lived container: the
        execs that had ended at the previous pass go (one statement); those ended now are marked."""
        gone = [eid for eid in self._gc_marked if eid in self.execs and self.execs[eid].done.is_set()]
        for eid in gone:
            e = self.execs.pop(eid)
            with contextlib.suppress(OSError):  # its exit is in the table: the monitor's file is not needed
                os.unlink(self.svc.state_dir(e.container_id) / f"exec-{eid}.exit.json")
        if gone:
            self.store.forget(gone)
        self._gc_marked = {eid for eid, e in self.execs.items() if e.done.is_set()}

    async def _rewatch(self, e: ExecRecord, mon: AsyncMonitorClient) -> None:
        try:
            st = await mon.wait_exec(e.id)
        except Conflict:  # the monitor runs but cannot wait for it: an older one (no ``V``) polls
            try:
                await mon.status(e.id)
            except Exception:  # ... or it has no such exec and left no exit file: unknown
                self._finish(e, None, unknown=None)
                return
            await self._poll_detached(e)
            return
        self._finish(e, st.exit_code if st is not None else None, unknown=None)
