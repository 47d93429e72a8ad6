"""Parser nodes -> typed instructions (``commands``), validated with BuildKit's words (parse.go).

The instruction classes live in ``commands`` and are re-exported here for callers.
"""

from __future__ import annotations

import re
from dataclasses import replace

from skiff.build.commands import (
    AddInstruction,
    ArgDef,
    ArgInstruction,
    CmdInstruction,
    CopyInstruction,
    EntrypointInstruction,
    EnvInstruction,
    ExposeInstruction,
    FromInstruction,
    HealthcheckInstruction,
    Instruction,
    KeyValue,
    LabelInstruction,
    MaintainerInstruction,
    OnbuildInstruction,
    RunInstruction,
    ShellInstruction,
    SourceContent,
    Stage,
    StopSignalInstruction,
    UserInstruction,
    VolumeInstruction,
    WorkdirInstruction,
)
from skiff.build.flags import FlagError, Flags, parse_mount, with_suggestion
from skiff.build.golang import go_quote
from skiff.build.parser import Dockerfile, Node, chomp_heredoc_content, parse_heredoc
from skiff.errors import InvalidParameter

__all__ = [
    "AddInstruction", "ArgInstruction", "ArgDef", "CmdInstruction", "CopyInstruction",
    "EntrypointInstruction", "EnvInstruction", "ExposeInstruction", "FromInstruction",
    "HealthcheckInstruction", "Instruction", "InstructionError", "KeyValue", "LabelInstruction",
    "MaintainerInstruction", "OnbuildInstruction", "RunInstruction", "ShellInstruction",
    "SourceContent", "Stage", "StopSignalInstruction", "UserInstruction", "VolumeInstruction",
    "WorkdirInstruction", "parse_instruction", "parse_stages", "INSTRUCTION_NAMES",
]  # fmt: skip

INSTRUCTION_NAMES = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)  # fmt: skip

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")


class InstructionError(InvalidParameter):
    """An instruction is invalid. ``str()`` is the classic builder's text."""

    def __init__(
        self,
        reason: str,
        line: int,
        instruction: str = "",
        filename: str = "Dockerfile",
        prefixed: bool = True,
    ) -> None:
        super().__init__(f"dockerfile parse error on line {line}: {reason}" if prefixed else reason)
        self.reason = reason
        self.line = line
        self.instruction = instruction
        self.filename = filename


# ---- node -> instruction ------------------------------------------------------------------------


def _at_least_one(cmd: str) -> FlagError:
    return FlagError(f"{cmd} requires at least one argument")


def _exactly_one(cmd: str) -> FlagError:
    return FlagError(f"{cmd} requires exactly one argument")


def _handle_json_args(args: list[str], is_json: bool) -> tuple[str, ...]:
    if not args:
        return ()
    if is_json:
        return tuple(args)
    return (" ".join(args),)


def _kvps(args: list[str], cmd: str) -> tuple[KeyValue, ...]:
    if not args:
        raise _at_least_one(cmd)
    if len(args) % 3:
        raise FlagError(f"Bad input to {cmd}, too many arguments")
    out = []
    for j in range(0, len(args), 3):
        if not args[j]:
            raise FlagError(f"{cmd} names can not be blank")
        out.append(KeyValue(args[j], args[j + 1], args[j + 2] == ""))
    return tuple(out)


def _duration(flags: Flags, name: str) -> int:
    s = flags.string(name)
    if not s:
        return 0
    ns = parse_go_duration(s)
    if ns == 0:
        return 0
    if ns < 1_000_000:
        raise FlagError(f"Interval {go_quote(name)} cannot be less than 1ms")
    return ns


_DUR_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DUR_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(s: str) -> int:
    """time.ParseDuration, to nanoseconds."""
    orig = s
    neg = s.startswith("-")
    s = s.lstrip("+-")
    if s == "0":
        return 0
    if not s:
        raise FlagError(f"time: invalid duration {go_quote(orig)}")
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DUR_PART.match(s, pos)
        if not m:
            if re.match(r"(\d+(?:\.\d*)?|\.\d+)$", s[pos:]):
                raise FlagError(f"time: missing unit in duration {go_quote(orig)}")
            raise FlagError(f"time: invalid duration {go_quote(orig)}")
        total += float(m.group(1)) * _DUR_UNITS[m.group(2)]
        pos = m.end()
    return -int(total) if neg else int(total)


def _sources_and_dest(node: Node, args: list[str], cmd: str) -> dict[str, object]:
    srcs, dest = args[:-1], args[-1]
    if parse_heredoc(dest) is not None:
        raise FlagError(f"{cmd} cannot accept a heredoc as a destination")
    lookup = {h.name: h for h in node.heredocs}
    paths: list[str] = []
    contents: list[SourceContent] = []
    for s in srcs:
        doc = parse_heredoc(s)
        if doc is None:
            paths.append(s)
            continue
        found = lookup.get(doc.name)
        content = found.content if found else ""
        if doc.chomp:
            content = chomp_heredoc_content(content)
        contents.append(SourceContent(doc.name, content, doc.expand))
    return {"sources": tuple(paths), "contents": tuple(contents), "dest": dest}


