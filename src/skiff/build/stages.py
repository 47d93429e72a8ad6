"""The multi-stage graph: which stages a target needs, and which can be built at the same time.

A stage depends on another when it starts ``FROM`` it, copies ``COPY --from`` it, or mounts it with
``RUN --mount=from=``. Names that are not stages are images (resolved through the backend).
Only the stages reachable from the target are built (BuildKit's behaviour, not the classic
builder's "everything up to the target"); ``levels`` groups them so that every stage in a level
depends only on earlier levels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from skiff.build.flags import FlagError, parse_mount
from skiff.build.instructions import CopyInstruction, RunInstruction, Stage
from skiff.errors import InvalidParameter

__all__ = ["StageGraph", "StageRef", "build_graph"]


@dataclass(frozen=True)
class StageRef:
    """What a name used by FROM / --from points at: a stage index, or an image reference."""

    stage: int | None = None
    image: str = ""


@dataclass(frozen=True)
class StageGraph:
    stages: tuple[Stage, ...]
    base: tuple[StageRef, ...]  # per stage: its FROM, resolved (base names already expanded)
    deps: tuple[frozenset[int], ...]  # per stage: the stages it needs
    target: int
    needed: tuple[int, ...]  # in Dockerfile order
    levels: tuple[tuple[int, ...], ...]

    def copy_sources(self, index: int) -> dict[str, StageRef]:
        """Every ``--from`` value used in stage ``index`` -> what it names."""
        return _copy_sources(self.stages, index)


def _find(stages: tuple[Stage, ...], name: str, before: int) -> int | None:
    low = name.lower()
    for s in stages[:before]:
        if s.name and s.name == low:
            return s.index
    return None


def _resolve_from(stages: tuple[Stage, ...], value: str, index: int) -> StageRef:
    if value.isdigit():
        n = int(value)
        if n >= len(stages):
            raise InvalidParameter(f"invalid stage index {n}")
        if n >= index:
            raise InvalidParameter(_too_late(stages, value, index))
        return StageRef(stage=n)
    found = _find(stages, value, index)
    if found is not None:
        return StageRef(stage=found)
    later = _find(stages, value, len(stages))
    if later is not None:
        raise InvalidParameter(_too_late(stages, value, index))
    return StageRef(image=value)


def _too_late(stages: tuple[Stage, ...], value: str, index: int) -> str:
    name = stages[index].name or str(index)
    return f'cannot copy from stage "{value}", it needs to be defined before current stage "{name}"'


def _copy_sources(stages: tuple[Stage, ...], index: int) -> dict[str, StageRef]:
    out: dict[str, StageRef] = {}
    for cmd in stages[index].commands:
        values: list[str] = []
        if isinstance(cmd, CopyInstruction) and cmd.from_:
            if "$" in cmd.from_:
                raise InvalidParameter(
                    "variable expansion is not supported for --from, define a new stage with FROM "
                    "using ARG from global scope as a workaround"
                )
            values.append(cmd.from_)
        elif isinstance(cmd, RunInstruction):
            for spec in cmd.mount_specs:
                try:
                    m = parse_mount(spec, lambda w: w)
                except FlagError:
                    continue  # reported with its line when the RUN is dispatched
                if m.from_:
                    values.append(m.from_)
        for v in values:
            out[v] = _resolve_from(stages, v, index)
    return out


def build_graph(
    stages: list[Stage] | tuple[Stage, ...],
    target: str = "",
    expand_base: Callable[[str], str] = lambda s: s,
) -> StageGraph:
    """Resolve FROM names and --from references, prune to ``target`` and order in levels."""
    all_stages = tuple(stages)
    if not all_stages:
        raise InvalidParameter("dockerfile contains no stages to build")
    bases: list[StageRef] = []
    deps: list[frozenset[int]] = []
    for st in all_stages:
        base_name = expand_base(st.base_name)
        if not base_name:
            raise InvalidParameter(f"base name ({st.base_name}) should not be blank")
        found = None
        for prev in all_stages[: st.index]:
            if prev.name and prev.name == base_name:
                found = prev.index
        ref = StageRef(stage=found) if found is not None else StageRef(image=base_name)
        bases.append(ref)
        d = {r.stage for r in _copy_sources(all_stages, st.index).values() if r.stage is not None}
        if ref.stage is not None:
            d.add(ref.stage)
        deps.append(frozenset(d))
    if target:
        tgt = _find(all_stages, target, len(all_stages))
        if tgt is None:
            raise InvalidParameter(f"failed to reach build target {target} in Dockerfile")
    else:
        tgt = len(all_stages) - 1
    needed: set[int] = set()
    todo = [tgt]
    while todo:
        i = todo.pop()
        if i in needed:
            continue
        needed.add(i)
        todo.extend(deps[i])
    level_of: dict[int, int] = {}
    for i in sorted(needed):  # deps always point backwards, so one pass suffices
        level_of[i] = 1 + max((level_of[d] for d in deps[i]), default=-1)
    levels: list[list[int]] = [[] for _ in range(max(level_of.values()) + 1)]
    for i in sorted(needed):
        levels[level_of[i]].append(i)
    return StageGraph(
        stages=all_stages,
        base=tuple(bases),
        deps=tuple(deps),
        target=tgt,
        needed=tuple(sorted(needed)),
        levels=tuple(tuple(lv) for lv in levels),
    )
