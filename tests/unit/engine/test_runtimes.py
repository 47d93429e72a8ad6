"""Runtime resolution: crun on a hybrid cgroup host with cgroup2 controllers runs through a wrapper."""

from __future__ import annotations

import os
from pathlib import Path

from skiff.engine.containers.runtimes import hybrid_v2_controllers, runtime_command


def test_only_crun_on_a_hybrid_host_is_wrapped(tmp_path: Path) -> None:
    assert runtime_command("/usr/bin/runc", tmp_path, hybrid=True) == "/usr/bin/runc"
    assert runtime_command("/usr/bin/crun", tmp_path, hybrid=False) == "/usr/bin/crun"
    wrapper = runtime_command("/usr/bin/crun", tmp_path, hybrid=True)
    assert wrapper == str(tmp_path / "crun-v1view")
    text = Path(wrapper).read_text()
    assert text.startswith("#!/bin/sh\n") and "umount -l /sys/fs/cgroup/unified" in text
    assert text.rstrip().endswith("/usr/bin/crun \"$@\"")
    assert os.access(wrapper, os.X_OK)
    assert runtime_command("/usr/bin/crun", tmp_path, hybrid=True) == wrapper  # written once, reused


def test_hybrid_detection_reads_the_cgroup2_controllers(tmp_path: Path) -> None:
    assert not hybrid_v2_controllers(str(tmp_path / "absent"))
    (tmp_path / "cgroup.controllers").write_text("\n")
    assert not hybrid_v2_controllers(str(tmp_path))
    (tmp_path / "cgroup.controllers").write_text("hugetlb\n")
    assert hybrid_v2_controllers(str(tmp_path))
