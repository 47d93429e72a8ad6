"""Healthchecks (moby daemon/health.go): run the probe as an exec every Interval, Timeout per probe,
failures during StartPeriod do not count, Retries consecutive failures make it unhealthy. The
last 5 results are kept in State.Health.Log; a change of status publishes ``health_status: x``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from skiff.engine.containers.record import ContainerRecord
from skiff.engine.containers.spec import exec_process
from skiff.engine.system import rfc3339_nano
from skiff.monitor.aclient import AsyncMonitorClient

if TYPE_CHECKING:
    from skiff.engine.containers.service import ContainerService

__all__ = ["Health"]

log = logging.getLogger("skiff.containers")

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
MAX_LOG = 5
MAX_OUTPUT = 4096


class Health:
    """Mixed into the container service (uses its records, monitor paths and events)."""

    _health_tasks: dict[str, asyncio.Task[None]]

    def _start_health(self, rec: ContainerRecord) -> None:
        svc: ContainerService = self  # type: ignore[assignment]
        hc = rec.config.get("Healthcheck") or {}
        test = list(hc.get("Test") or [])
        if not test or test[0] == "NONE" or rec.health is None:
            return
        old = self._health_tasks.pop(rec.id, None)
        if old is not None:
            old.cancel()
        self._health_tasks[rec.id] = asyncio.get_running_loop().create_task(self._health_loop(svc, rec.id, hc))

    async def _health_loop(self, svc: ContainerService, cid: str, hc: dict[str, Any]) -> None:
        interval = (hc.get("Interval") or 0) / 1e9 or DEFAULT_INTERVAL
        timeout = (hc.get("Timeout") or 0) / 1e9 or DEFAULT_TIMEOUT
        start_period = (hc.get("StartPeriod") or 0) / 1e9
        start_interval = (hc.get("StartInterval") or 0) / 1e9 or interval
        retries = int(hc.get("Retries") or 0) or DEFAULT_RETRIES
        test = list(hc["Test"])
        cmd = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", " ".join(test[1:])] if test[0] == "CMD-SHELL" else test
        while True:
            rec = svc._cache.get(cid)
            if rec is None or rec.status not in ("running", "paused"):
                return
            in_start = (time.time_ns() - rec.started_ns) / 1e9 < start_period
            await asyncio.sleep(start_interval if in_start and rec.health and rec.health.status == "starting"
                                else interval)
            rec = svc._cache.get(cid)
            if rec is None or rec.status != "running" or rec.health is None:
                if rec is not None and rec.status == "paused":
                    continue
                return
            started = time.time_ns()
            code, output = await self._probe(svc, rec, cmd, timeout)
            ended = time.time_ns()
            rec = svc._cache.get(cid)
            if rec is None or rec.health is None:
                return
            h = rec.health
            h.log.append({"Start": rfc3339_nano(started), "End": rfc3339_nano(ended), "ExitCode": code,
                          "Output": output})
            del h.log[:-MAX_LOG]
            old = h.status
            in_start = (started - rec.started_ns) / 1e9 < start_period
            if code == 0:
                h.failing_streak = 0
                h.status = "healthy"
            elif not in_start or h.status != "starting":
                h.failing_streak += 1
                if h.failing_streak >= retries:
                    h.status = "unhealthy"
            svc.save(rec)
            if h.status != old:
                svc.publish(rec, f"health_status: {h.status}")

    async def _probe(self, svc: ContainerService, rec: ContainerRecord, cmd: list[str],
                     timeout: float) -> tuple[int, str]:
        eid = "health-" + secrets.token_hex(8)
        try:
            with open(svc.rootfs_of(rec.id).parent / "config.json") as f:
                spec = json.load(f)
            proc = exec_process(spec, cmd)
            mon = AsyncMonitorClient(str(svc.state_dir(rec.id) / "monitor.sock"))
            att = await mon.exec(eid, proc)
        except Exception as e:
            return -1, f"OCI runtime exec failed: {getattr(e, 'message', e)}"
        out = bytearray()

        async def collect() -> None:
            while True:
                item = await att.read()
                if item is None:
                    return
                if len(out) < MAX_OUTPUT:
                    out.extend(item[1][:MAX_OUTPUT - len(out)])
        try:
            await asyncio.wait_for(collect(), timeout)
        except TimeoutError:
            with contextlib.suppress(Exception):
                await mon.signal(9, exec_id=eid)
            await att.close()
            return -1, f"Health check exceeded timeout ({timeout:g}s)"
        await att.close()
        code = att.exit.exit_code if att.exit is not None else -1
        return code, out.decode(errors="replace")
