"""The system routes over a real server: live events delivered while the stream is open."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from aiohttp import web

from skiff.api import routes as api_routes
from skiff.api.backends import EventsBackend, Services, SystemBackend
from skiff.api.server import make_app, setup_runner
from skiff.client import system
from skiff.client.api import APIClient
from skiff.engine.config import load_config
from skiff.engine.events import EventBus
from skiff.engine.system import SystemService


def test_live_events_and_info(tmp_path: Path) -> None:
    async def main() -> None:
        cfg = load_config({"data-root": str(tmp_path / "data"), "exec-root": str(tmp_path / "exec")})
        bus = EventBus()
        bus.bind_loop(asyncio.get_running_loop())
        svc = SystemService(cfg, bus)

        class Counts:
            def info_fields(self) -> dict[str, int]:
                return {"Containers": 3, "ContainersRunning": 1}

        svc.add_info_source(Counts())
        services = Services()
        sb: SystemBackend = svc
        eb: EventsBackend = bus
        services.provide(SystemBackend, sb)
        services.provide(EventsBackend, eb)
        routes = api_routes.collect(services, ("system", "swarm", "plugins", "nonexistent"))
        sockdir = Path(tempfile.mkdtemp(prefix="sks", dir="/tmp"))
        runner = await setup_runner(make_app(routes))
        await web.UnixSite(runner, str(sockdir / "s")).start()
        try:
            c = APIClient(f"unix://{sockdir / 's'}")

            def read_events() -> list[dict[str, object]]:
                now = time.time()
                return list(system.events(c, since=f"{now - 5:.3f}", until=f"{now + 1.5:.3f}",
                                          filters={"type": ["container"]}))

            reader = asyncio.create_task(asyncio.to_thread(read_events))
            await asyncio.sleep(0.5)
            bus.publish("volume", "create", "v1")
            bus.publish("container", "die", "c1", {"exitCode": "0", "name": "web"})
            got = await reader
            assert [(e["Action"], e["Actor"]["Attributes"]["exitCode"]) for e in got] == [("die", "0")]  # type: ignore[index]
            info = await asyncio.to_thread(system.info, c)
            assert info["Containers"] == 3 and info["ContainersRunning"] == 1
            assert info["NEventsListener"] == 0
            df = await asyncio.to_thread(system.df, c, ["image"])
            assert "Images" in df and "Volumes" not in df
        finally:
            await runner.cleanup()
            (sockdir / "s").unlink(missing_ok=True)
            sockdir.rmdir()

    asyncio.run(main())
