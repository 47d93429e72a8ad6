"""Log drivers the monitor writes with: ``json-file`` (Docker's exact format), ``local`` and ``none``.

json-file writes one line per message, exactly as dockerd does::

    {"log":"hello\\n","stream":"stdout","time":"2026-11-22T16:37:29.123456789Z"}

Lines longer than 16 KiB are cut into partial messages (no trailing ``\\n``), as Docker's copier does.
Rotation follows Docker's ``max-size``/``max-file`` options. **Default: no rotation** (Docker's
json-file default, logs grow without bound) unless the daemon passes default options; ``local``
rotates by default at 20 MiB x 5 files, like Docker's ``local`` (we do not compress rotated files).

``local`` is our own compact binary format; each record is::

    [u32 n][u64 time_ns][u8 stream 1|2][u8 flags: 1=partial][payload: n-10 bytes][u32 n]

Length at both ends lets a reader walk backwards for ``tail`` without reading the whole file.

Writers write straight to the file (no user-space buffer) so the monitor's memory does not grow
with a fast writer; the OS page cache does the buffering.
"""

from __future__ import annotations

import os
import struct
import time
from typing import Protocol

from skiff.monitor.protocol import LogConfig

__all__ = [
    "LogWriter", "JsonFileWriter", "LocalWriter", "NullWriter", "LogSink", "open_writer",
    "encode_json_line", "format_time", "MAX_LINE", "LOCAL_HEADER", "parse_size", "validate_log_config", "encode_attrs", "log_attrs",
]

MAX_LINE = 16 * 1024
LOCAL_HEADER = struct.Struct("<IQBB")
LOCAL_TRAILER = struct.Struct("<I")

_ESC = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESC.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"', ord("\\"): "\\\\",
             ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
             0x2028: "\\u2028", 0x2029: "\\u2029", 0xFFFD: "\\ufffd"})
_ESC_KEEP_NL = dict(_ESC)
del _ESC_KEEP_NL[ord("\n")]
_STREAM = {1: "stdout", 2: "stderr"}


def format_time(ns: int, fixed: bool = False) -> str:
    """Go's RFC3339Nano in UTC (trailing zeros trimmed); ``fixed`` keeps 9 digits (docker logs -t)."""
    sec, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    if fixed:
        return f"{base}.{frac:09d}Z"
    if frac == 0:
        return base + "Z"
    return f"{base}.{f'{frac:09d}'.rstrip('0')}Z"


def encode_json_line(stream: int, data: bytes, ns: int, attrs: str = "") -> bytes:
    """One json-file line, escaped as Docker's jsonlog does (HTML-safe, invalid UTF-8 -> U+FFFD).

    ``attrs`` is the pre-encoded ``,"attrs":{...}`` member (see :func:`encode_attrs`) or "".
    """
    text = data.decode("utf-8", "replace").translate(_ESC)
    return f'{{"log":"{text}","stream":"{_STREAM[stream]}"{attrs},"time":"{format_time(ns)}"}}\n'.encode()


def encode_attrs(attrs: tuple[tuple[str, str], ...]) -> str:
    """The json-file ``attrs`` member for ``docker logs --details`` ("" when there are none)."""
    if not attrs:
        return ""
    body = ",".join(f'"{k.translate(_ESC)}":"{v.translate(_ESC)}"' for k, v in sorted(attrs))
    return f',"attrs":{{{body}}}'


def log_attrs(cfg: LogConfig, labels: dict[str, str], env: list[str]) -> tuple[tuple[str, str], ...]:
    """Docker's ExtraAttributes: the container labels and env vars named by the ``labels``,
    ``labels-regex``, ``env`` and ``env-regex`` log options, recorded with every json-file line."""
    import re

    out: dict[str, str] = {}
    want = [x for x in cfg.opt("labels").split(",") if x]
    for k in want:
        if k in labels:
            out[k] = labels[k]
    if cfg.opt("labels-regex"):
        rx = re.compile(cfg.opt("labels-regex"))
        out.update({k: v for k, v in labels.items() if rx.match(k)})
    envmap = dict(e.split("=", 1) for e in env if "=" in e)
    for k in [x for x in cfg.opt("env").split(",") if x]:
        if k in envmap:
            out[k] = envmap[k]
    if cfg.opt("env-regex"):
        rx = re.compile(cfg.opt("env-regex"))
        out.update({k: v for k, v in envmap.items() if rx.match(k)})
    return tuple(sorted(out.items()))


