"""A container's stdio for clients: attach (relay between a client stream and the monitor) and logs.

The API hands in a :class:`ClientStream` (its hijacked connection); nothing here knows HTTP.
Attach before start (``docker run``): the session registers with the lifecycle and is connected to
the monitor after ``<runtime> create`` and before ``start``, so no output is missed. Detach keys
(default ctrl-p ctrl-q) are watched in the client's input; on a match the session ends and the
container keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from skiff.errors import Conflict, InvalidParameter
from skiff.monitor.aclient import AsyncAttachment, AsyncMonitorClient
from skiff.monitor.logreader import LogEntry, LogFile

if TYPE_CHECKING:
    from skiff.engine.containers.service import ContainerService

__all__ = ["ClientStream", "parse_detach_keys", "check_attach", "attach", "relay", "log_entries", "DEFAULT_DETACH_KEYS"]

log = logging.getLogger("skiff.containers")

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q


class ClientStream(Protocol):
    async def read(self, n: int = 65536) -> bytes: ...

    async def write(self, data: bytes, stream: int = 1) -> None: ...


def parse_detach_keys(spec: str) -> bytes:
    """docker's ``--detach-keys`` syntax: ``ctrl-p,ctrl-q``, letters, ``ctrl-@``, ``ctrl-[`` ..."""
    if not spec:
        return DEFAULT_DETACH_KEYS
    out = bytearray()
    for part in spec.split(","):
        p = part.strip()
        if len(p) == 1:
            out.append(ord(p))
        elif p.lower().startswith("ctrl-") and len(p) == 6:
            c = p[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[c])
            else:
                raise InvalidParameter(f"Invalid escape keys ({spec}) provided")
        else:
            raise InvalidParameter(f"Invalid escape keys ({spec}) provided")
    return bytes(out)


class _Detached(Exception):
    pass


async def relay(att: AsyncAttachment, client: ClientStream, *, stdin: bool, detach_keys: bytes | None,
                on_stdin_eof: bool = True) -> bool:
    """Pump monitor output to the client and client input to the monitor until the output ends,
    the client goes away or it types the detach keys. Returns True when detached."""
    detached = asyncio.Event()

    async def pump_out() -> None:
        while True:
            item = await att.read()
            if item is None:
                return
            await client.write(item[1], item[0])

    async def pump_in() -> None:
        matched = 0
        held = bytearray()
        while True:
            data = await client.read()
            if not data:
                if on_stdin_eof:
                    with contextlib.suppress(Exception):
                        await att.close_stdin()
                return
            if detach_keys:
                out = bytearray()
                for b in data:
                    if b == detach_keys[matched]:
                        matched += 1
                        held.append(b)
                        if matched == len(detach_keys):
                            detached.set()
                            return
                    else:
                        out += held
                        held.clear()
                        matched = 0
                        if b == detach_keys[0]:
                            matched = 1
                            held.append(b)
                        else:
                            out.append(b)
                data = bytes(out)
            if data:
                await att.write(data)

    out_task = asyncio.ensure_future(pump_out())
    in_task = asyncio.ensure_future(pump_in()) if stdin else None
    waiters: set[asyncio.Future[object]] = {out_task}  # type: ignore[arg-type]
    det = asyncio.ensure_future(detached.wait())
    waiters.add(det)  # type: ignore[arg-type]
    try:
        while True:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if det in done:
                return True
            if out_task in done:
                with contextlib.suppress(Exception):
                    out_task.result()
                return False
            if in_task is not None and in_task in done:
                # stdin ended (or the client is gone): keep relaying output
                exc = in_task.exception()
                if exc is not None:
                    return False
                in_task = None
    finally:
        det.cancel()
        for t in (out_task, in_task):
            if t is not None and not t.done():
                t.cancel()
        await att.close()


async def _ack(att: AsyncAttachment) -> None:
    """Make sure the monitor has processed our attach request (a query on the same connection)."""
    c = att._c
    await c.send(b"Q", {"exec": ""})
    while True:
        msg = await c.recv()
        if msg is None or msg[0] in (b"T", b"E"):
            return


