"""``list [--format table|json] [-q]``: the containers under --root."""

from __future__ import annotations

import json
import sys

from skiff.runtime.cli.args import Opt, parse
from skiff.runtime.errors import InvalidConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from skiff.runtime.cli.main import Globals

USAGE = """usage: skiff-runtime list [command options]

List containers started by skiff-runtime with the given --root.

options:
   --format value, -f value  table or json (default: table)
   --quiet, -q               display only container IDs
"""


def run(g: Globals, argv: list[str]) -> int:
    from skiff.runtime.container import list_ids, load
    from skiff.runtime.errors import ContainerNotFound

    opts, _ = parse(argv, {"format": Opt("format", "value"), "f": Opt("format", "value"),
                           "quiet": Opt("quiet"), "q": Opt("quiet")})
    fmt = str(opts["format"] or "table")
    if fmt not in ("table", "json"):
        raise InvalidConfig(f"invalid format option: {fmt}")
    states: list[dict[str, Any]] = []
    for cid in list_ids(g.root):
        try:
            states.append(load(g.root, cid).oci_state())
        except ContainerNotFound:
            continue
    if opts["quiet"]:
        sys.stdout.write("".join(s["id"] + "\n" for s in states))
    elif fmt == "json":
        sys.stdout.write(json.dumps(states) + "\n")
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"]) for s in states]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            sys.stdout.write("".join(v.ljust(widths[i] + 3) for i, v in enumerate(r[:5])) + r[5] + "\n")
    return 0
