"""``skiff container ...`` (and docker's shortcuts run, ps, exec, logs, ...) with docker's flags and output.

The create body is built by :mod:`skiff.cli.commands.run_opts`; the stdio relay (raw terminal,
SIGWINCH resize, half-close of stdin, demultiplexing) by :mod:`skiff.cli.commands.stdio`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from skiff.cli.command import Cli, Command
from skiff.cli.commands.system import GoView, parse_filter_flags
from skiff.cli.exitcodes import GENERIC, StatusError, UsageError, run_exit_code
from skiff.cli.formatting import choose_format, render_inspect, render_list
from skiff.cli.gotemplate import TemplateError
from skiff.cli.units import bytes_size, human_duration, human_size
from skiff.errors import SkiffError

__all__ = ["NOUN", "HELP", "COMMANDS", "container_rows"]

NOUN = "container"
HELP = "Manage containers"

_PS_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
_PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "RunningFor": "CREATED",
               "CreatedAt": "CREATED AT", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES", "Size": "SIZE",
               "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "State": "STATE",
               "LocalVolumes": "LOCAL VOLUMES", "Platform": "PLATFORM"}
_STATS_TABLE = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
                "\t{{.PIDs}}")
_STATS_HEADERS = {"ID": "CONTAINER ID", "Name": "NAME", "Container": "CONTAINER", "CPUPerc": "CPU %",
                  "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
                  "PIDs": "PIDS"}


def _client(cli: Cli) -> Any:
    return cli.client


# ---- ps ----------------------------------------------------------------------------------------

def _ports(ports: list[Mapping[str, Any]]) -> str:
    out = []
    for p in ports:
        if p.get("PublicPort"):
            ip = p.get("IP") or "0.0.0.0"
            out.append(f"{ip}:{p['PublicPort']}->{p['PrivatePort']}/{p.get('Type', 'tcp')}")
        else:
            out.append(f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}")
    return ", ".join(out)


def _ellipsis(text: str, width: int) -> str:
    """docker's formatter.Ellipsis (display width; ASCII here)."""
    return text if len(text) <= width else text[:width - 1] + "…"


def _truncate_id(value: str) -> str:
    """docker's stringid.TruncateID: no algorithm prefix, 12 characters."""
    return value.partition(":")[2][:12] if ":" in value else value[:12]


def _image_column(image: str, image_id: str, trunc: bool) -> str:
    """ps's IMAGE: an image given by ID shows as the short ID; a digest is dropped when truncating."""
    if not image:
        return "<no image>"
    if trunc:
        if _truncate_id(image_id) == _truncate_id(image):
            return _truncate_id(image)
        return image.partition("@")[0] if "@" in image else image
    return image


def _size_text(c: Mapping[str, Any]) -> str:
    srw = human_size(int(c.get("SizeRw") or 0), 3)
    root = int(c.get("SizeRootFs") or 0)
    return f"{srw} (virtual {human_size(root, 3)})" if root > 0 else srw


def container_rows(items: Sequence[Mapping[str, Any]], trunc: bool = True) -> list[GoView]:
    """docker's formatter.ContainerContext for each container (ps's columns, {{json .}}, .Label)."""
    rows = []
    now = time.time()
    for c in items:
        cmd = str(c.get("Command", ""))
        if trunc:
            cmd = _ellipsis(cmd, 20)
        names = [n[1:] for n in c.get("Names") or []]
        if trunc:
            names = next(([n] for n in names if "/" not in n), names)
        labels: Mapping[str, str] = c.get("Labels") or {}
        mounts = [str(m.get("Name") or m.get("Source") or "") for m in c.get("Mounts") or []]
        created = int(c.get("Created") or 0)
        fields = {
            "ID": c["Id"][:12] if trunc else c["Id"], "Image": _image_column(str(c.get("Image") or ""), str(c.get("ImageID") or ""), trunc),
            "Command": json.dumps(cmd, ensure_ascii=False),
            "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(created)),
            "RunningFor": human_duration(now - created) + " ago", "Status": c.get("Status", ""),
            "State": c.get("State", ""), "Ports": _ports(c.get("Ports") or []),
            "Names": ",".join(names), "Size": _size_text(c),
            "Labels": ",".join(sorted(f"{k}={v}" for k, v in labels.items())),
            "Label": lambda name, _l=labels: str(_l.get(name, "")),
            "Mounts": ",".join(_ellipsis(m, 15) if trunc else m for m in mounts),
            "Networks": ",".join((c.get("NetworkSettings") or {}).get("Networks") or {}),
            "LocalVolumes": str(sum(1 for m in c.get("Mounts") or [] if m.get("Driver") == "local")),
            "Platform": None,
        }
        rows.append(GoView(fields, c, "*formatter.ContainerContext"))
    return rows


