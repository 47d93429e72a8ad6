"""``state ID``: the container's state as runtime-spec JSON (plus runc's rootfs/created/owner)."""

from __future__ import annotations

import json
import sys

from skiff.runtime.cli.common import load_container

TYPE_CHECKING = False
if TYPE_CHECKING:
    from skiff.runtime.cli.main import Globals

USAGE = """usage: skiff-runtime state <container-id>

Output the state of a container as JSON.
"""


def run(g: Globals, argv: list[str]) -> int:
    c = load_container(g.root, argv, USAGE)
    sys.stdout.write(json.dumps(c.oci_state(), indent=2) + "\n")
    return 0
