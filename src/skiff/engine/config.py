"""Daemon configuration: command-line flags and ``daemon.json`` merged and validated as dockerd does.

``load_config(flags, file)`` is the one entry: ``flags`` holds only the options the user gave on
the command line (key = daemon.json name). Rules, from moby's ``daemon/config``:

- a key in the file that matches no option -> "the following directives don't match any
  configuration option: k";
- an option set both as a flag and in the file -> "the following directives are specified both as
  a flag and in the configuration file: k: (from flag: v, from file: w)";
- then one ``validate`` over the merged result (log level, default runtime, labels, hosts/TLS).

Errors are ``InvalidParameter`` with dockerd's text, prefixed with "unable to configure the
Docker daemon with file <path>: " when they come from the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skiff.errors import InvalidParameter

__all__ = ["DaemonConfig", "OPTIONS", "load_config", "DEFAULT_HOST", "BUILTIN_RUNTIMES", "go_value"]

DEFAULT_DATA_ROOT = "/var/lib/skiff"
DEFAULT_EXEC_ROOT = "/run/skiff"
DEFAULT_HOST = "unix:///run/skiff/skiff.sock"
BUILTIN_RUNTIMES: Mapping[str, str] = {"skiff": "skiff-runtime", "runc": "runc", "crun": "crun"}
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal", "panic", "trace")

# daemon.json key -> default. The value's type is the type of the default (None: string).
OPTIONS: Mapping[str, Any] = {
    "data-root": DEFAULT_DATA_ROOT,
    "exec-root": DEFAULT_EXEC_ROOT,
    "hosts": [],
    "tls": False,
    "tlsverify": False,
    "tlscacert": None,
    "tlscert": None,
    "tlskey": None,
    "debug": False,
    "log-level": "info",
    "group": "skiff",
    "pidfile": None,
    "live-restore": True,
    "default-runtime": "skiff",
    "runtimes": {},
    "experimental": False,
    "labels": [],
    "storage-driver": None,
    "storage-opts": [],
    "log-driver": "json-file",
    "log-opts": {},
    "default-shm-size": "64M",
    "dns": [],
    "dns-opts": [],
    "dns-search": [],
    "bip": None,
    "fixed-cidr": None,
    "default-address-pools": [],
    "bridge": None,
    "ip": "0.0.0.0",
    "iptables": True,
    "ip6tables": False,
    "ip-forward": True,
    "ip-masq": True,
    "ipv6": False,
    "mtu": 0,
    "icc": True,
    "userland-proxy": True,
    "iptables-chain-prefix": "SKIFF",  # Skiff-only: the prefix of its own iptables chains (tests)
    "default-gateway": None,
    "insecure-registries": [],
    "registry-mirrors": [],
    "max-concurrent-downloads": 3,
    "max-concurrent-uploads": 5,
    "max-download-attempts": 5,
    "default-ulimits": {},
    "cgroup-parent": None,
    "exec-opts": [],
    "init": False,
    "init-path": None,
    "no-new-privileges": False,
    "seccomp-profile": None,
    "selinux-enabled": False,
    "userns-remap": None,
    "default-cgroupns-mode": None,
    "default-ipc-mode": "private",
    "shutdown-timeout": 15,
    "features": {},
    "builder": {},
}

# Keys that never conflict and are not checked against flags (moby's skipValidateOptions).
_SKIP_VALIDATE = frozenset({"features", "builder"})


def go_value(v: Any) -> str:
    """A value printed as Go's ``%v`` would print it (as in dockerd's error messages)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "<nil>"
    if isinstance(v, list | tuple):
        return "[" + " ".join(go_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_value(x)}" for k, x in sorted(v.items())) + "]"
    return str(v)


@dataclass(frozen=True)
class DaemonConfig:
    """The validated daemon configuration every service reads (never the raw flags or file)."""

    data_root: Path = Path(DEFAULT_DATA_ROOT)
    exec_root: Path = Path(DEFAULT_EXEC_ROOT)
    hosts: tuple[str, ...] = (DEFAULT_HOST,)
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None
    debug: bool = False
    log_level: str = "info"
    group: str = "skiff"
    group_explicit: bool = False
    pidfile: Path | None = None
    live_restore: bool = True
    default_runtime: str = "skiff"
    runtimes: Mapping[str, str] = field(default_factory=lambda: dict(BUILTIN_RUNTIMES))
    experimental: bool = False
    labels: tuple[str, ...] = ()
    config_file: Path | None = None
    # Every merged option by daemon.json key (storage, network, logging... read theirs here).
    options: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        """Any option by its daemon.json name (``cfg.get("log-driver")``)."""
        if key not in OPTIONS:
            raise KeyError(key)
        return self.options.get(key, OPTIONS[key])

    @property
    def effective_pidfile(self) -> Path:
        return self.pidfile if self.pidfile is not None else self.exec_root / "skiffd.pid"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InvalidParameter(f"unable to configure the Docker daemon with file {path}: "
                               f"open {path}: no such file or directory") from None
    except OSError as exc:
        raise InvalidParameter(f"unable to configure the Docker daemon with file {path}: {exc}") from exc
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(f"unable to configure the Docker daemon with file {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidParameter(f"unable to configure the Docker daemon with file {path}: "
                               "the configuration must be a JSON object")
    return doc


def _check_types(values: Mapping[str, Any], where: str) -> None:
    for key, v in values.items():
        default = OPTIONS.get(key)
        if default is None or v is None:
            if v is not None and not isinstance(v, str):
                raise InvalidParameter(f"{where}invalid value for {key}: {go_value(v)} (want a string)")
            continue
        want = type(default)
        if want is int and isinstance(v, bool):
            ok = False
        else:
            ok = isinstance(v, want) or (want is int and isinstance(v, float) and v.is_integer())
        if not ok:
            raise InvalidParameter(f"{where}invalid value for {key}: {go_value(v)} "
                                   f"(want a {want.__name__})")


