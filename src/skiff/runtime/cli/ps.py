"""``ps [--format table|json] ID [ps options]``: the container's processes (runc's ps.go).

json prints the pids in the container's cgroup; table runs the host's ``ps`` (default ``-ef``) and
keeps its header and the lines whose PID is in the cgroup.
"""

from __future__ import annotations

import json
import subprocess
import sys

TYPE_CHECKING = False  # typing's costs ~5 ms at start
if TYPE_CHECKING:
    from typing import Any

USAGE = """usage: skiff-runtime ps [command options] <container-id> [ps options]

ps displays the processes running inside a container.

options:
   --format value, -f value  select one of: table or json (default: "table")
"""


def pid_column(header: str) -> int:
    from skiff.errors import System

    fields = header.split()
    if "PID" not in fields:
        raise System("couldn't find PID field in ps output")
    return fields.index("PID")


def filter_table(output: str, pids: list[int]) -> list[str]:
    """The header and the ps lines whose PID column is one of ``pids``."""
    lines = output.split("\n")
    idx = pid_column(lines[0])
    keep = [lines[0]]
    wanted = set(pids)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > idx and fields[idx].isdigit() and int(fields[idx]) in wanted:
            keep.append(line)
    return keep


def run(g: Any, argv: list[str]) -> int:
    from skiff.errors import System
    from skiff.runtime.cli.args import Opt, parse
    from skiff.runtime.cli.common import load_container
    from skiff.runtime.cli.update import cgroup_of
    from skiff.runtime.errors import InvalidConfig

    opts, rest = parse(argv, {"format": Opt("format", "value"), "f": Opt("format", "value")})
    fmt = str(opts["format"] or "table")
    c = load_container(g.root, rest, USAGE)
    pids = sorted(cgroup_of(c).pids())
    if fmt == "json":
        sys.stdout.write(json.dumps(pids) + "\n")
        return 0
    if fmt != "table":
        raise InvalidConfig("invalid format option")
    ps_args = rest[1:] or ["-ef"]
    try:
        out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise System("ps: executable file not found in $PATH") from None
    if out.returncode != 0:
        raise System(f"ps: {out.stderr.strip() or 'exit status ' + str(out.returncode)}")
    sys.stdout.write("\n".join(filter_table(out.stdout, pids)) + "\n")
    return 0
