"""skiff.storage's public surface is exactly its ``__all__`` (nothing leaks, nothing missing)."""

from __future__ import annotations

import skiff.storage as storage


def test_all_is_the_public_surface() -> None:
    public = {n for n in dir(storage) if not n.startswith("_")} - {
        "archive", "base", "initlayer", "metadata", "mount", "overlay2", "snapshot", "unpack", "vfs"}  # submodules
    assert set(storage.__all__) == public
    assert len(storage.__all__) == len(set(storage.__all__))
