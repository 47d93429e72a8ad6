"""Go's ``encoding/json`` type errors for request bodies, in dockerd's exact words.

dockerd decodes each request body into a Go struct, so a value of the wrong JSON type is refused
with Go's text (moby v28, Go 1.24)::

    invalid JSON: json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Resources.Memory of type int64

Handlers call :func:`check` on the raw body with the schema of the Go type (``api/gotypes.py``)
before they read anything from it. What Go accepts passes: unknown keys, ``null`` anywhere, keys in
any letter case, a string for a ``strslice.StrSlice`` (``"Cmd": "true"``). The rules followed
(``encoding/json/decode.go``):

- a mismatch is remembered and decoding goes on; the FIRST one in document order is reported;
- an error returned by a custom ``UnmarshalJSON`` (only ``StrSlice`` here) stops at once and wins;
- the text names the innermost struct type being decoded (``Ulimit``), then the path of JSON keys
  from the root, with the names of embedded Go structs on the way (``Config``, ``Resources``), no
  array indexes and no map keys; the type is the Go type of the value, pointers removed;
- numbers into integer fields must be integer literals in range, else ``number <literal>``;
- ``NaN`` and ``Infinity``, which Python's parser takes, are Go's syntax errors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from skiff.errors import InvalidParameter

__all__ = ["GoType", "Field", "check", "go_error", "go_zero", "struct_", "field_", "slice_", "array_", "map_",
           "string_", "bool_", "int_", "uint_", "STRING", "BOOL", "INT", "INT64", "UINT", "UINT16",
           "UINT32", "UINT64", "STRSLICE", "ANY"]


@dataclass(frozen=True, eq=False)
class Field:
    """A JSON key of a struct: its canonical name, its type, and the embedded structs it comes through."""

    name: str
    type: GoType
    via: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class GoType:
    """A Go type as encoding/json sees it: a kind, and ``reflect.Type.String()`` for the messages."""

    kind: str  # string bool int uint struct slice array map any strslice
    name: str
    bits: int = 64
    elem: GoType | None = None
    length: int = 0
    struct_name: str = ""  # reflect.Type.Name(): "HostConfig" for container.HostConfig
    fields: tuple[Field, ...] = ()
    _exact: dict[str, Field] = field(default_factory=dict, repr=False)
    _folded: dict[str, Field] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for f in self.fields:
            self._exact.setdefault(f.name, f)
            self._folded.setdefault(_fold(f.name), f)

    def lookup(self, key: str) -> Field | None:
        """Go's field match: the exact name first, then a case-insensitive one."""
        return self._exact.get(key) or self._folded.get(_fold(key))


_FOLD_SPECIAL = {"\u212a": "K", "\u017f": "S"}  # Kelvin sign and long s fold onto ASCII letters in Go


def _fold(key: str) -> str:
    if key.isascii():
        return key.upper()
    return "".join(_FOLD_SPECIAL.get(c, c.upper() if c.isascii() else c) for c in key)


def struct_(struct_name: str, name: str, *fields: Field) -> GoType:
    return GoType("struct", name, struct_name=struct_name, fields=fields)


def field_(name: str, type_: GoType, via: tuple[str, ...] = ()) -> Field:
    return Field(name, type_, via)


def slice_(name: str, elem: GoType) -> GoType:
    return GoType("slice", name, elem=elem)


def array_(name: str, elem: GoType, length: int) -> GoType:
    return GoType("array", name, elem=elem, length=length)


def map_(name: str, elem: GoType) -> GoType:
    """A map with string keys (all of moby's request maps)."""
    return GoType("map", name, elem=elem)


def string_(name: str) -> GoType:
    return GoType("string", name)


def bool_(name: str) -> GoType:
    return GoType("bool", name)


def int_(name: str, bits: int) -> GoType:
    return GoType("int", name, bits=bits)


def uint_(name: str, bits: int) -> GoType:
    return GoType("uint", name, bits=bits)


STRING, BOOL = string_("string"), bool_("bool")
INT, INT64 = int_("int", 64), int_("int64", 64)
UINT, UINT16, UINT32, UINT64 = uint_("uint", 64), uint_("uint16", 16), uint_("uint32", 32), uint_("uint64", 64)
STRSLICE = GoType("strslice", "strslice.StrSlice")  # a string or a list of strings (its UnmarshalJSON)
ANY = GoType("any", "interface {}")


class _Num:
    """A JSON number kept as written: Go's messages quote the literal ("number 1.5")."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Obj(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs, in order and with repeated keys, as Go reads them."""


_INT = re.compile(r"-?[0-9]+")
_UINT = re.compile(r"[0-9]+")
_Ctx = tuple[str, tuple[str, ...]] | None  # (struct type name, key path) once inside a struct


class _Stop(Exception):
    """An error returned by an UnmarshalJSON method: decoding stops there."""


def _describe(v: Any) -> str:
    if isinstance(v, _Obj):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, _Num):
        return "number"
    return "string"


