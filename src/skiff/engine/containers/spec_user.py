"""Resolving ``User`` and ``GroupAdd`` against the image's /etc/passwd and /etc/group.

Same rules as moby/sys/user ``GetExecUser`` and ``GetAdditionalGroups``, with Docker's error texts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from skiff.errors import InvalidParameter

__all__ = ["ExecUser", "resolve_user", "secure_join", "ensure_working_dir"]


@dataclass(frozen=True)
class ExecUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"


def _read_db(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [ln.rstrip("\n").split(":") for ln in f if ln.strip() and not ln.startswith("#")]
    except OSError:
        return []


def _in_root(rootfs: str, rel: str) -> str:
    """``rel`` inside ``rootfs`` without following an absolute symlink out of it (one level)."""
    p = os.path.join(rootfs, rel.lstrip("/"))
    if os.path.islink(p):
        target = os.readlink(p)
        p = os.path.join(rootfs, target.lstrip("/")) if target.startswith("/") else os.path.join(os.path.dirname(p), target)
    return p


def resolve_user(rootfs: str, user: str, group_add: Sequence[str] = ()) -> ExecUser:
    """moby/sys/user GetExecUser + GetAdditionalGroups over the image's /etc/passwd and /etc/group."""
    passwd = [e for e in _read_db(_in_root(rootfs, "/etc/passwd")) if len(e) >= 7]
    groups = [e for e in _read_db(_in_root(rootfs, "/etc/group")) if len(e) >= 3]
    uspec, _, gspec = user.partition(":")
    uid, gid, home, name = 0, 0, "/", ""
    if uspec == "":
        uspec = "0"
    entry = next((e for e in passwd if e[0] == uspec), None)
    if entry is None and uspec.isdigit():
        entry = next((e for e in passwd if e[2] == uspec), None)
    if entry is not None:
        name, uid, gid, home = entry[0], int(entry[2]), int(entry[3]), entry[5] or "/"
    elif uspec.isdigit():
        uid = int(uspec)
    else:
        raise InvalidParameter(f"unable to find user {uspec}: no matching entries in passwd file")
    sgids: list[int] = []
    if gspec:
        g = next((e for e in groups if e[0] == gspec), None)
        if g is None and gspec.isdigit():
            gid = int(gspec)
        elif g is None:
            raise InvalidParameter(f"unable to find group {gspec}: no matching entries in group file")
        else:
            gid = int(g[2])
    elif name:
        sgids = [int(e[2]) for e in groups if len(e) > 3 and name in e[3].split(",")]
    for ga in group_add:
        g = next((e for e in groups if e[0] == ga), None)
        if g is not None:
            sgids.append(int(g[2]))
        elif ga.isdigit():
            sgids.append(int(ga))
        else:
            raise InvalidParameter(f"Unable to find group {ga}: no matching entries in group file")
    seen: list[int] = []
    for g2 in sgids:
        if g2 not in seen:
            seen.append(g2)
    return ExecUser(uid, gid, tuple(seen), home)




def secure_join(root: str, path: str, follow_last: bool = True) -> str:
    """``path`` inside ``root`` with symlinks resolved as if ``root`` were ``/`` (never escapes it);
    ``follow_last=False`` leaves a final symlink itself (docker cp of a link)."""
    root = os.path.abspath(root)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        name = parts.pop(0)
        if name == "..":
            if resolved:
                resolved.pop()
            continue
        cand = os.path.join(root, *resolved, name)
        if (parts or follow_last) and os.path.islink(cand):
            hops += 1
            if hops > 255:  # filepath-securejoin's limit
                raise InvalidParameter(f"too many levels of symbolic links resolving {path}")
            target = os.readlink(cand)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(name)
    return os.path.join(root, *resolved)


def ensure_working_dir(rootfs: str, working_dir: str) -> None:
    """Create the container's working directory in its rootfs, as dockerd does at start."""
    if not working_dir or working_dir == "/":
        return
    path = secure_join(rootfs, working_dir)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise InvalidParameter(f"Cannot mkdir: {working_dir} is not a directory")
    os.makedirs(path, mode=0o755, exist_ok=True)
