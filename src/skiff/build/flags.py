"""Instruction flags (``--from=x``, ``--link``) and RUN ``--mount`` specs, with BuildKit's errors."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["FlagError", "Flags", "Mount", "parse_mount", "suggest", "ram_in_bytes"]


class FlagError(ValueError):
    """A flag is malformed; converted to a located parse error by ``instructions``."""


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(value: str, options: Iterable[str], case_sensitive: bool) -> str | None:
    """BuildKit's suggest.Search: the closest option within distance 2, in its case."""
    val = value if case_sensitive else value.lower()
    match = None
    best = 3
    for opt in options:
        o = opt if case_sensitive else opt.lower()
        if val == o:
            return None
        d = _levenshtein(val, o)
        if d < best:
            best = d
            if case_sensitive:
                match = o
            elif value == value.lower():
                match = o.lower()
            elif value == value.upper():
                match = o.upper()
            else:
                match = o
    return match


def with_suggestion(message: str, value: str, options: Iterable[str], case_sensitive: bool) -> str:
    s = suggest(value, options, case_sensitive)
    return f"{message} (did you mean {s}?)" if s else message


class Flags:
    """BFlags: declare the flags an instruction accepts, then parse its ``--x=y`` words."""

    BOOL, STRING, STRINGS = "bool", "string", "strings"

    def __init__(self, args: Iterable[str]) -> None:
        self.args = list(args)
        self.kinds: dict[str, str] = {}
        self.values: dict[str, str] = {}
        self.lists: dict[str, list[str]] = {}
        self.defaults: dict[str, str] = {}
        self.used: set[str] = set()

    def add_bool(self, name: str, default: bool = False) -> None:
        self.kinds[name] = self.BOOL
        self.values[name] = "true" if default else "false"

    def add_string(self, name: str, default: str = "") -> None:
        self.kinds[name] = self.STRING
        self.values[name] = default

    def add_strings(self, name: str) -> None:
        self.kinds[name] = self.STRINGS
        self.lists[name] = []

    def parse(self) -> Flags:
        for a in self.args:
            if a == "--":
                return self
            if not a.startswith("--"):
                raise FlagError(f"arg should start with -- : {a}")
            flag_name, has_value, value = a.partition("=")
            name = flag_name[2:]
            kind = self.kinds.get(name)
            if kind is None:
                raise FlagError(with_suggestion(f"unknown flag: {flag_name}", name, sorted(self.kinds), True))
            if name in self.used and kind != self.STRINGS:
                raise FlagError(f"duplicate flag specified: {flag_name}")
            self.used.add(name)
            if kind == self.BOOL:
                if has_value and value == "":
                    raise FlagError(f"missing a value on flag: {flag_name}")
                low = value.lower()
                if low in ("true", ""):
                    self.values[name] = "true"
                elif low == "false":
                    self.values[name] = "false"
                else:
                    raise FlagError(f"expecting boolean value for flag {flag_name}, not: {value}")
            elif kind == self.STRING:
                if not has_value:
                    raise FlagError(f"missing a value on flag: {flag_name}")
                self.values[name] = value
            else:
                if not has_value:
                    raise FlagError(f"missing a value on flag: {flag_name}")
                self.lists[name].append(value)
        return self

    def string(self, name: str) -> str:
        return self.values[name]

    def flag(self, name: str) -> bool:
        return self.values[name] == "true"

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self.lists[name])

    def is_used(self, name: str) -> bool:
        return name in self.used


# ---- RUN --mount -------------------------------------------------------------------------------

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
_MOUNT_KEYS = (
    "type", "from", "source", "target", "readonly", "id", "sharing", "required", "size", "mode",
    "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env",
)  # fmt: skip


@dataclass(frozen=True)
class Mount:
    """One ``RUN --mount=...``: the builder hands these to the backend's run()."""

    type: str = "bind"
    from_: str = ""
    source: str = ""
    target: str = ""
    readonly: bool = True
    size_limit: int = 0
    cache_id: str = ""
    sharing: str = ""
    required: bool = False
    env: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


def _parse_bool(key: str, value: str) -> bool:
    low = value.lower()
    if low in ("1", "t", "true"):
        return True
    if low in ("0", "f", "false"):
        return False
    raise FlagError(f"invalid value for {key}: {value}")


