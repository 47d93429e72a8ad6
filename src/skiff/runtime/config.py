"""The validated, frozen internal model of a container's configuration.

Only ``specconv`` builds it (from the raw OCI config.json); everything else in the runtime reads
these types and never the raw dict. Field names follow the OCI runtime spec, in snake case.
"""

from __future__ import annotations

from skiff.runtime.frozen import frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "User", "Rlimit", "Capabilities", "Process", "Mount", "Hook", "Hooks", "Namespace", "IdMap",
    "Device", "Config",
]


@frozen
class User:
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    umask: int | None = None


@frozen
class Rlimit:
    name: str  # "RLIMIT_NOFILE"
    resource: int
    soft: int
    hard: int


@frozen
class Capabilities:
    """Capability numbers per set."""

    bounding: tuple[int, ...] = ()
    effective: tuple[int, ...] = ()
    inheritable: tuple[int, ...] = ()
    permitted: tuple[int, ...] = ()
    ambient: tuple[int, ...] = ()


@frozen
class Process:
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = "/"
    user: User = User()
    terminal: bool = False
    console_size: tuple[int, int] | None = None  # (height, width)
    capabilities: Capabilities | None = None  # None: leave the sets as they are
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    oom_score_adj: int | None = None
    apparmor_profile: str = ""
    selinux_label: str = ""


@frozen
class Mount:
    destination: str
    type: str
    source: str
    flags: int = 0  # MS_* set at mount time
    propagation: tuple[int, ...] = ()  # MS_SHARED/MS_PRIVATE/... applied afterwards, in order
    data: str = ""  # filesystem options passed as mount data
    bind: bool = False
    recursive: bool = False  # rbind
    attr_set: int = 0  # MOUNT_ATTR_* applied recursively with mount_setattr (rro, rnosuid, ...)
    attr_clr: int = 0
    tmpcopyup: bool = False


@frozen
class Hook:
    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None


@frozen
class Hooks:
    prestart: tuple[Hook, ...] = ()
    create_runtime: tuple[Hook, ...] = ()
    create_container: tuple[Hook, ...] = ()
    start_container: tuple[Hook, ...] = ()
    poststart: tuple[Hook, ...] = ()
    poststop: tuple[Hook, ...] = ()


@frozen
class Namespace:
    type: str  # OCI name: pid, network, mount, ipc, uts, user, cgroup, time
    path: str = ""  # join this one instead of making a new one


@frozen
class IdMap:
    container_id: int
    host_id: int
    size: int


@frozen
class Device:
    path: str
    type: str  # c, b, u, p
    major: int = 0
    minor: int = 0
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0


@frozen
class Config:
    """Everything ``init`` needs to build the container, already checked."""

    oci_version: str
    bundle: str
    root_path: str  # absolute
    root_readonly: bool
    process: Process | None
    hostname: str = ""
    domainname: str = ""
    mounts: tuple[Mount, ...] = ()
    hooks: Hooks = Hooks()
    annotations: tuple[tuple[str, str], ...] = ()
    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IdMap, ...] = ()
    gid_mappings: tuple[IdMap, ...] = ()
    devices: tuple[Device, ...] = ()
    cgroups_path: str = ""
    resources_raw: Any = None  # linux.resources as given; specconv.parse_resources checks it
    sysctl: tuple[tuple[str, str], ...] = ()
    seccomp: Any = None  # the raw linux.seccomp mapping, compiled by skiff.runtime.seccomp
    rootfs_propagation: int = 0  # MS_* flags; 0 = runc's default (rslave)
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    personality: int | None = None
    time_offsets: tuple[tuple[str, int, int], ...] = ()  # (clock, secs, nanosecs)
    mount_label: str = ""

    def namespace(self, ns_type: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.type == ns_type:
                return ns
        return None

    def annotations_dict(self) -> dict[str, str]:
        return dict(self.annotations)
