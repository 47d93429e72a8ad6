"""Reading a container's logs back (json-file or local) for ``docker logs``, in bounded memory.

``LogFile(path, driver)`` opens the live file and its rotated siblings once, so a rotation during the
read does not lose or repeat lines. Then:

- ``entries(tail=-1, since_ns=0, until_ns=0)`` yields what is there now, oldest first. ``tail=N``
  walks backwards from the end in 64 KiB blocks and keeps only N records in memory.
- ``follower()`` continues from where ``entries`` stopped; call ``poll()`` repeatedly (it never
  blocks) and it yields new records, following the live file across rotations.

Records are :class:`LogEntry` (stream 1 = stdout, 2 = stderr, data bytes, time in ns, partial).
"""

from __future__ import annotations

import calendar
import json
import os
from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

from skiff.monitor.logdrivers import LOCAL_HEADER, LOCAL_TRAILER

__all__ = ["LogEntry", "LogFile", "Follower", "parse_time"]

_BLOCK = 64 * 1024
_MAX_RECORD = 1 << 20
_STREAMS = {"stdout": 1, "stderr": 2}
_STREAMS_B = {b"stdout": 1, b"stderr": 2}


class LogEntry(NamedTuple):
    """One log message (a NamedTuple: millions are made when a big log is read)."""

    stream: int
    data: bytes
    time_ns: int
    partial: bool = False
    attrs: tuple[tuple[str, str], ...] = ()  # json-file "attrs" (docker logs --details)


_sec_cache: dict[str, int] = {}


_last_time: list[tuple[str, int]] = [("", 0)]


def parse_time(text: str) -> int:
    """RFC3339(Nano) in UTC or with an offset -> ns since the epoch."""
    last = _last_time[0]
    if text == last[0]:  # a writer stamps a whole read with one time: lines repeat it
        return last[1]
    ns = _parse_time(text)
    _last_time[0] = (text, ns)
    return ns


def _parse_time(text: str) -> int:
    base = text[:19]
    sec = _sec_cache.get(base)
    if sec is None:
        y, mo, d = int(base[0:4]), int(base[5:7]), int(base[8:10])
        h, mi, s = int(base[11:13]), int(base[14:16]), int(base[17:19])
        sec = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
        if len(_sec_cache) > 4096:
            _sec_cache.clear()
        _sec_cache[base] = sec
    rest = text[19:]
    frac = 0
    if rest.startswith("."):
        i = 1
        while i < len(rest) and rest[i].isdigit():
            i += 1
        frac = int(rest[1:i].ljust(9, "0")[:9])
        rest = rest[i:]
    off = 0
    if rest and rest[0] in "+-":
        off = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (1 if rest[0] == "+" else -1)
    return (sec - off) * 1_000_000_000 + frac


def _json_record(line: bytes) -> LogEntry | None:
    # Fast path for the field order Skiff and dockerd write: {"log":"…","stream":"…","time":"…"}.
    # An unescaped '","stream":"' cannot occur inside the log text (quotes are escaped there).
    if line.startswith(b'{"log":"') and line.endswith(b'"}'):
        i = line.rfind(b'","stream":"')
        j = line.rfind(b'","time":"')
        if 8 <= i < j:
            stream = _STREAMS_B.get(line[i + 12:j])
            if stream is not None:
                raw = line[8:i]
                try:
                    n = raw.count(b"\\")
                    if n == 0:
                        data = raw
                    elif n == 1 and raw.endswith(b"\\n"):  # the common case: plain text and a newline
                        data = raw[:-2] + b"\n"
                    else:
                        data = json.loads(b'"' + raw + b'"').encode()
                    return LogEntry(stream, data, parse_time(line[j + 10:-2].decode()), not data.endswith(b"\n"))
                except (ValueError, IndexError):
                    pass
    try:
        d = json.loads(line)
        log = d.get("log", "")
        attrs = tuple(sorted((str(k), str(v)) for k, v in (d.get("attrs") or {}).items()))
        return LogEntry(_STREAMS.get(d.get("stream", "stdout"), 1), log.encode(), parse_time(d["time"]),
                        not log.endswith("\n"), attrs)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _parse_forward(driver: str, buf: bytes) -> tuple[list[LogEntry], int]:
    """Complete records at the head of ``buf`` and how many bytes they used."""
    out: list[LogEntry] = []
    pos, n = 0, len(buf)
    if driver == "local":
        hs, ts = LOCAL_HEADER.size, LOCAL_TRAILER.size
        while n - pos >= hs:
            size, ns, stream, flags = LOCAL_HEADER.unpack_from(buf, pos)
            if n - pos < size + ts:
                break
            out.append(LogEntry(stream, buf[pos + hs:pos + size], ns, bool(flags & 1)))
            pos += size + ts
        return out, pos
    while pos < n:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            break
        rec = _json_record(buf[pos:nl])
        if rec is not None:
            out.append(rec)
        pos = nl + 1
    return out, pos


