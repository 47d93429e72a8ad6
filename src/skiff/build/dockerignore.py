""".dockerignore: reading, matching with Docker's semantics, walking a context, writing its tar.

A port of moby/patternmatcher (``*``, ``?``, ``[...]``, ``**``, ``!`` exceptions, later patterns win,
a matched directory excludes its contents) and of the docker CLI's ignore-file reader and context
walker. Patterns are compiled once; the walk passes each directory's per-pattern results to its
children (MatchesUsingParentResults), so 10,000 files cost one regex test per file and pattern.

Used by the daemon-side builder and by the skiff CLI (client side), so it imports nothing from
skiff but ``skiff.errors``.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import secrets
import stat
import tarfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from skiff.errors import InvalidParameter

__all__ = [
    "IgnoreMatcher",
    "WalkEntry",
    "find_ignore_file",
    "go_clean",
    "read_ignore_file",
    "parse_ignore",
    "trim_build_files",
    "walk_context",
    "write_build_context",
    "write_context_tar",
]


def go_clean(p: str) -> str:
    """Go's path.Clean (posixpath.normpath keeps a leading ``//``; Go does not)."""
    if not p:
        return "."
    out = posixpath.normpath(p)
    if out.startswith("//"):
        out = "/" + out.lstrip("/")
    return out


def parse_ignore(text: str | bytes) -> list[str]:
    """ignorefile.ReadAll: comments, blank lines, ``!`` and leading ``/`` handling, Clean()."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    out: list[str] = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


def read_ignore_file(path: str | os.PathLike[str]) -> list[str]:
    try:
        return parse_ignore(Path(path).read_bytes())
    except FileNotFoundError:
        return []


def find_ignore_file(context_dir: str | os.PathLike[str], dockerfile: str = "Dockerfile") -> Path | None:
    """``<Dockerfile>.dockerignore`` beside the Dockerfile wins over the context's .dockerignore."""
    ctx = Path(context_dir)
    df = Path(dockerfile)
    if not df.is_absolute():
        df = ctx / df
    specific = df.with_name(df.name + ".dockerignore")
    if specific.is_file():
        return specific
    default = ctx / ".dockerignore"
    return default if default.is_file() else None


_EXACT, _PREFIX, _SUFFIX, _REGEX = range(4)
_ESCAPE = set(".+()|{}$")


class _Pattern:
    __slots__ = ("cleaned", "exclusion", "kind", "regex")

    def __init__(self, cleaned: str, exclusion: bool) -> None:
        self.cleaned = cleaned
        self.exclusion = exclusion
        self.kind, self.regex = _compile(cleaned)

    def match(self, path: str) -> bool:
        if self.kind == _EXACT:
            return path == self.cleaned
        if self.kind == _PREFIX:
            return path.startswith(self.cleaned[:-2])
        if self.kind == _SUFFIX:
            suffix = self.cleaned[2:]
            if path.endswith(suffix):
                return True
            return suffix[:1] == "/" and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


def _compile(pattern: str) -> tuple[int, re.Pattern[str] | None]:
    out = ["^"]
    kind = _EXACT
    i = 0
    n = len(pattern)
    idx = 0
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    if kind == _EXACT:
                        kind = _PREFIX
                    else:
                        out.append(".*")
                        kind = _REGEX
                else:
                    out.append("(.*/)?")
                    kind = _REGEX
                if idx == 0:
                    kind = _SUFFIX
            else:
                out.append("[^/]*")
                kind = _REGEX
        elif ch == "?":
            out.append("[^/]")
            kind = _REGEX
        elif ch in _ESCAPE:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
                kind = _REGEX
            else:
                out.append("\\\\")
        elif ch in "[]":
            out.append(ch)
            kind = _REGEX
        else:
            out.append(ch)
        idx += 1
    if kind != _REGEX:
        return kind, None
    try:
        return kind, re.compile("".join(out) + "$", re.S)
    except re.error:
        raise InvalidParameter("syntax error in pattern") from None


def _check_syntax(p: str) -> None:
    """filepath.Match's ErrBadPattern cases: unterminated ``[``, trailing ``\\``."""
    i = 0
    n = len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            if i + 1 >= n:
                raise InvalidParameter("syntax error in pattern")
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and p[j] == "^":
                j += 1
            closed = False
            first = True
            while j < n:
                if p[j] == "]" and not first:
                    closed = True
                    break
                if p[j] == "\\":
                    j += 1
                first = False
                j += 1
            if not closed:
                raise InvalidParameter("syntax error in pattern")
            i = j + 1
            continue
        i += 1


class IgnoreMatcher:
    """A compiled list of patterns (patternmatcher.PatternMatcher)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = go_clean(p)
            exclusion = False
            if p[0] == "!":
                if len(p) == 1:
                    raise InvalidParameter('illegal exclusion pattern: "!"')
                exclusion = True
                p = p[1:]
            _check_syntax(p)
            self.patterns.append(_Pattern(p, exclusion))
        self.exclusions = any(p.exclusion for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str) -> bool:
        """MatchesOrParentMatches: True when ``path`` (slash-separated, relative) is excluded."""
        path = go_clean(path)
        if path == ".":
            return False
        matched = False
        parent = posixpath.dirname(path)
        parents = parent.split("/") if parent else []
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue
            m = pat.match(path)
            if not m and parents:
                for i in range(len(parents)):
                    if pat.match("/".join(parents[: i + 1])):
                        m = True
                        break
            if m:
                matched = not pat.exclusion
        return matched

    def matches_with_parent(self, path: str, parent: list[bool] | None) -> tuple[bool, list[bool]]:
        """MatchesUsingParentResults: the walker's fast path."""
        matched = False
        info = [False] * len(self.patterns)
        for i, pat in enumerate(self.patterns):
            m = parent[i] if parent else False
            if not m:
                if pat.exclusion != matched:
                    continue
                m = pat.match(path)
                if not m and parent is None:
                    head = posixpath.dirname(path)
                    if head:
                        parts = head.split("/")
                        for j in range(len(parts)):
                            if pat.match("/".join(parts[: j + 1])):
                                m = True
                                break
            info[i] = m
            if m:
                matched = not pat.exclusion
        return matched, info

    def may_reinclude_below(self, dir_path: str) -> bool:
        """Whether an exclusion pattern could re-include something under an excluded directory."""
        prefix = dir_path + "/"
        return any(p.exclusion and (p.cleaned + "/").startswith(prefix) for p in self.patterns)


