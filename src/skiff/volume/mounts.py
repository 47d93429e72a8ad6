"""Parsers for the ways a user asks for a mount: ``-v``, ``--mount``, ``--tmpfs`` and API ``Mounts``.

Every form is parsed once, here, into a frozen :class:`MountSpec`; the engine and the spec generator
never see the raw strings. Error texts are Docker's (moby ``volume/mounts/linux_parser.go`` and
docker/cli ``opts/mount.go``), raised as :class:`skiff.errors.InvalidParameter`.

Pure functions: nothing here touches the filesystem except :func:`check_bind_source`, which the engine
calls at create time for ``--mount``/API bind mounts (``-v`` creates a missing host directory).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skiff.errors import InvalidParameter

__all__ = [
    "MountSpec", "parse_bind", "parse_mount_csv", "parse_tmpfs", "parse_tmpfs_map", "parse_api_mount",
    "parse_volumes_from", "check_bind_source", "tmpfs_options", "validate_volume_name", "parse_size",
    "parse_all", "PROPAGATION_MODES", "DEFAULT_PROPAGATION", "VOLUME_NAME_CHARS",
]

VOLUME_NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
PROPAGATION_MODES = frozenset({"private", "rprivate", "slave", "rslave", "shared", "rshared"})
DEFAULT_PROPAGATION = "rprivate"
_RW_MODES = frozenset({"rw", "ro"})
_LABEL_MODES = frozenset({"z", "Z"})
_CONSISTENCY = frozenset({"consistent", "cached", "delegated"})
_COPY_MODES = frozenset({"nocopy"})
_TMPFS_EXTRA = frozenset({"exec", "noexec"})


@dataclass(frozen=True)
class MountSpec:
    """One mount the container asked for, whatever syntax it came in.

    ``type`` is ``bind`` (source = absolute host path), ``volume`` (source = volume name, "" for an
    anonymous volume) or ``tmpfs`` (no source). ``mode`` keeps the raw ``-v`` mode string for
    inspect's ``Mounts[].Mode``. ``create_source`` is True for ``-v`` binds: Docker creates a missing
    host directory for them, but refuses a missing source for ``--mount``.
    """

    type: str
    target: str
    source: str = ""
    read_only: bool = False
    propagation: str = ""
    label: str = ""
    nocopy: bool = False
    mode: str = ""
    volume_driver: str = ""
    volume_options: tuple[tuple[str, str], ...] = ()
    volume_labels: tuple[tuple[str, str], ...] = ()
    volume_subpath: str = ""
    tmpfs_size: int = 0
    tmpfs_mode: int = 0
    tmpfs_extra: tuple[str, ...] = field(default=())
    create_source: bool = False

    @property
    def anonymous(self) -> bool:
        return self.type == "volume" and not self.source

    @property
    def copy_data(self) -> bool:
        """Whether a new empty volume gets the image's content at the target (Docker's copy-up)."""
        return self.type == "volume" and not self.nocopy


def _config_error(mtype: str, msg: str) -> InvalidParameter:
    return InvalidParameter(f'invalid mount config for type "{mtype}": {msg}')


def _invalid_spec(raw: str) -> str:
    return f"invalid volume specification: '{raw}'"


def _valid_mode(mode: str) -> bool:
    if mode == "":
        return True
    counts = [0, 0, 0, 0, 0]
    for o in mode.split(","):
        if o in _RW_MODES:
            counts[0] += 1
        elif o in _LABEL_MODES:
            counts[1] += 1
        elif o in PROPAGATION_MODES:
            counts[2] += 1
        elif o in _COPY_MODES:
            counts[3] += 1
        elif o in _CONSISTENCY:
            counts[4] += 1
        else:
            return False
    return max(counts) <= 1


def validate_volume_name(name: str) -> None:
    """The local driver's name rule, with Docker's hint for a relative host path."""
    if len(name) == 1:
        raise InvalidParameter(
            f"create {name}: volume name is too short, names should be at least two alphanumeric characters")
    if not _VOLUME_NAME.match(name):
        raise InvalidParameter(
            f'create {name}: "{name}" includes invalid characters for a local volume name, only '
            f'"{VOLUME_NAME_CHARS}" are allowed. If you intended to pass a host directory, use absolute path')


def _validate(spec: MountSpec) -> None:
    """moby's validateMountConfigImpl without the bind-source existence check."""
    t = spec.type
    if not spec.target:
        raise _config_error(t, "field Target must not be empty")
    if posixpath.normpath(spec.target.replace("\\", "/")) == "/":
        raise _config_error(t, "invalid specification: destination can't be '/'")
    if not spec.target.startswith("/"):
        raise _config_error(t, f"invalid mount path: '{spec.target}' mount path must be absolute")
    if t == "bind":
        if not spec.source:
            raise _config_error(t, "field Source must not be empty")
        if spec.propagation and spec.propagation not in PROPAGATION_MODES:
            raise _config_error(t, f"invalid propagation mode: {spec.propagation}")
        if not spec.source.startswith("/"):
            raise _config_error(t, f"invalid mount path: '{spec.source}' mount path must be absolute")
    elif t == "volume":
        if spec.source:
            validate_volume_name(spec.source)
        if spec.volume_subpath:
            if not spec.source:
                raise _config_error(t, "must not set Subpath when using anonymous volumes")
            sp = posixpath.normpath(spec.volume_subpath)
            if sp.startswith(("/", "../")) or sp == "..":
                raise _config_error(t, "subpath must be a relative path within the volume")
        if spec.read_only and not spec.source:
            raise _config_error(t, "must not set ReadOnly mode when using anonymous volumes")
    elif t == "tmpfs":
        if spec.source:
            raise _config_error(t, "field Source must not be specified")
    else:
        raise _config_error(t, "mount type unknown")


