"""``update [flags] ID``: change a live container's cgroup limits (runc's update.go).

Values come from ``-r FILE`` (``-`` for stdin; OCI ``linux.resources`` JSON) and/or the flags, the
flags winning. They are merged onto the container's current resources, applied, and written back to
state.json so that the next update merges onto them. Device rules cannot be updated (as in runc).
"""

from __future__ import annotations

import json
import re
import sys

TYPE_CHECKING = False  # typing's costs ~5 ms at start
if TYPE_CHECKING:
    from typing import Any

USAGE = """usage: skiff-runtime update [command options] <container-id>

Update container resource constraints.

The accepted format of -r is as follow:

{
  "memory": {"limit": 0, "reservation": 0, "swap": 0},
  "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0,
          "cpus": "", "mems": ""},
  "blockIO": {"weight": 0},
  "pids": {"limit": 0}
}

Note: if data is to be read from a file or the standard input, all other options are ignored
      only when they are not given.

options:
   --resources value, -r value    path to the file containing the resources to update or '-' to
                                  read from the standard input
   --blkio-weight value           Specifies per cgroup weight, range is from 10 to 1000
   --cpu-period value             CPU CFS period to be used for hardcapping (in usecs)
   --cpu-quota value              CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period
   --cpu-rt-period value          CPU realtime period to be used for hardcapping (in usecs)
   --cpu-rt-runtime value         CPU realtime hardcap limit (in usecs)
   --cpu-share value, --cpu-shares value  CPU shares (relative weight vs. other containers)
   --cpuset-cpus value            CPU(s) to use
   --cpuset-mems value            Memory node(s) to use
   --memory value                 Memory limit (in bytes, or with a k/m/g suffix)
   --memory-reservation value     Memory reservation or soft_limit (in bytes)
   --memory-swap value            Total memory usage (memory + swap); set '-1' to enable unlimited swap
   --pids-limit value             Maximum number of pids allowed in the container
"""

_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(text: str, flag: str) -> int:
    """docker/go-units RAMInBytes: "64m" -> 67108864; "-1" stays -1 (unlimited)."""
    from skiff.runtime.errors import InvalidConfig

    if text.strip() == "-1":
        return -1
    m = _SIZE.match(text.strip())
    if not m:
        raise InvalidConfig(f"invalid value for {flag}: invalid size: '{text}'")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


def _int(text: str, flag: str) -> int:
    from skiff.runtime.errors import InvalidConfig

    try:
        return int(text)
    except ValueError:
        raise InvalidConfig(f"invalid value {text!r} for flag --{flag}: parse error") from None


def cgroup_of(c: Any) -> Any:
    """The container's cgroup manager, from the paths recorded at create."""
    from skiff.runtime.cgroups import from_paths
    from skiff.runtime.errors import InvalidState

    paths = c.record.cgroup_paths
    mgr = from_paths(paths) if paths else c.cgroup()
    if mgr is None or not mgr.exists():
        raise InvalidState(f"container {c.id} has no cgroup")
    return mgr


def _from_flags(opts: dict[str, object]) -> dict[str, Any]:
    """The flags as a partial OCI linux.resources object."""
    raw: dict[str, dict[str, Any]] = {"memory": {}, "cpu": {}, "pids": {}, "blockIO": {}}
    for dest, (section, key) in {"memory": ("memory", "limit"), "memory_reservation": ("memory", "reservation"),
                                 "memory_swap": ("memory", "swap")}.items():
        if opts[dest] is not None:
            raw[section][key] = ram_in_bytes(str(opts[dest]), "--" + dest.replace("_", "-"))
    for dest, (section, key) in {"cpu_shares": ("cpu", "shares"), "cpu_quota": ("cpu", "quota"),
                                 "cpu_period": ("cpu", "period"), "cpu_rt_period": ("cpu", "realtimePeriod"),
                                 "cpu_rt_runtime": ("cpu", "realtimeRuntime"), "pids_limit": ("pids", "limit"),
                                 "blkio_weight": ("blockIO", "weight")}.items():
        if opts[dest] is not None:
            raw[section][key] = _int(str(opts[dest]), dest.replace("_", "-"))
    for dest, key in (("cpuset_cpus", "cpus"), ("cpuset_mems", "mems")):
        if opts[dest] is not None:
            raw["cpu"][key] = str(opts[dest])
    return {k: v for k, v in raw.items() if v}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run(g: Any, argv: list[str]) -> int:
    from skiff.runtime.cli.args import Opt, parse
    from skiff.runtime.cli.common import load_container
    from skiff.runtime.errors import InvalidConfig
    from skiff.runtime.specconv_resources import resources_from_oci, resources_to_oci, update_resources
    from skiff.runtime.state import write_record

    spec = {"resources": Opt("resources", "value"), "r": Opt("resources", "value"),
            "blkio-weight": Opt("blkio_weight", "value"), "cpu-period": Opt("cpu_period", "value"),
            "cpu-quota": Opt("cpu_quota", "value"), "cpu-rt-period": Opt("cpu_rt_period", "value"),
            "cpu-rt-runtime": Opt("cpu_rt_runtime", "value"), "cpu-share": Opt("cpu_shares", "value"),
            "cpu-shares": Opt("cpu_shares", "value"), "cpuset-cpus": Opt("cpuset_cpus", "value"),
            "cpuset-mems": Opt("cpuset_mems", "value"), "memory": Opt("memory", "value"),
            "memory-reservation": Opt("memory_reservation", "value"), "memory-swap": Opt("memory_swap", "value"),
            "pids-limit": Opt("pids_limit", "value"), "kernel-memory": Opt("kernel_memory", "value"),
            "kernel-memory-tcp": Opt("kernel_memory_tcp", "value")}
    opts, rest = parse(argv, spec)
    c = load_container(g.root, rest, USAGE)
    c.transition("update")
    if opts["kernel_memory"] is not None or opts["kernel_memory_tcp"] is not None:
        from skiff.runtime.errors import Unsupported

        raise Unsupported("kernel memory limits are not supported (deprecated by the kernel)")
    partial: dict[str, Any] = {}
    src = opts["resources"]
    if src is not None:
        try:
            if src == "-":
                text = sys.stdin.read()
            else:
                with open(str(src)) as f:
                    text = f.read()
            partial = json.loads(text)
        except OSError as exc:
            raise InvalidConfig(f"open {src}: {exc.strerror}") from None
        except ValueError as exc:
            raise InvalidConfig(f"invalid resources JSON in {src}: {exc}") from None
        if not isinstance(partial, dict):
            raise InvalidConfig("resources JSON must be an object")
    partial = _merge(partial, _from_flags(opts))
    linux = c.record.config.setdefault("linux", {})
    current_raw = linux.get("resources") or {}
    current = resources_from_oci(current_raw, default_devices=False)
    new = update_resources(current, partial)
    cgroup_of(c).set(new)
    stored = resources_to_oci(new)
    if "devices" in current_raw:
        stored["devices"] = current_raw["devices"]
    linux["resources"] = stored
    write_record(c.state_dir, c.record)
    return 0