def parse_instruction(node: Node) -> Instruction:
    """One node -> one typed instruction; raises InstructionError naming the line."""
    try:
        return _parse(node)
    except FlagError as e:
        raise InstructionError(str(e), node.start_line, node.value) from None


def _parse(node: Node) -> Instruction:
    base: dict[str, object] = {"original": node.original, "line": node.start_line, "end_line": node.end_line}
    args = node.args
    flags = Flags(node.flags)
    cmd = node.command
    if cmd == "env":
        flags.parse()
        return EnvInstruction(**base, env=_kvps(args, "ENV"))  # type: ignore[arg-type]
    if cmd == "maintainer":
        if len(args) != 1:
            raise _exactly_one("MAINTAINER")
        flags.parse()
        return MaintainerInstruction(**base, maintainer=args[0])  # type: ignore[arg-type]
    if cmd == "label":
        flags.parse()
        return LabelInstruction(**base, labels=_kvps(args, "LABEL"))  # type: ignore[arg-type]
    if cmd == "add":
        if len(args) < 2:
            raise FlagError(
                "ADD requires at least two arguments, but only one was provided. Destination could not be determined"
            )
        for name in ("chown", "chmod", "checksum"):
            flags.add_string(name)
        for name in ("link", "keep-git-dir", "unpack"):
            flags.add_bool(name)
        flags.add_strings("exclude")
        flags.parse()
        return AddInstruction(
            **base,  # type: ignore[arg-type]
            **_sources_and_dest(node, args, "ADD"),  # type: ignore[arg-type]
            chown=flags.string("chown"),
            chmod=flags.string("chmod"),
            link=flags.flag("link"),
            excludes=flags.strings("exclude"),
            checksum=flags.string("checksum"),
            keep_git_dir=flags.flag("keep-git-dir") if flags.is_used("keep-git-dir") else None,
            unpack=flags.flag("unpack") if flags.is_used("unpack") else None,
        )
    if cmd == "copy":
        if len(args) < 2:
            raise FlagError(
                "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
            )
        for name in ("chown", "from", "chmod"):
            flags.add_string(name)
        flags.add_bool("link")
        flags.add_bool("parents")
        flags.add_strings("exclude")
        flags.parse()
        return CopyInstruction(
            **base,  # type: ignore[arg-type]
            **_sources_and_dest(node, args, "COPY"),  # type: ignore[arg-type]
            from_=flags.string("from"),
            chown=flags.string("chown"),
            chmod=flags.string("chmod"),
            link=flags.flag("link"),
            parents=flags.flag("parents"),
            excludes=flags.strings("exclude"),
        )
    if cmd == "from":
        stage_name = ""
        if len(args) == 3 and args[1].lower() == "as":
            stage_name = args[2].lower()
            if not _STAGE_NAME.match(stage_name):
                raise FlagError(
                    f"invalid name for build stage: {go_quote(args[2])}, name can't start with a number or contain symbols"
                )
        elif len(args) != 1:
            raise FlagError("FROM requires either one or three arguments")
        flags.add_string("platform")
        flags.parse()
        base["original"] = node.original.strip()
        return FromInstruction(
            **base,  # type: ignore[arg-type]
            base_name=args[0],
            stage_name=stage_name,
            platform=flags.string("platform"),
        )
    if cmd == "onbuild":
        if not args:
            raise _at_least_one("ONBUILD")
        flags.parse()
        trigger = args[0].strip().upper()
        if trigger == "ONBUILD":
            raise FlagError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise FlagError(f"{trigger} isn't allowed as an ONBUILD trigger")
        expr = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original, count=1)
        for doc in node.heredocs:
            expr += "\n" + doc.content + doc.name
        return OnbuildInstruction(**base, expression=expr)  # type: ignore[arg-type]
    if cmd == "workdir":
        if len(args) != 1:
            raise _exactly_one("WORKDIR")
        flags.parse()
        return WorkdirInstruction(**base, path=args[0])  # type: ignore[arg-type]
    if cmd in ("run", "cmd", "entrypoint"):
        if cmd == "run":
            flags.add_strings("mount")
            flags.add_string("network", "default")
            flags.add_string("security", "sandbox")
        flags.parse()
        cmd_line = _handle_json_args(args, node.json)
        shell = {"cmd_line": cmd_line, "prepend_shell": not node.json, "files": node.heredocs}
        if cmd == "cmd":
            return CmdInstruction(**base, **shell)  # type: ignore[arg-type]
        if cmd == "entrypoint":
            return EntrypointInstruction(**base, **shell)  # type: ignore[arg-type]
        mounts = flags.strings("mount")
        for m in mounts:
            parse_mount(m, None)
        network = flags.string("network")
        if network not in ("default", "none", "host"):
            raise FlagError(f"invalid network mode {go_quote(network)}")
        security = flags.string("security")
        if security not in ("sandbox", "insecure"):
            raise FlagError(f"security mode {go_quote(security)} not supported")
        return RunInstruction(**base, **shell, mount_specs=mounts, network=network, security=security)  # type: ignore[arg-type]
    if cmd == "healthcheck":
        return _parse_healthcheck(node, args, flags, base)
    if cmd == "expose":
        if not args:
            raise _at_least_one("EXPOSE")
        flags.parse()
        return ExposeInstruction(**base, ports=tuple(sorted(args)))  # type: ignore[arg-type]
    if cmd == "user":
        if len(args) != 1:
            raise _exactly_one("USER")
        flags.parse()
        return UserInstruction(**base, user=args[0])  # type: ignore[arg-type]
    if cmd == "volume":
        if not args:
            raise _at_least_one("VOLUME")
        flags.parse()
        vols = []
        for v in args:
            v = v.strip()
            if not v:
                raise FlagError("VOLUME specified can not be an empty string")
            vols.append(v)
        return VolumeInstruction(**base, volumes=tuple(vols))  # type: ignore[arg-type]
    if cmd == "stopsignal":
        if len(args) != 1:
            raise _exactly_one("STOPSIGNAL")
        return StopSignalInstruction(**base, signal=args[0])  # type: ignore[arg-type]
    if cmd == "arg":
        if not args:
            raise _at_least_one("ARG")
        defs = []
        for a in args:
            if "=" in a:
                k, v = a.split("=", 1)
                if not k:
                    raise FlagError("ARG names can not be blank")
                defs.append(ArgDef(k, v))
            else:
                defs.append(ArgDef(a))
        return ArgInstruction(**base, args=tuple(defs))  # type: ignore[arg-type]
    if cmd == "shell":
        flags.parse()
        shell_args = _handle_json_args(args, node.json)
        if not shell_args:
            raise _at_least_one("SHELL")
        if not node.json:
            raise FlagError("SHELL requires the arguments to be in JSON form")
        return ShellInstruction(**base, shell=shell_args)  # type: ignore[arg-type]
    raise FlagError(
        with_suggestion(f"unknown instruction: {node.value}", node.value, INSTRUCTION_NAMES, False)
    )


