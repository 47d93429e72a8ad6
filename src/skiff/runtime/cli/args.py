"""A tiny flag parser with Go's (urfave/cli) conventions, because callers of an OCI runtime
(containerd, podman, runtime-tools) pass flags runc-style: ``-b x``, ``--bundle x``,
``--bundle=x``, ``-bundle x``; flags stop at the first positional argument or at ``--``.
argparse would cost start-up time and reject some of those forms.
"""

from __future__ import annotations

from skiff.runtime.errors import InvalidConfig
from skiff.runtime.frozen import frozen

__all__ = ["Opt", "parse", "BOOL_TRUE"]

BOOL_TRUE = ("1", "true", "t", "yes")


@frozen
class Opt:
    dest: str
    kind: str = "flag"  # flag | value | multi


def parse(argv: list[str], spec: dict[str, Opt]) -> tuple[dict[str, object], list[str]]:
    """(options by dest, positional args). Flags default to False, values to None, multi to []."""
    opts: dict[str, object] = {}
    for o in spec.values():
        opts.setdefault(o.dest, False if o.kind == "flag" else [] if o.kind == "multi" else None)
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return opts, argv[i + 1:]
        if not a.startswith("-") or a == "-":
            return opts, argv[i:]
        name, eq, value = a.lstrip("-").partition("=")
        if name not in spec:
            raise InvalidConfig(f"flag provided but not defined: -{name}")
        o = spec[name]
        if o.kind == "flag":
            opts[o.dest] = (value.lower() in BOOL_TRUE) if eq else True
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise InvalidConfig(f"flag needs an argument: -{name}")
                value = argv[i]
            if o.kind == "multi":
                lst = opts[o.dest]
                assert isinstance(lst, list)
                lst.append(value)
            else:
                opts[o.dest] = value
        i += 1
    return opts, []
