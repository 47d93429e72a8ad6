"""Apply one layer in a child process: ``python -m skiff.storage.archive.worker DEST [--overlay]``.

Why a process: tar parsing is Python code that holds the GIL, so threads extracting several layers
mostly take turns, and a daemon thread unpacking 200 MB slows the API's event loop. A child per
layer runs on its own core. The blob is passed as the child's stdin (an open regular file shares
its descriptor, nothing is copied); the result or the error comes back as one JSON line, and the
error is raised again in the parent as the same ``skiff.errors`` class.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from typing import BinaryIO

from skiff.errors import InvalidParameter, SkiffError, System
from skiff.storage.archive.apply import AppliedLayer, DiffIDMismatch, apply_layer
from skiff.storage.archive.compression import Compression
from skiff.storage.archive.safedir import UnsafeEntry
from skiff.storage.archive.tarstream import BadTar

__all__ = ["apply_in_subprocess", "is_regular_file"]

_ERRORS: dict[str, type[SkiffError]] = {
    c.__name__: c for c in (UnsafeEntry, DiffIDMismatch, BadTar, InvalidParameter, System)
}


def is_regular_file(stream: BinaryIO, min_size: int = 0) -> bool:
    """Whether ``stream`` is a plain open file (not a wrapper that wants to see the bytes) of
    ``min_size`` bytes or more, which a child can read as its stdin."""
    if type(stream) not in (io.BufferedReader, io.FileIO):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size >= min_size


def apply_in_subprocess(dest: str | os.PathLike[str], stream: BinaryIO, *, overlay_whiteouts: bool,
                        expected_diff_id: str | None = None,
                        progress: Callable[[int], None] | None = None) -> AppliedLayer:
    """``apply_layer`` in a child process reading ``stream`` (a regular file) from its position.

    ``progress(bytes of the blob read)`` is called about 10 times a second: the child shares the
    file description, so its offset is visible here.
    """
    fd = stream.fileno()
    start = stream.tell()
    os.lseek(fd, start, os.SEEK_SET)  # drop any read-ahead of the Python-level buffer
    args = [sys.executable, "-m", "skiff.storage.archive.worker", os.fspath(dest)]
    if overlay_whiteouts:
        args.append("--overlay")
    if expected_diff_id:
        args += ["--expect", expected_diff_id]
    with subprocess.Popen(args, stdin=fd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if progress is not None:
                    progress(os.lseek(fd, 0, os.SEEK_CUR) - start)
        if progress is not None:
            progress(os.lseek(fd, 0, os.SEEK_CUR) - start)
    try:
        reply = json.loads(stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise System(f"layer worker failed ({proc.returncode}): {stderr.decode()[-500:]}") from None
    if "error" in reply:
        cls = _ERRORS.get(reply["error"], System)
        err = cls.__new__(cls)
        SkiffError.__init__(err, reply["message"])
        raise err
    return AppliedLayer(reply["diff_id"], reply["size"], Compression(reply["compression"]),
                        tuple(reply.get("implicit_dirs", ())), int(reply.get("content_size", -1)))


def main(argv: list[str]) -> int:
    dest = argv[0]
    overlay = "--overlay" in argv
    expect = argv[argv.index("--expect") + 1] if "--expect" in argv else None
    try:
        with open(0, "rb", buffering=0, closefd=False) as raw:
            got = apply_layer(dest, raw, overlay_whiteouts=overlay, expected_diff_id=expect)
        reply: dict[str, object] = {"diff_id": got.diff_id, "size": got.size,
                                    "compression": got.compression.value,
                                    "implicit_dirs": list(got.implicit_dirs), "content_size": got.content_size}
        code = 0
    except SkiffError as exc:
        reply, code = {"error": type(exc).__name__, "message": exc.message}, 1
    except OSError as exc:
        reply, code = {"error": "System", "message": f"applying layer: {exc}"}, 1
    sys.stdout.write(json.dumps(reply) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