def _forward(driver: str, fd: int, start: int, end: int) -> Iterator[LogEntry]:
    pos, rest = start, b""
    while pos < end:
        chunk = os.pread(fd, min(_BLOCK, end - pos), pos)
        if not chunk:
            break
        pos += len(chunk)
        buf = rest + chunk
        recs, used = _parse_forward(driver, buf)
        rest = buf[used:]
        if len(rest) > _MAX_RECORD:
            rest = b""
        yield from recs


def _backward(driver: str, fd: int, end: int, want: int) -> list[LogEntry]:
    """The last ``want`` records of [0, end), reading blocks from the end."""
    found: deque[LogEntry] = deque()
    if driver == "local":
        pos = end
        ts = LOCAL_TRAILER.size
        while pos > 0 and len(found) < want:
            (size,) = LOCAL_TRAILER.unpack(os.pread(fd, ts, pos - ts))
            start = pos - ts - size
            rec = os.pread(fd, size, start) if start >= 0 and size >= LOCAL_HEADER.size else b""
            if len(rec) != size or LOCAL_HEADER.unpack_from(rec)[0] != size:
                # A torn record (read while the writer was mid-write): walk forward instead.
                last: deque[LogEntry] = deque(maxlen=want)
                last.extend(_forward(driver, fd, 0, end))
                return list(last)
            _, ns, stream, flags = LOCAL_HEADER.unpack_from(rec)
            found.appendleft(LogEntry(stream, rec[LOCAL_HEADER.size:], ns, bool(flags & 1)))
            pos = start
        return list(found)
    pos, tail = end, b""
    while pos > 0 and len(found) < want:
        step = min(_BLOCK, pos)
        pos -= step
        buf = os.pread(fd, step, pos) + tail
        lines = buf.split(b"\n")
        tail = lines[0] if pos > 0 else b""
        body = lines[1:] if pos > 0 else lines
        for line in reversed(body):
            if line and len(found) < want:
                jrec = _json_record(line)
                if jrec is not None:
                    found.appendleft(jrec)
    return list(found)


class LogFile:
    """A consistent view of one container's log files (see module docstring)."""

    def __init__(self, path: str, driver: str = "json-file") -> None:
        self.path, self.driver = path, driver
        self._fds: list[tuple[int, int]] = []  # (fd, size) oldest first; last = live file
        i = 1
        rotated = []
        while True:
            try:
                rotated.append(os.open(f"{path}.{i}", os.O_RDONLY | os.O_CLOEXEC))
            except FileNotFoundError:
                break
            i += 1
        for fd in reversed(rotated):
            self._fds.append((fd, os.fstat(fd).st_size))
        try:
            live = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            self._fds.append((live, os.fstat(live).st_size))
        except FileNotFoundError:
            pass

    def close(self) -> None:
        for fd, _ in self._fds:
            os.close(fd)
        self._fds = []

    def __enter__(self) -> LogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def entries(self, tail: int = -1, since_ns: int = 0, until_ns: int = 0) -> Iterator[LogEntry]:
        def keep(e: LogEntry) -> bool:
            return e.time_ns >= since_ns and (not until_ns or e.time_ns <= until_ns)

        if tail == 0:
            return
        if tail < 0:
            for fd, size in self._fds:
                for e in _forward(self.driver, fd, 0, size):
                    if keep(e):
                        yield e
            return
        picked: list[LogEntry] = []
        for fd, size in reversed(self._fds):
            picked = _backward(self.driver, fd, size, tail - len(picked)) + picked
            if len(picked) >= tail:
                break
        yield from (e for e in picked if keep(e))

    def follower(self) -> Follower:
        """New records after what ``entries`` saw; takes over the live file descriptor."""
        if not self._fds:
            return Follower(self.path, self.driver, -1, 0)
        fd, size = self._fds.pop()
        return Follower(self.path, self.driver, fd, size)


class Follower:
    """Non-blocking tail -f over a rotating log; ``poll()`` returns what is new (maybe nothing)."""

    def __init__(self, path: str, driver: str, fd: int, offset: int) -> None:
        self.path, self.driver, self.fd, self.offset = path, driver, fd, offset
        self._rest = b""

    def _reopen(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        if self.fd >= 0 and os.fstat(self.fd).st_ino == st.st_ino:
            return False
        if self.fd >= 0:
            os.close(self.fd)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        self.offset, self._rest = 0, b""
        return True

    def poll(self, max_bytes: int = 1 << 20) -> list[LogEntry]:
        out: list[LogEntry] = []
        for _ in range(3):
            if self.fd < 0 and not self._reopen():
                return out
            if os.fstat(self.fd).st_size < self.offset:  # truncated in place (max-file=1 rotation)
                self.offset, self._rest = 0, b""
            got = 0
            while got < max_bytes:
                chunk = os.pread(self.fd, _BLOCK, self.offset)
                if not chunk:
                    break
                self.offset += len(chunk)
                got += len(chunk)
                recs, used = _parse_forward(self.driver, self._rest + chunk)
                self._rest = (self._rest + chunk)[used:]
                if len(self._rest) > _MAX_RECORD:
                    self._rest = b""
                out.extend(recs)
            if got or not self._reopen():
                return out
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