def parse_bind(raw: str, volume_driver: str = "") -> MountSpec:
    """Parse one ``-v``/``HostConfig.Binds`` entry: ``[src:]dst[:mode]``."""
    arr = raw.split(":", 3)
    if arr[0] == "":
        raise InvalidParameter(_invalid_spec(raw))
    source, mode = "", ""
    if len(arr) == 1:
        target = arr[0]
    elif len(arr) == 2:
        if _valid_mode(arr[1]):
            raise InvalidParameter(_invalid_spec(raw))
        source, target = arr
    elif len(arr) == 3:
        source, target, mode = arr
    else:
        raise InvalidParameter(_invalid_spec(raw))
    if not _valid_mode(mode):
        raise InvalidParameter(f"invalid mode: {mode}")
    opts = mode.split(",") if mode else []
    mtype = "bind" if source.startswith("/") else "volume"
    prop = next((o for o in opts if o in PROPAGATION_MODES), "")
    spec = MountSpec(
        type=mtype, target=target, source=source, read_only="ro" in opts,
        propagation=(prop or DEFAULT_PROPAGATION) if mtype == "bind" else prop,
        label=next((o for o in opts if o in _LABEL_MODES), ""), nocopy="nocopy" in opts, mode=mode,
        volume_driver=volume_driver if mtype == "volume" else "", create_source=mtype == "bind")
    try:
        _validate(spec)
    except InvalidParameter as e:
        if mtype == "volume" and source and not _VOLUME_NAME.match(source):
            raise
        raise InvalidParameter(f"{_invalid_spec(raw)}: {e.message}")
    if mtype == "bind":
        spec = _replace(spec, source=posixpath.normpath(source))
    return _replace(spec, target=posixpath.normpath(target))


def _replace(spec: MountSpec, **kw: Any) -> MountSpec:
    return dataclasses.replace(spec, **kw)