def parse_size(text: str) -> int:
    """Docker's FromHumanSize/RAMInBytes for log opts: ``10m``, ``1g``, ``512k``, plain bytes."""
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get(t[-1:], 1)
    return int(float(t[:-1] if mult > 1 else t) * mult)


class LogWriter(Protocol):
    def write(self, stream: int, data: bytes, ns: int, partial: bool) -> None: ...

    def write_lines(self, stream: int, block: bytes, ns: int) -> None:
        """``block`` is whole lines, each ending in ``\\n`` and at most MAX_LINE long."""

    def close(self) -> None: ...


class NullWriter:
    """The ``none`` driver."""

    def write(self, stream: int, data: bytes, ns: int, partial: bool) -> None:
        return None

    def write_lines(self, stream: int, block: bytes, ns: int) -> None:
        return None

    def close(self) -> None:
        return None


class _RotatingFile:
    """An append-only file rotated Docker's way: name -> name.1 -> ... -> name.(max_file-1)."""

    def __init__(self, path: str, max_size: int, max_file: int) -> None:
        self.path, self.max_size, self.max_file = path, max_size, max(1, max_file)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size

    def append(self, data: bytes) -> None:
        if self.max_size > 0 and self.size >= self.max_size:
            self._rotate()
        os.write(self.fd, data)
        self.size += len(data)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_file > 1:
            for i in range(self.max_file - 1, 1, -1):
                try:
                    os.rename(f"{self.path}.{i - 1}", f"{self.path}.{i}")
                except FileNotFoundError:
                    pass
            os.rename(self.path, f"{self.path}.1")
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        self.fd = os.open(self.path, flags, 0o640)
        self.size = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class JsonFileWriter:
    def __init__(self, path: str, max_size: int = -1, max_file: int = 1,
                 attrs: tuple[tuple[str, str], ...] = ()) -> None:
        self._f = _RotatingFile(path, max_size, max_file)
        self._attrs = encode_attrs(attrs)

    def write(self, stream: int, data: bytes, ns: int, partial: bool) -> None:
        self._f.append(encode_json_line(stream, data, ns, self._attrs))

    def write_lines(self, stream: int, block: bytes, ns: int) -> None:
        # One translate and one join for the whole block: per-line Python work is what limits
        # throughput with short lines (200 MB of 50-byte lines is 4 million records).
        text = block.decode("utf-8", "replace").translate(_ESC_KEEP_NL)
        tail = f'\\n","stream":"{_STREAM[stream]}"{self._attrs},"time":"{format_time(ns)}"}}\n'
        parts = text.split("\n")
        parts.pop()
        out = ('{"log":"' + (tail + '{"log":"').join(parts) + tail).encode()
        if self._f.max_size > 0 and self._f.size + len(out) > self._f.max_size:
            for line in block.splitlines(keepends=True):  # rotate at the exact record
                self.write(stream, line, ns, False)
            return
        self._f.append(out)

    def close(self) -> None:
        self._f.close()


class LocalWriter:
    def __init__(self, path: str, max_size: int = 20 << 20, max_file: int = 5) -> None:
        self._f = _RotatingFile(path, max_size, max_file)

    def write(self, stream: int, data: bytes, ns: int, partial: bool) -> None:
        n = LOCAL_HEADER.size + len(data)
        self._f.append(LOCAL_HEADER.pack(n, ns, stream, 1 if partial else 0) + data + LOCAL_TRAILER.pack(n))

    def write_lines(self, stream: int, block: bytes, ns: int) -> None:
        hp, tp, hs = LOCAL_HEADER.pack, LOCAL_TRAILER.pack, LOCAL_HEADER.size
        recs = []
        for line in block.splitlines(keepends=True):
            n = hs + len(line)
            recs.append(hp(n, ns, stream, 0) + line + tp(n))
        out = b"".join(recs)
        if self._f.max_size > 0 and self._f.size + len(out) > self._f.max_size:
            for r in recs:
                self._f.append(r)
            return
        self._f.append(out)

    def close(self) -> None:
        self._f.close()


