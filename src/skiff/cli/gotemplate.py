"""A Go ``text/template`` subset for ``--format``: what docker users write.

Supported: ``{{.Field}}``, ``{{.A.B}}``, ``{{.}}``, ``$`` and ``$var``, literals, pipelines
(``{{.Names | join ","}}``), parentheses, ``{{if}}/{{else if}}/{{else}}/{{end}}``,
``{{range}}`` (with ``$i, $v :=`` and ``{{else}}``), ``{{with}}``, trim markers ``{{- -}}``,
comments, and docker's functions (json, split, join, title, lower, upper, pad, truncate) plus Go's
builtins (and, or, not, len, index, slice, print, printf, println, eq, ne, lt, le, gt, ge).

Data is dicts/lists (Docker's JSON) or objects whose attributes (or zero-argument methods) are
the fields. A missing map key prints ``<no value>`` as Go does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Template", "TemplateError", "go_str", "FUNCS", "NoValue"]


class TemplateError(ValueError):
    """A template that does not parse or fails while executing (docker exits 1 / 125)."""


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


NoValue = _NoValue()


def go_str(v: Any) -> str:
    """A value printed as Go's ``fmt.Print`` prints it."""
    if v is NoValue:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, list | tuple):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    fields = getattr(v, "go_fields", None)
    if fields is not None:  # a Go struct: its fields' values in declaration order
        return "{" + " ".join(_zero(v.get(name), kind) for name, kind in fields) + "}"
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(v[k])}" for k in sorted(v, key=str)) + "]"
    return str(v)


_ZERO = {"str": "", "bool": "false", "int": "0", "map": "map[]", "ptr": "<nil>", "list": "[]"}


def _zero(value: Any, kind: str) -> str:
    """A struct field as fmt prints it: a missing or null value is the zero value of its Go type."""
    if value is None or value is NoValue:
        return _ZERO[kind]
    if kind == "ptr":  # fmt prints a non-nil pointer field as an address: unknowable here
        return "0x0"
    return go_str(value)


def _go_float(v: float) -> str:
    """Go's %v for float64: shortest representation, exponent form from 1e21 (and below 1e-4)."""
    s = repr(v)
    if "e" in s:
        mant, exp = s.split("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").rjust(2, "0")
        return f"{mant}e{sign}{digits}"
    if abs(v) >= 1e21 or (v != 0 and abs(v) < 1e-4):
        return _go_float(float(f"{v:e}"))
    return s[:-2] if s.endswith(".0") else s


def _truth(v: Any) -> bool:
    if v is NoValue or v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str | list | tuple | Mapping):
        return len(v) > 0
    return True


def _json(v: Any) -> str:
    """docker's ``json`` function; objects may offer ``to_json()`` for their wire form, or
    ``marshal_json()`` for text already encoded (a formatter context's MarshalJSON)."""
    if hasattr(v, "marshal_json"):
        return str(v.marshal_json())
    if hasattr(v, "to_json"):
        v = v.to_json()
    return json.dumps(None if v is NoValue else v, separators=(",", ":"), ensure_ascii=False,
                      default=lambda o: o.to_json() if hasattr(o, "to_json") else
                      dict(o) if isinstance(o, Mapping) else getattr(o, "__dict__", str(o)))


_VERB = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\d+))?([vsdqtTxXfeEgGcbo%])")


