"""``pause ID``: freeze every process of the container (v1 freezer, v2 cgroup.freeze)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing's costs ~5 ms at start
if TYPE_CHECKING:
    from typing import Any

USAGE = """usage: skiff-runtime pause <container-id>

The pause command suspends all processes in the instance of the container.

Where "<container-id>" is the name for the instance of the container to be paused.
"""


def run(g: Any, argv: list[str]) -> int:
    from skiff.runtime.cli.common import load_container
    from skiff.runtime.cli.update import cgroup_of

    c = load_container(g.root, argv, USAGE)
    c.transition("pause")
    cgroup_of(c).freeze()
    return 0