def trim_build_files(
    patterns: Sequence[str], dockerfile: str, dockerfile_from_stdin: bool = False
) -> list[str]:
    """The CLI always sends the Dockerfile and .dockerignore, even when a pattern excludes them."""
    out = list(patterns)
    m = IgnoreMatcher(out)
    if m.matches(".dockerignore"):
        out.append("!.dockerignore")
    if dockerfile_from_stdin:
        return out
    dockerfile = dockerfile.replace(os.sep, "/")
    if IgnoreMatcher(out).matches(dockerfile):
        out.append("!" + dockerfile)
    return out


@dataclass(frozen=True)
class WalkEntry:
    rel: str  # slash-separated path relative to the context
    path: str  # absolute path on disk
    st: os.stat_result


def walk_context(root: str | os.PathLike[str], matcher: IgnoreMatcher | None = None) -> Iterator[WalkEntry]:
    """Yield included entries (dirs before their contents, sorted), honouring the ignore rules."""
    base = os.fspath(root)
    m = matcher if matcher else None

    def walk(dir_abs: str, dir_rel: str, parent: list[bool] | None) -> Iterator[WalkEntry]:
        try:
            names = sorted(os.listdir(dir_abs))
        except FileNotFoundError:
            return
        for name in names:
            p = os.path.join(dir_abs, name)
            rel = f"{dir_rel}/{name}" if dir_rel else name
            st = os.lstat(p)
            is_dir = stat.S_ISDIR(st.st_mode)
            info: list[bool] | None = None
            if m is not None:
                skip, info = m.matches_with_parent(rel, parent if parent is not None else [])
                if skip:
                    if is_dir and m.exclusions and m.may_reinclude_below(rel):
                        yield from walk(p, rel, info)
                    continue
            yield WalkEntry(rel, p, st)
            if is_dir:
                yield from walk(p, rel, info)

    yield from walk(base, "", None)


def write_build_context(
    context_dir: str | os.PathLike[str],
    out: IO[bytes],
    dockerfile: str | os.PathLike[str] = "Dockerfile",
    dockerfile_data: bytes | None = None,
) -> str:
    """What ``docker build`` sends to POST /build: the context tar, ignore rules applied.

    ``dockerfile`` is the -f path (relative to the current dir, or absolute); ``dockerfile_data``
    is ``-f -``'s stdin. A Dockerfile outside the context (or from stdin) is added to the tar under
    a random ``.dockerfile.<hex>`` name, as the docker CLI does. Returns the ``dockerfile`` query
    parameter to send.
    """
    ctx = Path(context_dir).resolve()
    inject: bytes | None = dockerfile_data
    name = "Dockerfile"
    if inject is None:
        df = Path(dockerfile)
        if not df.is_absolute():
            df = (Path.cwd() / df) if str(dockerfile) != "Dockerfile" else ctx / df
        df = df.resolve()
        if ctx in df.parents:
            name = df.relative_to(ctx).as_posix()
        else:
            inject = df.read_bytes()
    ignore = find_ignore_file(ctx, name if inject is None else "Dockerfile")
    patterns = read_ignore_file(ignore) if ignore else []
    if inject is not None:
        name = ".dockerfile." + secrets.token_hex(10)
    patterns = trim_build_files(patterns, name, dockerfile_from_stdin=inject is not None)
    matcher = IgnoreMatcher(patterns)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        if inject is None:
            _add_entries(tar, ctx, matcher)
            return name
        # as the docker CLI: the injected file is listed in .dockerignore so the daemon drops it
        _add_entries(tar, ctx, matcher, skip_root={".dockerignore"})
        root_ignore = ctx / ".dockerignore"
        base = root_ignore.read_bytes() if root_ignore.is_file() else b".dockerignore"
        for fname, data, mode in (
            (name, inject, 0o600),
            (".dockerignore", base + f"\n{name}\n".encode(), 0o600),
        ):
            info = tarfile.TarInfo(fname)
            info.size = len(data)
            info.mode = mode
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return name


def _add_entries(
    tar: tarfile.TarFile,
    root: str | os.PathLike[str],
    matcher: IgnoreMatcher | None,
    skip_root: frozenset[str] | set[str] = frozenset(),
) -> int:
    count = 0
    for entry in walk_context(root, matcher):
        if entry.rel in skip_root:
            continue
        info = tarfile.TarInfo(entry.rel)
        st = entry.st
        info.mode = stat.S_IMODE(st.st_mode)
        info.mtime = int(st.st_mtime)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        elif stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(entry.path)
            tar.addfile(info)
        elif stat.S_ISREG(st.st_mode):
            info.size = st.st_size
            with open(entry.path, "rb") as f:
                tar.addfile(info, f)
        else:
            continue
        count += 1
    return count


def write_context_tar(
    root: str | os.PathLike[str], out: IO[bytes], matcher: IgnoreMatcher | None = None
) -> int:
    """The build context as the docker CLI sends it: included files only, uid/gid 0. Returns count."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        return _add_entries(tar, root, matcher)