def go_sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the common verbs (%v %s %d %q %t %x %f %e %g %c %%)."""
    out: list[str] = []
    pos = 0
    ai = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if ai >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[ai]
        ai += 1
        if verb == "T":
            s = _go_type_name(a)
        elif verb in "vs":
            s = go_str(a) if verb == "v" or not isinstance(a, bytes) else a.decode()
            if prec:
                s = s[: int(prec)]
        elif verb == "q":
            s = json.dumps(go_str(a), ensure_ascii=False)
        elif verb == "t":
            s = go_str(bool(a))
        elif verb in "dboxXc":
            try:
                n = int(a)
            except (TypeError, ValueError):
                out.append(f"%!{verb}({go_str(a)})")
                continue
            s = {"d": str(n), "b": format(n, "b"), "o": format(n, "o"), "x": format(n, "x"),
                 "X": format(n, "X"), "c": chr(n)}[verb]
        else:
            try:
                f = float(a)
            except (TypeError, ValueError):
                out.append(f"%!{verb}({go_str(a)})")
                continue
            p = int(prec) if prec else 6
            s = f"{f:.{p}{verb}}"
        w = int(width) if width and width != "*" else 0
        if len(s) < w:
            s = s.ljust(w) if "-" in flags else (s.rjust(w, "0") if "0" in flags and verb in "dfxX"
                                                 else s.rjust(w))
        out.append(s)
    out.append(fmt[pos:])
    return "".join(out)


def _go_type_name(v: Any) -> str:
    """%T of a value decoded from docker's JSON, as Go would name the typed field's type."""
    if v is None or v is NoValue:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list | tuple):
        return "[]string" if v and all(isinstance(x, str) for x in v) else "[]interface {}"
    if isinstance(v, Mapping):
        return "map[string]string" if v and all(isinstance(x, str) for x in v.values()) else "map[string]interface {}"
    return type(v).__name__


def _index(v: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(v, Mapping):
            v = v.get(k, NoValue)
        elif isinstance(v, list | tuple | str):
            try:
                v = v[int(k)]
            except (IndexError, ValueError, TypeError):
                raise TemplateError(f"error calling index: index out of range: {k}") from None
        elif v is None or v is NoValue:
            raise TemplateError("error calling index: index of untyped nil")
        else:
            raise TemplateError(f"error calling index: can't index item of type {type(v).__name__}")
    return v


def _pad(s: Any, before: int, after: int) -> str:
    text = go_str(s)
    return (" " * before + text + " " * after) if text else text


def _truncate(s: Any, n: int) -> str:
    text = go_str(s)
    return text[:n]


def _eq(a: Any, *bs: Any) -> bool:
    return any(a == b for b in bs)


def _len(v: Any) -> int:
    try:
        return len(v)
    except TypeError:
        raise TemplateError(f"error calling len: len of type {type(v).__name__}") from None


def _and(*args: Any) -> Any:
    for a in args:
        if not _truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if _truth(a):
            return a
    return args[-1]


def _split(s: Any, sep: str) -> list[str]:
    return go_str(s).split(sep) if sep else list(go_str(s))


class _ArgTypeError(TemplateError):
    """An argument of the wrong Go type: Go reports it at the argument's node."""

    def __init__(self, index: int, msg: str) -> None:
        super().__init__(msg)
        self.index = index


def _join(v: Any, sep: Any) -> str:
    if isinstance(v, str) and isinstance(sep, list | tuple):  # {{.Names | join ","}}: piped last
        v, sep = sep, v
    elif isinstance(v, str):  # strings.Join([]string, string) given a string
        raise _ArgTypeError(0, "wrong type for value; expected []string; got string")
    if isinstance(v, list | tuple):
        return sep.join(go_str(x) for x in v)
    return go_str(v)


def _print(*args: Any) -> str:
    # Go's Sprint adds spaces between operands when neither is a string.
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_str(a)
    return out


FUNCS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "split": _split,
    "join": _join,
    "title": lambda s: go_str(s).title(),
    "lower": lambda s: go_str(s).lower(),
    "upper": lambda s: go_str(s).upper(),
    "pad": _pad,
    "truncate": _truncate,
    "and": _and,
    "or": _or,
    "not": lambda a: not _truth(a),
    "len": _len,
    "index": _index,
    "slice": lambda v, *ix: v[int(ix[0]) if ix else 0: int(ix[1]) if len(ix) > 1 else None],
    "print": _print,
    "printf": go_sprintf,
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "eq": _eq,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "urlquery": lambda *a: __import__("urllib.parse").parse.quote_plus(_print(*a)),
}

