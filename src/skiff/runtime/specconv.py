"""The only reader of a bundle's raw config.json: OCI runtime spec -> validated ``Config``.

Like runc's specconv + configs/validate: every check that can be made before a process is forked
is made here, so that bad input fails fast and leaves nothing behind.

Interfaces: ``load_bundle(bundle) -> (Config, raw dict)``; ``from_spec(raw, bundle) -> Config``
(used again by ``exec`` on the raw spec kept in state.json).
"""

from __future__ import annotations

import os

from skiff.runtime import fastjson
from skiff.runtime.config import (
    Capabilities,
    Config,
    Device,
    Hook,
    Hooks,
    IdMap,
    Mount,
    Namespace,
    Process,
    Rlimit,
    User,
)
from skiff.runtime.errors import InvalidConfig, Unsupported
from skiff.sys import mount as m
from skiff.sys.caps import cap_number
from skiff.sys.ns import NS_FLAGS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any


__all__ = ["load_bundle", "from_spec", "parse_process", "parse_resources", "parse_mount_options", "RLIMITS", "apparmor_enabled"]

MS_POSIXACL = 1 << 16
MS_I_VERSION = 1 << 23
MS_NOSYMFOLLOW = 256

# option -> (clear?, flag), as runc's parseMountOptions
_FLAGS: dict[str, tuple[bool, int]] = {
    "acl": (False, MS_POSIXACL), "async": (True, m.MS_SYNCHRONOUS), "atime": (True, m.MS_NOATIME),
    "bind": (False, m.MS_BIND), "defaults": (False, 0), "dev": (True, m.MS_NODEV),
    "diratime": (True, m.MS_NODIRATIME), "dirsync": (False, m.MS_DIRSYNC), "exec": (True, m.MS_NOEXEC),
    "iversion": (False, MS_I_VERSION), "lazytime": (False, m.MS_LAZYTIME), "loud": (True, m.MS_SILENT),
    "mand": (False, m.MS_MANDLOCK), "noacl": (True, MS_POSIXACL), "noatime": (False, m.MS_NOATIME),
    "nodev": (False, m.MS_NODEV), "nodiratime": (False, m.MS_NODIRATIME), "noexec": (False, m.MS_NOEXEC),
    "noiversion": (True, MS_I_VERSION), "nolazytime": (True, m.MS_LAZYTIME),
    "nomand": (True, m.MS_MANDLOCK), "norelatime": (True, m.MS_RELATIME),
    "nostrictatime": (True, m.MS_STRICTATIME), "nosuid": (False, m.MS_NOSUID),
    "nosymfollow": (False, MS_NOSYMFOLLOW), "rbind": (False, m.MS_BIND | m.MS_REC),
    "relatime": (False, m.MS_RELATIME), "remount": (False, m.MS_REMOUNT), "ro": (False, m.MS_RDONLY),
    "rw": (True, m.MS_RDONLY), "silent": (False, m.MS_SILENT), "strictatime": (False, m.MS_STRICTATIME),
    "suid": (True, m.MS_NOSUID), "symfollow": (True, MS_NOSYMFOLLOW), "sync": (False, m.MS_SYNCHRONOUS),
}
PROPAGATION: dict[str, int] = {
    "private": m.MS_PRIVATE, "rprivate": m.MS_PRIVATE | m.MS_REC, "shared": m.MS_SHARED,
    "rshared": m.MS_SHARED | m.MS_REC, "slave": m.MS_SLAVE, "rslave": m.MS_SLAVE | m.MS_REC,
    "unbindable": m.MS_UNBINDABLE, "runbindable": m.MS_UNBINDABLE | m.MS_REC,
}
# recursive attributes (mount_setattr): option -> (clear?, MOUNT_ATTR_*)
ATTR_RDONLY, ATTR_NOSUID, ATTR_NODEV, ATTR_NOEXEC = 0x1, 0x2, 0x4, 0x8
ATTR__ATIME, ATTR_NOATIME, ATTR_STRICTATIME, ATTR_NODIRATIME, ATTR_NOSYMFOLLOW = 0x70, 0x10, 0x20, 0x80, 0x200000
_RATTRS: dict[str, tuple[bool, int]] = {
    "rro": (False, ATTR_RDONLY), "rrw": (True, ATTR_RDONLY), "rnosuid": (False, ATTR_NOSUID),
    "rsuid": (True, ATTR_NOSUID), "rnodev": (False, ATTR_NODEV), "rdev": (True, ATTR_NODEV),
    "rnoexec": (False, ATTR_NOEXEC), "rexec": (True, ATTR_NOEXEC),
    "rnodiratime": (False, ATTR_NODIRATIME), "rdiratime": (True, ATTR_NODIRATIME),
    "rrelatime": (True, ATTR__ATIME), "rnorelatime": (False, 0), "rnoatime": (False, ATTR_NOATIME),
    "ratime": (True, ATTR__ATIME), "rstrictatime": (False, ATTR_STRICTATIME),
    "rnostrictatime": (True, ATTR__ATIME), "rnosymfollow": (False, ATTR_NOSYMFOLLOW),
    "rsymfollow": (True, ATTR_NOSYMFOLLOW),
}
MOUNT_OPTIONS: tuple[str, ...] = tuple(sorted({*_FLAGS, *PROPAGATION, *_RATTRS, "tmpcopyup"}))

