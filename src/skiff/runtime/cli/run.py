"""``run [options] ID``: create + start; without --detach wait for the process, delete the
container and exit with the process' exit code (128+n when killed by signal n)."""

from __future__ import annotations

import gc

from skiff.runtime.cli.create import options
from skiff.runtime.frozen import replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from skiff.runtime.cli.main import Globals

USAGE = """usage: skiff-runtime run [command options] <container-id>

Create and start a container from the bundle (default: the current directory).

options:
   --bundle value, -b value  path to the root of the bundle directory
   --detach, -d              detach from the container's process
   --console-socket value    AF_UNIX socket that receives the pty master (process.terminal)
   --pid-file value          file to write the container's init pid to
   --no-pivot                use MS_MOVE + chroot instead of pivot_root
   --no-new-keyring          accepted; no session keyring is created
   --preserve-fds value      pass N extra fds to the container process (default: 0)
   --keep                    do not delete the container after it exits
"""

def run(g: Globals, argv: list[str]) -> int:
    from skiff.runtime.create import create, start
    from skiff.runtime.specconv import load_bundle
    from skiff.runtime.state import validate_id
    from skiff.runtime.wait import wait_forwarding

    gc.disable()  # see create's run(); the terminal proxy, which lives on, turns it back on
    co, opts = options(g, argv, USAGE)
    detach = bool(opts["detach"])
    validate_id(co.container_id)
    bundle = load_bundle(co.bundle)  # once: create takes it as it is
    proc = bundle[0].process
    proxy = None
    if co.console_socket == "" and not detach and proc is not None and proc.terminal:
        from skiff.runtime.tty import TtyProxy

        proxy = TtyProxy()  # runc's foreground terminal: we hold the pty master ourselves
        co = replace(co, console_socket=proxy.path)
    if not detach:
        co = replace(co, durable=False)  # the record goes when we do
    try:
        c = create(co, bundle)
        try:
            if proxy is not None:
                proxy.receive()
            start(c)
        except BaseException:
            c.destroy()
            raise
        if detach:
            return 0
        if proxy is not None:
            gc.enable()
        code = proxy.proxy(c.record.pid) if proxy is not None else wait_forwarding(c.record.pid)
    finally:
        if proxy is not None:
            proxy.close()
    if not opts["keep"]:
        c.destroy()
    return code
