"""The stage graph: FROM/--from/--mount dependencies, --target pruning, parallel levels."""

from __future__ import annotations

import pytest

from skiff.build.instructions import parse_stages
from skiff.build.parser import parse
from skiff.build.stages import StageRef, build_graph
from skiff.errors import InvalidParameter

MULTI = """\
FROM golang AS deps
RUN fetch
FROM deps AS build
RUN make
FROM alpine AS docs
RUN mkdocs
FROM busybox AS test
COPY --from=build /out /out
RUN --mount=type=bind,from=docs,source=/site,target=/site check
FROM scratch AS final
COPY --from=build /out/app /app
COPY --from=nginx:alpine /etc/nginx /etc/nginx
"""


def graph(src: str, target: str = "", expand=lambda s: s):  # type: ignore[no-untyped-def]
    stages, _ = parse_stages(parse(src))
    return build_graph(stages, target, expand)


def test_deps_and_bases() -> None:
    g = graph(MULTI)
    assert g.base[1] == StageRef(stage=0)
    assert g.base[0] == StageRef(image="golang")
    assert g.deps == (frozenset(), frozenset({0}), frozenset(), frozenset({1, 2}), frozenset({1}))
    assert g.copy_sources(4) == {"build": StageRef(stage=1), "nginx:alpine": StageRef(image="nginx:alpine")}


def test_default_target_is_last_and_prunes_unneeded() -> None:
    g = graph(MULTI)
    assert g.target == 4
    assert g.needed == (0, 1, 4)  # docs and test are not needed for final
    assert g.levels == ((0,), (1,), (4,))


def test_target_selects_and_parallel_levels() -> None:
    g = graph(MULTI, target="test")
    assert g.needed == (0, 1, 2, 3)
    assert g.levels == ((0, 2), (1,), (3,))  # deps and docs are independent
    assert graph(MULTI, target="TEST").target == 3


def test_unknown_target() -> None:
    with pytest.raises(InvalidParameter, match="failed to reach build target nope in Dockerfile"):
        graph(MULTI, target="nope")


def test_copy_from_index_and_later_stage() -> None:
    g = graph("FROM a\nRUN x\nFROM b\nCOPY --from=0 /x /x\n")
    assert g.deps[1] == frozenset({0})
    with pytest.raises(InvalidParameter, match="invalid stage index 5"):
        graph("FROM a\nCOPY --from=5 /x /x\n")
    with pytest.raises(
        InvalidParameter, match='cannot copy from stage "later", it needs to be defined before'
    ):
        graph("FROM a\nCOPY --from=later /x /x\nFROM b AS later\n")
    with pytest.raises(InvalidParameter, match="variable expansion is not supported for --from"):
        graph("FROM a\nCOPY --from=$X /x /x\n")


def test_base_names_use_meta_args_and_blank_is_refused() -> None:
    g = graph("FROM $IMG AS one\nFROM one\n", expand=lambda s: s.replace("$IMG", "busybox"))
    assert g.base == (StageRef(image="busybox"), StageRef(stage=0))
    with pytest.raises(InvalidParameter, match=r"base name \(\$X\) should not be blank"):
        graph("FROM $X\n", expand=lambda s: "")


def test_from_a_stage_name_defined_later_is_an_image() -> None:
    g = graph("FROM later\nFROM busybox AS later\n")
    assert g.base[0] == StageRef(image="later")
