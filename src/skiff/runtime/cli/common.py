"""Glue shared by the command modules (runc's utils_linux.go): id argument, container loading,
signal names."""

from __future__ import annotations

from skiff.runtime.errors import InvalidConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from skiff.runtime.container import Container

__all__ = ["one_id", "load_container", "parse_signal"]


def one_id(args: list[str], usage: str) -> str:
    if not args:
        raise InvalidConfig(f"requires exactly 1 argument (container id)\n{usage}")
    return args[0]


def load_container(root: str, args: list[str], usage: str) -> Container:
    from skiff.runtime.container import load

    return load(root, one_id(args, usage))


def parse_signal(raw: str) -> int:
    """"KILL", "SIGKILL", "kill" or "9" -> 9 (runc accepts all of these)."""
    if raw.isdigit():
        n = int(raw)
        if n <= 0 or n >= 65:
            raise InvalidConfig(f"unknown signal {raw!r}")
        return n
    name = raw.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    import _signal  # not ``signal``: it imports enum, milliseconds of every `kill`

    if name.startswith(("SIGRTMIN+", "SIGRTMAX-")):
        base = _signal.SIGRTMIN if name.startswith("SIGRTMIN") else _signal.SIGRTMAX
        off = int(name[9:])
        return int(base + off if name.startswith("SIGRTMIN") else base - off)
    num = getattr(_signal, name, None) if "_" not in name else None
    if not isinstance(num, int) or not 0 < num < 65:
        raise InvalidConfig(f"unknown signal {raw!r}")
    return num