def parse_size(text: str) -> int:
    """Docker's RAMInBytes: ``64m``, ``1g``, ``512k``, ``100`` (bytes); binary units, case-insensitive."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*", text, re.IGNORECASE)
    if not m:
        raise InvalidParameter(f"invalid size: '{text}'")
    unit = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[m.group(2).lower()]
    return int(float(m.group(1)) * unit)


def _bool(value: str, key: str) -> bool:
    v = value.lower()
    if v in ("", "1", "true", "t"):
        return True
    if v in ("0", "false", "f"):
        return False
    raise InvalidParameter(f'invalid value for {key}: {value}')


def parse_mount_csv(value: str) -> MountSpec:
    """Parse a ``--mount`` value (docker/cli opts/mount.go): CSV of key=value fields."""
    fields = next(csv.reader([value]), [])
    mtype = "volume"
    kv: list[tuple[str, str, bool]] = []
    for f in fields:
        key, sep, val = f.partition("=")
        key = key.strip().lower()
        if key == "type":
            mtype = val.lower()
        kv.append((key, val, bool(sep)))
    if mtype not in ("bind", "volume", "tmpfs"):
        raise _config_error(mtype, "mount type unknown")
    d: dict[str, Any] = {"type": mtype}
    vol_opts: list[tuple[str, str]] = []
    vol_labels: list[tuple[str, str]] = []
    extra: list[str] = []
    for key, val, has_eq in kv:
        if not has_eq and key not in ("readonly", "ro", "volume-nocopy", "bind-recursive", "bind-nonrecursive"):
            raise InvalidParameter(f"invalid field '{key}' must be a key=value pair")
        if key == "type":
            continue
        if key in ("source", "src"):
            d["source"] = val
        elif key in ("target", "dst", "destination"):
            d["target"] = val
        elif key in ("readonly", "ro"):
            d["read_only"] = _bool(val, key) if has_eq else True
        elif key == "consistency":
            continue
        elif key == "bind-propagation":
            d["propagation"] = val
        elif key in ("bind-nonrecursive", "bind-recursive", "bind-create-src"):
            continue
        elif key == "volume-nocopy":
            d["nocopy"] = _bool(val, key) if has_eq else True
        elif key == "volume-label":
            k, _, v = val.partition("=")
            vol_labels.append((k, v))
        elif key == "volume-driver":
            d["volume_driver"] = val
        elif key == "volume-subpath":
            d["volume_subpath"] = val
        elif key == "volume-opt":
            k, sep2, v = val.partition("=")
            if not sep2:
                raise InvalidParameter(f"invalid value for {key}: {val}")
            vol_opts.append((k, v))
        elif key == "tmpfs-size":
            d["tmpfs_size"] = parse_size(val)
        elif key == "tmpfs-mode":
            try:
                d["tmpfs_mode"] = int(val, 8)
            except ValueError:
                raise InvalidParameter(f"invalid value for {key}: {val}")
        else:
            raise InvalidParameter(f"unexpected key '{key}' in '{value}'")
    if mtype != "bind" and "propagation" in d:
        raise InvalidParameter(f"cannot mix 'bind-*' options with mount type '{mtype}'")
    if mtype != "volume" and (vol_opts or vol_labels or "nocopy" in d or "volume_driver" in d):
        raise InvalidParameter(f"cannot mix 'volume-*' options with mount type '{mtype}'")
    if mtype != "tmpfs" and ("tmpfs_size" in d or "tmpfs_mode" in d):
        raise InvalidParameter(f"cannot mix 'tmpfs-*' options with mount type '{mtype}'")
    if "target" not in d:
        raise InvalidParameter("target is required")
    if mtype == "bind":
        d.setdefault("propagation", "")
    spec = MountSpec(volume_options=tuple(vol_opts), volume_labels=tuple(vol_labels),
                     tmpfs_extra=tuple(extra), **d)
    return _finish(spec)


def _finish(spec: MountSpec) -> MountSpec:
    _validate(spec)
    kw: dict[str, Any] = {"target": posixpath.normpath(spec.target)}
    if spec.type == "bind":
        kw["source"] = posixpath.normpath(spec.source)
        kw["propagation"] = spec.propagation or DEFAULT_PROPAGATION
    return _replace(spec, **kw)


def parse_api_mount(m: Mapping[str, Any]) -> MountSpec:
    """Parse one ``HostConfig.Mounts`` object of the Engine API."""
    mtype = str(m.get("Type") or "")
    bind = m.get("BindOptions")
    vol = m.get("VolumeOptions")
    tmp = m.get("TmpfsOptions")
    if mtype == "bind" and vol is not None:
        raise _config_error(mtype, "field VolumeOptions must not be specified")
    if mtype in ("volume", "tmpfs") and bind is not None:
        raise _config_error(mtype, "field BindOptions must not be specified")
    if mtype != "tmpfs" and tmp is not None:
        raise _config_error(mtype, "field TmpfsOptions must not be specified")
    kw: dict[str, Any] = {}
    if bind:
        kw["propagation"] = str(bind.get("Propagation") or "")
        kw["create_source"] = bool(bind.get("CreateMountpoint"))
    if vol:
        kw["nocopy"] = bool(vol.get("NoCopy"))
        kw["volume_labels"] = tuple(sorted((vol.get("Labels") or {}).items()))
        kw["volume_subpath"] = str(vol.get("Subpath") or "")
        drv = vol.get("DriverConfig") or {}
        kw["volume_driver"] = str(drv.get("Name") or "")
        kw["volume_options"] = tuple(sorted((drv.get("Options") or {}).items()))
    if tmp:
        kw["tmpfs_size"] = int(tmp.get("SizeBytes") or 0)
        kw["tmpfs_mode"] = int(tmp.get("Mode") or 0) & 0o7777
        extra = []
        for opt in tmp.get("Options") or []:
            if not 1 <= len(opt) <= 2:
                raise _config_error(mtype, "invalid option array length")
            if opt[0] not in _TMPFS_EXTRA:
                raise _config_error(mtype, "invalid option: " + opt[0])
            extra.append("=".join(opt))
        kw["tmpfs_extra"] = tuple(extra)
    spec = MountSpec(type=mtype, target=str(m.get("Target") or ""), source=str(m.get("Source") or ""),
                     read_only=bool(m.get("ReadOnly")), **kw)
    return _finish(spec)


def parse_tmpfs(raw: str) -> MountSpec:
    """Parse ``--tmpfs /path[:opts]`` (opts are mount(8) tmpfs options, passed through)."""
    target, _, opts = raw.partition(":")
    return _tmpfs(target, opts)


def parse_tmpfs_map(tmpfs: Mapping[str, str]) -> list[MountSpec]:
    """Parse ``HostConfig.Tmpfs`` ({path: "size=64m,mode=1777"})."""
    return [_tmpfs(t, o) for t, o in tmpfs.items()]


def _tmpfs(target: str, opts: str) -> MountSpec:
    if not target.startswith("/"):
        raise InvalidParameter(f"invalid mount path: '{target}' mount path must be absolute")
    if posixpath.normpath(target) == "/":
        raise InvalidParameter("invalid specification: destination can't be '/'")
    size, mode, ro, extra = 0, 0, False, []
    for o in filter(None, (x.strip() for x in opts.split(","))):
        k, _, v = o.partition("=")
        if k == "size":
            size = parse_size(v) if not v.endswith("%") else 0
            if v.endswith("%"):
                extra.append(o)
        elif k == "mode":
            try:
                mode = int(v, 8)
            except ValueError:
                raise InvalidParameter(f"invalid tmpfs option {o!r}")
        elif o == "ro":
            ro = True
        elif o == "rw":
            ro = False
        else:
            extra.append(o)
    return MountSpec(type="tmpfs", target=posixpath.normpath(target), read_only=ro, tmpfs_size=size,
                     tmpfs_mode=mode, tmpfs_extra=tuple(extra), mode=opts)


def tmpfs_options(spec: MountSpec) -> list[str]:
    """mount(8) options for a tmpfs MountSpec, Docker's defaults first (noexec,nosuid,nodev)."""
    opts = ["rw" if not spec.read_only else "ro", "nosuid", "nodev"]
    if not any(x in ("exec", "noexec") for x in spec.tmpfs_extra):
        opts.append("noexec")
    if spec.tmpfs_mode:
        opts.append(f"mode={spec.tmpfs_mode:o}")
    if spec.tmpfs_size:
        size, suffix = spec.tmpfs_size, ""
        for s, div in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % div == 0:
                size, suffix = size // div, s
                break
        opts.append(f"size={size}{suffix}")
    opts.extend(spec.tmpfs_extra)
    return opts


