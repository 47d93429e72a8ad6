"""Dockerfile text -> a flat list of nodes with line numbers, as BuildKit's parser does.

This is the first of three steps (parser -> instructions -> dispatch). It knows the line grammar
(parser directives, escape char, continuations, comments, heredocs, JSON vs shell form, leading
``--flags``) but not what any instruction means; unknown instructions parse fine and are refused
later by ``instructions``, exactly like BuildKit and the classic builder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from skiff.build.golang import go_is_space, go_quote, go_quote_list
from skiff.errors import InvalidParameter

__all__ = [
    "Directives",
    "Dockerfile",
    "DockerfileSyntaxError",
    "Heredoc",
    "Node",
    "parse",
    "parse_heredoc",
    "chomp_heredoc_content",
    "error_context",
    "parse_line",
]

_WS = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$", re.S)
_LEADING_TABS = re.compile(r"^\t+", re.M)
_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_VALID_DIRECTIVES = ("syntax", "escape", "check")

HEREDOC_INSTRUCTIONS = frozenset({"add", "copy", "run"})


class DockerfileSyntaxError(InvalidParameter):
    """The Dockerfile text cannot be split into instructions (classic: "failed to parse ...")."""

    def __init__(self, message: str, line: int, filename: str = "Dockerfile") -> None:
        super().__init__(f"failed to parse {filename}: {message}")
        self.reason = message
        self.line = line
        self.filename = filename


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    fd: int = 0


@dataclass(frozen=True)
class Node:
    """One instruction. ``next`` holds its argument values as BuildKit's node chain does."""

    value: str  # the instruction word as written ("RUN", "from")
    original: str  # the logical line (continuations joined)
    next: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    json: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    start_line: int = 0
    end_line: int = 0
    comments: tuple[str, ...] = ()
    sub: Node | None = None  # ONBUILD's trigger

    @property
    def command(self) -> str:
        return self.value.lower()

    @property
    def args(self) -> list[str]:
        """The flattened argument list (BuildKit's nodeArgs)."""
        if self.sub is not None:
            return [self.sub.value, *self.sub.args]
        return list(self.next)

    def dump(self) -> str:
        """BuildKit's Node.Dump, used to compare with its parser test files."""
        out = self.value.lower()
        if self.flags:
            out += " " + go_quote_list(self.flags)
        if self.sub is not None:
            out += " (" + self.sub.dump() + ")"
        for v in self.next:
            out += " " + go_quote(v)
        return out.strip()


@dataclass(frozen=True)
class Directives:
    escape: str = "\\"
    syntax: str = ""
    check: str = ""


@dataclass(frozen=True)
class Dockerfile:
    nodes: tuple[Node, ...]
    directives: Directives = field(default_factory=Directives)
    warnings: tuple[str, ...] = ()
    filename: str = "Dockerfile"

    @property
    def escape(self) -> str:
        return self.directives.escape


