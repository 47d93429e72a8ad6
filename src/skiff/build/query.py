"""POST /build's query string -> BuildOptions, with dockerd's errors (parsed once, at the edge).

The API hands the raw multi-valued query here; what the classic builder cannot do is refused in
Docker's words: ``version=2`` (BuildKit needs the session endpoints), ``remote`` contexts, ``squash``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from skiff.build.options import BuildOptions
from skiff.errors import InvalidParameter, Unimplemented

__all__ = ["options_from_query"]

_RESOURCE_INTS = ("memory", "memswap", "cpushares", "cpuperiod", "cpuquota", "shmsize")
_RESOURCE_STRS = ("cpusetcpus", "cpusetmems", "cgroupparent", "isolation")


def _values(query: Mapping[str, Any], key: str) -> list[str]:
    v = query.get(key)
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]


def _one(query: Mapping[str, Any], key: str, default: str = "") -> str:
    vals = _values(query, key)
    return vals[-1] if vals else default


def _bool(query: Mapping[str, Any], key: str) -> bool:
    """httputils.BoolValue: anything but "", "0", "no", "false", "none" is true."""
    return _one(query, key).strip().lower() not in ("", "0", "no", "false", "none")


def _json(query: Mapping[str, Any], key: str, what: str) -> Any:
    raw = _one(query, key)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as e:
        raise InvalidParameter(f"error reading {what}: {e}") from None


def _str_map(value: Any, what: str, allow_null: bool) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, str) or (allow_null and v is None) for v in value.values()
    ):
        raise InvalidParameter(f"error reading {what}: expected a JSON object of strings")
    return dict(value)


def _str_list(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter(f"error reading {what}: expected a JSON array of strings")
    return tuple(value)


def _extra_hosts(values: Iterable[str]) -> tuple[str, ...]:
    """The docker client joins ``--add-host`` values with commas."""
    out: list[str] = []
    for v in values:
        out.extend(h for h in v.split(",") if h)
    return tuple(out)


def options_from_query(query: Mapping[str, Any]) -> BuildOptions:
    """``query`` maps each parameter to a string or a list of strings (repeated parameters)."""
    version = _one(query, "version", "1")
    if version == "2":
        raise Unimplemented(
            "BuildKit (version=2) is not supported by this daemon; build with DOCKER_BUILDKIT=0"
        )
    if version not in ("", "1"):
        raise InvalidParameter(f"invalid builder version: {version}")
    if _one(query, "remote"):
        raise Unimplemented("remote build contexts (git, URL) are not supported; send the context as a tar")
    if _bool(query, "squash"):
        raise InvalidParameter("squash is only supported with experimental mode")
    resources: dict[str, Any] = {}
    for key in _RESOURCE_INTS:
        raw = _one(query, key)
        if raw:
            try:
                resources[key] = int(raw)
            except ValueError:
                raise InvalidParameter(f"invalid value for {key}: {raw}") from None
    for key in _RESOURCE_STRS:
        if _one(query, key):
            resources[key] = _one(query, key)
    ulimits = _json(query, "ulimits", "ulimits")
    if ulimits:
        resources["ulimits"] = ulimits
    network = _one(query, "networkmode") or "default"
    return BuildOptions(
        dockerfile=_one(query, "dockerfile") or "Dockerfile",
        tags=tuple(t for t in _values(query, "t") if t),
        build_args=_str_map(_json(query, "buildargs", "build args"), "build args", allow_null=True),
        labels=_str_map(_json(query, "labels", "labels"), "labels", allow_null=False),
        target=_one(query, "target"),
        no_cache=_bool(query, "nocache"),
        pull=_bool(query, "pull"),
        cache_from=_str_list(_json(query, "cachefrom", "cache-from"), "cache-from"),
        network_mode=network,
        platform=_one(query, "platform"),
        quiet=_bool(query, "q"),
        extra_hosts=_extra_hosts(_values(query, "extrahosts")),
        resources=resources,
        build_id=_one(query, "buildid"),
    )