_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def ram_in_bytes(value: str) -> int:
    """go-units RAMInBytes: ``64m``, ``1g``, ``512kb``, ``100``."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?", value.strip())
    if not m:
        raise ValueError(value)
    return int(float(m.group(1)) * _UNITS.get((m.group(2) or "").lower(), 1))


def parse_mount(value: str, expand: Callable[[str], str] | None) -> Mount:
    """parseMount: CSV ``key=value`` fields; without ``expand`` only the parse-time checks run."""
    try:
        fields = next(csv.reader([value]), [])
    except csv.Error as e:
        raise FlagError(f"failed to parse csv mounts: {e}") from None
    kw: dict[str, object] = {}
    mtype = "bind"
    ro_auto = True
    for f in fields:
        key, has_eq, val = f.partition("=")
        key = key.lower()
        if not has_eq:
            if expand is None:
                continue
            if key in ("readonly", "ro"):
                kw["readonly"], ro_auto = True, False
            elif key in ("readwrite", "rw"):
                kw["readonly"], ro_auto = False, False
            elif key == "required":
                if mtype not in ("secret", "ssh"):
                    raise FlagError(f"unexpected key '{key}' for mount type '{mtype}'")
                kw["required"] = True
            else:
                raise FlagError(f"invalid field '{f}' must be a key=value pair")
            continue
        if expand is not None:
            val = expand(val)
        elif key == "from":
            idx = val.find("$")
            if idx != -1 and idx != len(val) - 1:
                raise FlagError(f"'{key}' doesn't support variable expansion, define alias stage instead")
            continue
        else:
            continue
        if key == "type":
            if val.lower() not in MOUNT_TYPES:
                raise FlagError(with_suggestion(f'unsupported mount type "{val}"', val, MOUNT_TYPES, True))
            mtype = val.lower()
        elif key == "from":
            kw["from_"] = val
        elif key in ("source", "src"):
            kw["source"] = val
        elif key in ("target", "dst", "destination"):
            kw["target"] = val
        elif key in ("readonly", "ro"):
            kw["readonly"], ro_auto = _parse_bool(key, val), False
        elif key in ("readwrite", "rw"):
            kw["readonly"], ro_auto = not _parse_bool(key, val), False
        elif key == "required":
            if mtype not in ("secret", "ssh"):
                raise FlagError(f"unexpected key '{key}' for mount type '{mtype}'")
            kw["required"] = _parse_bool(key, val)
        elif key == "size":
            if mtype != "tmpfs":
                raise FlagError(f"unexpected key '{key}' for mount type '{mtype}'")
            try:
                kw["size_limit"] = ram_in_bytes(val)
            except ValueError:
                raise FlagError(f"invalid value for {key}: {val}") from None
        elif key == "id":
            kw["cache_id"] = val
        elif key == "sharing":
            if val.lower() not in SHARING_MODES:
                raise FlagError(
                    with_suggestion(f'unsupported sharing value "{val}"', val, SHARING_MODES, True)
                )
            kw["sharing"] = val.lower()
        elif key in ("mode", "uid", "gid"):
            try:
                kw[key] = int(val, 8 if key == "mode" else 10)
            except ValueError:
                raise FlagError(f"invalid value {val} for {key}") from None
        elif key == "env":
            kw["env"] = val
        else:
            raise FlagError(with_suggestion(f"unexpected key '{key}' in '{f}'", key, _MOUNT_KEYS, True))
    if mtype not in ("secret", "ssh", "cache"):
        for k in ("mode", "uid", "gid"):
            if kw.get(k) is not None:
                raise FlagError(f'{k} not allowed for "{mtype}" type mounts')
    if ro_auto:
        kw["readonly"] = mtype not in ("cache", "tmpfs")
    m = Mount(type=mtype, **kw)  # type: ignore[arg-type]
    if m.type == "secret":
        if m.from_:
            raise FlagError("secret mount should not have a from")
        if m.sharing:
            raise FlagError("secret mount should not define sharing")
        if not m.source and not m.target and not m.cache_id:
            raise FlagError("invalid secret mount. one of source, target required")
        if m.source and m.cache_id:
            raise FlagError("both source and id can't be set")
    if m.sharing and m.type != "cache":
        raise FlagError(f"invalid cache sharing set for {m.type} mount")
    return m
