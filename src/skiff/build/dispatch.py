"""The dispatch table: one handler per instruction, each turning the stage state into the next.

Handlers compute the new image config and the history line exactly as the classic builder writes
them ("/bin/sh -c #(nop)  CMD [\"sh\"]", "|2 A=1 B=2 /bin/sh -c make"), then ``StepRunner``
(``builder``) probes the cache, runs or copies when needed, and commits.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from skiff.build.buildargs import BuildArgs
from skiff.build.golang import go_duration, go_list, go_quote_list, go_quote_rune
from skiff.build.instructions import (
    AddInstruction,
    ArgInstruction,
    CmdInstruction,
    CopyInstruction,
    EntrypointInstruction,
    EnvInstruction,
    ExposeInstruction,
    HealthcheckInstruction,
    Instruction,
    LabelInstruction,
    MaintainerInstruction,
    OnbuildInstruction,
    RunInstruction,
    ShellInstruction,
    StopSignalInstruction,
    UserInstruction,
    VolumeInstruction,
    WorkdirInstruction,
)
from skiff.build.words import Env, ShellLex
from skiff.errors import InvalidParameter
from skiff.oci.image_spec import ContainerConfig, HealthConfig, ImageConfig

if TYPE_CHECKING:
    from skiff.build.steps import StepRunner

__all__ = ["DEFAULT_PATH", "DEFAULT_SHELL", "StageState", "dispatch", "expand_instruction"]

DEFAULT_SHELL = ("/bin/sh", "-c")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_SIGNALS = {
    "ABRT": 6, "ALRM": 14, "BUS": 7, "CHLD": 17, "CLD": 17, "CONT": 18, "FPE": 8, "HUP": 1, "ILL": 4,
    "INT": 2, "IO": 29, "IOT": 6, "KILL": 9, "PIPE": 13, "POLL": 29, "PROF": 27, "PWR": 30, "QUIT": 3,
    "SEGV": 11, "STKFLT": 16, "STOP": 19, "SYS": 31, "TERM": 15, "TRAP": 5, "TSTP": 20, "TTIN": 21,
    "TTOU": 22, "URG": 23, "USR1": 10, "USR2": 12, "VTALRM": 26, "WINCH": 28, "XCPU": 24, "XFSZ": 25,
}  # fmt: skip


@dataclass
class StageState:
    """Everything one stage carries from step to step."""

    index: int
    name: str
    image_id: str  # "" until the first commit of a scratch stage
    image: ImageConfig  # the current image config (its history and diff_ids included)
    config: ContainerConfig  # the run config being built (Docker's runConfig)
    args: BuildArgs
    lex: ShellLex
    cmd_set: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def shell(self) -> tuple[str, ...]:
        return self.config.shell or DEFAULT_SHELL

    def env_getter(self) -> Env:
        values: dict[str, str] = {}
        for e in self.config.env:
            k, _, v = e.partition("=")
            values[k] = v
        for kv in self.args.filter_allowed(self.config.env):
            k, _, v = kv.partition("=")
            values[k] = v
        return Env(values)

    def expander(self) -> Callable[[str], str]:
        env = self.env_getter()
        return lambda word: self.lex.process_word(word, env)


def expand_instruction(state: StageState, inst: Instruction) -> Instruction:
    """Variable substitution for the instructions that take words (the classic dispatch())."""
    expand = getattr(inst, "expand", None)
    if expand is None:
        return inst
    return expand(state.expander())


def nop_line(state: StageState, comment: str) -> str:
    """withCmdComment: the shell, "#(nop) ", the comment, joined by spaces (two after nop)."""
    return " ".join([*state.shell, "#(nop) ", comment])


def nop_line_single(state: StageState, comment: str) -> str:
    """withCmdCommentString (COPY, ADD, WORKDIR): one space after "#(nop)"."""
    return " ".join([*state.shell, "#(nop) " + comment])


def _set_env(env: tuple[str, ...], key: str, value: str) -> tuple[str, ...]:
    out = list(env)
    for i, e in enumerate(out):
        if e.partition("=")[0] == key:
            out[i] = f"{key}={value}"
            return tuple(out)
    return (*out, f"{key}={value}")


def _port_specs(ports: list[str]) -> list[str]:
    """nat.ParsePortSpecs, exposed side only: 80, 80/udp, 8000-8002/tcp."""
    out: list[str] = []
    for raw in ports:
        proto = "tcp"
        port = raw
        if "/" in raw:
            port, proto = raw.split("/", 1)
            proto = proto.lower()
        if ":" in port:
            port = port.rsplit(":", 1)[1]
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", port)
        if not m:
            raise InvalidParameter(f"Invalid containerPort: {port}")
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        if hi < lo or hi > 65535:
            raise InvalidParameter(f"Invalid range format for port: {port}")
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidParameter(f"Invalid proto: {proto}")
        out.extend(f"{p}/{proto}" for p in range(lo, hi + 1))
    return out


def _health_line(h: HealthConfig) -> str:
    return (
        f'HEALTHCHECK &{{{go_quote_list(h.test)} "{go_duration(h.interval)}" "{go_duration(h.timeout)}" '
        f'"{go_duration(h.start_period)}" "{go_duration(h.start_interval)}" {go_quote_rune(h.retries)}}}'
    )


def normalize_workdir(current: str, requested: str) -> str:
    if not requested.startswith("/"):
        return posixpath.normpath(posixpath.join("/", current or "/", requested))
    return posixpath.normpath(requested).replace("//", "/")


def _validate_signal(sig: str) -> None:
    s = sig.upper().removeprefix("SIG")
    if s.isdigit():
        if int(s) == 0:
            raise InvalidParameter(f"Invalid signal: {sig}")
        return
    if s in _SIGNALS:
        return
    m = re.fullmatch(r"RTM(IN|AX)(?:([+-])(\d+))?", s)
    if m:
        return
    raise InvalidParameter(f"Invalid signal: {sig}")


def resolve_cmd_line(state: StageState, cmd_line: tuple[str, ...], prepend_shell: bool) -> tuple[str, ...]:
    if prepend_shell:
        return (*state.shell, *cmd_line)
    return cmd_line


def dispatch(state: StageState, inst: Instruction, step: StepRunner) -> None:
    """Apply one (already expanded) instruction; the StepRunner commits and prints."""
    cfg = state.config
    if isinstance(inst, EnvInstruction):
        env = cfg.env
        words = []
        for kv in inst.env:
            env = _set_env(env, kv.key, kv.value)
            words.append(str(kv))
        state.config = replace(cfg, env=env)
        step.commit_meta(nop_line(state, "ENV " + " ".join(words)))
    elif isinstance(inst, LabelInstruction):
        labels = dict(cfg.labels)
        words = []
        for kv in inst.labels:
            labels[kv.key] = kv.value
            words.append(str(kv))
        state.config = replace(cfg, labels=labels)
        step.commit_meta(nop_line(state, "LABEL " + " ".join(words)))
    elif isinstance(inst, MaintainerInstruction):
        state.extra["author"] = inst.maintainer
        step.commit_meta(nop_line(state, "MAINTAINER " + inst.maintainer))
    elif isinstance(inst, CmdInstruction):
        cmd = resolve_cmd_line(state, inst.cmd_line, inst.prepend_shell)
        state.config = replace(cfg, cmd=cmd, args_escaped=False)
        if inst.cmd_line:
            state.cmd_set = True
        step.commit_meta(nop_line(state, "CMD " + go_quote_list(cmd)))
    elif isinstance(inst, EntrypointInstruction):
        if inst.prepend_shell:
            ep: tuple[str, ...] | None = (*state.shell, *inst.cmd_line)
        elif not inst.cmd_line:
            ep = None
        else:
            ep = inst.cmd_line
        cmd_after = cfg.cmd if state.cmd_set else None
        state.config = replace(cfg, entrypoint=ep, cmd=cmd_after)
        step.commit_meta(nop_line(state, "ENTRYPOINT " + go_quote_list(ep or ())))
    elif isinstance(inst, ExposeInstruction):
        ports: list[str] = []
        for p in inst.ports:
            ports.extend(state.lex.process_words(p, state.env_getter()))
        specs = _port_specs(ports)
        state.config = replace(cfg, exposed_ports=tuple(sorted(set(cfg.exposed_ports) | set(specs))))
        step.commit_meta(nop_line(state, "EXPOSE " + " ".join(ports)))
    elif isinstance(inst, VolumeInstruction):
        for v in inst.volumes:
            if not v:
                raise InvalidParameter("VOLUME specified can not be an empty string")
        vols = tuple(sorted(set(cfg.volumes) | set(inst.volumes)))
        state.config = replace(cfg, volumes=vols)
        step.commit_meta(nop_line(state, "VOLUME " + go_list(inst.volumes)))
    elif isinstance(inst, UserInstruction):
        state.config = replace(cfg, user=inst.user)
        step.commit_meta(nop_line(state, "USER " + inst.user))
    elif isinstance(inst, StopSignalInstruction):
        _validate_signal(inst.signal)
        state.config = replace(cfg, stop_signal=inst.signal)
        step.commit_meta(nop_line(state, "STOPSIGNAL " + inst.signal))
    elif isinstance(inst, HealthcheckInstruction):
        hc = HealthConfig(
            test=inst.test,
            interval=inst.interval,
            timeout=inst.timeout,
            start_period=inst.start_period,
            start_interval=inst.start_interval,
            retries=inst.retries,
        )
        state.config = replace(cfg, healthcheck=hc)
        step.commit_meta(nop_line(state, _health_line(hc)))
    elif isinstance(inst, ShellInstruction):
        state.config = replace(cfg, shell=inst.shell)
        step.commit_meta(nop_line(state, "SHELL " + go_list(inst.shell)))
    elif isinstance(inst, OnbuildInstruction):
        state.config = replace(cfg, on_build=(*cfg.on_build, inst.expression))
        step.commit_meta(nop_line(state, "ONBUILD " + inst.expression))
    elif isinstance(inst, ArgInstruction):
        words = []
        for a in inst.args:
            state.args.add_arg(a.key, a.value)
            words.append(str(a))
        step.commit_meta(nop_line(state, "ARG " + " ".join(words)))
    elif isinstance(inst, WorkdirInstruction):
        wd = normalize_workdir(cfg.working_dir, inst.path)
        state.config = replace(cfg, working_dir=wd)
        step.workdir(wd, nop_line_single(state, "WORKDIR " + wd))
    elif isinstance(inst, RunInstruction):
        step.run(inst)
    elif isinstance(inst, (CopyInstruction, AddInstruction)):
        step.copy(inst)
    else:  # pragma: no cover - parse_instruction returns only the types above
        raise InvalidParameter(f"unknown instruction: {inst.name}")
