"""``kill [--all] ID [SIGNAL]``: send a signal (default SIGTERM) to the init, or to every process
of the container with --all."""

from __future__ import annotations

from skiff.runtime.cli.args import Opt, parse
from skiff.runtime.cli.common import load_container, parse_signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from skiff.runtime.cli.main import Globals

USAGE = """usage: skiff-runtime kill [command options] <container-id> [signal]

Send a signal (name or number; default SIGTERM) to the container's init process.

options:
   --all, -a  send the signal to all processes in the container
"""


def run(g: Globals, argv: list[str]) -> int:
    opts, args = parse(argv, {"all": Opt("all"), "a": Opt("all")})
    c = load_container(g.root, args, USAGE)
    sig = parse_signal(args[1] if len(args) > 1 else "SIGTERM")
    c.signal(sig, all_processes=bool(opts["all"]))
    return 0