_OPTS = {
    "json-file": {"max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag"},
    "local": {"max-file", "max-size", "compress"},
    "none": set(),
}


def validate_log_config(cfg: LogConfig) -> None:
    """Refuse what dockerd refuses at create time (unknown driver or option, bad sizes/counts)."""
    from skiff.errors import InvalidParameter

    if cfg.type not in _OPTS:
        raise InvalidParameter(f"logger: no log driver named '{cfg.type}' is registered")
    for key, _ in cfg.config:
        if key not in _OPTS[cfg.type]:
            raise InvalidParameter(f"unknown log opt '{key}' for {cfg.type} log driver")
    size = cfg.opt("max-size")
    if size and size != "-1":
        try:
            if parse_size(size) <= 0:
                raise ValueError
        except (ValueError, IndexError):
            raise InvalidParameter(f"invalid size: '{size}'")
    files = cfg.opt("max-file")
    if files:
        try:
            n = int(files)
        except ValueError:
            raise InvalidParameter(f'strconv.Atoi: parsing "{files}": invalid syntax')
        if n < 1:
            raise InvalidParameter("max-file cannot be less than 1")
        if n > 1 and cfg.type == "json-file" and (not size or size == "-1"):
            raise InvalidParameter("max-file cannot be set without max-size")
    if cfg.opt("compress") not in ("", "true", "false", "1", "0"):
        raise InvalidParameter(f"invalid value for compress: {cfg.opt('compress')}")


def open_writer(cfg: LogConfig, path: str, attrs: tuple[tuple[str, str], ...] = ()) -> LogWriter:
    """The writer for ``cfg``; unknown drivers are refused by the engine before we get here."""
    if cfg.type == "none" or not path:
        return NullWriter()
    max_file = int(cfg.opt("max-file", "1" if cfg.type == "json-file" else "5"))
    if cfg.type == "local":
        return LocalWriter(path, parse_size(cfg.opt("max-size", "20m")), max_file)
    size = cfg.opt("max-size", "")
    return JsonFileWriter(path, parse_size(size) if size and size != "-1" else -1, max_file, attrs)


class LogSink:
    """Cuts each stream into messages (complete lines, or 16 KiB partial pieces) for a writer.

    Memory is bounded: at most MAX_LINE bytes are held per stream between reads.
    """

    def __init__(self, writer: LogWriter) -> None:
        self.writer = writer
        self._rest = {1: b"", 2: b""}

    def feed(self, stream: int, data: bytes, ns: int) -> None:
        rest = self._rest[stream]
        buf = rest + data if rest else data
        last = buf.rfind(b"\n")
        if last >= 0:
            block = buf[:last + 1]
            if last < MAX_LINE or max(map(len, block.split(b"\n"))) < MAX_LINE:
                self.writer.write_lines(stream, block, ns)
            else:
                self._slow(stream, block, ns)
            buf = buf[last + 1:]
        while len(buf) >= MAX_LINE:
            self.writer.write(stream, buf[:MAX_LINE], ns, True)
            buf = buf[MAX_LINE:]
        self._rest[stream] = buf

    def _slow(self, stream: int, block: bytes, ns: int) -> None:
        for line in block.splitlines(keepends=True):
            while len(line) > MAX_LINE:
                self.writer.write(stream, line[:MAX_LINE], ns, True)
                line = line[MAX_LINE:]
            self.writer.write(stream, line, ns, not line.endswith(b"\n"))

    def flush(self, ns: int) -> None:
        for stream, rest in self._rest.items():
            if rest:
                self.writer.write(stream, rest, ns, True)
        self._rest = {1: b"", 2: b""}

    def close(self) -> None:
        self.writer.close()
