"""JSON for the runtime's hot path, straight on CPython's C accelerator (``_json``).

Why: ``import json`` pulls in ``re`` and, through it, ``enum``, ``functools`` and ``collections``:
several milliseconds of every ``create``/``run``, where the whole command should cost tens. The C
scanner and encoder that ``json`` itself uses need none of that. Results are the same as
``json.loads`` / ``json.dumps(obj, separators=(",", ":"))``; errors are ``json``'s own
(``JSONDecodeError``, a ValueError; ``TypeError`` for what cannot be encoded). Where ``_json`` is
missing (another interpreter), ``json`` does the work.

    from skiff.runtime import fastjson
    fastjson.loads(b'{"a": 1}')     fastjson.dumps({"b": 1, "a": 2}, sort_keys=True) == '{"a":2,"b":1}'
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ["loads", "dumps"]

_WS = " \t\n\r"


class _Context:
    """What ``_json.make_scanner`` reads from a decoder: the defaults of ``json.JSONDecoder``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__


def _not_serializable(o: Any) -> NoReturn:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


try:
    import _json

    _scan: Any = _json.make_scanner(_Context())  # type: ignore[arg-type]
    _encoders: Any = tuple(_json.make_encoder(None, _not_serializable, _json.encode_basestring_ascii, None,
                                              ":", ",", sort, False, True) for sort in (False, True))
except (ImportError, AttributeError, TypeError):  # pragma: no cover (not CPython)
    _scan = _encoders = None


def _error(msg: str, doc: str, pos: int) -> ValueError:
    from json.decoder import JSONDecodeError

    return JSONDecodeError(msg, doc, pos)


def loads(data: str | bytes) -> Any:
    """``json.loads``: one JSON document, surrounded by whitespace at most."""
    if _scan is None or (not isinstance(data, str) and data[:3] == b"\xef\xbb\xbf"):
        import json

        return json.loads(data)
    if isinstance(data, str):
        s = data
    else:
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError:  # UTF-16/32, which json.loads detects
            import json

            return json.loads(data)
    start = len(s) - len(s.lstrip(_WS))
    try:
        obj, end = _scan(s, start)
    except StopIteration as err:
        raise _error("Expecting value", s, err.value) from None
    if s[end:].strip(_WS):
        raise _error("Extra data", s, end + len(s[end:]) - len(s[end:].lstrip(_WS)))
    return obj


def dumps(obj: Any, sort_keys: bool = False) -> str:
    """``json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys)`` (ASCII; no circularity
    check: a cycle ends in RecursionError)."""
    if _encoders is None:  # pragma: no cover
        import json

        return json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys)
    return "".join(_encoders[sort_keys](obj, 0))