# ---- lexing ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)')
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<pipe>\|)
  | (?P<lp>\()
  | (?P<rp>\)(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<comma>,)
""", re.VERBOSE)


class _Tok:
    __slots__ = ("kind", "pos", "text")

    def __init__(self, kind: str, text: str, pos: int = 0) -> None:
        self.kind, self.text, self.pos = kind, text, pos


class _ParseError(TemplateError):
    """A parse error at a byte offset of the source; Template turns it into Go's ``template: :LINE: msg``."""

    def __init__(self, msg: str, pos: int = -1) -> None:
        super().__init__(msg)
        self.msg, self.pos = msg, pos


class _FieldError(TemplateError):
    """A field that cannot be evaluated; reported with Go's ``:LINE:COL: executing "" at <.X>:`` context."""


def _lex_action(src: str, base: int = 0) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    prev = ""
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise _ParseError(f"unexpected {src[pos]!r} in command", base + pos)
        kind = m.lastgroup or ""
        if (kind in ("field", "dot", "lp", "str", "num", "ident", "var") and prev in ("field", "dot", "rp", "var")) \
                or (kind == "dot" and prev == "ident"):
            # Go needs a space between operands: "{{json.}}" is "unexpected <.> in operand"
            raise _ParseError(f"unexpected <{m.group()[:1] if kind in ('field', 'dot') else m.group()}> in operand",
                              base + pos)
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), base + pos))
        prev = kind
        pos = m.end()
    return toks


# ---- parse tree ------------------------------------------------------------------------------

class _Pipeline:
    __slots__ = ("cmds", "decl")

    def __init__(self, decl: list[str], cmds: list[list[Any]]) -> None:
        self.decl = decl
        self.cmds = cmds  # each command: list of operands (tokens or nested pipelines)


class _Node:
    __slots__ = ("body", "kind", "orelse", "pipe", "text")

    def __init__(self, kind: str, text: str = "", pipe: _Pipeline | None = None) -> None:
        self.kind = kind  # text, action, if, range, with
        self.text = text
        self.pipe = pipe
        self.body: list[_Node] = []
        self.orelse: list[_Node] = []


def _split_template(src: str) -> list[tuple[str, str, int]]:
    """[(kind, text, offset)] with kind "text" or "action"; applies {{- and -}} trimming."""
    parts: list[tuple[str, str, int]] = []
    pos = 0
    while True:
        start = src.find("{{", pos)
        if start < 0:
            parts.append(("text", src[pos:], pos))
            break
        text = src[pos:start]
        inner_start = start + 2
        if src.startswith("- ", inner_start) or src.startswith("-\t", inner_start) \
                or src.startswith("-\n", inner_start):
            text = text.rstrip()
            inner_start += 1
        parts.append(("text", text, pos))
        end = src.find("}}", inner_start)
        if end < 0:
            raise _ParseError("unclosed action", len(src))
        inner = src[inner_start:end]
        pos = end + 2
        if inner.endswith((" -", "\t-", "\n-")):
            inner = inner[:-1]
            rest = src[pos:]
            pos += len(rest) - len(rest.lstrip())
        lead = len(inner) - len(inner.lstrip())
        parts.append(("action", inner.strip(), inner_start + lead))
    return [p for p in parts if not (p[0] == "text" and p[1] == "")]


