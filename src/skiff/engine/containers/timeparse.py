"""Docker's timestamps in filters and query parameters: unix seconds (fractional), RFC 3339, or a
duration before now (``10m``, ``1h30m``)."""

from __future__ import annotations

import re
import time
from datetime import datetime

from skiff.errors import InvalidParameter

__all__ = ["parse_timestamp"]

_DUR = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
         "h": 3_600_000_000_000}


def parse_timestamp(value: str) -> int:
    """-> nanoseconds since the epoch."""
    v = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", v):
        sec, _, frac = v.partition(".")
        return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
    if _DUR.fullmatch(v) or re.fullmatch(rf"(?:{_DUR.pattern})+", v):
        total = sum(int(float(n) * _UNIT[u]) for n, u in _DUR.findall(v))
        return time.time_ns() - total
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(f"failed to parse value as time or duration: \"{value}\"") from None
    return int(dt.timestamp() * 1_000_000_000)