def check_attach(svc: ContainerService, ref: str, detach_keys: str = "") -> None:
    """What moby's ContainerAttach refuses before it takes the connection (so as an HTTP status):
    bad detach keys, no such container, a paused or restarting one. A created or exited
    container is no error: the session waits for its start, as ``docker start -a`` needs."""
    try:
        parse_detach_keys(detach_keys)
    except InvalidParameter:
        raise InvalidParameter(f"Invalid detach keys ({detach_keys}) provided") from None
    rec = svc.get(ref)
    if rec.status == "paused":
        raise Conflict(f"container {ref} is paused, unpause the container before attach")
    if rec.status == "restarting":
        raise Conflict(f"container {ref} is restarting, wait until the container is running")


async def attach(svc: ContainerService, ref: str, client: ClientStream, *, stdin: bool, stdout: bool,
                 stderr: bool, stream: bool, logs: bool, detach_keys: str = "") -> None:
    rec = svc.get(ref)
    keys = parse_detach_keys(detach_keys)
    tty = bool(rec.config.get("Tty"))
    if logs and rec.log_driver in ("json-file", "local"):
        async for e in log_entries(svc, rec.id, follow=False, tail=-1):
            if (e.stream == 1 and stdout) or (e.stream == 2 and stderr):
                await client.write(e.data, 1 if tty else e.stream)
    if not stream:
        return
    if rec.status == "paused":
        raise Conflict("You cannot attach to a paused container, unpause it first")
    att: AsyncAttachment | None = None
    if rec.running:
        att = await AsyncMonitorClient(str(svc.state_dir(rec.id) / "monitor.sock")).attach(stdin, stdout, stderr)
        svc.publish(rec, "attach")
    else:
        ready: asyncio.Future[AsyncAttachment] = asyncio.get_running_loop().create_future()

        async def connect(sock: str) -> None:
            a = await AsyncMonitorClient(sock).attach(stdin, stdout, stderr)
            await _ack(a)
            if not ready.done():
                ready.set_result(a)
            else:
                await a.close()

        undo = svc.add_pending_attach(rec.id, connect)
        svc.publish(rec, "attach")  # moby publishes it when the attach is taken, before the start
        removed = svc.wait_future(rec.id, "removed")
        try:
            rm_task: asyncio.Future[Any] = asyncio.ensure_future(removed)
            waiting: set[asyncio.Future[Any]] = {ready, rm_task}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            rm_task.cancel()
        finally:
            undo()
        if ready not in done:
            return
        att = ready.result()
    detached = await relay(att, client, stdin=stdin, detach_keys=keys)
    if detached:
        svc.publish(rec, "detach")


async def log_entries(svc: ContainerService, ref: str, *, follow: bool, tail: int = -1, since_ns: int = 0,
                      until_ns: int = 0) -> AsyncIterator[LogEntry]:
    rec = svc.get(ref)
    if rec.log_driver not in ("json-file", "local"):
        raise InvalidParameter("configured logging driver does not support reading")
    path = rec.log_path
    try:
        lf = await asyncio.to_thread(LogFile, path, rec.log_driver)
    except FileNotFoundError:
        if not follow:
            return
        lf = None
    try:
        if lf is not None:
            it = lf.entries(tail, since_ns, until_ns)
            while True:
                batch = await asyncio.to_thread(lambda: list(itertools.islice(it, 2000)))
                if not batch:
                    break
                for e in batch:
                    yield e
        if not follow:
            return
        if lf is None:
            while True:
                await asyncio.sleep(0.1)
                r = svc._cache.get(rec.id)
                try:
                    lf = await asyncio.to_thread(LogFile, path, rec.log_driver)
                    break
                except FileNotFoundError:
                    if r is None or not (r.running or r.status in ("restarting", "created")):
                        return
        fol = lf.follower()
        try:
            while True:
                entries = await asyncio.to_thread(fol.poll)
                for e in entries:
                    if until_ns and e.time_ns > until_ns:
                        return
                    if since_ns and e.time_ns < since_ns:
                        continue
                    yield e
                if entries:
                    continue
                r = svc._cache.get(rec.id)
                if r is None or not (r.running or r.status == "restarting"):
                    for e in await asyncio.to_thread(fol.poll):
                        yield e
                    return
                if until_ns and until_ns < time.time_ns():
                    return
                await asyncio.sleep(0.1)
        finally:
            fol.close()
    finally:
        if lf is not None:
            lf.close()
