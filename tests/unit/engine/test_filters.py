"""Docker's filters parameter: both JSON forms, validation, matching."""

from __future__ import annotations

import pytest

from skiff.engine.filters import Filters, InvalidFilter
from skiff.errors import InvalidParameter


def test_both_json_forms_parse_the_same() -> None:
    a = Filters.parse('{"label":{"a=b":true,"c":true},"status":{"running":true}}')
    b = Filters.parse('{"label":["a=b","c"],"status":["running"]}')
    assert a == b
    assert a.get("label") == ["a=b", "c"]
    assert Filters.parse('{"x":{"off":false}}').get("x") == []


@pytest.mark.parametrize("raw", [None, "", "  ", "null", "{}"])
def test_empty(raw: str | None) -> None:
    f = Filters.parse(raw)
    assert not f and f.exact_match("anything", "x")


@pytest.mark.parametrize("raw", ["{", "[1]", '{"a": 1}'])
def test_invalid_json(raw: str) -> None:
    with pytest.raises(InvalidParameter):
        Filters.parse(raw)


def test_validate_message() -> None:
    with pytest.raises(InvalidFilter, match="invalid filter 'bogus'"):
        Filters.parse('{"bogus":["1"]}').validate(("label", "status"))


def test_matching() -> None:
    f = Filters.of(name=["^web"], id=["abc"], label=["env=prod", "tier"], dangling=["true"])
    assert f.match("name", "web-1") and not f.match("name", "db")
    assert f.fuzzy_match("id", "abcdef") and not f.fuzzy_match("id", "xyz")
    assert f.exact_match("id", "abc") and not f.exact_match("id", "abcd")
    assert f.match_kv("label", {"env": "prod", "tier": "x"})
    assert not f.match_kv("label", {"env": "dev", "tier": "x"})
    assert not f.match_kv("label", {"env": "prod"})
    assert Filters.of(label=["env!=prod"]).match_kv("label", {"env": "dev"})
    assert f.get_bool("dangling", False) is True
    with pytest.raises(InvalidFilter):
        Filters.of(dangling=["maybe"]).get_bool("dangling", False)


def test_round_trip_to_json() -> None:
    f = Filters.of(label=["a=b"])
    assert Filters.parse(f.to_json()) == f