class _Parser:
    def __init__(self, src: str, funcs: Mapping[str, Any]) -> None:
        self.parts = _split_template(src)
        self.funcs = funcs
        self.i = 0
        self.end = len(src)

    def parse(self) -> list[_Node]:
        nodes, stop = self._list()
        if stop is not None:
            raise _ParseError(f"unexpected {{{{{stop[0]}}}}}", stop[1])
        return nodes

    def _list(self) -> tuple[list[_Node], tuple[str, int] | None]:
        nodes: list[_Node] = []
        while self.i < len(self.parts):
            kind, text, off = self.parts[self.i]
            self.i += 1
            if kind == "text":
                nodes.append(_Node("text", text=text))
                continue
            if text.startswith("/*"):
                continue
            word = text.split(None, 1)[0] if text else ""
            rest = text[len(word):].strip()
            if word in ("end", "else"):
                return nodes, (text, off)
            if word in ("if", "range", "with"):
                nodes.append(self._block(word, rest, off + len(text) - len(rest)))
            elif word in ("define", "template", "block", "break", "continue"):
                raise _ParseError(f"{{{{{word}}}}} is not supported", off)
            else:
                nodes.append(_Node("action", pipe=self._pipeline(text, off)))
        return nodes, None

    def _pipeline(self, text: str, off: int) -> _Pipeline:
        if not text:
            raise _ParseError("missing value for command", off)
        toks = _lex_action(text, off)
        for t in toks:
            if t.kind == "ident" and t.text not in ("true", "false", "nil") and t.text not in self.funcs:
                raise _ParseError(f'function "{t.text}" not defined', t.pos)
        return _parse_pipeline(toks, off)

    def _block(self, word: str, rest: str, off: int) -> _Node:
        node = _Node(word, pipe=self._pipeline(rest, off))
        node.body, stop = self._list()
        if stop is None:
            raise _ParseError("unexpected EOF", self.end)
        if stop[0].startswith("else"):
            tail = stop[0][4:].strip()
            if tail.startswith("if ") and word == "if":
                node.orelse = [self._block("if", tail[3:], stop[1] + len(stop[0]) - len(tail) + 3)]
                return node
            node.orelse, stop2 = self._list()
            if stop2 is None:
                raise _ParseError("unexpected EOF", self.end)
            if stop2[0] != "end":
                raise _ParseError(f"expected end; found {{{{{stop2[0]}}}}}", stop2[1])
        return node


def _parse_pipeline(toks: list[_Tok], off: int = 0) -> _Pipeline:
    decl: list[str] = []
    # declarations: $x := ... or $i, $v := ...
    j = 0
    names: list[str] = []
    while j < len(toks) and toks[j].kind == "var":
        names.append(toks[j].text)
        if j + 1 < len(toks) and toks[j + 1].kind == "comma":
            j += 2
            continue
        if j + 1 < len(toks) and toks[j + 1].kind in ("decl", "assign"):
            decl = names
            toks = toks[j + 2:]
        break
    pos = 0

    def parse_cmds(stop_at_rp: bool) -> tuple[list[list[Any]], str]:
        nonlocal pos
        cmds: list[list[Any]] = [[]]
        while pos < len(toks):
            t = toks[pos]
            pos += 1
            if t.kind == "pipe":
                cmds.append([])
            elif t.kind == "lp":
                inner, rp = parse_cmds(True)
                cmds[-1].append(("sub", _Pipeline([], inner), rp[1:]))
            elif t.kind == "rp":
                if not stop_at_rp:
                    raise _ParseError("unexpected right paren", t.pos)
                return cmds, t.text
            else:
                cmds[-1].append(t)
        if stop_at_rp:
            raise _ParseError("unclosed left paren", off)
        return cmds, ""

    cmds, _ = parse_cmds(False)
    if any(not c for c in cmds):
        raise _ParseError("missing value for command", off)
    return _Pipeline(decl, cmds)


# ---- execution -------------------------------------------------------------------------------

class _Scope:
    def __init__(self, root: Any) -> None:
        self.vars: list[dict[str, Any]] = [{"$": root}]

    def get(self, name: str) -> Any:
        for frame in reversed(self.vars):
            if name in frame:
                return frame[name]
        raise TemplateError(f"template: undefined variable: {name}")

    def set(self, name: str, value: Any) -> None:
        self.vars[-1][name] = value


