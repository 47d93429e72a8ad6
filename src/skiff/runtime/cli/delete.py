"""``delete [--force] ID``: remove a stopped (or created) container: cgroup, state, poststop hooks."""

from __future__ import annotations

from skiff.runtime.cli.args import Opt, parse
from skiff.runtime.cli.common import one_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from skiff.runtime.cli.main import Globals

USAGE = """usage: skiff-runtime delete [command options] <container-id>

Delete a container and the resources it holds.

options:
   --force, -f  kill the container first if it is still running
"""


def run(g: Globals, argv: list[str]) -> int:
    from skiff.runtime.container import load
    from skiff.runtime.errors import ContainerNotFound

    opts, args = parse(argv, {"force": Opt("force"), "f": Opt("force")})
    cid = one_id(args, USAGE)
    try:
        c = load(g.root, cid)
    except ContainerNotFound:
        if opts["force"]:
            return 0
        raise
    c.transition("force-delete" if opts["force"] else "delete")
    c.destroy()
    return 0