class _State:
    def __init__(self) -> None:
        self.escape = "\\"
        self.cont = _continuation_regex("\\")
        self.directives: dict[str, str] = {}
        self.done = False

    def possible_directive(self, line: str) -> bool:
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        m = _DIRECTIVE.match(line[1:].lstrip())
        if not m or m.group(1).lower() not in _VALID_DIRECTIVES:
            self.done = True
            return False
        key = m.group(1).lower()
        if key in self.directives:
            raise ValueError(f"only one {key} parser directive can be used")
        value = m.group(2)
        if key == "escape":
            if value not in ("`", "\\"):
                raise ValueError(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
            self.cont = _continuation_regex(value)
        self.directives[key] = value
        return True


def _continuation_regex(esc: str) -> re.Pattern[str]:
    e = re.escape(esc)
    return re.compile(rf"([^{e}]){e}[ \t]*$|^{e}[ \t]*$")


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _trim_continuation(line: str, st: _State) -> tuple[str, bool]:
    if st.cont.search(line):
        return st.cont.sub(r"\1", line, count=1), False
    return line, True


def parse(source: str | bytes, filename: str = "Dockerfile") -> Dockerfile:
    """Split a Dockerfile into nodes. Raises DockerfileSyntaxError with the line."""
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text:
        raise InvalidParameter(f"the Dockerfile ({filename}) cannot be empty")
    lines = _split_lines(text)
    st = _State()
    nodes: list[Node] = []
    warnings: list[str] = []
    comments: list[str] = []
    i = 0
    n = len(lines)
    current = 0
    while i < n:
        raw = lines[i]
        i += 1
        if _is_comment(raw):
            c = raw.lstrip()[1:].strip()
            comments = [*comments, c] if c else []
        token = _trim_newline(raw).lstrip()
        try:
            if st.possible_directive(token) and comments:
                comments.pop()
        except ValueError as e:
            raise DockerfileSyntaxError(str(e), current, filename) from None
        if _is_comment(token):
            token = ""
        current += 1
        start = current
        line, eol = _trim_continuation(token, st)
        if eol and not line:
            continue
        parts = [line]
        empty_cont = False
        while not eol and i < n:
            raw = lines[i]
            i += 1
            current += 1
            if _is_comment(raw):
                continue
            piece = _trim_newline(raw)
            if not piece.lstrip():
                empty_cont = True
                continue
            piece, eol = _trim_continuation(piece, st)
            parts.append(piece)
        logical = "".join(parts)
        if empty_cont:
            warnings.append("Empty continuation line found in: " + logical)
        try:
            node = parse_line(logical, st.escape, tuple(comments))
        except ValueError as e:
            raise DockerfileSyntaxError(str(e), start, filename) from None
        if _can_contain_heredoc(node) and "<<" in logical:
            docs = []
            for doc in heredocs_from_line(logical):
                content: list[str] = []
                terminated = False
                while i < n:
                    raw = lines[i]
                    i += 1
                    current += 1
                    cand = _trim_newline(raw)
                    if doc.chomp:
                        cand = cand.lstrip("\t")
                    if cand == doc.name:
                        terminated = True
                        break
                    content.append(raw)
                if not terminated:
                    raise DockerfileSyntaxError("unterminated heredoc", start, filename)
                docs.append(Heredoc(doc.name, "".join(content), doc.expand, doc.chomp, doc.fd))
            node = _with(node, heredocs=tuple(docs))
        nodes.append(_with(node, start_line=start, end_line=current))
        comments = []
    if not nodes:
        raise DockerfileSyntaxError("file with no instructions", current, filename)
    directives = Directives(
        escape=st.escape,
        syntax=st.directives.get("syntax", ""),
        check=st.directives.get("check", ""),
    )
    return Dockerfile(tuple(nodes), directives, tuple(warnings), filename)


def _split_lines(text: str) -> list[str]:
    """Lines as Go's scanner cuts them: at "\n" only (str.splitlines also cuts at \f, \u2028...)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _with(node: Node, **kw: Any) -> Node:
    return replace(node, **kw)


def _can_contain_heredoc(node: Node) -> bool:
    if node.command == "onbuild" and node.sub is not None:
        node = node.sub
    return node.command in HEREDOC_INSTRUCTIONS and not node.json


# ---- one logical line -> node ------------------------------------------------------------------


def parse_line(line: str, escape: str = "\\", comments: tuple[str, ...] = ()) -> Node:
    """newNodeFromLine: instruction word, leading --flags, then the per-instruction argument form."""
    cmd, flags, rest = _split_command(line, escape)
    kind = cmd.lower()
    values: tuple[str, ...] = ()
    is_json = False
    sub: Node | None = None
    if kind in ("add", "copy", "volume"):
        values, is_json = _maybe_json_to_list(rest)
    elif kind in ("cmd", "entrypoint", "run", "shell"):
        values, is_json = _maybe_json(rest)
    elif kind in ("env", "label"):
        values = _name_val(rest, "ENV" if kind == "env" else "LABEL", escape)
    elif kind == "arg":
        values = tuple(_parse_words(rest, escape))
    elif kind in ("expose", "from"):
        values = _whitespace_split(rest)
    elif kind in ("maintainer", "stopsignal", "user", "workdir"):
        values = (rest,) if rest else ()
    elif kind == "healthcheck":
        values, is_json = _health(rest)
    elif kind == "onbuild" and rest:
        sub = parse_line(rest, escape)
    return Node(cmd, line, values, tuple(flags), is_json, comments=comments, sub=sub)


def _split_command(line: str, escape: str) -> tuple[str, list[str], str]:
    parts = _WS.split(line.strip(), maxsplit=1)
    if len(parts) == 2:
        rest, flags = _extract_flags(parts[1], escape)
        return parts[0], flags, rest.strip()
    return parts[0], [], ""


def _extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    words: list[str] = []
    buf: list[str] = []
    phase = 0  # 0 spaces, 1 word, 2 quote
    quote = ""
    blank_ok = False
    pos = 0
    n = len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == 0:
            if pos == n:
                break
            if go_is_space(ch):
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = 1
        if phase in (1, 2) and pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == 1:
            if go_is_space(ch):
                word = "".join(buf)
                phase = 0
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = 2
                pos += 1
                continue
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            buf.append(ch)
            pos += 1
            continue
        if phase == 2:
            if ch == quote:
                phase = 1
                pos += 1
                continue
            if ch == escape:
                if pos + 1 == n:
                    phase = 1
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            buf.append(ch)
            pos += 1
    return "", words


def _parse_words(rest: str, escape: str) -> list[str]:
    """parseWords: split on spaces, quotes kept verbatim, escape keeps the next char."""
    words: list[str] = []
    buf: list[str] = []
    phase = 0
    quote = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == 0:
            if pos == n:
                break
            if go_is_space(ch):
                pos += 1
                continue
            phase = 1
        if phase in (1, 2) and pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == 1:
            if go_is_space(ch):
                phase = 0
                if blank_ok or buf:
                    words.append("".join(buf))
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = 2
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        if phase == 2:
            if ch == quote:
                phase = 1
            if ch == escape and quote != "'":
                if pos + 1 == n:
                    phase = 1
                    pos += 1
                    continue
                pos += 1
                buf.append(ch)
                ch = rest[pos]
            buf.append(ch)
            pos += 1
    return words


def _name_val(rest: str, key: str, escape: str) -> tuple[str, ...]:
    """ENV/LABEL: (key, value, sep) triples; the old ``ENV k v`` form has sep ""."""
    words = _parse_words(rest, escape)
    if not words:
        return ()
    if "=" not in words[0]:
        parts = _WS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise ValueError(f"{key} must have two arguments")
        return (parts[0], parts[1], "")
    out: list[str] = []
    for word in words:
        if "=" not in word:
            raise ValueError(
                f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value"
            )
        k, v = word.split("=", 1)
        out += [k, v, "="]
    return tuple(out)


def _whitespace_split(rest: str) -> tuple[str, ...]:
    if not rest:
        return ()
    return tuple(_WS.split(rest))


class _NotStrings(ValueError):
    pass


def _parse_json(rest: str) -> tuple[str, ...] | None:
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise _NotStrings("when using JSON array syntax, arrays must be comprised of strings only")
    return tuple(value)


def _maybe_json(rest: str) -> tuple[tuple[str, ...], bool]:
    if not rest:
        return (), False
    try:
        parsed = _parse_json(rest)
    except _NotStrings as e:
        raise ValueError(str(e)) from None
    if parsed is not None:
        return parsed, True
    return (rest,), False


def _maybe_json_to_list(rest: str) -> tuple[tuple[str, ...], bool]:
    try:
        parsed = _parse_json(rest)
    except _NotStrings as e:
        raise ValueError(str(e)) from None
    if parsed is not None:
        return parsed, True
    return _whitespace_split(rest), False


def _health(rest: str) -> tuple[tuple[str, ...], bool]:
    sep = 0
    while sep < len(rest) and not go_is_space(rest[sep]):
        sep += 1
    nxt = sep
    while nxt < len(rest) and go_is_space(rest[nxt]):
        nxt += 1
    if sep == 0:
        return (), False
    cmd, is_json = _maybe_json(rest[nxt:])
    return (rest[:sep], *cmd), is_json


# ---- heredocs ---------------------------------------------------------------------------------


def parse_heredoc(word: str) -> Heredoc | None:
    """ParseHeredoc: ``<<EOF``, ``<<-EOF``, ``<<"EOF"`` (no expansion), ``3<<EOF``."""
    from skiff.build.words import EMPTY_ENV, ShellLex

    m = _HEREDOC.match(word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    lex = ShellLex("\\", skip_unset_env=True)
    words = lex.process_words(rest, EMPTY_ENV)
    if len(words) != 1:
        return None
    raw = ShellLex("\\", skip_unset_env=True, raw_quotes=True).process_words(rest, EMPTY_ENV)
    if len(raw) != len(words):
        raise ValueError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    name = words[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(name=name, expand=quotes == raw_quotes, chomp=m.group(2) == "-", fd=int(m.group(1) or 0))


def heredocs_from_line(line: str) -> list[Heredoc]:
    from skiff.build.words import EMPTY_ENV, ShellLex

    lex = ShellLex("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process_words(line, EMPTY_ENV)
    except InvalidParameter:
        words = []
    docs = []
    for w in words:
        doc = parse_heredoc(w)
        if doc is not None:
            docs.append(doc)
    return docs


def chomp_heredoc_content(src: str) -> str:
    return _LEADING_TABS.sub("", src)


def error_context(source: str, line: int, filename: str = "Dockerfile", around: int = 2) -> str:
    """BuildKit's located error header, for CLIs that want to show where a build failed::

    Dockerfile:3
    --------------------
       2 |     RUN a
       3 | >>> FORM x
    --------------------
    """
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return f"{filename}:{line}"
    lo, hi = max(1, line - around), min(len(lines), line + around)
    out = [f"{filename}:{line}", "-" * 20]
    for n in range(lo, hi + 1):
        mark = ">>>" if n == line else "   "
        out.append(f"{n:4d} | {mark} {lines[n - 1]}")
    out.append("-" * 20)
    return "\n".join(out)
