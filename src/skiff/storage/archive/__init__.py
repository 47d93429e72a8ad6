"""Layer tars: apply (untrusted, with whiteouts) and diff (deterministic), compression detection."""

from skiff.storage.archive.apply import AppliedLayer, DiffIDMismatch, apply_layer
from skiff.storage.archive.compression import Compression, detect
from skiff.storage.archive.diff import Change, ChangeKind, WrittenDiff, changes, write_diff, write_tree
from skiff.storage.archive.safedir import UnsafeEntry

__all__ = [
    "AppliedLayer", "Change", "ChangeKind", "Compression", "DiffIDMismatch", "UnsafeEntry",
    "WrittenDiff", "apply_layer", "changes", "detect", "write_diff", "write_tree",
]
