"""OCI bundles for runtime tests: config.json from ``skiff-runtime spec``, a busybox rootfs.

    bundle = make_bundle(tmp_path / "bundle", busybox_rootfs, ["sh", "-c", "echo hi"])
    edit_config(bundle, lambda c: c["process"].update(cwd="/tmp"))
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["RUNTIME", "make_bundle", "read_config", "write_config", "edit_config"]

RUNTIME = str(Path(sys.executable).with_name("skiff-runtime"))


def read_config(bundle: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((bundle / "config.json").read_text())
    return data


def write_config(bundle: Path, config: dict[str, Any]) -> None:
    (bundle / "config.json").write_text(json.dumps(config, indent=2))


def edit_config(bundle: Path, fn: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    cfg = read_config(bundle)
    fn(cfg)
    write_config(bundle, cfg)
    return cfg


def make_bundle(dest: Path, rootfs: Path, args: list[str], *, readonly: bool = False,
                runtime: str = RUNTIME) -> Path:
    """A bundle at ``dest`` whose rootfs is ``rootfs`` (moved in as dest/rootfs when elsewhere):
    the default spec, process.args = ``args``, terminal off, root read-write unless ``readonly``."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "rootfs"
    if rootfs.resolve() != target.resolve():
        shutil.move(str(rootfs), str(target))
    subprocess.run([runtime, "spec", "--bundle", str(dest)], check=True)

    def adjust(c: dict[str, Any]) -> None:
        c["process"]["args"] = list(args)
        c["process"]["terminal"] = False
        c["root"]["readonly"] = readonly

    edit_config(dest, adjust)
    return dest
