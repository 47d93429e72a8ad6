"""``docker import --change`` / ``docker commit --change``: Dockerfile-like lines applied to an image's
container config (moby's BuildFromConfig over the commit-safe instructions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from skiff.build.commands import (
    CmdInstruction,
    EntrypointInstruction,
    EnvInstruction,
    ExposeInstruction,
    HealthcheckInstruction,
    LabelInstruction,
    OnbuildInstruction,
    StopSignalInstruction,
    UserInstruction,
    VolumeInstruction,
    WorkdirInstruction,
)
from skiff.build.instructions import parse_instruction
from skiff.build.parser import parse_line
from skiff.errors import InvalidParameter
from skiff.oci.image_spec import ContainerConfig, HealthConfig

__all__ = ["parse_changes", "VALID_CHANGES"]

# moby's validCommitCommands: what `docker import --change` / `docker commit --change` accept
VALID_CHANGES = ("cmd", "entrypoint", "env", "expose", "healthcheck", "label", "onbuild", "stopsignal",
                 "user", "volume", "workdir")
_DEFAULT_SHELL = ("/bin/sh", "-c")


def _shell_words(ins: CmdInstruction | EntrypointInstruction, shell: tuple[str, ...]) -> tuple[str, ...]:
    if ins.prepend_shell:
        return (*(shell or _DEFAULT_SHELL), " ".join(ins.cmd_line))
    return tuple(ins.cmd_line)


def parse_changes(changes: Sequence[str], base: ContainerConfig | None = None) -> ContainerConfig:
    """Dockerfile-like ``--change`` lines applied to ``base`` (moby's BuildFromConfig subset)."""
    cfg = base or ContainerConfig()
    env = list(cfg.env)
    labels = dict(cfg.labels)
    ports = list(cfg.exposed_ports)
    volumes = list(cfg.volumes)
    onbuild = list(cfg.on_build)
    values: dict[str, Any] = {}
    for raw in changes:
        line = raw.strip()
        if not line:
            continue
        word = line.split(None, 1)[0].lower()
        if word not in VALID_CHANGES:
            raise InvalidParameter(f"{word} is not a valid change command")
        ins = parse_instruction(parse_line(line))
        if isinstance(ins, CmdInstruction):
            values["cmd"] = _shell_words(ins, cfg.shell)
        elif isinstance(ins, EntrypointInstruction):
            values["entrypoint"] = _shell_words(ins, cfg.shell)
        elif isinstance(ins, EnvInstruction):
            for kv in ins.env:
                env = [e for e in env if e.split("=", 1)[0] != kv.key] + [f"{kv.key}={kv.value}"]
        elif isinstance(ins, LabelInstruction):
            labels.update({kv.key: kv.value for kv in ins.labels})
        elif isinstance(ins, ExposeInstruction):
            for p in ins.ports:
                port = p if "/" in p else f"{p}/tcp"
                if port not in ports:
                    ports.append(port)
        elif isinstance(ins, VolumeInstruction):
            volumes += [v for v in ins.volumes if v not in volumes]
        elif isinstance(ins, UserInstruction):
            values["user"] = ins.user
        elif isinstance(ins, WorkdirInstruction):
            values["working_dir"] = ins.path
        elif isinstance(ins, StopSignalInstruction):
            values["stop_signal"] = ins.signal
        elif isinstance(ins, OnbuildInstruction):
            onbuild.append(ins.expression)
        elif isinstance(ins, HealthcheckInstruction):
            values["healthcheck"] = HealthConfig(test=tuple(ins.test), interval=ins.interval, timeout=ins.timeout,
                                                 start_period=ins.start_period,
                                                 start_interval=ins.start_interval, retries=ins.retries)
    return replace(cfg, env=tuple(env), labels=labels, exposed_ports=tuple(ports), volumes=tuple(volumes),
                   on_build=tuple(onbuild), **values)
