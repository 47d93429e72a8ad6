"""Human units as docker's CLI prints them (go-units), and docker's client-side time parsing.

- ``human_size``: decimal (kB, MB) with 4 significant digits, ``HumanSizeWithPrecision``.
- ``bytes_size``: binary (KiB, MiB) as in ``docker info``'s Total Memory.
- ``human_duration``: "Less than a second", "About a minute", "3 hours" ... (ps, images).
- ``get_timestamp``: --since/--until values -> "secs.nanos" as the daemon expects
  (Unix time, RFC 3339 date/time, or a Go duration meaning that long ago).
"""

from __future__ import annotations

import re
import time
from datetime import datetime

__all__ = ["human_size", "bytes_size", "human_duration", "get_timestamp", "parse_go_duration",
           "rfc3339_nano_fixed"]

_DEC = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BIN = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _g(value: float, precision: int) -> str:
    s = f"{value:.{precision}g}"
    if "e" in s:  # Go's %g also switches to exponents, but sizes never get there with units
        s = f"{value:.{precision}f}".rstrip("0").rstrip(".")
    return s


def _scaled(size: float, base: float, units: tuple[str, ...], precision: int) -> str:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return f"{_g(size, precision)}{units[i]}"


def human_size(size: float, precision: int = 4) -> str:
    return _scaled(float(size), 1000.0, _DEC, precision)


def bytes_size(size: float) -> str:
    return _scaled(float(size), 1024.0, _BIN, 4)


def human_duration(seconds: float) -> str:
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


_DUR = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(value: str) -> float | None:
    """Go's time.ParseDuration ("1h30m", "300ms", "-5s") in seconds; None if not a duration."""
    v = value.strip()
    sign = 1.0
    if v[:1] in "+-":
        sign = -1.0 if v[0] == "-" else 1.0
        v = v[1:]
    if v == "0":
        return 0.0
    pos = 0
    total = 0.0
    for m in _DUR.finditer(v):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _DUR_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(v) or pos == 0:
        return None
    return sign * total


_LAYOUTS = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H%z",
            "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H",
            "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def get_timestamp(value: str, now: float | None = None) -> str:
    """docker's timetypes.GetTimestamp: the value as "seconds.nanoseconds" (or as given)."""
    v = value.strip()
    base = time.time() if now is None else now
    d = parse_go_duration(v)
    if d is not None and not re.fullmatch(r"\d+", v):
        return str(int(base - d))  # docker truncates "10m ago" to whole seconds
    if re.fullmatch(r"\d+(\.\d{1,9})?", v):
        return v
    text = v.replace("Z", "+0000")
    text = re.sub(r"([+-]\d\d):(\d\d)$", r"\1\2", text)
    for layout in _LAYOUTS:
        try:
            dt = datetime.strptime(text, layout)
        except ValueError:
            continue
        if dt.tzinfo is None:
            dt = dt.astimezone()  # no zone given: local time, as docker parses it
        ts = dt.timestamp()
        secs = int(ts)
        return f"{secs}.{round((ts - secs) * 1e9):09d}"
    raise ValueError(f"failed to parse value as time or duration: \"{value}\"")


def rfc3339_nano_fixed(ns: int) -> str:
    """Go's RFC3339NanoFixed in local time ("2006-01-02T15:04:05.000000000Z07:00")."""
    secs, frac = divmod(ns, 1_000_000_000)
    dt = datetime.fromtimestamp(secs).astimezone()
    off = dt.utcoffset()
    minutes = int(off.total_seconds() // 60) if off is not None else 0
    zone = "Z" if minutes == 0 else f"{'+' if minutes > 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}" + zone
