"""Docker's shell-word lexer and variable substitution (BuildKit's ``shell.Lex``).

The builder expands ``$var``, ``${var}``, ``${var:-x}``, ``${var:+x}``, ``${var-x}``, ``${var+x}``,
``${var?msg}``, ``${var:?msg}``, ``${var#pat}``, ``${var##pat}``, ``${var%pat}``, ``${var%%pat}``
and ``${var/pat/repl}`` / ``${var//pat/repl}`` in the instructions that take words (ENV, LABEL, ADD,
COPY, EXPOSE, USER, WORKDIR, VOLUME, STOPSIGNAL, ARG, FROM, ONBUILD triggers when they run). RUN,
CMD and ENTRYPOINT are never expanded by the builder: the shell does that in the container.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from skiff.build.golang import go_is_space
from skiff.errors import InvalidParameter

__all__ = [
    "EMPTY_ENV",
    "EnvGetter",
    "Env",
    "ShellLex",
    "WordResult",
    "env_from_list",
]


class EnvGetter(Protocol):
    def get(self, name: str) -> str | None: ...


class Env:
    """An EnvGetter over a mapping; later ``KEY=`` entries win (as Docker's env lists)."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def keys(self) -> list[str]:
        return list(self._values)


EMPTY_ENV = Env()


def env_from_list(items: Iterable[str]) -> Env:
    values: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        values[k] = v
    return Env(values)


class LexError(InvalidParameter):
    """A substitution that cannot be processed; the text is BuildKit's."""


@dataclass
class WordResult:
    result: str
    words: list[str]
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


_EOF = ""


class _Words:
    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if go_is_space(ch) and self.in_word:
            if self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        elif not go_is_space(ch):
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def add_raw_string(self, s: str) -> None:
        self.buf.append(s)
        self.in_word = True

    def get(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf = []
            self.in_word = False
        return self.words


class ShellLex:
    """Process one Dockerfile word (or a list of words) against an environment."""

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_process_quotes: bool = False,
        skip_unset_env: bool = False,
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env

    def process_word(self, word: str, env: EnvGetter) -> str:
        return self.process(word, env).result

    def process_words(self, word: str, env: EnvGetter) -> list[str]:
        return self.process(word, env).words

    def process(self, word: str, env: EnvGetter) -> WordResult:
        sw = _ShellWord(self, word, env)
        try:
            result, words = sw.process_stop_on(_EOF, self.raw_escapes)
        except _Fail as e:
            raise LexError(f"failed to process {_go_quote(word)}: {e}") from None
        return WordResult(result, words, sw.matches, sw.nonmatches)


class _Fail(Exception):
    pass


def _go_quote(s: str) -> str:
    from skiff.build.golang import go_quote

    return go_quote(s)


def _is_special(ch: str) -> bool:
    return ch in "@*#?-$!0"


class _ShellWord:
    def __init__(self, lex: ShellLex, src: str, env: EnvGetter) -> None:
        self.lex = lex
        self.src = src
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.matches: set[str] = set()
        self.nonmatches: set[str] = set()

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else _EOF

    def next(self) -> str:
        if self.pos < len(self.src):
            ch = self.src[self.pos]
            self.pos += 1
            return ch
        return _EOF

    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            while self.peek() != _EOF:
                ch = self.peek()
                if stop != _EOF and ch == stop:
                    self.next()
                    return "".join(result), words.get()
                fn = None
                if ch == "$":
                    fn = self.process_dollar
                elif ch == "<":
                    fn = self.process_possible_heredoc
                elif not self.lex.skip_process_quotes and ch == "'":
                    fn = self.process_single_quote
                elif not self.lex.skip_process_quotes and ch == '"':
                    fn = self.process_double_quote
                if fn is not None:
                    tmp = fn()
                    result.append(tmp)
                    if ch == "$":
                        words.add_string(tmp)
                    else:
                        words.add_raw_string(tmp)
                    continue
                ch = self.next()
                if ch == self.lex.escape:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch == _EOF:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
            if stop != _EOF:
                raise _Fail(f"unexpected end of statement while looking for matching {stop}")
            return "".join(result), words.get()
        finally:
            self.raw_escapes = saved

    def process_single_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            ch = self.next()
            if ch == _EOF:
                raise _Fail("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def process_double_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            p = self.peek()
            if p == _EOF:
                raise _Fail("unexpected end of statement while looking for matching double-quote")
            if p == '"':
                ch = self.next()
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if p == "$":
                out.append(self.process_dollar())
                continue
            ch = self.next()
            if ch == self.lex.escape:
                if self.raw_escapes:
                    out.append(ch)
                q = self.peek()
                if q == _EOF:
                    continue
                if q in ('"', "$", self.lex.escape):
                    ch = self.next()
            out.append(ch)

    def get_env(self, name: str) -> tuple[str, bool]:
        v = self.env.get(name)
        if v is not None:
            self.matches.add(name)
            return v, True
        self.nonmatches.add(name)
        return "", False

    def process_name(self) -> str:
        name: list[str] = []
        while self.peek() != _EOF:
            ch = self.peek()
            if not name and ch.isdigit():
                while self.peek() != _EOF and self.peek().isdigit():
                    name.append(self.next())
                return "".join(name)
            if not name and _is_special(ch):
                return self.next()
            if not (ch.isalpha() or ch.isdigit() or ch == "_"):
                break
            name.append(self.next())
        return "".join(name)

    def process_dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.process_name()
            if not name:
                return "$"
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value
        self.next()
        p = self.peek()
        if p == _EOF:
            raise _Fail("syntax error: missing '}'")
        if p in "{}:":
            raise _Fail("syntax error: bad substitution")
        name = self.process_name()
        ch = self.next()
        chs = ch or "\ufffd"  # Go prints string(EOF) as U+FFFD
        null_is_unset = False
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            chs += ch or "\ufffd"
        if null_is_unset or ch in ("+", "-", "?", "#", "%"):
            raw = ch in ("#", "%")
            if null_is_unset and raw:
                raise _Fail(f"unsupported modifier ({chs}) in substitution")
            try:
                word, _ = self.process_stop_on("}", raw)
            except _Fail:
                if self.peek() == _EOF:
                    raise _Fail("syntax error: missing '}'") from None
                raise
            value, found = self.get_env(name)
            if self.lex.skip_unset_env and not found:
                return "${" + name + chs + word + "}"
            if ch == "-":
                return word if (not found or (null_is_unset and value == "")) else value
            if ch == "+":
                return "" if (not found or (null_is_unset and value == "")) else word
            if ch == "?":
                if not found:
                    raise _Fail(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise _Fail(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            if ch not in ("#", "%"):
                raise _Fail(f"unsupported modifier ({chs}) in substitution")
            greedy = False
            if word and word[0] == ch:
                greedy = True
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        if ch == "/":
            replace_all = self.peek() == "/"
            if replace_all:
                self.next()
            try:
                pattern, _ = self.process_stop_on("/", True)
            except _Fail:
                if self.peek() == _EOF:
                    raise _Fail("syntax error: missing '/' in ${}") from None
                raise
            try:
                repl, _ = self.process_stop_on("}", True)
            except _Fail:
                if self.peek() == _EOF:
                    raise _Fail("syntax error: missing '}'") from None
                raise
            value, found = self.get_env(name)
            if self.lex.skip_unset_env and not found:
                return "${" + name + "/" + pattern + "/" + repl + "}"
            rx = _pattern_regex(pattern, greedy=True, anchored=False)
            if replace_all:
                return rx.sub(lambda _m: repl, value)
            m = rx.search(value)
            if m:
                value = value[: m.start()] + repl + value[m.end() :]
            return value
        raise _Fail(f"unsupported modifier ({chs}) in substitution")

    def process_possible_heredoc(self) -> str:
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        space: list[str] = []
        while self.peek() in ("\t", "\r", " ") and self.peek() != _EOF:
            space.append(self.next())
        return "<<" + "".join(space)


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    n = len(pattern)
    while i < n:
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
            continue
        if tok == "?":
            out.append(".")
            continue
        if tok == "\\":
            nxt = pattern[i] if i < n else ""
            if nxt in ("}", "/"):
                continue
            i += 1
            if nxt not in ("*", "?", "\\"):
                raise _Fail(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'")
            out.append(re.escape(nxt))
            continue
        out.append(re.escape(tok))
    return re.compile("".join(out), re.S)


def _trim_prefix(word: str, value: str, greedy: bool) -> str:
    rx = _pattern_regex(word, greedy=greedy, anchored=True)
    m = rx.search(value)
    return value[m.end() :] if m else value


def _reverse_pattern(pattern: str) -> str:
    chars = list(pattern)
    out = [""] * len(chars)
    last = len(chars) - 1
    i = 0
    while i <= last:
        tok = chars[i]
        idx = last - i
        if tok == "\\" and i != last:
            out[idx - 1] = tok
            out[idx] = chars[i + 1]
            i += 2
        else:
            out[idx] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, word: str, greedy: bool) -> str:
    return _trim_prefix(_reverse_pattern(pattern), word[::-1], greedy)[::-1]
