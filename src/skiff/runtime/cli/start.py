"""``start ID``: let a created container's process run (executes the user process)."""

from __future__ import annotations

from skiff.runtime.cli.common import load_container

TYPE_CHECKING = False
if TYPE_CHECKING:
    from skiff.runtime.cli.main import Globals

USAGE = """usage: skiff-runtime start <container-id>

Execute the user-defined process in a created container.
"""


def run(g: Globals, argv: list[str]) -> int:
    from skiff.runtime.create import start

    start(load_container(g.root, argv, USAGE))
    return 0
