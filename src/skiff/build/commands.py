"""The typed instructions (BuildKit's commands.go): frozen dataclasses, one per instruction.

Every instruction keeps its ``original`` line (the classic builder prints it in "Step n/m : ...")
and its line numbers. Instructions whose words the builder expands have ``expand(fn)`` returning
a new instance; RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and ONBUILD are left alone, as in Docker.
Conversion from parser nodes, with the validation errors, is in ``instructions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Self, TypeAlias

from skiff.build.flags import Mount, parse_mount
from skiff.build.parser import Heredoc

__all__ = [
    "AddInstruction", "ArgDef", "ArgInstruction", "CmdInstruction", "CopyInstruction", "CopyLike",
    "EntrypointInstruction", "EnvInstruction", "Expander", "ExposeInstruction", "FromInstruction",
    "HealthcheckInstruction", "Instruction", "KeyValue", "LabelInstruction", "MaintainerInstruction",
    "OnbuildInstruction", "RunInstruction", "ShellForm", "ShellInstruction", "SourceContent", "Stage",
    "StopSignalInstruction", "UserInstruction", "VolumeInstruction", "WorkdirInstruction",
]  # fmt: skip

Expander: TypeAlias = Callable[[str], str]


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    no_delim: bool = False

    def __str__(self) -> str:
        return f"{self.key}={self.value}"

    def expand(self, fn: Expander) -> KeyValue:
        return KeyValue(fn(self.key), fn(self.value), self.no_delim)


@dataclass(frozen=True)
class Instruction:
    original: str = ""
    line: int = 0
    end_line: int = 0

    @property
    def name(self) -> str:
        return type(self).__name__.removesuffix("Instruction").upper()

    def __str__(self) -> str:
        return self.original


@dataclass(frozen=True)
class FromInstruction(Instruction):
    base_name: str = ""
    stage_name: str = ""
    platform: str = ""


@dataclass(frozen=True)
class ShellForm(Instruction):
    """RUN, CMD, ENTRYPOINT: exec form (``prepend_shell`` False) or a shell line."""

    cmd_line: tuple[str, ...] = ()
    prepend_shell: bool = True
    files: tuple[Heredoc, ...] = ()


@dataclass(frozen=True)
class RunInstruction(ShellForm):
    mount_specs: tuple[str, ...] = ()
    network: str = "default"
    security: str = "sandbox"

    def mounts(self, fn: Expander) -> tuple[Mount, ...]:
        return tuple(parse_mount(m, fn) for m in self.mount_specs)


@dataclass(frozen=True)
class CmdInstruction(ShellForm):
    pass


@dataclass(frozen=True)
class EntrypointInstruction(ShellForm):
    pass


@dataclass(frozen=True)
class EnvInstruction(Instruction):
    env: tuple[KeyValue, ...] = ()

    def expand(self, fn: Expander) -> Self:
        return replace(self, env=tuple(kv.expand(fn) for kv in self.env))


@dataclass(frozen=True)
class LabelInstruction(Instruction):
    labels: tuple[KeyValue, ...] = ()
    no_expand: bool = False

    def expand(self, fn: Expander) -> Self:
        if self.no_expand:
            return self
        return replace(self, labels=tuple(kv.expand(fn) for kv in self.labels))


@dataclass(frozen=True)
class MaintainerInstruction(Instruction):
    maintainer: str = ""


@dataclass(frozen=True)
class SourceContent:
    """A heredoc used as a COPY/ADD source file."""

    path: str
    data: str
    expand: bool


@dataclass(frozen=True)
class CopyLike(Instruction):
    sources: tuple[str, ...] = ()
    contents: tuple[SourceContent, ...] = ()
    dest: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    excludes: tuple[str, ...] = ()

    def expand(self, fn: Expander) -> Self:
        return replace(
            self,
            sources=tuple(fn(s) for s in self.sources),
            dest=fn(self.dest),
            chown=fn(self.chown),
            chmod=fn(self.chmod),
            **self._expand_extra(fn),
        )

    def _expand_extra(self, fn: Expander) -> dict[str, Any]:
        return {}

    def expand_contents(self, fn: Expander) -> Self:
        return replace(
            self,
            contents=tuple(replace(c, data=fn(c.data)) if c.expand else c for c in self.contents),
        )


@dataclass(frozen=True)
class AddInstruction(CopyLike):
    checksum: str = ""
    keep_git_dir: bool | None = None
    unpack: bool | None = None

    def _expand_extra(self, fn: Expander) -> dict[str, Any]:
        return {"checksum": fn(self.checksum)}


@dataclass(frozen=True)
class CopyInstruction(CopyLike):
    from_: str = ""
    parents: bool = False


@dataclass(frozen=True)
class ExposeInstruction(Instruction):
    ports: tuple[str, ...] = ()


@dataclass(frozen=True)
class VolumeInstruction(Instruction):
    volumes: tuple[str, ...] = ()

    def expand(self, fn: Expander) -> Self:
        return replace(self, volumes=tuple(fn(v) for v in self.volumes))


@dataclass(frozen=True)
class UserInstruction(Instruction):
    user: str = ""

    def expand(self, fn: Expander) -> Self:
        return replace(self, user=fn(self.user))


@dataclass(frozen=True)
class WorkdirInstruction(Instruction):
    path: str = ""

    def expand(self, fn: Expander) -> Self:
        return replace(self, path=fn(self.path))


@dataclass(frozen=True)
class ArgDef:
    key: str
    value: str | None = None

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


@dataclass(frozen=True)
class ArgInstruction(Instruction):
    args: tuple[ArgDef, ...] = ()

    def expand(self, fn: Expander) -> Self:
        return replace(
            self,
            args=tuple(ArgDef(fn(a.key), None if a.value is None else fn(a.value)) for a in self.args),
        )


@dataclass(frozen=True)
class OnbuildInstruction(Instruction):
    expression: str = ""


@dataclass(frozen=True)
class StopSignalInstruction(Instruction):
    signal: str = ""

    def expand(self, fn: Expander) -> Self:
        return replace(self, signal=fn(self.signal))


@dataclass(frozen=True)
class HealthcheckInstruction(Instruction):
    """Durations in nanoseconds, as Docker's HealthConfig stores them."""

    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True)
class ShellInstruction(Instruction):
    shell: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stage:
    """A FROM and the instructions under it."""

    index: int
    from_: FromInstruction
    commands: tuple[Instruction, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.from_.stage_name

    @property
    def base_name(self) -> str:
        return self.from_.base_name