def parse_volumes_from(spec: str) -> tuple[str, str]:
    """``--volumes-from container[:ro|rw]`` -> (container, mode)."""
    if not spec:
        raise InvalidParameter("volumes-from specification cannot be an empty string")
    cid, _, mode = spec.partition(":")
    if not mode:
        return cid, "rw"
    opts = mode.split(",")
    if not _valid_mode(mode) or any(o in PROPAGATION_MODES or o in _COPY_MODES for o in opts):
        raise InvalidParameter(f"invalid mode: {mode}")
    return cid, mode


def check_bind_source(spec: MountSpec) -> None:
    """Refuse a missing bind source for ``--mount``/API binds, as Docker does (``-v`` creates it)."""
    if spec.type == "bind" and not spec.create_source and not os.path.exists(spec.source):
        raise _config_error("bind", f"bind source path does not exist: {spec.source}")


def parse_all(binds: Iterable[str] = (), mounts: Iterable[Mapping[str, Any]] = (),
              tmpfs: Mapping[str, str] | None = None, volume_driver: str = "") -> list[MountSpec]:
    """All of a HostConfig's mounts, refusing two at one target (Docker's "Duplicate mount point")."""
    out = [parse_bind(b, volume_driver) for b in binds]
    out += [parse_api_mount(m) for m in mounts]
    out += parse_tmpfs_map(tmpfs or {})
    seen: set[str] = set()
    for s in out:
        if s.target in seen:
            raise InvalidParameter(f"Duplicate mount point: {s.target}")
        seen.add(s.target)
    return out
