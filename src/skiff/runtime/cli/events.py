"""``events [--stats] [--interval 5s] ID``: container stats and OOM notices as JSON lines.

Shape as runc's types/events.go: ``{"type": "stats", "id": ..., "data": {cpu, memory, pids, blkio,
hugetlb}}`` and ``{"type": "oom", "id": ...}``. ``--stats`` prints one stats event and exits;
otherwise stats go out every interval and OOM kills are reported as they are seen (the OOM kill
counter is polled every 200ms, which works the same on v1 and v2), until the container stops.
"""

from __future__ import annotations

import json
import re
import sys
import time

TYPE_CHECKING = False  # typing's costs ~5 ms at start
if TYPE_CHECKING:
    from typing import Any

USAGE = """usage: skiff-runtime events [command options] <container-id>

The events command displays information about the container. By default the information is
displayed once every 5 seconds.

options:
   --interval value  set the stats collection interval (default: 5s)
   --stats           display the container's stats then exit
"""

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_SCALE = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration for the forms people type: "5s", "100ms", "1m30s"."""
    from skiff.runtime.errors import InvalidConfig

    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidConfig(f'invalid value "{text}" for flag -interval: parse error')
    secs = sum(float(n) * _SCALE[u] for n, u in parts)
    if secs <= 0:
        raise InvalidConfig("duration interval must be greater than 0")
    return secs


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def run(g: Any, argv: list[str]) -> int:
    from skiff.runtime.cli.args import Opt, parse
    from skiff.runtime.cli.common import load_container
    from skiff.runtime.cli.update import cgroup_of
    from skiff.runtime.container import Status
    from skiff.runtime.errors import InvalidState

    opts, rest = parse(argv, {"stats": Opt("stats"), "interval": Opt("interval", "value")})
    interval = parse_duration(str(opts["interval"])) if opts["interval"] is not None else 5.0
    c = load_container(g.root, rest, USAGE)
    if c.status() == Status.STOPPED:
        raise InvalidState(f"container with id {c.id} is not running")
    mgr = cgroup_of(c)
    if opts["stats"]:
        _emit({"type": "stats", "id": c.id, "data": mgr.stats().to_runc_json()})
        return 0
    ooms = mgr.oom_kill_count()
    next_stats = time.monotonic()
    try:
        while c.status() != Status.STOPPED and mgr.exists():
            now = time.monotonic()
            count = mgr.oom_kill_count()
            for _ in range(count - ooms):
                _emit({"type": "oom", "id": c.id})
            ooms = max(ooms, count)
            if now >= next_stats:
                _emit({"type": "stats", "id": c.id, "data": mgr.stats().to_runc_json()})
                next_stats = now + interval
            time.sleep(min(0.2, max(0.0, next_stats - time.monotonic())))
    except BrokenPipeError:
        return 0
    except Exception:
        # the container went away between two reads: that ends the stream
        if c.status() != Status.STOPPED:
            raise
    return 0
