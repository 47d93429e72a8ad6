"""fastjson: the runtime's JSON on the C accelerator gives json's results and errors."""

from __future__ import annotations

import json

import pytest

from skiff.runtime import fastjson

DOCS = ['{"a": [1, 2.5, "x\\u00e9", null, true, false], "b": {}}', " 1 ", '"x"', "[]\n", '{"n": -0.0}',
        '{"big": 123456789012345678901234567890}', '[NaN, Infinity, -Infinity]']


@pytest.mark.parametrize("doc", DOCS)
def test_loads_matches_json(doc: str) -> None:
    assert repr(fastjson.loads(doc)) == repr(json.loads(doc))
    assert repr(fastjson.loads(doc.encode())) == repr(json.loads(doc.encode()))


@pytest.mark.parametrize("doc", ["", "  ", "{", "{} x", "[1,]", '{"a" 1}'])
def test_loads_errors_are_jsons(doc: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        fastjson.loads(doc)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(doc)
    assert str(ours.value) == str(theirs.value)


def test_loads_utf8_bom_and_utf16_like_json() -> None:
    assert fastjson.loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    assert fastjson.loads('{"é": 2}'.encode("utf-16")) == {"é": 2}


@pytest.mark.parametrize("obj", [{"a": [1, 2.5, "é", None, True]}, "x", 3, [], {"b": {"c": (1,)}},
                                 {"z": 1, "a": {"y": 2, "b": 3}}])
def test_dumps_matches_json(obj: object) -> None:
    assert fastjson.dumps(obj) == json.dumps(obj, separators=(",", ":"))
    assert fastjson.dumps(obj, sort_keys=True) == json.dumps(obj, separators=(",", ":"), sort_keys=True)


def test_dumps_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        fastjson.dumps({"a": object()})
