"""``resume ID``: thaw a paused container."""

from __future__ import annotations

TYPE_CHECKING = False  # typing's costs ~5 ms at start
if TYPE_CHECKING:
    from typing import Any

USAGE = """usage: skiff-runtime resume <container-id>

The resume command resumes all processes in the instance of the container.

Where "<container-id>" is the name for the instance of the container to be resumed.
"""


def run(g: Any, argv: list[str]) -> int:
    from skiff.runtime.cli.common import load_container
    from skiff.runtime.cli.update import cgroup_of

    c = load_container(g.root, argv, USAGE)
    c.transition("resume")
    cgroup_of(c).thaw()
    return 0
