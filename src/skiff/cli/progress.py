"""Render Docker's JSON progress stream as docker does (jsonmessage.DisplayJSONMessagesStream).

On a terminal each layer id owns a line that is rewritten in place (cursor up, clear line,
rewrite, cursor down) with a progress bar; elsewhere only status lines are printed and progress
updates are skipped. ``aux`` messages go to a callback (build's image id, push's digest). An
``errorDetail`` ends the display with ``ProgressError`` (the command exits 1 with its text).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from skiff.cli.units import human_size, rfc3339_nano_fixed
from skiff.errors import SkiffError

__all__ = ["ProgressError", "display_stream", "progress_string"]


class ProgressError(SkiffError):
    """An error reported inside a progress stream (``errorDetail``)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def _width(out: IO[str]) -> int:
    try:
        return os.get_terminal_size(out.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 200


def progress_string(detail: Mapping[str, Any], width: int = 200, now: float | None = None) -> str:
    """docker's JSONProgress.String(): ``[===>   ] 1.2MB/3.4MB 2s``."""
    current = int(detail.get("current") or 0)
    total = int(detail.get("total") or 0)
    units = detail.get("units") or ""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}" if not units else f"{current} {units}"
    pct = min(int(current / total * 100) // 2, 50)
    bar = ""
    if width > 110:
        bar = "[" + "=" * pct + ">" + " " * max(50 - pct, 0) + "] "
    if detail.get("hidecounts"):
        numbers = ""
    elif not units:
        numbers = f"{human_size(current):>8}/{human_size(total)}"
        if current > total:
            numbers = f"{human_size(current):>8}"
    else:
        numbers = f"{current}/{total} {units}"
    left = ""
    start = int(detail.get("start") or 0)
    if current > 0 and start > 0 and pct < 50 and width > 50:
        import time

        elapsed = (time.time() if now is None else now) - start
        secs = int(elapsed / current * (total - current))
        h, rem = divmod(secs, 3600)
        m, s = divmod(rem, 60)
        left = " " + (f"{h}h{m}m{s}s" if h else f"{m}m{s}s" if m else f"{s}s")
    return bar + numbers + left


def _display(jm: Mapping[str, Any], out: IO[str], tty: bool, width: int) -> None:
    err = jm.get("errorDetail")
    if err or jm.get("error"):
        message = (err or {}).get("message") or jm.get("error") or "unknown error"
        code = int((err or {}).get("code") or 0)
        if code == 401:
            raise ProgressError("authentication is required", code)
        raise ProgressError(message, code)
    detail = jm.get("progressDetail")
    stream = jm.get("stream") or ""
    endl = ""
    bar = progress_string(detail, width) if detail is not None else ""
    if tty and not stream and detail is not None:
        out.write("\x1b[2K\r")
        endl = "\r"
    elif detail is not None and bar:
        return  # no progress bars when not on a terminal
    if jm.get("timeNano"):
        out.write(rfc3339_nano_fixed(int(jm["timeNano"])) + " ")
    elif jm.get("time"):
        out.write(rfc3339_nano_fixed(int(jm["time"]) * 1_000_000_000) + " ")
    if jm.get("id"):
        out.write(f"{jm['id']}: ")
    if jm.get("from"):
        out.write(f"(from {jm['from']}) ")
    status = jm.get("status") or ""
    if detail is not None and tty:
        out.write(f"{status} {bar}{endl}")
    elif jm.get("progress"):
        out.write(f"{status} {jm['progress']}{endl}")
    elif stream:
        out.write(f"{stream}{endl}")
    else:
        out.write(f"{status}{endl}\n")


def display_stream(messages: Iterable[Mapping[str, Any]], out: IO[str], is_tty: bool | None = None,
                   aux: Callable[[Mapping[str, Any]], None] | None = None) -> None:
    """Show a progress stream; raises ProgressError at the first in-band error."""
    tty = out.isatty() if is_tty is None else is_tty
    width = _width(out) if tty else 200
    ids: dict[str, int] = {}
    for jm in messages:
        if jm.get("aux") is not None:
            if aux is not None:
                aux(jm)
            continue
        diff = 0
        jid = jm.get("id") or ""
        if jid and (jm.get("progressDetail") is not None or jm.get("progress")):
            line = ids.get(jid)
            if line is None:
                line = len(ids)
                ids[jid] = line
                if tty:
                    out.write("\n")
            diff = len(ids) - line
            if tty and diff > 0:
                out.write(f"\x1b[{diff}A")
        else:
            ids = {}
        try:
            _display(jm, out, tty, width)
        finally:
            if jid and tty and diff > 0:
                out.write(f"\x1b[{diff}B")
            out.flush()
