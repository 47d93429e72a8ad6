"""Build arguments with the classic builder's scoping rules.

- ``--build-arg`` values override ARG defaults; an ARG without value takes the global (before
  FROM) value of the same name.
- Global ARGs are visible to FROM lines only; a stage sees an ARG once it declares it.
- The proxy variables are usable without an ARG line, are never reported unused, and are left
  out of the history line unless declared.
- ENV wins over ARG of the same name when expanding and when running RUN.
- Platform ARGs (TARGETPLATFORM, TARGETARCH, BUILDPLATFORM, ...) are predefined in global scope.
"""

from __future__ import annotations

import platform as _platform
from collections.abc import Mapping

__all__ = ["BUILTIN_ARGS", "BuildArgs", "host_platform", "platform_args"]

BUILTIN_ARGS = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
)  # fmt: skip

_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}


def host_platform() -> str:
    machine = _platform.machine()
    arch = _ARCH.get(machine, machine)
    return "linux/arm/v7" if machine == "armv7l" else f"linux/{arch}"


def platform_args(target: str, build: str) -> dict[str, str]:
    def split(p: str) -> tuple[str, str, str]:
        parts = ([*p.split("/"), "", "", ""])[:3]
        return parts[0], parts[1], parts[2]

    out = {}
    for prefix, value in (("TARGET", target), ("BUILD", build)):
        os_, arch, variant = split(value)
        out[prefix + "PLATFORM"] = value
        out[prefix + "OS"] = os_
        out[prefix + "ARCH"] = arch
        out[prefix + "VARIANT"] = variant
    return out


class BuildArgs:
    """One build's args; ``for_stage`` gives a stage its own allowed set, sharing the rest."""

    def __init__(self, from_options: Mapping[str, str | None]) -> None:
        self.options = dict(from_options)
        self.allowed: dict[str, str | None] = {}
        self.meta: dict[str, str | None] = {}
        self.referenced: set[str] = set()

    def for_stage(self) -> BuildArgs:
        clone = BuildArgs(self.options)
        clone.meta = dict(self.meta)
        clone.referenced = self.referenced  # shared: "unused" is judged over the whole build
        return clone

    def add_arg(self, key: str, value: str | None) -> None:
        self.allowed[key] = value
        self.referenced.add(key)

    def add_meta(self, key: str, value: str | None) -> None:
        self.meta[key] = value

    def _get(self, key: str, mapping: Mapping[str, str | None]) -> tuple[str, bool]:
        default = mapping.get(key)
        exists = key in mapping
        opt = self.options.get(key)
        if key in self.options and opt is not None:
            return opt, True
        if default is None:
            meta = self.meta.get(key)
            if meta is not None:
                return meta, True
            return "", False
        return default, exists

    def _all(self, mapping: Mapping[str, str | None]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key in [*mapping, *(k for k in BUILTIN_ARGS if k not in mapping)]:
            if key in BUILTIN_ARGS and key not in mapping:
                v = self.options.get(key)
                if v is not None:
                    out[key] = v
                continue
            value, ok = self._get(key, mapping)
            if ok:
                out[key] = value
        return out

    def all_allowed(self) -> dict[str, str]:
        return self._all(self.allowed)

    def all_meta(self) -> dict[str, str]:
        return self._all(self.meta)

    def filter_allowed(self, env: tuple[str, ...] | list[str]) -> list[str]:
        """``k=v`` for every arg in scope that ENV does not already set."""
        env_keys = {e.partition("=")[0] for e in env}
        return [f"{k}={v}" for k, v in self.all_allowed().items() if k not in env_keys]

    def shown_in_history(self, key: str) -> bool:
        return key in self.referenced or key not in BUILTIN_ARGS

    def unused(self) -> list[str]:
        return sorted(k for k in self.options if k not in self.referenced and k not in BUILTIN_ARGS)
