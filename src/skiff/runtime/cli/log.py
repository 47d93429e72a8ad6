"""Error and warning output like runc: the message on stderr, and with ``--log`` a line in that
file (``--log-format json``: {"level":"error","msg":...,"time":...}, else logfmt text)."""

from __future__ import annotations

import os
import time

from skiff.runtime import fastjson

__all__ = ["configure", "error", "warning", "debug"]

_path = ""
_fmt = "text"
_debug = False


def configure(path: str, fmt: str, debug_on: bool) -> None:
    global _path, _fmt, _debug
    _path, _fmt, _debug = path, fmt, debug_on


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _write(level: str, msg: str) -> None:
    if not _path:
        return
    if _fmt == "json":
        line = fastjson.dumps({"level": level, "msg": msg, "time": _now()})
    else:
        line = f'time="{_now()}" level={level} msg={fastjson.dumps(msg)}'
    try:
        fd = os.open(_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def error(msg: str) -> None:
    _write("error", msg)
    os.write(2, f"skiff-runtime: {msg}\n".encode())


def warning(msg: str) -> None:
    _write("warning", msg)
    os.write(2, f"skiff-runtime: warning: {msg}\n".encode())


def debug(msg: str) -> None:
    if _debug:
        _write("debug", msg)
        if not _path:
            os.write(2, f"skiff-runtime: debug: {msg}\n".encode())
