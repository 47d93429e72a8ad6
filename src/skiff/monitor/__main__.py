"""``python -m skiff.monitor STATE_DIR READY_FD``: the monitor as its own fresh process."""

from __future__ import annotations

import os
import sys

from skiff.monitor.protocol import OPTIONS_FILE, MonitorOptions
from skiff.monitor.server import run


def main() -> int:
    state_dir, ready_fd = sys.argv[1], int(sys.argv[2])
    with open(os.path.join(state_dir, OPTIONS_FILE)) as f:
        opts = MonitorOptions.from_json(f.read())
    return run(opts, ready_fd)


if __name__ == "__main__":
    sys.exit(main())