class _FieldProbe(Mapping[str, Any]):
    """docker's pre-run of a ps template on an empty context: which fields does it use (.Size)?"""

    go_type = "*formatter.ContainerContext"

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        if key not in _PS_HEADERS and key != "Label":
            raise KeyError(key)
        self.used.add(key)
        return (lambda name: "") if key == "Label" else ""

    def __iter__(self) -> Iterator[str]:
        return iter(_PS_HEADERS)

    def __len__(self) -> int:
        return len(_PS_HEADERS)

    def marshal_json(self) -> str:
        self.used.update(_PS_HEADERS)
        return "{}"


def _ps(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.formatting import prepare
    from skiff.cli.gotemplate import Template
    from skiff.client import containers

    filters = parse_filter_flags(ns.filter)
    limit = 1 if ns.latest and ns.last == -1 else ns.last
    size = ns.size
    if ns.format and ns.quiet:
        cli.warn("WARNING: Ignoring custom format, because both --format and --quiet are set.")
    if ns.format:  # docker validates the template first, and asks for sizes when it uses .Size
        try:
            tmpl = Template(ns.format)
        except TemplateError as exc:
            raise StatusError(GENERIC, f"failed to parse template: {exc}") from exc
        probe = _FieldProbe()
        try:
            tmpl.execute(probe)
        except TemplateError as exc:
            raise StatusError(GENERIC, f"failed to execute template: {exc}") from exc
        if not ns.quiet and not size and "Size" in probe.used:
            size = True
    items = containers.list_containers(_client(cli), all=ns.all, limit=limit, size=size, filters=filters)
    table = _PS_TABLE + ("\t{{.Size}}" if size else "")
    fmt = choose_format(ns.format, table, ns.quiet)
    if fmt.strip() == "json":
        fmt = "{{json .}}"
    rows = container_rows(items, trunc=not ns.no_trunc)
    try:
        Template(prepare(fmt))
        cli.print(render_list(fmt, rows, _PS_HEADERS), end="")
    except TemplateError as exc:
        raise StatusError(GENERIC, f"template parsing error: {exc}") from exc
    return 0


def _ps_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("-f", "--filter", action="append", help="Filter output based on conditions provided")
    p.add_argument("--format", help="Format output using a custom template")
    p.add_argument("-n", "--last", type=int, default=-1, help="Show n last created containers (includes all states)")
    p.add_argument("-l", "--latest", action="store_true", help="Show the latest created container (includes all states)")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")


# ---- create / run / start / attach / exec --------------------------------------------------------

def with_help(verb: str, err: BaseException | str) -> str:
    """docker's withHelp: the message run/create print for an error of theirs."""
    return f"skiff: {err}\n\nRun 'skiff {verb} --help' for more information"


def _create_body(ns: argparse.Namespace, verb: str) -> dict[str, Any]:
    """The create body; a bad flag value is docker's flag error (usage), a bad combination its parse
    error (withHelp), both exit 125."""
    from skiff.cli.commands.run_opts import build_create_body
    try:
        return build_create_body(ns, tty_size=_term_size() if ns.tty else None)
    except UsageError as exc:
        if exc.message.startswith("invalid argument "):
            raise UsageError(f"{exc.message}\n\nUsage:  skiff {verb} [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                             f"Run 'skiff {verb} --help' for more information") from None
        raise UsageError(with_help(verb, exc.message)) from None


def _create_container(cli: Cli, ns: argparse.Namespace, body: dict[str, Any]) -> str:
    from skiff.client import containers
    from skiff.errors import NotFound

    image = ns.args[0]
    if ns.pull == "always":
        _pull(cli, image, ns)
    try:
        resp = containers.create(_client(cli), body, name=ns.name or "", platform=ns.platform or "")
    except NotFound:
        if ns.pull == "never":
            raise
        if not ns.quiet:
            cli.warn(f"Unable to find image '{_familiar_tagged(image)}' locally")
        _pull(cli, image, ns)
        resp = containers.create(_client(cli), body, name=ns.name or "", platform=ns.platform or "")
    for w in resp.get("Warnings") or []:
        cli.warn(f"WARNING: {w}")
    if ns.cidfile:
        with open(ns.cidfile, "x") as f:
            f.write(resp["Id"])
    return str(resp["Id"])


def _familiar_tagged(image: str) -> str:
    """reference.FamiliarString(TagNameOnly(ref)): ":latest" when no tag or digest, no docker.io/library/."""
    from skiff.cli.commands.image import split_reference
    name, tag, digest = split_reference(image)
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if name.startswith(prefix) and "/" in name[len(prefix):] + ("/" if prefix.endswith("library/") else ""):
            name = name[len(prefix):]
            break
    return name + (f":{tag}" if tag else "" if digest else ":latest") + (f"@{digest}" if digest else "")


def _pull(cli: Cli, image: str, ns: argparse.Namespace) -> None:
    """docker's pullImage for run/create: name and tag apart (latest by default), the registry's
    credentials, the progress on stderr unless -q."""
    from skiff.cli.commands.image import split_reference
    from skiff.cli.commands.registry import auth_for_image
    from skiff.cli.progress import display_stream
    from skiff.client import images

    name, tag, digest = split_reference(image)
    stream = images.pull(_client(cli), name, digest or tag or "latest", ns.platform or "", auth_for_image(cli, name))
    if ns.quiet:  # docker displays into io.Discard: nothing shown, an in-band error still ends the command
        import io
        display_stream(stream, io.StringIO(), is_tty=False)
        return
    display_stream(stream, cli.err)


def _term_size() -> tuple[int, int] | None:
    try:
        sz = os.get_terminal_size(sys.stdout.fileno())
        return sz.lines, sz.columns
    except OSError:
        return None


def _create(cli: Cli, ns: argparse.Namespace) -> int:
    cli.print(_create_container(cli, ns, _create_body(ns, "create")))
    return 0


def _log_error(cli: Cli, msg: str) -> None:
    """A logrus error line as docker's CLI writes it to stderr (text formatter, no terminal)."""
    from datetime import datetime
    stamp = datetime.now().astimezone().isoformat(timespec="seconds").replace("+00:00", "Z")
    cli.warn(f"time=\"{stamp}\" level=error msg={json.dumps(msg, ensure_ascii=False)}")


def _wait_status(cli: Cli, wait: Any) -> int:
    """docker's waitExitOrRemoved: the status, or 125 after logging the wait's error."""
    result = wait.json() or {}
    err = (result.get("Error") or {}).get("Message")
    if err:
        _log_error(cli, f"Error waiting for container: {err}")
        return 125
    return int(result.get("StatusCode", 0))


def _run(cli: Cli, ns: argparse.Namespace) -> int:
    try:
        return _run_container(cli, ns)
    except (StatusError, UsageError):
        raise
    except SkiffError as exc:
        raise StatusError(run_exit_code(exc), with_help("run", exc)) from None


def _run_container(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.commands.stdio import relay_session
    from skiff.client import containers

    body = _create_body(ns, "run")
    if ns.tty and ns.interactive and not ns.detach and not sys.stdin.isatty():
        raise StatusError(1, "the input device is not a TTY")
    cid = _create_container(cli, ns, body)
    c = _client(cli)
    if ns.detach:
        containers.start(c, cid)
        cli.print(cid)
        return 0
    attach_streams = set(ns.attach or []) or {"stdout", "stderr"} | ({"stdin"} if ns.interactive else set())
    conn = containers.attach(c, cid, stdin="stdin" in attach_streams, stdout="stdout" in attach_streams,
                             stderr="stderr" in attach_streams, detach_keys=ns.detach_keys or "")
    wait = containers.wait_request(c, cid, "removed" if ns.rm else "next-exit")
    try:
        containers.start(c, cid)
    except Exception:
        conn.close()
        if ns.rm:
            _wait_status(cli, wait)
        raise
    detached = relay_session(conn, tty=ns.tty, stdin="stdin" in attach_streams, detach_keys=ns.detach_keys or "",
                             resize=lambda h, w: containers.resize(c, cid, h, w) if ns.tty else None)
    if detached:
        return 0
    code = _wait_status(cli, wait)
    if code:
        raise StatusError(code)
    return 0


def _start(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.commands.stdio import relay_session
    from skiff.client import containers

    c = _client(cli)
    if ns.attach or ns.interactive:
        if len(ns.args) > 1:
            raise UsageError("you cannot start and attach multiple containers at once", GENERIC)
        cid = ns.args[0]
        info = containers.inspect(c, cid)
        tty = bool(info["Config"].get("Tty"))
        stdin = ns.interactive and bool(info["Config"].get("OpenStdin"))
        conn = containers.attach(c, cid, stdin=stdin, stdout=True, stderr=True, detach_keys=ns.detach_keys or "")
        wait = containers.wait_request(c, cid, "next-exit")
        containers.start(c, cid, ns.detach_keys or "")
        if relay_session(conn, tty=tty, stdin=stdin, detach_keys=ns.detach_keys or "",
                         resize=lambda h, w: containers.resize(c, cid, h, w) if tty else None):
            return 0
        code = int((wait.json() or {}).get("StatusCode", 0))
        if code:
            raise StatusError(code)
        return 0
    failed = []
    for ref in ns.args:
        try:
            containers.start(c, ref)
            cli.print(ref)
        except SkiffError as exc:
            cli.warn(str(exc))
            failed.append(ref)
    if failed:
        raise StatusError(GENERIC, "Error: failed to start containers: " + ", ".join(failed))
    return 0


def _attach(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.commands.stdio import relay_session
    from skiff.client import containers

    c = _client(cli)
    cid = ns.args[0]
    info = containers.inspect(c, cid)
    if not info["State"]["Running"]:
        raise StatusError(GENERIC, "You cannot attach to a stopped container, start it first")
    tty = bool(info["Config"].get("Tty"))
    stdin = not ns.no_stdin and bool(info["Config"].get("OpenStdin"))
    conn = containers.attach(c, cid, stdin=stdin, stdout=True, stderr=True, detach_keys=ns.detach_keys or "")
    if tty:
        size = _term_size()
        if size:
            containers.resize(c, cid, *size)
    wait = containers.wait_request(c, cid, "not-running")
    if relay_session(conn, tty=tty, stdin=stdin, detach_keys=ns.detach_keys or "", resize=lambda h, w: containers.resize(c, cid, h, w) if tty else None):
        raise StatusError(GENERIC, "read escape sequence")  # docker attach's EscapeError
    code = int((wait.json() or {}).get("StatusCode", 0))
    if code:
        raise StatusError(code)
    return 0


def _exec(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.commands.stdio import relay_session
    from skiff.client import exec as execs

    c = _client(cli)
    cid, cmd = ns.args[0], ns.args[1:]
    env = list(ns.env or [])
    for path in ns.env_file or []:
        from skiff.cli.commands.run_opts import read_env_file
        env += read_env_file(path)
    size = _term_size() if ns.tty else None
    body: dict[str, Any] = {"User": ns.user or "", "Privileged": ns.privileged, "Tty": ns.tty,
                            "AttachStdin": ns.interactive and not ns.detach, "AttachStdout": not ns.detach,
                            "AttachStderr": not ns.detach, "DetachKeys": ns.detach_keys or "", "Env": env,
                            "WorkingDir": ns.workdir or "", "Cmd": cmd}
    if size:
        body["ConsoleSize"] = list(size)
    eid = execs.create(c, cid, body)
    if ns.detach:
        execs.start_detached(c, eid)
        return 0
    conn = execs.start(c, eid, ns.tty, size)
    if relay_session(conn, tty=ns.tty, stdin=ns.interactive, detach_keys=ns.detach_keys or "",
                     resize=lambda h, w: execs.resize(c, eid, h, w) if ns.tty else None):
        raise StatusError(GENERIC, "read escape sequence")  # docker exec's EscapeError
    code = int(execs.inspect(c, eid).get("ExitCode") or 0)
    if code:
        raise StatusError(code)
    return 0


def _exec_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="Detached mode: run command in the background")
    p.add_argument("--detach-keys", help="Override the key sequence for detaching a container")
    p.add_argument("-e", "--env", action="append", help="Set environment variables")
    p.add_argument("--env-file", action="append", help="Read in a file of environment variables")
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    p.add_argument("--privileged", action="store_true", help="Give extended privileges to the command")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("-u", "--user", help="Username or UID (format: \"<name|uid>[:<group|gid>]\")")
    p.add_argument("-w", "--workdir", help="Working directory inside the container")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG")


# ---- simple verbs over one or more containers ------------------------------------------------

def _each(cli: Cli, refs: list[str], fn: Any, verb: str, echo: bool = True) -> int:
    failed = []
    for ref in refs:
        try:
            fn(ref)
            if echo:
                cli.print(ref)
        except Exception as exc:
            failed.append(str(exc))
    if failed:
        raise StatusError(GENERIC, "\n".join(failed))
    return 0


def _stop(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    return _each(cli, ns.args, lambda r: containers.stop(_client(cli), r, ns.time, ns.signal or ""), "stop")


def _restart(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    return _each(cli, ns.args, lambda r: containers.restart(_client(cli), r, ns.time, ns.signal or ""), "restart")


def _stop_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--signal", help="Signal to send to the container")
    p.add_argument("-t", "--timeout", "--time", dest="time", type=int, default=None, help="Seconds to wait before killing the container")


def _kill(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    return _each(cli, ns.args, lambda r: containers.kill(_client(cli), r, ns.signal or ""), "kill")


def _kill_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--signal", help="Signal to send to the container")


def _rm(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    return _each(cli, ns.args, lambda r: containers.remove(_client(cli), r, ns.force, ns.volumes, ns.link), "rm")


def _rm_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of a running container (uses SIGKILL)")
    p.add_argument("-l", "--link", action="store_true", help="Remove the specified link")
    p.add_argument("-v", "--volumes", action="store_true", help="Remove anonymous volumes associated with the container")


def _pause(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    return _each(cli, ns.args, lambda r: containers.pause(_client(cli), r), "pause")


def _unpause(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    return _each(cli, ns.args, lambda r: containers.unpause(_client(cli), r), "unpause")


def _wait(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    failed = []
    for ref in ns.args:
        try:
            cli.print(str((containers.wait_request(_client(cli), ref).json() or {}).get("StatusCode", 0)))
        except Exception as exc:
            failed.append(str(exc))
    if failed:
        raise StatusError(GENERIC, "\n".join(failed))
    return 0


def _rename(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    try:
        containers.rename(_client(cli), ns.args[0], ns.args[1])
    except SkiffError as exc:
        cli.warn(str(exc))
        raise StatusError(GENERIC, f"Error: failed to rename container named {ns.args[0]}") from None
    return 0


def _update(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.commands.run_opts import parse_bytes
    from skiff.client import containers
    body: dict[str, Any] = {}
    if ns.memory:
        body["Memory"] = parse_bytes(ns.memory)
    if ns.memory_swap:
        body["MemorySwap"] = -1 if ns.memory_swap == "-1" else parse_bytes(ns.memory_swap)
    if ns.memory_reservation:
        body["MemoryReservation"] = parse_bytes(ns.memory_reservation)
    if ns.cpus:
        body["NanoCpus"] = int(float(ns.cpus) * 1e9)
    for flag, key in (("cpu_shares", "CpuShares"), ("cpu_period", "CpuPeriod"), ("cpu_quota", "CpuQuota"),
                      ("cpu_rt_period", "CpuRealtimePeriod"), ("cpu_rt_runtime", "CpuRealtimeRuntime"),
                      ("pids_limit", "PidsLimit"), ("blkio_weight", "BlkioWeight")):
        if getattr(ns, flag) is not None:
            body[key] = getattr(ns, flag)
    for flag, key in (("cpuset_cpus", "CpusetCpus"), ("cpuset_mems", "CpusetMems")):
        if getattr(ns, flag):
            body[key] = getattr(ns, flag)
    if ns.restart:
        name, _, n = ns.restart.partition(":")
        body["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(n or 0)}
    if not any(getattr(ns, k) is not None for k in _UPDATE_FLAGS):
        raise StatusError(GENERIC, "you must provide one or more flags when using this command")
    return _each(cli, ns.args, lambda r: containers.update(_client(cli), r, body), "update")


_UPDATE_FLAGS = ("blkio_weight", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset_cpus", "cpuset_mems",
                 "memory", "memory_reservation", "memory_swap", "pids_limit", "restart")


def _update_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--blkio-weight", type=int, metavar="uint16",
                   help="Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
    p.add_argument("--cpu-period", type=int, help="Limit CPU CFS (Completely Fair Scheduler) period")
    p.add_argument("--cpu-quota", type=int, help="Limit CPU CFS (Completely Fair Scheduler) quota")
    p.add_argument("-c", "--cpu-shares", type=int, help="CPU shares (relative weight)")
    p.add_argument("--cpu-rt-period", type=int, help="Limit the CPU real-time period in microseconds")
    p.add_argument("--cpu-rt-runtime", type=int, help="Limit the CPU real-time runtime in microseconds")
    p.add_argument("--cpus", metavar="decimal", help="Number of CPUs")
    p.add_argument("--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    p.add_argument("--cpuset-mems", help="MEMs in which to allow execution (0-3, 0,1)")
    p.add_argument("-m", "--memory", metavar="bytes", help="Memory limit")
    p.add_argument("--memory-reservation", metavar="bytes", help="Memory soft limit")
    p.add_argument("--memory-swap", metavar="bytes", help="Swap limit equal to memory plus swap: -1 to enable unlimited swap")
    p.add_argument("--pids-limit", type=int, help="Tune container pids limit (set -1 for unlimited)")
    p.add_argument("--restart", help="Restart policy to apply when a container exits")


# ---- inspect / logs / top / port / diff ------------------------------------------------------

def _inspect(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    client = _client(cli)
    return render_inspect(cli.print, ns.format, ns.args, lambda ref: containers.inspect(client, ref, size=ns.size))


def _inspect_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", help="Format output using a custom template")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")


def _logs(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.units import get_timestamp
    from skiff.client import containers
    from skiff.client.streams import demux
    c = _client(cli)
    info = containers.inspect(c, ns.args[0])
    resp = containers.logs(c, ns.args[0], follow=ns.follow, since=get_timestamp(ns.since) if ns.since else "",
                           until=get_timestamp(ns.until) if ns.until else "", timestamps=ns.timestamps,
                           tail=ns.tail or "all", details=ns.details)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    sys.stdout.flush()
    if info["Config"].get("Tty"):
        for chunk in resp.chunks():
            out.write(chunk)
            out.flush()
    else:
        for stream, data in demux(resp.chunks()):
            (err if stream == 2 else out).write(data)
            (err if stream == 2 else out).flush()
    return 0


def _logs_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--details", action="store_true", help="Show extra details provided to logs")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument("--since", help="Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
    p.add_argument("-n", "--tail", default="all", help="Number of lines to show from the end of the logs")
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument("--until", help="Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative "
                   "(e.g. \"42m\" for 42 minutes)")


def _top(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.formatting import tabwrite
    from skiff.client import containers
    res = containers.top(_client(cli), ns.args[0], " ".join(ns.args[1:]))
    lines = ["\t".join(res.get("Titles") or [])] + ["\t".join(p) for p in res.get("Processes") or []]
    cli.print(tabwrite("\n".join(lines) + "\n", minwidth=20, padding=3), end="")
    return 0


def _top_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG")  # ps options after the container


def _port(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    info = containers.inspect(_client(cli), ns.args[0])
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    asked = want = ns.args[1] if len(ns.args) > 1 else ""
    if want and "/" not in want:
        want += "/tcp"
    found = False
    for port, binds in sorted(ports.items()):
        if want and port != want:
            continue
        for b in binds or []:
            found = True
            addr = f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}"
            cli.print(addr if want else f"{port} -> {addr}")
    if want and not found:
        raise StatusError(GENERIC, f"Error: No public port '{asked}' published for {ns.args[0]}")
    return 0


def _diff(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    for ch in containers.changes(_client(cli), ns.args[0]):
        cli.print(f"{'CAD'[int(ch.get('Kind', 0))]} {ch.get('Path')}")
    return 0


def _export(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    if not ns.output and sys.stdout.isatty():
        raise StatusError(GENERIC, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if ns.output and not os.path.isdir(os.path.dirname(os.path.abspath(ns.output))):
        raise StatusError(GENERIC, "failed to export container: invalid output path: stat "
                          f"{os.path.dirname(os.path.abspath(ns.output))}: no such file or directory")
    resp = containers.export(_client(cli), ns.args[0])
    out = open(ns.output, "wb") if ns.output else sys.stdout.buffer  # noqa: SIM115
    try:
        for chunk in resp.chunks():
            out.write(chunk)
    finally:
        if ns.output:
            out.close()
    return 0


def _output_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")


def _commit(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    repo, tag = "", ""
    if len(ns.args) > 1:
        ref = ns.args[1]
        slash = ref.rfind("/")
        colon = ref.rfind(":")
        if colon > slash:
            repo, tag = ref[:colon], ref[colon + 1:]
        else:
            repo = ref
    res = containers.commit(_client(cli), ns.args[0], repo, tag, ns.message or "", ns.author or "",
                            pause=not ns.no_pause if ns.no_pause else ns.pause, changes=ns.change or [])
    cli.print(str(res.get("Id", "")))
    return 0


def _commit_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--author", help="Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
    p.add_argument("-c", "--change", action="append", help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", help="Commit message")
    p.add_argument("-p", "--pause", type=lambda v: v.lower() in ("1", "true"), default=True, nargs="?", const=True,
                   metavar="", help="Pause container during commit (default true)")
    p.add_argument("--no-pause", action="store_true", help=argparse.SUPPRESS)  # docker's hidden flag


def _prune(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    if not ns.force:
        cli.out.write("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
        cli.out.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    res = containers.prune(_client(cli), parse_filter_flags(ns.filter))
    deleted = res.get("ContainersDeleted") or []
    if deleted:
        cli.print("Deleted Containers:")
        for d in deleted:
            cli.print(d)
        cli.print()
    cli.print(f"Total reclaimed space: {human_size(int(res.get('SpaceReclaimed') or 0))}")
    return 0


def _prune_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", action="append", help="Provide filter values (e.g. \"until=<timestamp>\")")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")


# ---- cp ----------------------------------------------------------------------------------------

def _split_cp(arg: str) -> tuple[str, str]:
    if ":" in arg and not arg.startswith(("/", ".")):
        c, _, p = arg.partition(":")
        return c, p
    return "", arg


def _tar_consumed(data: bytes) -> int:
    """What Go's tar reader reads of an archive: through the last entry and the two zero blocks."""
    import io
    import tarfile
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            members = tf.getmembers()
    except tarfile.TarError:
        return len(data)
    if not members:
        return min(len(data), 1024)
    last = members[-1]
    return min(len(data), last.offset_data + -(-last.size // 512) * 512 + 1024)


def _whole_seconds(info: Any) -> Any:
    """Entries as docker's archive writes them: whole-second mtimes (so no PAX header for them)."""
    info.mtime = int(info.mtime)
    return info


def _local_path(path: str) -> str:
    """docker's resolveLocalPath: absolute, keeping a trailing separator or "/." as given."""
    absolute = os.path.abspath(path)
    if path.endswith("/."):
        return absolute + "/."
    if path.endswith("/") and not absolute.endswith("/"):
        return absolute + "/"
    return absolute


def _cp(cli: Cli, ns: argparse.Namespace) -> int:
    import io
    import tarfile

    from skiff.client import containers
    c = _client(cli)
    (sc, sp), (dc, dp) = _split_cp(ns.args[0]), _split_cp(ns.args[1])
    # docker reports the copied size when its stdout is a terminal (and -q is not given)
    progress = not ns.quiet and cli.out_is_tty
    if sc and dc:
        raise StatusError(GENERIC, "copying between containers is not supported")
    if not sc and not dc:
        raise StatusError(GENERIC, "must specify at least one container source")
    if sc:
        resp = containers.get_archive(c, sc, sp)
        data = b"".join(resp.chunks())
        if dp == "-":
            sys.stdout.buffer.write(data)
            return 0
        # docker counts the bytes its extraction read: all of them when copying into a directory,
        # up to the end-of-archive blocks when the entries are renamed (a new or existing file name)
        copied = len(data) if os.path.isdir(dp) else _tar_consumed(data)
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            members = tf.getmembers()
            base = members[0].name.split("/")[0] if members else ""
            target = dp
            if os.path.isdir(dp):
                target = os.path.join(dp, base)
            for m in members:
                rel = m.name[len(base):].lstrip("/")
                m.name = os.path.relpath(os.path.join(target, rel)) if rel else os.path.relpath(target)
                tf.extract(m, path=".")
        if progress:
            cli.warn(f"Successfully copied {human_size(copied, 3)} to {_local_path(dp)}")
        return 0
    buf = io.BytesIO()
    src, asked = sp, dp
    if src == "-":
        buf.write(sys.stdin.buffer.read())
    else:
        if not os.path.lexists(src):
            raise StatusError(GENERIC, f"lstat {os.path.abspath(src)}: no such file or directory")
        name = os.path.basename(src.rstrip("/"))
        dest_dir = dp
        try:
            st = containers.archive_stat(c, dc, dp)
            if not (int(st.get("mode", 0)) & (1 << 31)):
                dest_dir, name = os.path.dirname(dp) or "/", os.path.basename(dp)
        except Exception:
            dest_dir, name = os.path.dirname(dp.rstrip("/")) or "/", os.path.basename(dp.rstrip("/"))
        with tarfile.open(fileobj=buf, mode="w") as tf:
            tf.add(src, arcname=name, filter=_whole_seconds)
            end = tf.offset + 1024  # the two zero blocks; Go's tar writer adds no record padding
        buf = io.BytesIO(buf.getvalue()[:end])
        dp = dest_dir
    payload = buf.getvalue()
    containers.put_archive(c, dc, dp, payload)
    if progress:
        cli.warn(f"Successfully copied {human_size(len(payload), 3)} to {dc}:{asked}")
    return 0


def _cp_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--archive", action="store_true", help="Archive mode (copy all uid/gid information)")
    p.add_argument("-L", "--follow-link", action="store_true", help="Always follow symbol link in SRC_PATH")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress progress output during copy. Progress output is "
                   "automatically suppressed if no terminal is attached")


# ---- stats -------------------------------------------------------------------------------------

def _stats_row(s: Mapping[str, Any], name: str, trunc: bool = True) -> GoView:
    cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    sys_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    ncpu = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    cpu_pct = cpu_delta / sys_delta * ncpu * 100.0 if sys_delta > 0 and cpu_delta > 0 else 0.0
    mem = s.get("memory_stats") or {}
    st = mem.get("stats") or {}
    usage = mem.get("usage", 0)  # docker's calculateMemUsageUnixNoCache
    if "total_inactive_file" in st and st["total_inactive_file"] < usage:
        usage -= st["total_inactive_file"]
    elif st.get("inactive_file", usage) < usage:
        usage -= st["inactive_file"]
    limit = mem.get("limit", 0)
    mem_pct = usage / limit * 100.0 if limit else 0.0
    rx = sum(n.get("rx_bytes", 0) for n in (s.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (s.get("networks") or {}).values())
    rd = wr = 0
    for e in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        if e.get("op", "").lower() == "read":
            rd += e.get("value", 0)
        elif e.get("op", "").lower() == "write":
            wr += e.get("value", 0)
    sid = str(s.get("id", ""))
    fields = {"ID": sid[:12] if trunc else sid, "Container": name, "Name": str(s.get("name", "")).lstrip("/"),
              "CPUPerc": f"{cpu_pct:.2f}%", "MemUsage": f"{bytes_size(usage)} / {bytes_size(limit)}",
              "MemPerc": f"{mem_pct:.2f}%", "NetIO": f"{human_size(rx, 3)} / {human_size(tx, 3)}",
              "BlockIO": f"{human_size(rd, 3)} / {human_size(wr, 3)}", "PIDs": str((s.get("pids_stats") or {}).get("current", 0))}
    return GoView(fields, fields)


def _stats(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import containers
    c = _client(cli)
    refs = ns.args or [x["Id"][:12] for x in containers.list_containers(c, all=ns.all)]
    fmt = choose_format(ns.format, _STATS_TABLE)
    while True:
        rows = []
        for ref in refs:
            it = containers.stats(c, ref, stream=False)
            s = next(iter(it), None)
            if s is not None:
                rows.append(_stats_row(s, ref, trunc=not ns.no_trunc))
        text = render_list(fmt, rows, _STATS_HEADERS)
        if ns.no_stream:
            cli.print(text, end="")
            return 0
        # docker's refresh: cursor home, the table, then (into the same buffer, so twice) each line
        # followed by " ESC[K", then ESC[J for what is left of a longer previous table
        buf = "\033[H" + text
        buf += "".join(line + " \033[K\n" for line in buf.split("\n")) + "\033[J"
        cli.out.write(buf)
        cli.out.flush()
        time.sleep(0.5)


def _stats_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("--format", help="Format output using a custom template")
    p.add_argument("--no-stream", action="store_true", help="Disable streaming stats and only pull the first result")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")


# ---- flags shared by run/create/start/attach ---------------------------------------------------

def _run_flags(p: argparse.ArgumentParser) -> None:
    from skiff.cli.commands.run_opts import add_create_flags
    add_create_flags(p)
    p.add_argument("-d", "--detach", action="store_true", help="Run container in background and print container ID")
    p.add_argument("--detach-keys", help="Override the key sequence for detaching a container")
    p.add_argument("--sig-proxy", default="true", metavar="", nargs="?", const="true",
                   help="Proxy received signals to the process (default true)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG")


def _create_flags(p: argparse.ArgumentParser) -> None:
    from skiff.cli.commands.run_opts import add_create_flags
    add_create_flags(p)
    for action in p._actions:
        if action.dest == "pull":  # docker's create says so (its typo included)
            action.help = 'Pull image before creating ("always", "|missing", "never")'
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG")


def _start_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR and forward signals")
    p.add_argument("--detach-keys", help="Override the key sequence for detaching a container")
    p.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")


def _attach_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detach-keys", help="Override the key sequence for detaching a container")
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    p.add_argument("--sig-proxy", default="true", metavar="", nargs="?", const="true",
                   help="Proxy all received signals to the process (default true)")


COMMANDS = [
    Command("attach", "Attach local standard input, output, and error streams to a running container", _attach,
            usage="[OPTIONS] CONTAINER", setup=_attach_flags, args=(1, 1)),
    Command("commit", "Create a new image from a container's changes", _commit,
            usage="[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", setup=_commit_flags, args=(1, 2)),
    Command("cp", "Copy files/folders between a container and the local filesystem", _cp,
            usage="[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tskiff cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
            setup=_cp_flags, args=(2, 2),
            long="Copy files/folders between a container and the local filesystem\n\nUse '-' as the source to read a "
                 "tar archive from stdin\nand extract it to a directory destination in a container.\nUse '-' as the "
                 "destination to stream a tar archive of a\ncontainer source to stdout."),
    Command("create", "Create a new container", _create, usage="[OPTIONS] IMAGE [COMMAND] [ARG...]",
            setup=_create_flags, args=(1, None)),
    Command("diff", "Inspect changes to files or directories on a container's filesystem", _diff,
            usage="CONTAINER", args=(1, 1)),
    Command("exec", "Execute a command in a running container", _exec,
            usage="[OPTIONS] CONTAINER COMMAND [ARG...]", setup=_exec_flags, args=(2, None)),
    Command("export", "Export a container's filesystem as a tar archive", _export, usage="[OPTIONS] CONTAINER",
            setup=_output_flag, args=(1, 1)),
    Command("inspect", "Display detailed information on one or more containers", _inspect,
            usage="[OPTIONS] CONTAINER [CONTAINER...]", setup=_inspect_flags, args=(1, None)),
    Command("kill", "Kill one or more running containers", _kill, usage="[OPTIONS] CONTAINER [CONTAINER...]",
            setup=_kill_flags, args=(1, None)),
    Command("logs", "Fetch the logs of a container", _logs, usage="[OPTIONS] CONTAINER", setup=_logs_flags,
            args=(1, 1)),
    Command("ls", "List containers", _ps, setup=_ps_flags, aliases=("list", "ps")),
    Command("pause", "Pause all processes within one or more containers", _pause,
            usage="CONTAINER [CONTAINER...]", args=(1, None)),
    Command("port", "List port mappings or a specific mapping for the container", _port,
            usage="CONTAINER [PRIVATE_PORT[/PROTO]]", args=(1, 2)),
    Command("prune", "Remove all stopped containers", _prune, setup=_prune_flags),
    Command("rename", "Rename a container", _rename, usage="CONTAINER NEW_NAME", args=(2, 2)),
    Command("restart", "Restart one or more containers", _restart, usage="[OPTIONS] CONTAINER [CONTAINER...]",
            setup=_stop_flags, args=(1, None)),
    Command("rm", "Remove one or more containers", _rm, usage="[OPTIONS] CONTAINER [CONTAINER...]",
            setup=_rm_flags, aliases=("remove",), args=(1, None)),
    Command("run", "Create and run a new container from an image", _run, usage="[OPTIONS] IMAGE [COMMAND] [ARG...]",
            setup=_run_flags, args=(1, None), error_exit=run_exit_code),
    Command("start", "Start one or more stopped containers", _start, usage="[OPTIONS] CONTAINER [CONTAINER...]",
            setup=_start_flags, args=(1, None)),
    Command("stats", "Display a live stream of container(s) resource usage statistics", _stats,
            usage="[OPTIONS] [CONTAINER...]", setup=_stats_flags, args=(0, None)),
    Command("stop", "Stop one or more running containers", _stop, usage="[OPTIONS] CONTAINER [CONTAINER...]",
            setup=_stop_flags, args=(1, None)),
    Command("top", "Display the running processes of a container", _top, usage="CONTAINER [ps OPTIONS]",
            setup=_top_flags, args=(1, None)),
    Command("unpause", "Unpause all processes within one or more containers", _unpause,
            usage="CONTAINER [CONTAINER...]", args=(1, None)),
    Command("update", "Update configuration of one or more containers", _update,
            usage="[OPTIONS] CONTAINER [CONTAINER...]", setup=_update_flags, args=(1, None)),
    Command("wait", "Block until one or more containers stop, then print their exit codes", _wait,
            usage="CONTAINER [CONTAINER...]", args=(1, None)),
]