def _field(v: Any, name: str, args: list[Any] | None = None, strict: bool = False) -> Any:
    if isinstance(v, Mapping):
        if name in v:
            val = v[name]
            if callable(val) and not isinstance(val, type):  # a method of a Go context: .Label "k"
                try:
                    return val(*(args or []))
                except TypeError:
                    raise _FieldError(f"wrong number of args for {name}") from None
            return val
        go_type = getattr(v, "go_type", None)
        if go_type:
            raise _FieldError(f"can't evaluate field {name} in type {go_type}")
        if strict and not getattr(v, "go_map", False):
            raise _FieldError(f'map has no entry for key "{name}"')
        return NoValue
    if v is None or v is NoValue:
        raise TemplateError(f"template: nil pointer evaluating interface {{}}.{name}")
    try:
        attr = getattr(v, name)
    except AttributeError:
        raise TemplateError(f"template: can't evaluate field {name} in type {type(v).__name__}") from None
    if callable(attr):
        return attr(*(args or []))
    return attr


class Template:
    """A parsed template; ``execute(data) -> str``. ``header_mode`` makes functions pass through."""

    def __init__(self, src: str, funcs: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.src = src
        self._header = self._strict = False
        self.funcs = dict(FUNCS)
        if funcs:
            self.funcs.update(funcs)
        try:
            self.nodes = _Parser(src, self.funcs).parse()
        except _ParseError as exc:
            raise TemplateError(f"template: :{1 + src.count(chr(10), 0, max(exc.pos, 0))}: {exc.msg}") from None

    def execute(self, data: Any, header_mode: bool = False, missingkey_error: bool = False) -> str:
        """Run the template; ``missingkey_error`` is Go's ``missingkey=error`` (docker inspect's raw
        fallback): a key missing from a JSON object fails instead of printing ``<no value>``."""
        out: list[str] = []
        self._header = header_mode
        self._strict = missingkey_error
        self._run(self.nodes, data, _Scope(data), out)
        return "".join(out)

    def _located(self, t: _Tok, exc: TemplateError, shift: int = 0) -> TemplateError:
        """Go's execution error context: ``template: :LINE:COL: executing "" at <node>: msg`` (the column
        of the failing part of a chain: ``.Client.Nope`` fails at ``.Nope``)."""
        pos = t.pos + shift
        line = 1 + self.src.count("\n", 0, pos)
        col = pos - (self.src.rfind("\n", 0, pos) + 1)
        return TemplateError(f'template: :{line}:{col}: executing "" at <{t.text}>: {exc}')

    def _run(self, nodes: list[_Node], dot: Any, scope: _Scope, out: list[str]) -> None:
        for n in nodes:
            if n.kind == "text":
                out.append(n.text)
            elif n.kind == "action":
                assert n.pipe is not None
                v = self._pipe(n.pipe, dot, scope)
                if not n.pipe.decl:
                    out.append("<no value>" if v is None else go_str(v))
            elif n.kind == "if":
                assert n.pipe is not None
                scope.vars.append({})
                v = self._pipe(n.pipe, dot, scope)
                self._run(n.body if _truth(v) else n.orelse, dot, scope, out)
                scope.vars.pop()
            elif n.kind == "with":
                assert n.pipe is not None
                scope.vars.append({})
                v = self._pipe(n.pipe, dot, scope)
                if _truth(v):
                    self._run(n.body, v, scope, out)
                else:
                    self._run(n.orelse, dot, scope, out)
                scope.vars.pop()
            elif n.kind == "range":
                assert n.pipe is not None
                decl = n.pipe.decl
                v = self._pipe(_Pipeline([], n.pipe.cmds), dot, scope)
                if isinstance(v, Mapping):
                    items = [(k, v[k]) for k in sorted(v, key=str)]
                elif isinstance(v, list | tuple):
                    items = list(enumerate(v))
                elif v is None or v is NoValue:
                    items = []
                elif isinstance(v, int) and not isinstance(v, bool):
                    items = [(i, i) for i in range(v)]
                else:
                    raise TemplateError(f"template: range can't iterate over {go_str(v)}")
                if not items:
                    self._run(n.orelse, dot, scope, out)
                for k, item in items:
                    scope.vars.append({})
                    if len(decl) == 1:
                        scope.set(decl[0], item)
                    elif len(decl) == 2:
                        scope.set(decl[0], k)
                        scope.set(decl[1], item)
                    self._run(n.body, item, scope, out)
                    scope.vars.pop()

    def _pipe(self, p: _Pipeline, dot: Any, scope: _Scope) -> Any:
        value: Any = NoValue
        first = True
        for cmd in p.cmds:
            value = self._cmd(cmd, dot, scope, None if first else value, not first)
            first = False
        for name in p.decl[-1:]:
            scope.set(name, value)
        return value

    def _operand(self, t: Any, dot: Any, scope: _Scope) -> Any:
        if isinstance(t, tuple):
            _, sub, chain = t
            v = self._pipe(sub, dot, scope)
            for name in [c for c in chain.split(".") if c]:
                v = _field(v, name)
            return v
        k = t.kind
        if k == "dot":
            return dot
        if k == "field":
            v = dot
            shift = 0
            try:
                for name in t.text.split(".")[1:]:
                    v = _field(v, name, strict=self._strict)
                    shift += len(name) + 1
            except _FieldError as exc:
                raise self._located(t, exc, shift) from None
            return v
        if k == "var":
            head, *rest = t.text.split(".")
            v = scope.get(head)
            try:
                for name in rest:
                    v = _field(v, name, strict=self._strict)
            except _FieldError as exc:
                raise self._located(t, exc) from None
            return v
        if k == "str":
            return json.loads(t.text)
        if k == "raw":
            return t.text[1:-1]
        if k == "char":
            return ord(json.loads('"' + t.text[1:-1] + '"'))
        if k == "num":
            return float(t.text) if any(c in t.text for c in ".eE") else int(t.text)
        if k == "ident":
            if t.text in ("true", "false"):
                return t.text == "true"
            if t.text == "nil":
                return None
            return self._call(t.text, [])
        raise TemplateError(f"template: unexpected {t.text!r}")

    def _call(self, name: str, args: list[Any]) -> Any:
        fn = self.funcs.get(name)
        if fn is None:
            raise TemplateError(f"template: function \"{name}\" not defined")
        if self._header and name not in ("printf", "print", "println"):
            return args[-1] if args else ""
        try:
            return fn(*args)
        except TemplateError:
            raise
        except Exception as exc:
            raise TemplateError(f"template: error calling {name}: {exc}") from exc

    def _cmd(self, cmd: list[Any], dot: Any, scope: _Scope, piped: Any, has_piped: bool) -> Any:
        head = cmd[0]
        if not isinstance(head, tuple) and head.kind == "ident" and head.text not in ("true", "false", "nil"):
            args = [self._operand(a, dot, scope) for a in cmd[1:]]
            if has_piped:
                args.append(piped)
            try:
                return self._call(head.text, args)
            except _ArgTypeError as exc:
                arg = cmd[1 + exc.index] if 1 + exc.index < len(cmd) else None
                if isinstance(arg, _Tok):
                    raise self._located(arg, exc) from None
                raise TemplateError(f"template: {exc}") from None
        if not isinstance(head, tuple) and head.kind == "field" and (len(cmd) > 1 or has_piped):
            # a method call with arguments: .Method arg1 arg2
            names = head.text.split(".")[1:]
            v = dot
            args = [self._operand(a, dot, scope) for a in cmd[1:]]
            if has_piped:
                args.append(piped)
            try:
                for name in names[:-1]:
                    v = _field(v, name, strict=self._strict)
                return _field(v, names[-1], args, strict=self._strict)
            except _FieldError as exc:
                raise self._located(head, exc) from None
        if len(cmd) > 1 or has_piped:
            raise TemplateError(f"template: can't give argument to non-function {_tok_text(head)}")
        return self._operand(head, dot, scope)


def _tok_text(t: Any) -> str:
    return t.text if isinstance(t, _Tok) else "(...)"
