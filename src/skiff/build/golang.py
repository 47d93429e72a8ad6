"""Go's formatting verbs that leak into Docker's visible strings (history ``created_by``, errors).

The classic builder writes ``CMD %q``, ``VOLUME %v``, ``HEALTHCHECK %q`` and so on; images built by
Skiff must carry the same bytes, so these helpers reproduce Go's strconv.Quote and friends.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ["go_duration", "go_is_space", "go_quote", "go_quote_list", "go_quote_rune", "go_list"]

_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _printable(ch: str) -> bool:
    if ch == " ":
        return True
    cat = unicodedata.category(ch)
    return cat[0] in "LMNPS"


def _quote_char(ch: str, quote: str) -> str:
    if ch == quote or ch == "\\":
        return "\\" + ch
    if ch in _ESC:
        return _ESC[ch]
    if _printable(ch):
        return ch
    cp = ord(ch)
    if cp < 0x80:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def go_quote(s: str) -> str:
    """strconv.Quote."""
    return '"' + "".join(_quote_char(c, '"') for c in s) + '"'


def go_quote_rune(n: int) -> str:
    """``%q`` of an int: a Go rune literal, e.g. ``'\\x03'``."""
    if n < 0 or n > 0x10FFFF:
        return "'\ufffd'"
    return "'" + _quote_char(chr(n), "'") + "'"


def go_quote_list(items: Iterable[str]) -> str:
    """``%q`` of a []string: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def go_list(items: Iterable[str]) -> str:
    """``%v`` of a []string: ``[a b]``."""
    return "[" + " ".join(items) + "]"


def go_duration(ns: int) -> str:
    """time.Duration.String for a count of nanoseconds."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        if u < 1_000:
            out = f"{u}ns"
        elif u < 1_000_000:
            out = _frac(u, 1_000) + "µs"
        else:
            out = _frac(u, 1_000_000) + "ms"
    else:
        secs_ns = u % 60_000_000_000
        mins = u // 60_000_000_000
        out = _frac(secs_ns, 1_000_000_000) + "s"
        if mins:
            hours, mins = divmod(mins, 60)
            out = f"{mins}m" + out
            if hours:
                out = f"{hours}h" + out
    return "-" + out if neg else out


def _frac(v: int, unit: int) -> str:
    whole, rest = divmod(v, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")


_LATIN1_SPACE = frozenset("\t\n\v\f\r \x85\xa0")


def go_is_space(ch: str) -> bool:
    """unicode.IsSpace (str.isspace also counts \x1c-\x1f, which Go does not)."""
    if ord(ch) < 0x100:
        return ch in _LATIN1_SPACE
    return ch.isspace()