def find_conflicts(flags: Mapping[str, Any], file_values: Mapping[str, Any]) -> None:
    """moby's findConfigurationConflicts: unknown keys first, then keys given twice."""
    unknown = [k for k in file_values if k not in OPTIONS and k not in _SKIP_VALIDATE]
    if unknown:
        raise InvalidParameter("the following directives don't match any configuration option: "
                               + ", ".join(sorted(unknown)))
    dup = [f"{k}: (from flag: {go_value(flags[k])}, from file: {go_value(file_values[k])})"
           for k in sorted(flags) if k in file_values and k not in _SKIP_VALIDATE]
    if dup:
        raise InvalidParameter("the following directives are specified both as a flag and in the "
                               "configuration file: " + ", ".join(dup))


def _parse_runtimes(raw: Mapping[str, Any]) -> dict[str, str]:
    out = dict(BUILTIN_RUNTIMES)
    for name, spec in raw.items():
        if isinstance(spec, str):
            path = spec
        elif isinstance(spec, dict) and isinstance(spec.get("path"), str):
            path = spec["path"]
        else:
            raise InvalidParameter(f"runtime {name}: a path is required")
        if name in BUILTIN_RUNTIMES and path != BUILTIN_RUNTIMES[name]:
            raise InvalidParameter(f"runtime name '{name}' is reserved")
        out[name] = path
    return out


def validate(merged: Mapping[str, Any]) -> None:
    """The checks dockerd's ``config.Validate`` makes, on the merged options."""
    level = merged.get("log-level", "info")
    if level not in LOG_LEVELS:
        raise InvalidParameter(f"invalid logging level: {level}")
    for label in merged.get("labels", []):
        if "=" not in label or label.startswith("="):
            raise InvalidParameter(f"bad attribute format: {label}")
    for key in ("max-concurrent-downloads", "max-concurrent-uploads"):
        if int(merged.get(key, 0)) < 0:
            raise InvalidParameter(f"invalid {key.replace('-', ' ')}: {merged[key]}")
    if int(merged.get("max-download-attempts", 5)) <= 0:
        raise InvalidParameter(f"invalid max download attempts: {merged['max-download-attempts']}")
    runtimes = _parse_runtimes(merged.get("runtimes", {}))
    default = merged.get("default-runtime", "skiff")
    if default not in runtimes:
        raise InvalidParameter(f"specified default runtime '{default}' does not exist")
    tlsverify = bool(merged.get("tlsverify"))
    for host in merged.get("hosts", []):
        scheme, sep, rest = host.partition("://")
        if not sep:
            raise InvalidParameter(f"invalid bind address ({host}): unsupported proto ''")
        if scheme == "unix":
            if not rest:
                raise InvalidParameter(f"invalid bind address ({host}): empty socket path")
        elif scheme == "tcp":
            if not tlsverify:
                raise InvalidParameter(
                    f"refusing to listen on {host} without mutual TLS: plain TCP would give root on "
                    "this machine to anyone who can reach the port; use --tlsverify with "
                    "--tlscacert, --tlscert and --tlskey")
            missing = [k for k in ("tlscacert", "tlscert", "tlskey") if not merged.get(k)]
            if missing:
                raise InvalidParameter(f"--tlsverify on {host} needs "
                                       + ", ".join("--" + m for m in missing))
        else:
            raise InvalidParameter(f"invalid bind address ({host}): unsupported proto '{scheme}'")


def load_config(flags: Mapping[str, Any], config_file: Path | None = None) -> DaemonConfig:
    """Merge explicitly given flags with the daemon.json file and validate the result.

    ``flags`` maps daemon.json keys to values for the options given on the command line only.
    Raises InvalidParameter with dockerd's messages.
    """
    unknown_flags = [k for k in flags if k not in OPTIONS]
    if unknown_flags:
        raise KeyError(", ".join(unknown_flags))
    file_values: dict[str, Any] = {}
    if config_file is not None:
        file_values = _read_file(config_file)
        where = f"unable to configure the Docker daemon with file {config_file}: "
        try:
            find_conflicts(flags, file_values)
            _check_types(file_values, "")
        except InvalidParameter as exc:
            raise InvalidParameter(where + exc.message) from exc
    merged: dict[str, Any] = {}
    merged.update(file_values)
    merged.update(flags)
    if merged.get("tlsverify"):
        merged["tls"] = True
    validate(merged)
    group_explicit = "group" in merged
    opts = {k: merged.get(k, OPTIONS[k]) for k in OPTIONS}
    hosts = tuple(opts["hosts"]) or (DEFAULT_HOST,)
    pid = opts["pidfile"]
    return DaemonConfig(
        data_root=Path(os.path.abspath(opts["data-root"])),
        exec_root=Path(os.path.abspath(opts["exec-root"])),
        hosts=hosts,
        tls=bool(opts["tls"]),
        tlsverify=bool(opts["tlsverify"]),
        tlscacert=opts["tlscacert"],
        tlscert=opts["tlscert"],
        tlskey=opts["tlskey"],
        debug=bool(opts["debug"]),
        log_level="debug" if opts["debug"] else opts["log-level"],
        group=opts["group"],
        group_explicit=group_explicit,
        pidfile=Path(pid) if pid else None,
        live_restore=bool(opts["live-restore"]),
        default_runtime=opts["default-runtime"],
        runtimes=_parse_runtimes(opts["runtimes"]),
        experimental=bool(opts["experimental"]),
        labels=tuple(opts["labels"]),
        config_file=config_file,
        options=opts,
    )