def _message(what: str, type_name: str, ctx: _Ctx) -> str:
    if ctx is None:
        return f"json: cannot unmarshal {what} into Go value of type {type_name}"
    return f"json: cannot unmarshal {what} into Go struct field {ctx[0]}.{'.'.join(ctx[1])} of type {type_name}"


class _Decoder:
    def __init__(self) -> None:
        self.first: str | None = None

    def save(self, what: str, t: GoType, ctx: _Ctx) -> None:
        if self.first is None:
            self.first = _message(what, t.name, ctx)

    def value(self, v: Any, t: GoType, ctx: _Ctx) -> None:
        if v is None or t.kind == "any":
            return  # null leaves any Go value as it is
        if t.kind == "strslice":
            if isinstance(v, str) or (type(v) is list and all(e is None or isinstance(e, str) for e in v)):
                return
            # StrSlice tries []string, then string, and returns the second error
            raise _Stop(_message(_describe(v), "string", ctx))
        if isinstance(v, _Obj):
            if t.kind == "struct":
                path = ctx[1] if ctx else ()
                for key, sub in v:
                    f = t.lookup(key)
                    if f is not None:  # unknown keys are ignored
                        self.value(sub, f.type, (t.struct_name, (*path, *f.via, f.name)))
            elif t.kind == "map":
                assert t.elem is not None
                for _key, sub in v:
                    self.value(sub, t.elem, ctx)
            else:
                self.save("object", t, ctx)
        elif isinstance(v, list):
            if t.kind in ("slice", "array"):
                assert t.elem is not None
                for e in v if t.kind == "slice" else v[:t.length]:  # past a Go array's end: skipped
                    self.value(e, t.elem, ctx)
            else:
                self.save("array", t, ctx)
        elif isinstance(v, bool):
            if t.kind != "bool":
                self.save("bool", t, ctx)
        elif isinstance(v, _Num):
            self.number(v.text, t, ctx)
        elif t.kind != "string":
            self.save("string", t, ctx)

    def number(self, text: str, t: GoType, ctx: _Ctx) -> None:
        if t.kind == "int":
            lim = 1 << (t.bits - 1)
            if not (_INT.fullmatch(text) and -lim <= int(text) < lim):
                self.save(f"number {text}", t, ctx)
        elif t.kind == "uint":
            if not (_UINT.fullmatch(text) and int(text) < 1 << t.bits):
                self.save(f"number {text}", t, ctx)
        else:
            self.save("number", t, ctx)


_NOT_JSON = {  # Python reads these; Go's scanner stops at their first letter
    "NaN": "invalid character 'N' looking for beginning of value",
    "Infinity": "invalid character 'I' looking for beginning of value",
    "-Infinity": "invalid character 'I' in numeric literal",
}


def _constant(name: str) -> Any:
    raise _Stop(_NOT_JSON[name])


def go_error(raw: bytes | str, schema: GoType) -> str | None:
    """Go's error for decoding ``raw`` into ``schema``, or None; None too when raw is not JSON."""
    try:
        doc = json.loads(raw, object_pairs_hook=_Obj, parse_int=_Num, parse_float=_Num, parse_constant=_constant)
    except _Stop as stop:
        return str(stop)
    except ValueError:
        return None  # a syntax error is json_body's to report
    d = _Decoder()
    try:
        d.value(doc, schema, None)
    except _Stop as stop:
        return str(stop)
    return d.first


def check(raw: bytes | str, schema: GoType) -> None:
    """Refuse a body of the wrong JSON types as dockerd does (its ``invalid JSON: `` prefix, 400)."""
    err = go_error(raw, schema)
    if err is not None:
        raise InvalidParameter(f"invalid JSON: {err}")


_ZERO: dict[str, Any] = {"string": "", "bool": False, "int": 0, "uint": 0}


def go_zero(doc: Any, schema: GoType) -> Any:
    """``doc`` (a body :func:`check` passed) with its ``null``s as Go leaves them after decoding into
    ``schema``: a struct field that is ``null`` is as if absent, a ``null`` element of a list or value
    of a map is the element type's zero value (``""``, ``0``, ``false``, an empty struct). Why: the
    engine then reads ``"Binds": [null]`` as dockerd does (``invalid volume specification: ''``),
    not as a Python ``None`` it would trip on."""
    if doc is None:
        return None
    if schema.kind == "struct" and isinstance(doc, dict):
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if value is None:
                continue
            f = schema.lookup(key)
            out[key] = value if f is None else go_zero(value, f.type)
        return out
    if schema.kind == "map" and isinstance(doc, dict) and schema.elem is not None:
        return {k: _element(v, schema.elem) for k, v in doc.items()}
    if schema.kind in ("slice", "array") and isinstance(doc, list) and schema.elem is not None:
        return [_element(v, schema.elem) for v in doc]
    if schema.kind == "strslice" and isinstance(doc, list):
        return ["" if v is None else v for v in doc]
    return doc


def _element(v: Any, t: GoType) -> Any:
    if v is not None:
        return go_zero(v, t)
    if t.kind in _ZERO:
        return _ZERO[t.kind]
    if t.kind == "struct":
        return {}
    return None  # a nil slice, map or interface