def _parse_healthcheck(node: Node, args: list[str], flags: Flags, base: dict[str, object]) -> Instruction:
    if not args:
        raise _at_least_one("HEALTHCHECK")
    typ = args[0].upper()
    rest = args[1:]
    if typ == "NONE":
        if rest:
            raise FlagError("HEALTHCHECK NONE takes no arguments")
        return HealthcheckInstruction(**base, test=("NONE",))  # type: ignore[arg-type]
    for name in ("interval", "timeout", "start-period", "start-interval", "retries"):
        flags.add_string(name)
    flags.parse()
    if typ != "CMD":
        raise FlagError(f"Unknown type {go_quote(typ)} in HEALTHCHECK (try CMD)")
    cmd_slice = _handle_json_args(rest, node.json)
    if not cmd_slice:
        raise FlagError("Missing command after HEALTHCHECK CMD")
    test = ("CMD" if node.json else "CMD-SHELL", *cmd_slice)
    retries = 0
    if flags.string("retries"):
        raw = flags.string("retries")
        try:
            retries = int(raw, 10)
        except ValueError:
            raise FlagError(f"strconv.ParseInt: parsing {go_quote(raw)}: invalid syntax") from None
        if retries < 0:
            raise FlagError(f"--retries cannot be negative ({retries})")
    return HealthcheckInstruction(
        **base,  # type: ignore[arg-type]
        test=test,
        interval=_duration(flags, "interval"),
        timeout=_duration(flags, "timeout"),
        start_period=_duration(flags, "start-period"),
        start_interval=_duration(flags, "start-interval"),
        retries=retries,
    )


def parse_stages(dockerfile: Dockerfile) -> tuple[list[Stage], list[ArgInstruction]]:
    """instructions.Parse: stages and the ARGs before the first FROM (meta args)."""
    stages: list[Stage] = []
    meta: list[ArgInstruction] = []
    current: list[Instruction] = []
    for node in dockerfile.nodes:
        inst = parse_instruction(node)
        if isinstance(inst, FromInstruction):
            if stages:
                stages[-1] = replace(stages[-1], commands=tuple(current))
            stages.append(Stage(len(stages), inst))
            current = []
            continue
        if not stages:
            if isinstance(inst, ArgInstruction):
                meta.append(inst)
                continue
            raise InstructionError(
                "no build stage in current context", node.start_line, node.value, prefixed=False
            )
        current.append(inst)
    if stages:
        stages[-1] = replace(stages[-1], commands=tuple(current))
    return stages, meta
