"""``create [options] ID``: set the container up and leave its process waiting for ``start``."""

from __future__ import annotations

import gc

from skiff.runtime.cli.args import Opt, parse
from skiff.runtime.cli.common import one_id
from skiff.runtime.errors import InvalidConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from skiff.runtime.cli.main import Globals
    from skiff.runtime.create import CreateOptions

USAGE = """usage: skiff-runtime create [command options] <container-id>

Create a container from the bundle (default: the current directory); its process waits for `start`.

options:
   --bundle value, -b value  path to the root of the bundle directory
   --console-socket value    AF_UNIX socket that receives the pty master (process.terminal)
   --pid-file value          file to write the container's init pid to
   --no-pivot                use MS_MOVE + chroot instead of pivot_root
   --no-new-keyring          accepted; no session keyring is created
   --preserve-fds value      pass N extra fds (3..3+N-1) to the container process (default: 0)
"""

SPEC = {
    "bundle": Opt("bundle", "value"), "b": Opt("bundle", "value"),
    "console-socket": Opt("console_socket", "value"), "pid-file": Opt("pid_file", "value"),
    "no-pivot": Opt("no_pivot"), "no-new-keyring": Opt("no_new_keyring"),
    "preserve-fds": Opt("preserve_fds", "value"), "detach": Opt("detach"), "d": Opt("detach"),
    "keep": Opt("keep"), "no-subreaper": Opt("no_subreaper"),
}


def options(g: Globals, argv: list[str], usage: str) -> tuple[CreateOptions, dict[str, object]]:
    from skiff.runtime.create import CreateOptions

    opts, args = parse(argv, SPEC)
    cid = one_id(args, usage)
    try:
        preserve = int(str(opts["preserve_fds"] or 0))
    except ValueError:
        raise InvalidConfig(f"invalid --preserve-fds value {opts['preserve_fds']!r}") from None
    return CreateOptions(root=g.root, container_id=cid, bundle=str(opts["bundle"] or "."),
                         console_socket=str(opts["console_socket"] or ""),
                         pid_file=str(opts["pid_file"] or ""), no_pivot=bool(opts["no_pivot"]),
                         preserve_fds=preserve), opts


def run(g: Globals, argv: list[str]) -> int:
    from skiff.runtime.create import create

    # A one-shot process makes no garbage cycles worth collecting, and a collection in the forked
    # init would touch (and so copy) every page of the parent's heap.
    gc.disable()
    co, _ = options(g, argv, USAGE)
    create(co)
    return 0
