"""Read-only views of the image store in Docker's JSON shapes: list (+filters), inspect, history, df."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from skiff.errors import InvalidParameter
from skiff.image import reference
from skiff.image.store import ImageRecord
from skiff.oci.image_spec import History, ImageConfig

if TYPE_CHECKING:
    from skiff.image.service import ImageService

__all__ = ["parse_created", "summary", "list_images", "inspect", "history", "disk_usage", "path_match",
           "IMAGE_LIST_FILTERS"]

IMAGE_LIST_FILTERS = frozenset({"dangling", "label", "before", "since", "reference", "until"})
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_created(s: str) -> float:
    """RFC 3339 (Go's, nanoseconds allowed) -> unix seconds; 0 for empty or unparsable."""
    if not s:
        return 0.0
    try:
        return datetime.datetime.fromisoformat(_FRACTION.sub(r"\1", s, count=1).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _rfc3339(ts: float) -> str:
    t = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


def path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: ``*`` and ``?`` do not cross ``/``; ``[...]`` classes."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                raise InvalidParameter("syntax error in pattern")
            body = pattern[i + 1:j]
            out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
            i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.fullmatch(out, name) is not None


def summary(svc: ImageService, rec: ImageRecord, cfg: ImageConfig | None = None,
            containers: int = -1, shared: int = -1) -> dict[str, Any]:
    """One entry of GET /images/json (API 1.44+ shape; the API adds VirtualSize for older versions)."""
    cfg = cfg or svc.config_of(rec)
    return {"Containers": containers, "Created": int(parse_created(rec.created or cfg.created)),
            "Id": str(rec.id), "Labels": dict(cfg.config.labels) or None, "ParentId": rec.parent,
            "RepoDigests": svc.repo_digests(rec), "RepoTags": svc.repo_tags(rec), "SharedSize": shared,
            "Size": rec.size}


def _labels_match(labels: Mapping[str, str], wanted: Sequence[str]) -> bool:
    for w in wanted:
        k, eq, v = w.partition("=")
        if k not in labels or (eq and labels[k] != v):
            return False
    return True


def _bool(values: Sequence[str], name: str) -> bool:
    v = values[-1].lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise InvalidParameter(f"Invalid filter '{name}={values[-1]}'")


def _until(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        ts = parse_created(value)
        if not ts:
            raise InvalidParameter(f"invalid filter 'until={value}'") from None
        return ts


def list_images(svc: ImageService, *, all: bool = False,  # noqa: A002 - Docker's parameter name
                filters: Mapping[str, Sequence[str]] | None = None, shared_size: bool = False,
                containers: bool = False) -> list[dict[str, Any]]:
    """GET /images/json: newest first; hides intermediate images (untagged parents) unless ``all``."""
    filters = filters or {}
    for key in filters:
        if key not in IMAGE_LIST_FILTERS:
            raise InvalidParameter(f"invalid filter '{key}'")
    records = svc.images.all()
    by_created = {r.id: parse_created(r.created) for r in records}

    def anchor(key: str) -> float | None:
        if key not in filters or not filters[key]:
            return None
        return by_created.get(svc.resolve(filters[key][-1]).id, 0.0)
    before, since = anchor("before"), anchor("since")
    until = _until(filters["until"][-1]) if filters.get("until") else None
    dangling = _bool(filters["dangling"], "dangling") if filters.get("dangling") else None
    users: dict[str, int] = {}
    if containers:
        for iid in svc.images.used_images():
            users[iid] = len(svc.images.users(iid))
    chain_count: dict[str, int] = {}
    if shared_size:
        for r in records:
            for x in r.layers:
                chain_count[x.chain_id] = chain_count.get(x.chain_id, 0) + 1
    out = []
    for r in records:
        cfg = svc.config_of(r)
        tags = svc.repo_tags(r)
        if not all and not tags and not svc.repo_digests(r) and svc.images.children(r.id):
            continue  # an intermediate image of a local build
        created = by_created[r.id]
        if before is not None and created >= before:
            continue
        if since is not None and created <= since:
            continue
        if until is not None and created > until:
            continue
        if dangling is not None and dangling != (not tags):
            continue
        if filters.get("label") and not _labels_match(cfg.config.labels, filters["label"]):
            continue
        if filters.get("reference"):
            refs = [reference.parse(x) for x in svc.images.refs_of(r.id)]
            if not any(path_match(p, ref.familiar) or path_match(p, ref.familiar_name)
                       for p in filters["reference"] for ref in refs):
                continue
            tags = [t for t in tags if any(path_match(p, t) or path_match(p, t.rsplit(":", 1)[0])
                                           for p in filters["reference"])]
        shared = -1
        if shared_size:
            shared = sum(max(x.size, 0) for x in r.layers if chain_count.get(x.chain_id, 0) > 1)
        s = summary(svc, r, cfg, users.get(r.id, 0) if containers else -1, shared)
        s["RepoTags"] = tags
        out.append(s)
    return out


def inspect(svc: ImageService, ref: str) -> dict[str, Any]:
    """GET /images/{name}/json."""
    rec = svc.resolve(ref)
    cfg = svc.config_of(rec)
    out: dict[str, Any] = {
        "Id": str(rec.id), "RepoTags": svc.repo_tags(rec), "RepoDigests": svc.repo_digests(rec),
        "Parent": rec.parent, "Comment": cfg.comment, "Created": cfg.created or "0001-01-01T00:00:00Z",
        "DockerVersion": cfg.docker_version, "Author": cfg.author, "Config": cfg.config.to_docker_json(),
        "Architecture": cfg.architecture,
    }
    if cfg.variant:
        out["Variant"] = cfg.variant
    out["Os"] = cfg.os
    if cfg.os_version:
        out["OsVersion"] = cfg.os_version
    out.update({
        "Size": rec.size, "GraphDriver": svc.graph_driver(rec),
        "RootFS": {"Type": "layers", "Layers": [str(d) for d in cfg.diff_ids]},
        "Metadata": {"LastTagTime": _rfc3339(rec.last_tag_time) if rec.last_tag_time else "0001-01-01T00:00:00Z"},
    })
    if rec.manifest_digest is not None:
        out["Descriptor"] = {"mediaType": rec.manifest_media_type, "digest": str(rec.manifest_digest),
                             "size": svc.content.size(rec.manifest_digest)}
    return out


def history(svc: ImageService, ref: str) -> list[dict[str, Any]]:
    """GET /images/{name}/history: newest first; layer sizes on non-empty entries."""
    rec = svc.resolve(ref)
    cfg = svc.config_of(rec)
    entries = []
    li = 0
    hist: list[History | None] = list(cfg.history) or [None] * len(rec.layers)
    for h in hist:
        size = 0
        if h is None or not h.empty_layer:
            if li < len(rec.layers):
                size = max(rec.layers[li].size, 0)
            li += 1
        entries.append({"Comment": h.comment if h else "", "Created": int(parse_created(h.created if h else "")),
                        "CreatedBy": h.created_by if h else "", "Id": "<missing>", "Size": size, "Tags": None})
    entries.reverse()
    # as moby's ImageHistory: row n (newest first) is the image's n-th parent while the chain of
    # parents (recorded by the classic builder and commit) exists locally; the rest stay <missing>
    cur: ImageRecord | None = rec
    for e in entries:
        if cur is None:
            break
        e["Id"] = str(cur.id)
        e["Tags"] = svc.repo_tags(cur) or None
        cur = svc.images.get(cur.parent) if cur.parent else None
    if not entries:
        entries.append({"Comment": "", "Created": int(parse_created(cfg.created)), "CreatedBy": "",
                        "Id": str(rec.id), "Size": rec.size, "Tags": svc.repo_tags(rec) or None})
    return entries


def disk_usage(svc: ImageService) -> dict[str, Any]:
    """Image figures for GET /system/df: LayersSize (unique) and per-image Containers/SharedSize."""
    images = list_images(svc, all=True, shared_size=True, containers=True)
    seen: dict[str, int] = {}
    for r in svc.images.all():
        for x in r.layers:
            seen[x.chain_id] = max(x.size, 0)
    return {"LayersSize": sum(seen.values()), "Images": images}
