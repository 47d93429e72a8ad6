"""Docker's ``filters`` query parameter, parsed once into an immutable ``Filters`` value.

The Go client sends the *set* form ``{"label":{"a=b":true}}``; older clients send the list form
``{"label":["a=b"]}``. Both parse to the same value. Engine services receive ``Filters`` and use
``validate`` (Docker's "invalid filter" error), ``get``, ``exact_match``, ``match`` and
``get_bool``; nobody reads the raw JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skiff.errors import InvalidParameter

__all__ = ["Filters", "InvalidFilter"]


class InvalidFilter(InvalidParameter):
    """A filter name or value the endpoint does not accept (400)."""


@dataclass(frozen=True)
class Filters:
    """filter name -> set of values; an empty ``Filters`` matches everything."""

    fields: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> Filters:
        """Parse the JSON text of the ``filters`` query parameter (either form)."""
        if raw is None or raw.strip() == "":
            return cls()
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidFilter(f"invalid filter: {exc}") from exc
        if doc is None:
            return cls()
        if not isinstance(doc, dict):
            raise InvalidFilter("invalid filter: filters must be a JSON object")
        out: dict[str, frozenset[str]] = {}
        for key, value in doc.items():
            if isinstance(value, dict):
                out[key] = frozenset(str(v) for v, on in value.items() if on)
            elif isinstance(value, list):
                out[key] = frozenset(str(v) for v in value)
            else:
                raise InvalidFilter(f"invalid filter: bad value for '{key}'")
        return cls(out)

    @classmethod
    def of(cls, pairs: Mapping[str, Iterable[str]] | None = None, **kw: Iterable[str]) -> Filters:
        merged = dict(pairs or {}) | kw
        return cls({k: frozenset(v) for k, v in merged.items()})

    def to_json(self) -> str:
        """The set form the Go client sends."""
        return json.dumps({k: {v: True for v in sorted(vs)} for k, vs in sorted(self.fields.items())})

    def __bool__(self) -> bool:
        return bool(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def keys(self) -> list[str]:
        return sorted(self.fields)

    def contains(self, key: str) -> bool:
        return key in self.fields

    def get(self, key: str) -> list[str]:
        return sorted(self.fields.get(key, ()))

    def validate(self, accepted: Iterable[str]) -> None:
        """Refuse filter names the endpoint does not know, with moby's message."""
        ok = set(accepted)
        for key in sorted(self.fields):
            if key not in ok:
                raise InvalidFilter(f"invalid filter '{key}'")

    def exact_match(self, key: str, source: str) -> bool:
        """True if the filter is absent or one of its values equals ``source``."""
        values = self.fields.get(key)
        return not values or source in values

    def unique_exact_match(self, key: str, source: str) -> bool:
        values = self.fields.get(key)
        if not values:
            return True
        return len(values) == 1 and source in values

    def match(self, key: str, source: str) -> bool:
        """True if the filter is absent or a value (a regular expression) matches ``source``."""
        values = self.fields.get(key)
        if not values:
            return True
        for v in values:
            if v == source:
                return True
            try:
                if re.search(v, source):
                    return True
            except re.error:
                continue
        return False

    def fuzzy_match(self, key: str, source: str) -> bool:
        """True if absent, equal, or a value is a prefix of ``source`` (ids)."""
        values = self.fields.get(key)
        if not values:
            return True
        return any(source.startswith(v) for v in values)

    def match_kv(self, key: str, labels: Mapping[str, str]) -> bool:
        """``label=k`` / ``label=k=v`` / ``label!=...`` style matching against a label map."""
        values = self.fields.get(key)
        if not values:
            return True
        for v in values:
            negate = False
            if "!=" in v:
                k, _, want = v.partition("!=")
                negate = True
            elif "=" in v:
                k, _, want = v.partition("=")
            else:
                if v not in labels:
                    return False
                continue
            have = labels.get(k)
            if negate:
                if have == want:
                    return False
            elif have != want:
                return False
        return True

    def get_bool(self, key: str, default: bool) -> bool:
        """A boolean filter (``dangling=true``), moby's GetBoolOrDefault: "1"/"true" or "0"/"false"
        (case matters); no value, another value or both kinds is its error ("dangling=[TRUE]")."""
        values = self.fields.get(key)
        if values is None:
            return default
        is_false = "0" in values or "false" in values
        is_true = "1" in values or "true" in values
        if not values or is_false == is_true:
            shown = f"={'[' + ' '.join(sorted(values)) + ']'}" if values else ""
            raise InvalidFilter(f"invalid filter '{key}{shown}'")
        return is_true

    def as_dict(self) -> dict[str, Any]:
        return {k: sorted(v) for k, v in self.fields.items()}
