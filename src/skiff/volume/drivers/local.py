"""The ``local`` volume driver, with Docker's layout and options.

``<root>/<name>/_data`` is the volume (``<root>`` = ``<data-root>/volumes``); ``<root>/<name>/opts.json``
holds the ``--opt`` values (``type``, ``device``, ``o``, ``size``) when there are any, written temp +
fsync + rename so a crash leaves the old file or the new one. A volume with ``type``/``device`` is a
filesystem mounted on ``_data`` on first use and unmounted after the last (moby's ``volume/local``):
``type=tmpfs device=tmpfs o=size=64m,uid=1000``, ``type=none o=bind device=/srv/x``,
``type=nfs o=addr=10.0.0.1,rw device=:/export``. ``o`` is split as moby/sys/mount does: known words
become mount flags, the rest is the filesystem's data string.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from skiff.errors import InvalidParameter, System
from skiff.sys import mount as m

__all__ = ["LocalDriver", "MountOpts", "parse_mount_options", "validate_opts", "mount_args", "is_mountpoint"]

DATA = "_data"
OPTS_FILE = "opts.json"
_VALID = ("type", "o", "device", "size")
_MANDATORY = {"device": ("type",), "type": ("device",), "o": ("device", "type")}

# moby/sys/mount flags.go: word -> (clear?, flag)
_FLAGS: dict[str, tuple[bool, int]] = {
    "defaults": (False, 0), "ro": (False, m.MS_RDONLY), "rw": (True, m.MS_RDONLY),
    "suid": (True, m.MS_NOSUID), "nosuid": (False, m.MS_NOSUID), "dev": (True, m.MS_NODEV),
    "nodev": (False, m.MS_NODEV), "exec": (True, m.MS_NOEXEC), "noexec": (False, m.MS_NOEXEC),
    "sync": (False, m.MS_SYNCHRONOUS), "async": (True, m.MS_SYNCHRONOUS), "dirsync": (False, m.MS_DIRSYNC),
    "remount": (False, m.MS_REMOUNT), "mand": (False, m.MS_MANDLOCK), "nomand": (True, m.MS_MANDLOCK),
    "atime": (True, m.MS_NOATIME), "noatime": (False, m.MS_NOATIME), "diratime": (True, m.MS_NODIRATIME),
    "nodiratime": (False, m.MS_NODIRATIME), "bind": (False, m.MS_BIND), "rbind": (False, m.MS_BIND | m.MS_REC),
    "unbindable": (False, m.MS_UNBINDABLE), "runbindable": (False, m.MS_UNBINDABLE | m.MS_REC),
    "private": (False, m.MS_PRIVATE), "rprivate": (False, m.MS_PRIVATE | m.MS_REC),
    "shared": (False, m.MS_SHARED), "rshared": (False, m.MS_SHARED | m.MS_REC),
    "slave": (False, m.MS_SLAVE), "rslave": (False, m.MS_SLAVE | m.MS_REC),
    "relatime": (False, m.MS_RELATIME), "norelatime": (True, m.MS_RELATIME),
    "strictatime": (False, m.MS_STRICTATIME), "nostrictatime": (True, m.MS_STRICTATIME),
}
_PTYPES = m.MS_SHARED | m.MS_PRIVATE | m.MS_SLAVE | m.MS_UNBINDABLE
_PFLAGS = _PTYPES | m.MS_REC | m.MS_SILENT


def _ram_in_bytes(text: str) -> int:
    from skiff.volume.mounts import parse_size
    return parse_size(text)


@dataclass(frozen=True)
class MountOpts:
    """A volume's ``--opt`` values, as opts.json stores them (moby's optsConfig field names)."""

    type: str = ""
    o: str = ""
    device: str = ""
    size: int = 0

    @property
    def needs_mount(self) -> bool:
        return bool(self.type or self.device)

    def to_json(self) -> dict[str, object]:
        return {"MountType": self.type, "MountOpts": self.o, "MountDevice": self.device,
                "Quota": {"Size": self.size}}

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> MountOpts:
        quota = d.get("Quota") or {}
        return cls(type=str(d.get("MountType") or ""), o=str(d.get("MountOpts") or ""),
                   device=str(d.get("MountDevice") or ""),
                   size=int(quota.get("Size", 0)) if isinstance(quota, Mapping) else 0)


def validate_opts(opts: Mapping[str, str]) -> MountOpts | None:
    """moby's validateOpts + setOpts: Docker's texts; ``size`` needs quota support, which Skiff lacks."""
    if not opts:
        return None
    for key in sorted(opts):
        if key not in _VALID:
            raise InvalidParameter(f'invalid option: "{key}"')
    size = 0
    if "size" in opts:
        size = _ram_in_bytes(opts["size"])
        if size > 0:
            raise InvalidParameter("quota size requested but no quota support")
    for key, required in _MANDATORY.items():
        if key in opts:
            for req in required:
                if req not in opts:
                    raise InvalidParameter(f'missing required option: "{req}"')
    return MountOpts(type=opts.get("type", ""), o=opts.get("o", ""), device=opts.get("device", ""), size=size)


def parse_mount_options(options: str) -> tuple[int, str]:
    """moby/sys/mount parseOptions: (flags, data) from a comma list like ``ro,size=64m,uid=1000``."""
    flags = 0
    data: list[str] = []
    for word in options.split(","):
        if not word:
            continue
        known = _FLAGS.get(word)
        if known is None:
            data.append(word)
            continue
        clear, flag = known
        flags = flags & ~flag if clear else flags | flag
    return flags, ",".join(data)


def _address(options: str) -> str:
    for word in options.split(","):
        if word.startswith("addr="):
            return word[len("addr="):]
    return ""


def _resolve(host: str) -> str:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    if not infos:
        raise OSError(f"no address for {host}")
    return str(infos[0][4][0])


def _is_ipv4(text: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, text)
    except OSError:
        return False
    return True


def mount_args(opts: MountOpts, resolve: Callable[[str], str] = _resolve) -> tuple[str, str]:
    """moby getMountOptions: (device, options); an nfs/cifs ``addr=`` host name becomes its IP address."""
    if not opts.device:
        raise System("missing device in volume options")
    o = opts.o
    if opts.type in ("nfs", "cifs"):
        addr = _address(o)
        if addr and not _is_ipv4(addr):
            try:
                ip = resolve(addr)
            except OSError as e:
                raise System(f"error resolving passed in network volume address: {e}") from None
            o = o.replace("addr=" + addr, "addr=" + ip, 1)
    return opts.device, o


def mount_error_text(device: str, target: str, flags: int, data: str, err: OSError) -> str:
    """moby/sys/mount's mountError text: ``mount <src>:<target>, flags: 0x.., data: ..: <errno text>``
    (Go's lower-case errno strings), the detail Docker users see under "failed to mount local volume"."""
    out = f"mount {device}:{target}" if device else f"mount {target}"
    if flags:
        out += f", flags: {flags:#x}"
    if data:
        out += f", data: {data}"
    text = os.strerror(err.errno) if err.errno else (err.strerror or str(err))
    return f"{out}: {text[:1].lower()}{text[1:]}"


def do_mount(device: str, target: str, fstype: str, options: str) -> None:
    """moby/sys/mount.Mount: the mount, then propagation, then the read-only remount of a bind."""
    flags, data = parse_mount_options(options)
    oflags = flags & ~_PTYPES
    if not (flags & m.MS_REMOUNT) or data:
        try:
            m.mount(device, target, fstype, oflags, data or None)
        except OSError as e:
            raise OSError(e.errno, mount_error_text(device, target, oflags, data, e)) from None
    if flags & _PTYPES:
        m.mount("", target, "", flags & _PFLAGS, None)
    if oflags & (m.MS_BIND | m.MS_RDONLY) == (m.MS_BIND | m.MS_RDONLY):
        m.mount("", target, "", oflags | m.MS_REMOUNT, None)


def _unescape(field: str) -> str:
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def is_mountpoint(path: str) -> bool:
    """Whether ``path`` is a mount point in this mount namespace (mountinfo, not st_dev: binds count)."""
    real = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(_unescape(line.split()[4]) == real for line in f if len(line.split()) > 4)
    except OSError:
        return os.path.ismount(real)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalDriver:
    """Docker's local driver over ``root`` (``<data-root>/volumes``). Thread-safe."""

    name = "local"
    scope = "local"

    def __init__(self, root: Path, mounter: Callable[[str, str, str, str], None] = do_mount,
                 unmounter: Callable[[str], None] | None = None) -> None:
        self.root = root
        self._mount = mounter
        self._umount = unmounter or (lambda p: m.umount(p, 0))
        self._lock = threading.RLock()
        self._opts: dict[str, MountOpts | None] = {}
        root.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(root, 0o701)
        for entry in sorted(os.listdir(root)):
            d = root / entry
            if d.is_dir() and ((d / DATA).exists() or (d / OPTS_FILE).exists()):
                self._opts[entry] = self._load_opts(d)
            elif d.is_dir():
                # a create cut short (kill -9 between its two mkdirs): never acknowledged, and empty
                with contextlib.suppress(OSError):
                    d.rmdir()

    @staticmethod
    def _load_opts(d: Path) -> MountOpts | None:
        try:
            doc = json.loads((d / OPTS_FILE).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict):
            return None
        o = MountOpts.from_json(doc)
        return None if o == MountOpts() else o

    # ---- lookups --------------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        with self._lock:
            return name in self._opts

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._opts)

    def path(self, name: str) -> str:
        return str(self.root / name / DATA)

    def needs_mount(self, name: str) -> bool:
        with self._lock:
            o = self._opts.get(name)
        return o is not None and o.needs_mount

    # ---- lifecycle ------------------------------------------------------------------------------
    def create(self, name: str, opts: Mapping[str, str]) -> str:
        parsed = validate_opts(opts)
        with self._lock:
            if name in self._opts:
                return self.path(name)
            d = self.root / name
            created = not d.exists()
            try:
                d.mkdir(mode=0o701, exist_ok=True)
                os.chmod(d, 0o701)
                (d / DATA).mkdir(mode=0o755, exist_ok=True)
                if created:
                    os.chmod(d / DATA, 0o755)
                if parsed is not None:
                    _write_atomic(d / OPTS_FILE, json.dumps(parsed.to_json()).encode())
            except OSError as e:
                if created:
                    shutil.rmtree(d, ignore_errors=True)
                raise System(f"error while creating volume root path '{d}': {e.strerror or e}") from None
            self._opts[name] = parsed
            return self.path(name)

    def mount(self, name: str) -> str:
        with self._lock:
            o = self._opts.get(name)
            path = self.path(name)
            if o is not None and o.needs_mount and not is_mountpoint(path):
                device, options = mount_args(o)
                try:
                    self._mount(device, path, o.type, options)
                except OSError as e:
                    msg = e.strerror or str(e)
                    pw = next((w[len("password="):] for w in o.o.split(",") if w.startswith("password=")), "")
                    if pw:
                        msg = msg.replace("password=" + pw, "password=********")
                    raise System(f"error while mounting volume '{path}': failed to mount local volume: {msg}") from None
            return path

    def unmount(self, name: str) -> None:
        with self._lock:
            path = self.path(name)
            if self.needs_mount(name) and is_mountpoint(path):
                try:
                    self._umount(path)
                except OSError as e:
                    if is_mountpoint(path):
                        raise System(f"error while unmounting volume {name}: {e}") from None

    def remove(self, name: str) -> None:
        """Unmount, then delete ``<root>/<name>``; never deletes through a mount (a bind's host dir)."""
        with self._lock:
            self.unmount(name)
            d = self.root / name
            data = d / DATA
            if is_mountpoint(str(data)):
                raise System(f"remove {name}: volume data path {data} is still mounted")
            real = os.path.realpath(data) if os.path.lexists(data) else str(d)
            root = str(self.root.resolve())
            if real == root or not real.startswith(root + os.sep):
                raise System(f"unable to remove a directory outside of the local volume root {root}: {real}")
            try:
                shutil.rmtree(d)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise System(f"error removing volume path '{d}': {e}") from None
            self._opts.pop(name, None)
