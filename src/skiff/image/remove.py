"""docker rmi and image prune, with Docker's untag-vs-delete rules and conflict texts, and the
garbage collection that follows: blobs and layer snapshots nobody references any more.

Nothing in use is removed: an image a container uses is only untagged (or refused), and a layer
snapshot under a container's writable layer is kept (the snapshotter refuses, we keep it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from skiff.errors import Conflict, SkiffError
from skiff.image import reference
from skiff.image.errors import ImageInUse
from skiff.image.store import ImageRecord
from skiff.image.views import _bool, _labels_match, _until, parse_created

if TYPE_CHECKING:
    from skiff.image.service import ImageService

__all__ = ["remove_image", "prune_images", "collect_garbage"]


def _is_id_prefix(image_id: str, s: str) -> bool:
    hexpart = s.removeprefix("sha256:")
    return bool(hexpart) and all(c in "0123456789abcdef" for c in hexpart) and image_id[7:].startswith(hexpart)


def _single_repo(refs: list[str]) -> bool:
    """isSingleReference: at most one tag and all references in one repository."""
    parsed = [reference.parse(r) for r in refs]
    tags = [p for p in parsed if p.tag and not p.digest]
    return len(tags) <= 1 and len({p.name for p in parsed}) <= 1


def _conflict(svc: ImageService, rec: ImageRecord, hard_only: bool) -> SkiffError | None:
    short = rec.id.short()
    if svc.images.children(rec.id):
        return ImageInUse(f"conflict: unable to delete {short} (cannot be forced) - image has dependent child images")
    users = svc.images.users(rec.id)
    running = [c for c in users if svc.is_running(c)]
    if running:
        return ImageInUse(f"conflict: unable to delete {short} (cannot be forced) - image is being used by running "
                          f"container {running[0][:12]}")
    if hard_only:
        return None
    refs = svc.images.refs_of(rec.id)
    if len({reference.parse(r).name for r in refs}) > 1:
        return ImageInUse(f"conflict: unable to delete {short} (must be forced) - image is referenced in multiple "
                          "repositories")
    if users:
        return ImageInUse(f"conflict: unable to delete {short} (must be forced) - image is being used by stopped "
                          f"container {users[0][:12]}")
    return None


def remove_image(svc: ImageService, ref_or_id: str, force: bool = False, prune: bool = True) -> list[dict[str, str]]:
    """DELETE /images/{name}: [{"Untagged": ...}, {"Deleted": ...}]. Raises NoSuchImage, ImageInUse."""
    rec = svc.resolve(ref_or_id)
    records: list[dict[str, str]] = []
    refs = svc.images.refs_of(rec.id)
    if not _is_id_prefix(rec.id, ref_or_id):
        ref = reference.parse(ref_or_id)
        ref = ref.with_default_tag()
        if ref.tag and ref.digest:
            ref = ref.with_digest(ref.digest)
        users = svc.images.users(rec.id)
        if not force and _single_repo(refs) and users:
            raise ImageInUse(f'conflict: unable to remove repository reference "{ref_or_id}" (must force) - '
                             f"container {users[0][:12]} is using its referenced image {rec.id.short()}")
        svc.images.delete_ref(str(ref))
        records.append({"Untagged": ref.familiar})
        refs = svc.images.refs_of(rec.id)
        if not ref.digest and not any(reference.parse(r).name == ref.name and "@" not in r for r in refs):
            remaining = []
            for r in refs:
                p = reference.parse(r)
                if p.digest and p.name == ref.name:
                    svc.images.delete_ref(r)
                    records.append({"Untagged": p.familiar})
                else:
                    remaining.append(r)
            refs = remaining
        if refs:
            return records
        # Like moby's imageDeleteHelper with removedRepositoryRef: once the last tag is gone, a
        # container using the image is not an error (the untag was what was asked for).
        _delete_helper(svc, rec, records, force, prune, quiet=False, untagged=True)
        return records
    elif _single_repo(refs):
        err = _conflict(svc, rec, hard_only=force)
        if err is not None:
            raise err
        for r in refs:
            svc.images.delete_ref(r)
            records.append({"Untagged": reference.parse(r).familiar})
    _delete_helper(svc, rec, records, force, prune, quiet=False)
    return records


def _delete_helper(svc: ImageService, rec: ImageRecord, records: list[dict[str, str]], force: bool, prune: bool,
                   quiet: bool, untagged: bool = False) -> None:
    err = _conflict(svc, rec, hard_only=force)
    if err is not None:
        if quiet or (untagged and svc.images.users(rec.id)):
            return
        raise err
    # Forced while a stopped container uses it, Docker deletes the record; the container keeps its
    # layers because collect_garbage never removes a snapshot a container's layer sits on.
    for r in svc.images.refs_of(rec.id):
        svc.images.delete_ref(r)
        records.append({"Untagged": reference.parse(r).familiar})
    svc.images.delete(rec.id)
    records.append({"Deleted": str(rec.id)})
    for chain in collect_garbage(svc, rec):
        records.append({"Deleted": chain})
    if prune and rec.parent:
        parent = svc.images.get(rec.parent)
        if parent is not None and not svc.images.refs_of(parent.id) and not svc.images.children(parent.id):
            _delete_helper(svc, parent, records, False, True, quiet=True)


def collect_garbage(svc: ImageService, removed: ImageRecord | None = None) -> list[str]:
    """Remove the layer snapshots of ``removed`` no other image uses (top first; a snapshot a container
    still sits on is kept) and every blob no image references. Returns removed chain IDs."""
    gone: list[str] = []
    if removed is not None:
        for x in reversed(removed.layers):
            if svc.images.chain_in_use(x.chain_id):
                break  # lower layers are shared too
            try:
                svc.unpacker.remove(x.chain_id)
            except Conflict:
                break  # a container's writable layer sits on it
            gone.append(str(x.chain_id))
    keep = svc.images.referenced_blobs()
    for d in list(svc.content.walk()):
        if d not in keep and not svc.content.leased(d):  # leased: a pull or load still needs it
            svc.content.delete(d)
    return gone


def prune_images(svc: ImageService, filters: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """POST /images/prune: dangling images (or, with dangling=false, every unused image)."""
    filters = filters or {}
    dangling_only = _bool(filters["dangling"], "dangling") if filters.get("dangling") else True
    until = _until(filters["until"][-1]) if filters.get("until") else None
    deleted: list[dict[str, str]] = []
    reclaimed = 0
    used = svc.images.used_images()
    for rec in svc.images.all():
        if svc.images.get(rec.id) is None or rec.id in used:
            continue
        tags = [r for r in svc.images.refs_of(rec.id) if "@" not in r]
        if dangling_only and tags:
            continue
        if until is not None and parse_created(rec.created) > until:
            continue
        if filters.get("label") and not _labels_match(svc.config_of(rec).config.labels, filters["label"]):
            continue
        if filters.get("label!") and _labels_match(svc.config_of(rec).config.labels, filters["label!"]):
            continue
        if svc.images.children(rec.id):
            continue
        before = len(deleted)
        try:
            _delete_helper(svc, rec, deleted, force=False, prune=True, quiet=True)
        except SkiffError:
            continue
        if len(deleted) > before:
            reclaimed += rec.size
    # layer snapshots no image records (a pull killed after some layers were committed)
    keep = {str(x.chain_id) for r in svc.images.all() for x in r.layers}
    svc.unpacker.cleanup(keep)
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}
