"""``skiff build`` / ``skiff image build`` / ``skiff builder build|prune``: the classic builder's flags.

The context directory is sent as a tar with ``.dockerignore`` applied (``-f -`` and a Dockerfile
outside the context are injected as docker's CLI does). On a terminal a live step view shows each
step with its timing (rich); elsewhere the daemon's lines are printed as they come, as
``DOCKER_BUILDKIT=0 docker build`` prints them. A failed step exits with the daemon's error text
and the step's exit code (1 when it has none), as docker does.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tarfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from skiff.cli.command import Cli, Command
from skiff.cli.exitcodes import GENERIC, USAGE, StatusError, UsageError

__all__ = ["BUILD", "PRUNE", "parse_secret"]


def parse_secret(value: str) -> tuple[str, bytes]:
    """``--secret id=x,src=path`` / ``id=x,env=VAR`` (``source``/``type=file|env`` accepted)."""
    fields: dict[str, str] = {}
    for part in value.split(","):
        k, sep, v = part.partition("=")
        if not sep:
            raise UsageError(f'invalid argument "{value}" for "--secret" flag: unexpected key \'{k}\' in \'{part}\'',
                             USAGE)
        fields[k.strip().lower()] = v.strip()
    sid = fields.get("id", "")
    src = fields.get("src") or fields.get("source") or ""
    env = fields.get("env", "")
    kind = fields.get("type", "")
    if not sid:
        sid = os.path.basename(src) if src else env
    if not sid:
        raise UsageError(f'invalid argument "{value}" for "--secret" flag: secret ID missing', USAGE)
    if kind == "env" or (env and not src):
        name = env or src or sid
        if name not in os.environ:
            raise StatusError(GENERIC, f"secret {sid}: environment variable {name} not set")
        return sid, os.environ[name].encode()
    path = src or sid
    try:
        return sid, Path(path).read_bytes()
    except OSError as exc:
        raise StatusError(GENERIC, f"failed to read secret {sid}: open {path}: "
                                   f"{(exc.strerror or str(exc)).lower()}") from None


def _kv_list(values: Iterable[str] | None, env_fallback: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for v in values or ():
        k, sep, val = v.partition("=")
        if sep:
            out[k] = val
        elif env_fallback:
            out[k] = os.environ.get(k)  # docker: --build-arg NAME takes the value from the environment
        else:
            out[k] = ""
    return out


def _context(cli: Cli, ns: argparse.Namespace) -> tuple[bytes, str]:
    from skiff.build.dockerignore import write_build_context

    path = ns.args[0]
    df_data: bytes | None = None
    if ns.file == "-":
        if path == "-":
            raise StatusError(GENERIC, "invalid argument: can't use stdin for both build context and dockerfile")
        df_data = sys.stdin.buffer.read()
    if path == "-":
        data = sys.stdin.buffer.read()
        if _is_tar(data):
            return data, ns.file or "Dockerfile"
        buf = io.BytesIO()  # a Dockerfile on stdin, no context
        with tarfile.open(fileobj=buf, mode="w") as tf:
            ti = tarfile.TarInfo("Dockerfile")
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
        return buf.getvalue(), "Dockerfile"
    if not os.path.isdir(path):
        raise StatusError(GENERIC, f'unable to prepare context: path "{path}" not found')
    dockerfile = ns.file or os.path.join(path, "Dockerfile")
    if df_data is None and not os.path.exists(dockerfile):
        raise StatusError(GENERIC, "unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                                   f"lstat {os.path.abspath(dockerfile)}: no such file or directory")
    buf = io.BytesIO()
    name = write_build_context(path, buf, dockerfile=dockerfile, dockerfile_data=df_data)
    return buf.getvalue(), name


def _is_tar(data: bytes) -> bool:
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        return True
    return len(data) >= 262 and data[257:262] == b"ustar"


def _build(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.build.outputs import parse_output
    from skiff.client import build as api

    output = None
    if ns.output:
        try:
            output = parse_output(ns.output)
        except Exception as exc:  # InvalidParameter from the parser
            raise UsageError(f'invalid argument "{ns.output}" for "-o, --output" flag: {exc}', USAGE) from None
    secrets = dict(parse_secret(s) for s in ns.secret or ())
    labels = {k: v or "" for k, v in _kv_list(ns.label, False).items()}
    context, dockerfile = _context(cli, ns)
    quiet = bool(ns.quiet)
    messages = api.build(cli.client, context, dockerfile=dockerfile, tags=ns.tag or (),
                         build_args=_kv_list(ns.build_arg, True), labels=labels, target=ns.target or "",
                         no_cache=ns.no_cache, pull=ns.pull, quiet=quiet, network=ns.network or "",
                         platform=ns.platform or "", cache_from=ns.cache_from or (), extra_hosts=ns.add_host or (),
                         secrets=secrets, registry_config=_all_credentials(cli))
    image_id = ""

    def on_aux(msg: Mapping[str, Any]) -> None:
        nonlocal image_id
        aux = msg.get("aux") or {}
        if isinstance(aux, dict) and aux.get("ID"):
            image_id = str(aux["ID"])

    if quiet:
        _drain(messages, on_aux)
    elif cli.out_is_tty and not os.environ.get("SKIFF_PLAIN_PROGRESS"):
        _live(messages, cli.out, on_aux, len(context))
    else:
        cli.print(f"Sending build context to Docker daemon  {_size(len(context))}\n")
        _plain(messages, cli.out, on_aux)
    if quiet:
        cli.print(image_id)
    if ns.iidfile:
        Path(ns.iidfile).write_text(image_id)
    if output is not None and image_id:
        _write_output(cli, image_id, output.type, output.dest)
    return 0


def _all_credentials(cli: Cli) -> dict[str, dict[str, str]]:
    """X-Registry-Config, as the docker CLI sends it: every registry config.json knows."""
    from skiff.cli.commands.registry import CredentialStore

    store = CredentialStore(cli.config_dir)
    doc = store.load()
    keys = set(doc.get("auths") or {}) | set(doc.get("credHelpers") or {})
    out = {}
    for key in sorted(keys):
        cred = store.get(key)
        if cred:
            out[key] = cred
    return out


def _size(n: int) -> str:
    from skiff.cli.units import human_size

    return human_size(n)


def _fail(msg: Mapping[str, Any]) -> StatusError:
    detail = msg.get("errorDetail") or {}
    text = str(detail.get("message") or msg.get("error") or "")
    code = int(detail.get("code") or 0) or GENERIC
    return StatusError(code, text)


def _drain(messages: Iterable[Mapping[str, Any]], on_aux: Any) -> None:
    for m in messages:
        if m.get("errorDetail") or m.get("error"):
            raise _fail(m)
        if m.get("aux") is not None:
            on_aux(m)


def _plain(messages: Iterable[Mapping[str, Any]], out: Any, on_aux: Any) -> None:
    for m in messages:
        if m.get("errorDetail") or m.get("error"):
            out.flush()
            raise _fail(m)
        if m.get("aux") is not None:
            on_aux(m)
            continue
        text = m.get("stream")
        if text is None and m.get("status"):
            text = f"{str(m.get('id')) + ': ' if m.get('id') else ''}{m['status']}\n"
        if text:
            out.write(text)
            out.flush()


class _Step:
    __slots__ = ("cached", "end", "failed", "lines", "start", "title")

    def __init__(self, title: str) -> None:
        self.title = title
        self.start = time.monotonic()
        self.end: float | None = None
        self.cached = False
        self.failed = False
        self.lines: list[str] = []


def _live(messages: Iterable[Mapping[str, Any]], out: Any, on_aux: Any, context_size: int) -> None:
    """The terminal view: one line per step with its timing, the running step's last output lines
    below it; the whole log is kept so a failure shows what the step printed."""
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    console = Console(file=out, highlight=False)
    steps: list[_Step] = []
    started = time.monotonic()
    tail: list[str] = []
    pending = ""

    def render() -> Group:
        now = time.monotonic()
        total = now - started
        rows: list[Text] = [Text(f"[+] Building {total:.1f}s ({sum(1 for s in steps if s.end)}/{len(steps)})"
                                 f"  context {_size(context_size)}", style="bold")]
        for i, st in enumerate(steps):
            dur = (st.end or now) - st.start
            mark = "ERROR " if st.failed else "CACHED " if st.cached else ""
            style = "red" if st.failed else "blue" if st.end is not None else "yellow"
            rows.append(Text(f" => {mark}{st.title[:100]:<100} {dur:5.1f}s", style=style))
            if st.end is None and i == len(steps) - 1:
                for line in st.lines[-6:]:
                    rows.append(Text.from_ansi(f"    {line[:120]}", style="dim"))
        return Group(*rows)

    def finish_current() -> None:
        if steps and steps[-1].end is None:
            steps[-1].end = time.monotonic()

    with Live(render(), console=console, refresh_per_second=8, transient=False) as live:
        try:
            for m in messages:
                if m.get("errorDetail") or m.get("error"):
                    finish_current()
                    if steps:
                        steps[-1].failed = True
                    live.update(render())
                    raise _fail(m)
                if m.get("aux") is not None:
                    on_aux(m)
                    continue
                text = str(m.get("stream") or "")
                if not text and m.get("status"):
                    text = f"{str(m.get('id')) + ': ' if m.get('id') else ''}{m['status']}\n"
                pending += text
                while "\n" in pending:
                    line, pending = pending.split("\n", 1)
                    if line.startswith("Step ") and " : " in line:
                        finish_current()
                        steps.append(_Step(line))
                    elif line.strip() == "---> Using cache" and steps:
                        steps[-1].cached = True
                    elif line.startswith("Successfully "):
                        tail.append(line)
                    elif line.startswith(" ---> "):
                        pass
                    elif steps:
                        steps[-1].lines.append(line)
                    else:
                        tail.append(line)
                live.update(render())
            finish_current()
            live.update(render())
        except BaseException:
            if steps and steps[-1].lines:
                live.update(Group(render(), Text.from_ansi("\n".join(steps[-1].lines[-30:]))))
            raise
    for line in tail:
        console.print(line, markup=False)


def _write_output(cli: Cli, image_id: str, kind: str, dest: str) -> None:
    from skiff.build.context import untar
    from skiff.client import build as api

    chunks = api.export_image_rootfs(cli.client, image_id)
    if kind == "tar":
        if dest == "-":
            for c in chunks:
                sys.stdout.buffer.write(c)
            sys.stdout.buffer.flush()
            return
        with open(dest, "wb") as f:
            for c in chunks:
                f.write(c)
        return
    os.makedirs(dest, exist_ok=True)
    untar(io.BufferedReader(_ChunkReader(iter(chunks))), Path(dest), owners=os.geteuid() == 0)


class _ChunkReader(io.RawIOBase):
    def __init__(self, it: Any) -> None:
        self._it = it
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _build_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--tag", action="append", metavar="list",
                   help='Name and optionally a tag in the "name:tag" format')
    p.add_argument("-f", "--file", metavar="string", help="Name of the Dockerfile (Default is \"PATH/Dockerfile\")")
    p.add_argument("--build-arg", action="append", metavar="list", help="Set build-time variables")
    p.add_argument("--label", action="append", metavar="list", help="Set metadata for an image")
    p.add_argument("--iidfile", metavar="string", help="Write the image ID to the file")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the build output and print image ID on success")
    p.add_argument("--no-cache", action="store_true", help="Do not use cache when building the image")
    p.add_argument("--pull", action="store_true", help="Always attempt to pull a newer version of the image")
    p.add_argument("--target", metavar="string", help="Set the target build stage to build.")
    p.add_argument("--secret", action="append", metavar="stringArray",
                   help='Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")')
    p.add_argument("-o", "--output", metavar="stringArray", help='Output destination (format: "type=local,dest=path")')
    p.add_argument("--network", metavar="string", help="Set the networking mode for the RUN instructions during build")
    p.add_argument("--platform", metavar="string", help="Set platform if server is multi-platform capable")
    p.add_argument("--add-host", action="append", metavar="list", help='Add a custom host-to-IP mapping ("host:ip")')
    p.add_argument("--cache-from", action="append", metavar="strings", help="Images to consider as cache sources")
    p.add_argument("--rm", action="store_true", default=True, help="Remove intermediate containers after a successful build")
    p.add_argument("args", nargs="*", metavar="PATH")


def _prune(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.units import human_size
    from skiff.client import build as api

    if not ns.force:
        cli.out.write("WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ")
        cli.out.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    filters: dict[str, list[str]] = {}
    for f in ns.filter or ():
        k, _, v = f.partition("=")
        filters.setdefault(k, []).append(v)
    res = api.prune(cli.client, all=ns.all, filters=filters or None)
    deleted = res.get("CachesDeleted") or []
    if deleted:
        cli.print("Deleted build cache objects:")
        for d in deleted:
            cli.print(str(d))
        cli.print()
    cli.print(f"Total reclaimed space: {human_size(int(res.get('SpaceReclaimed') or 0))}")
    return 0


def _prune_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused build cache, not just dangling ones")
    p.add_argument("--filter", action="append", metavar="filter", help="Provide filter values (e.g. \"until=24h\")")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")


BUILD = Command("build", "Build an image from a Dockerfile", _build, usage="[OPTIONS] PATH | URL | -",
                setup=_build_flags, args=(1, 1))
PRUNE = Command("prune", "Remove build cache", _prune, setup=_prune_flags)
