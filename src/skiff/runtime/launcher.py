"""Writes the fast ``skiff-runtime`` launcher over pip's console script.

Why: an OCI runtime is started once per container operation, so interpreter start-up is most of
its cost. The launcher runs the venv's interpreter with ``-I -S`` (no site-packages scan, no
PYTHON* environment, bytecode cache always used) and puts only Skiff's source directory on
sys.path: the runtime needs nothing outside the standard library.

    python -m skiff.runtime.launcher <path of the script to write>
"""

from __future__ import annotations

import os
import sys

__all__ = ["render", "install"]


def render(python: str, src_dir: str) -> str:
    return (f"#!{python} -IS\n"
            "# skiff-runtime launcher (written by skiff.runtime.launcher; see its docstring)\n"
            "import os, sys\n"
            f"sys.path.insert(0, {src_dir!r})\n"
            "from skiff.runtime.cli.main import main\n"
            "rc = main()\n"
            "sys.stdout.flush()\n"
            "sys.stderr.flush()\n"
            "os._exit(rc)  # skip interpreter teardown: nothing is left to clean up, and it costs ms\n")


def install(dest: str) -> None:
    src_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    python = os.path.join(os.path.dirname(os.path.abspath(dest)), "python3.11")
    if not os.path.exists(python):
        python = sys.executable
    tmp = dest + ".tmp"
    with open(tmp, "w") as f:
        f.write(render(python, src_dir))
    os.chmod(tmp, 0o755)
    os.rename(tmp, dest)


if __name__ == "__main__":
    install(sys.argv[1])
