"""moby's checkWritablePath over a container's mounts: the deepest mount holding a path decides."""

from __future__ import annotations

from skiff.engine.containers.fsview import writable_mount_for


def test_deepest_mount_decides() -> None:
    mounts = [("/data", True), ("/data/ro", False), ("/ro", False)]
    assert writable_mount_for("/data/x", mounts) is True
    assert writable_mount_for("/data/ro", mounts) is False  # the mount point itself is in the mount
    assert writable_mount_for("/data/ro/sub/f", mounts) is False
    assert writable_mount_for("/ro", mounts) is False
    assert writable_mount_for("/rox", mounts) is None  # a sibling whose name starts the same is not in it
    assert writable_mount_for("/", mounts) is None
    assert writable_mount_for("/etc", []) is None