RLIMITS: dict[str, int] = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
_HOOK_KINDS = (("prestart", "prestart"), ("createRuntime", "create_runtime"),
               ("createContainer", "create_container"), ("startContainer", "start_container"),
               ("poststart", "poststart"), ("poststop", "poststop"))
_PERSONALITY = {"LINUX": 0x0000, "LINUX32": 0x0008}
_TIME_CLOCKS = ("monotonic", "boottime")


def load_bundle(bundle: str) -> tuple[Config, dict[str, Any]]:
    """Read and validate ``<bundle>/config.json``; raise InvalidConfig with the reason."""
    bundle = os.path.abspath(bundle)
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = fastjson.loads(f.read())
    except FileNotFoundError:
        raise InvalidConfig(f"JSON specification file {path} not found")
    except (OSError, ValueError) as exc:
        raise InvalidConfig(f"invalid config.json {path}: {exc}")
    if not isinstance(raw, dict):
        raise InvalidConfig(f"invalid config.json {path}: not a JSON object")
    return from_spec(raw, bundle), raw


def _obj(v: Any, what: str) -> Mapping[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise InvalidConfig(f"{what} must be an object")
    return v


def _list(v: Any, what: str) -> Sequence[Any]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise InvalidConfig(f"{what} must be an array")
    return v


def _int(v: Any, what: str, default: int | None = None) -> int:
    if v is None and default is not None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidConfig(f"{what} must be an integer")
    return v


def _strs(v: Any, what: str) -> tuple[str, ...]:
    items = _list(v, what)
    if not all(isinstance(s, str) for s in items):
        raise InvalidConfig(f"{what} must be an array of strings")
    return tuple(items)


def apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y" and os.path.isdir("/sys/kernel/security/apparmor")
    except OSError:
        return False


def _caps(raw: Mapping[str, Any]) -> Capabilities:
    sets: dict[str, tuple[int, ...]] = {}
    for name in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        nums = []
        for cap in _strs(raw.get(name), f"process.capabilities.{name}"):
            n = cap_number(cap)
            if n is None:
                raise InvalidConfig(f"unknown capability {cap!r} in process.capabilities.{name}")
            nums.append(n)
        sets[name] = tuple(nums)
    return Capabilities(**sets)


def _process(raw: Mapping[str, Any]) -> Process:
    args = _strs(raw.get("args"), "process.args")
    if not args:
        raise InvalidConfig("process.args must not be empty")
    cwd = raw.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise InvalidConfig(f"process.cwd {cwd!r} is not an absolute path")
    u = _obj(raw.get("user"), "process.user")
    if u.get("username"):
        raise Unsupported("process.user.username is for Windows; use uid and gid")
    umask = u.get("umask")
    user = User(uid=_int(u.get("uid"), "process.user.uid", 0), gid=_int(u.get("gid"), "process.user.gid", 0),
                additional_gids=tuple(_int(g, "process.user.additionalGids[]")
                                      for g in _list(u.get("additionalGids"), "process.user.additionalGids")),
                umask=None if umask is None else _int(umask, "process.user.umask"))
    caps = None if raw.get("capabilities") is None else _caps(_obj(raw["capabilities"], "process.capabilities"))
    rlimits: list[Rlimit] = []
    seen: set[str] = set()
    for rl in _list(raw.get("rlimits"), "process.rlimits"):
        rl = _obj(rl, "process.rlimits[]")
        name = rl.get("type")
        if name not in RLIMITS:
            raise InvalidConfig(f"unknown rlimit type {name!r}")
        if name in seen:
            raise InvalidConfig(f"duplicate rlimit type {name}")
        seen.add(name)
        soft, hard = _int(rl.get("soft"), f"{name}.soft"), _int(rl.get("hard"), f"{name}.hard")
        if soft > hard:
            raise InvalidConfig(f"rlimit {name}: soft limit {soft} is above hard limit {hard}")
        rlimits.append(Rlimit(name, RLIMITS[name], soft, hard))
    apparmor = raw.get("apparmorProfile") or ""
    if apparmor and not apparmor_enabled():
        raise Unsupported(f"apparmor profile {apparmor!r} requested but AppArmor is not enabled on this host")
    cs = raw.get("consoleSize")
    size = None
    if cs is not None:
        cs = _obj(cs, "process.consoleSize")
        size = (_int(cs.get("height"), "consoleSize.height", 0), _int(cs.get("width"), "consoleSize.width", 0))
    oom = raw.get("oomScoreAdj")
    if oom is not None and not -1000 <= _int(oom, "process.oomScoreAdj") <= 1000:
        raise InvalidConfig(f"process.oomScoreAdj {oom} is outside [-1000, 1000]")
    return Process(
        args=args, env=_strs(raw.get("env"), "process.env"), cwd=cwd, user=user,
        terminal=bool(raw.get("terminal", False)), console_size=size, capabilities=caps,
        rlimits=tuple(rlimits), no_new_privileges=bool(raw.get("noNewPrivileges", False)),
        oom_score_adj=oom, apparmor_profile=apparmor, selinux_label=raw.get("selinuxLabel") or "",
    )


def parse_mount_options(options: Sequence[str]) -> tuple[int, tuple[int, ...], str, int, int, bool]:
    """(flags, propagation, data, attr_set, attr_clr, tmpcopyup) from OCI mount options."""
    flags, prop, data, aset, aclr, copyup = 0, [], [], 0, 0, False
    for o in options:
        if o in ("idmap", "ridmap"):
            raise Unsupported(f"idmapped mounts ({o!r}) are not supported by skiff-runtime")
        if o in _FLAGS:
            clear, f = _FLAGS[o]
            flags = flags & ~f if clear else flags | f
        elif o in PROPAGATION:
            prop.append(PROPAGATION[o])
        elif o in _RATTRS:
            clear, f = _RATTRS[o]
            if clear:
                aclr |= f
                aset &= ~f
            else:
                aset |= f
                aclr &= ~f
                if f in (ATTR_NOATIME, ATTR_STRICTATIME) or o == "rnorelatime":
                    aclr |= ATTR__ATIME
        elif o == "tmpcopyup":
            copyup = True
        else:
            data.append(o)
    return flags, tuple(prop), ",".join(data), aset, aclr, copyup


def _mount(raw: Mapping[str, Any], bundle: str) -> Mount:
    dest = raw.get("destination")
    if not isinstance(dest, str) or not dest:
        raise InvalidConfig("mount destination must be a non-empty string")
    if raw.get("uidMappings") or raw.get("gidMappings"):
        raise Unsupported(f"idmapped mounts (mount {dest}: uidMappings/gidMappings) are not supported")
    if not dest.startswith("/"):
        dest = "/" + dest
    opts = _strs(raw.get("options"), f"mount {dest} options")
    flags, prop, data, aset, aclr, copyup = parse_mount_options(opts)
    mtype = raw.get("type") or ""
    source = raw.get("source") or ""
    bind = bool(flags & m.MS_BIND) or mtype == "bind"
    if bind:
        if not source.startswith("/"):
            source = os.path.join(bundle, source)
        if not os.path.exists(source):
            raise InvalidConfig(f"mount {dest}: bind source {source} does not exist")
    return Mount(destination=dest, type=mtype, source=source, flags=flags & ~(m.MS_BIND | m.MS_REC),
                 propagation=prop, data=data, bind=bind, recursive=bool(flags & m.MS_REC),
                 attr_set=aset, attr_clr=aclr, tmpcopyup=copyup)


def _hooks(raw: Mapping[str, Any]) -> Hooks:
    kinds: dict[str, tuple[Hook, ...]] = {}
    for name, attr in _HOOK_KINDS:
        hooks = []
        for h in _list(raw.get(name), f"hooks.{name}"):
            h = _obj(h, f"hooks.{name}[]")
            path = h.get("path")
            if not isinstance(path, str) or not path.startswith("/"):
                raise InvalidConfig(f"hooks.{name}: path {path!r} is not an absolute path")
            # startContainer hooks resolve in the container; every other kind on the host.
            if name != "startContainer" and not os.access(path, os.X_OK):
                raise InvalidConfig(f"hooks.{name}: {path} does not exist or is not executable")
            timeout = h.get("timeout")
            if timeout is not None and _int(timeout, f"hooks.{name}.timeout") <= 0:
                raise InvalidConfig(f"hooks.{name}: timeout must be positive")
            hooks.append(Hook(path=path, args=_strs(h.get("args"), f"hooks.{name}.args"),
                              env=_strs(h.get("env"), f"hooks.{name}.env"), timeout=timeout))
        kinds[attr] = tuple(hooks)
    return Hooks(**kinds)


def _idmaps(raw: Any, what: str) -> tuple[IdMap, ...]:
    out = []
    for e in _list(raw, what):
        e = _obj(e, what)
        out.append(IdMap(_int(e.get("containerID"), f"{what}.containerID"),
                         _int(e.get("hostID"), f"{what}.hostID"), _int(e.get("size"), f"{what}.size")))
    return tuple(out)


def _devices(raw: Any) -> tuple[Device, ...]:
    out = []
    for d in _list(raw, "linux.devices"):
        d = _obj(d, "linux.devices[]")
        path, dtype = d.get("path"), d.get("type")
        if not isinstance(path, str) or (not path.startswith("/dev/") and path != "/dev"):
            raise InvalidConfig(f"linux.devices: path {path!r} must be under /dev")
        if dtype not in ("c", "b", "u", "p"):
            raise InvalidConfig(f"linux.devices {path}: unknown type {dtype!r}")
        mode = d.get("fileMode")
        out.append(Device(path=path, type=dtype, major=_int(d.get("major"), "major", 0),
                          minor=_int(d.get("minor"), "minor", 0),
                          file_mode=0o666 if mode is None else _int(mode, "fileMode"),
                          uid=_int(d.get("uid"), "uid", 0), gid=_int(d.get("gid"), "gid", 0)))
    return tuple(out)


def parse_resources(cfg: Config) -> Any:
    """linux.resources through the cgroups side's parser (raises InvalidParameter), with allow
    rules for the linux.devices nodes. Separate from ``from_spec`` so that ``create`` can run it
    after the fork, while the child mounts the rootfs."""
    from skiff.runtime.specconv_resources import DeviceRule, resources_from_oci

    extra = [DeviceRule(allow=True, type=d.type if d.type != "u" else "c", major=d.major, minor=d.minor,
                        access="rwm") for d in cfg.devices if d.type in ("c", "b", "u")]
    return resources_from_oci(cfg.resources_raw, extra)


def from_spec(raw: Mapping[str, Any], bundle: str) -> Config:
    """Validate a parsed config.json (``bundle`` is absolute) into a ``Config``."""
    version = raw.get("ociVersion")
    if not isinstance(version, str) or not version:
        raise InvalidConfig("ociVersion must be set")
    root = _obj(raw.get("root"), "root")
    rpath = root.get("path")
    if not isinstance(rpath, str) or not rpath:
        raise InvalidConfig("root.path must be set")
    rootfs = os.path.realpath(os.path.join(bundle, rpath))
    if not os.path.isdir(rootfs):
        raise InvalidConfig(f"rootfs ({rootfs}) does not exist")
    proc = None if raw.get("process") is None else _process(_obj(raw["process"], "process"))
    linux = _obj(raw.get("linux"), "linux")

    namespaces: list[Namespace] = []
    for ns in _list(linux.get("namespaces"), "linux.namespaces"):
        ns = _obj(ns, "linux.namespaces[]")
        t = ns.get("type")
        if t not in NS_FLAGS:
            raise InvalidConfig(f"unknown namespace type {t!r}")
        if any(n.type == t for n in namespaces):
            raise InvalidConfig(f"duplicate namespace type {t!r}")
        path = ns.get("path") or ""
        if path and not os.path.exists(path):
            raise InvalidConfig(f"namespace {t}: path {path} does not exist")
        namespaces.append(Namespace(t, path))
    types = {n.type: n for n in namespaces}
    uid_maps = _idmaps(linux.get("uidMappings"), "linux.uidMappings")
    gid_maps = _idmaps(linux.get("gidMappings"), "linux.gidMappings")
    if "user" in types and not types["user"].path and not (uid_maps and gid_maps):
        raise InvalidConfig("user namespaces enabled, but no uid or gid mappings found")
    if (uid_maps or gid_maps) and "user" not in types:
        raise InvalidConfig("user namespace mappings specified, but user namespace isn't enabled in the config")
    hostname = raw.get("hostname") or ""
    if hostname and "uts" not in types:  # a joined (path) UTS namespace is the container's own too
        raise InvalidConfig("unable to set hostname without a private UTS namespace")
    domainname = raw.get("domainname") or ""
    if domainname and "uts" not in types:
        raise InvalidConfig("unable to set domainname without a private UTS namespace")

    sysctl = []
    for k, v in _obj(linux.get("sysctl"), "linux.sysctl").items():
        if k.startswith("net.") and ("network" not in types):
            raise InvalidConfig(f"sysctl {k!r} is not allowed in the host's network namespace")
        if (k.startswith(("kernel.msg", "kernel.sem", "kernel.shm", "fs.mqueue."))) and "ipc" not in types:
            raise InvalidConfig(f"sysctl {k!r} is not allowed in the host's ipc namespace")
        if not isinstance(v, str):
            raise InvalidConfig(f"sysctl {k!r}: value must be a string")
        sysctl.append((k, v))

    prop_raw = linux.get("rootfsPropagation") or ""
    if prop_raw and prop_raw not in PROPAGATION:
        raise InvalidConfig(f"invalid rootfsPropagation {prop_raw!r}")
    pers = None
    if linux.get("personality") is not None:
        p = _obj(linux["personality"], "linux.personality")
        if p.get("domain") not in _PERSONALITY:
            raise InvalidConfig(f"unknown personality domain {p.get('domain')!r}")
        if p.get("flags"):
            raise Unsupported("linux.personality.flags are not supported")
        pers = _PERSONALITY[p["domain"]]
    offsets = []
    for clock, off in _obj(linux.get("timeOffsets"), "linux.timeOffsets").items():
        if clock not in _TIME_CLOCKS:
            raise InvalidConfig(f"unknown clock {clock!r} in linux.timeOffsets")
        off = _obj(off, f"linux.timeOffsets.{clock}")
        offsets.append((clock, _int(off.get("secs"), "secs", 0), _int(off.get("nanosecs"), "nanosecs", 0)))
    if offsets and ("time" not in types or types["time"].path):
        raise InvalidConfig("linux.timeOffsets need a new time namespace")
    for path in (*_strs(linux.get("maskedPaths"), "linux.maskedPaths"),
                 *_strs(linux.get("readonlyPaths"), "linux.readonlyPaths")):
        if not path.startswith("/"):
            raise InvalidConfig(f"masked/readonly path {path!r} is not absolute")
    cgpath = linux.get("cgroupsPath") or ""
    if not isinstance(cgpath, str):
        raise InvalidConfig("linux.cgroupsPath must be a string")
    annotations = _obj(raw.get("annotations"), "annotations")
    devices = _devices(linux.get("devices"))
    return Config(
        oci_version=version, bundle=bundle, root_path=rootfs, root_readonly=bool(root.get("readonly")),
        process=proc, hostname=hostname, domainname=domainname,
        mounts=tuple(_mount(_obj(x, "mounts[]"), bundle) for x in _list(raw.get("mounts"), "mounts")),
        hooks=_hooks(_obj(raw.get("hooks"), "hooks")),
        annotations=tuple((str(k), str(v)) for k, v in annotations.items()),
        namespaces=tuple(namespaces), uid_mappings=uid_maps, gid_mappings=gid_maps,
        devices=devices, cgroups_path=cgpath,
        resources_raw=linux.get("resources"), sysctl=tuple(sysctl),
        seccomp=linux.get("seccomp"), rootfs_propagation=PROPAGATION.get(prop_raw, 0),
        masked_paths=_strs(linux.get("maskedPaths"), "linux.maskedPaths"),
        readonly_paths=_strs(linux.get("readonlyPaths"), "linux.readonlyPaths"),
        personality=pers, time_offsets=tuple(offsets), mount_label=linux.get("mountLabel") or "",
    )


def parse_process(raw: Any) -> Process:
    """A runtime-spec ``process`` object alone (``exec --process``)."""
    return _process(_obj(raw, "process"))
