"""``exec [options] ID [COMMAND [ARG...]]``: run a new process inside a running container."""

from __future__ import annotations

import gc
import sys

from skiff.runtime.cli.args import Opt, parse
from skiff.runtime.cli.common import load_container
from skiff.runtime.errors import InvalidConfig
from skiff.runtime.frozen import replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from skiff.runtime.cli.main import Globals
    from skiff.runtime.config import Process

USAGE = """usage: skiff-runtime exec [command options] <container-id> <command> [command options]
   or: skiff-runtime exec [command options] --process process.json <container-id>

Execute a new process inside the container.

options:
   --console-socket value    AF_UNIX socket that receives the pty master
   --cwd value               current working directory in the container
   --env value, -e value     set an environment variable (repeatable)
   --tty, -t                 allocate a pseudo-TTY
   --user value, -u value    UID (format: <uid>[:<gid>])
   --additional-gids value, -g value  additional gids (repeatable)
   --process value, -p value path to the process.json
   --detach, -d              detach from the container's process
   --pid-file value          file to write the process id to
   --no-new-privs            set the no new privileges value for the process
   --cap value, -c value     add a capability to the process' sets (repeatable)
   --preserve-fds value      pass N additional file descriptors to the process (default: 0)
"""

SPEC = {
    "console-socket": Opt("console_socket", "value"), "cwd": Opt("cwd", "value"),
    "env": Opt("env", "multi"), "e": Opt("env", "multi"), "tty": Opt("tty"), "t": Opt("tty"),
    "user": Opt("user", "value"), "u": Opt("user", "value"),
    "additional-gids": Opt("gids", "multi"), "g": Opt("gids", "multi"),
    "process": Opt("process", "value"), "p": Opt("process", "value"),
    "detach": Opt("detach"), "d": Opt("detach"), "pid-file": Opt("pid_file", "value"),
    "process-label": Opt("label", "value"), "apparmor": Opt("apparmor", "value"),
    "no-new-privs": Opt("nnp"), "cap": Opt("cap", "multi"), "c": Opt("cap", "multi"),
    "preserve-fds": Opt("preserve_fds", "value"), "cgroup": Opt("cgroup", "multi"),
    "ignore-paused": Opt("ignore_paused"),
}


def _int(v: str, what: str) -> int:
    try:
        return int(v)
    except ValueError:
        raise InvalidConfig(f"invalid {what} {v!r}") from None


def build_process(base: Process | None, opts: dict[str, object], args: list[str]) -> Process:
    from skiff.runtime.config import Capabilities, Process, User
    from skiff.runtime.specconv import parse_process
    from skiff.sys.caps import cap_number

    if opts["process"]:
        from skiff.runtime import fastjson

        try:
            with open(str(opts["process"]), "rb") as f:
                return parse_process(fastjson.loads(f.read()))
        except (OSError, ValueError) as exc:
            raise InvalidConfig(f"cannot read process JSON {opts['process']}: {exc}") from None
    if not args:
        raise InvalidConfig("exec: no command given")
    proc = base or Process(args=tuple(args))
    env = dict(e.partition("=")[::2] for e in proc.env)
    for e in opts["env"]:  # type: ignore[attr-defined]
        k, _, v = str(e).partition("=")
        env[k] = v
    user = proc.user
    if opts["user"]:
        uid, _, gid = str(opts["user"]).partition(":")
        user = User(uid=_int(uid, "uid"), gid=_int(gid, "gid") if gid else 0, umask=user.umask)
    if opts["gids"]:
        user = replace(user, additional_gids=tuple(_int(str(g), "gid") for g in opts["gids"]))  # type: ignore[attr-defined]
    caps = proc.capabilities
    if opts["cap"]:
        extra = []
        for name in opts["cap"]:  # type: ignore[attr-defined]
            n = cap_number(str(name))
            if n is None:
                raise InvalidConfig(f"unknown capability {name!r}")
            extra.append(n)
        caps = caps or Capabilities()
        caps = Capabilities(*(tuple(dict.fromkeys((*getattr(caps, s), *extra)))
                              for s in ("bounding", "effective", "inheritable", "permitted", "ambient")))
    return replace(proc, args=tuple(args), env=tuple(f"{k}={v}" for k, v in env.items()),
                   cwd=str(opts["cwd"] or proc.cwd), user=user, terminal=bool(opts["tty"]),
                   capabilities=caps, no_new_privileges=proc.no_new_privileges or bool(opts["nnp"]))


def run(g: Globals, argv: list[str]) -> int:
    from skiff.runtime.setns_exec import ExecOptions, exec_in

    gc.disable()  # as create/run: a short-lived process; the terminal proxy turns it back on
    opts, args = parse(argv, SPEC)
    c = load_container(g.root, args, USAGE)
    proc = build_process(c.config.process, opts, args[1:])
    preserve = _int(str(opts["preserve_fds"] or 0), "--preserve-fds")
    eo = ExecOptions(process=proc, detach=bool(opts["detach"]), pid_file=str(opts["pid_file"] or ""),
                     console_socket=str(opts["console_socket"] or ""), preserve_fds=preserve)
    result = exec_in(c, eo)
    sys.stdout.flush()
    return 0 if eo.detach else result
