"""``--output``: the built filesystem as a tar (``type=tar``) or unpacked in a directory (``type=local``).

The daemon always produces a tar of the result's rootfs (``export_tar``); the CLI writes it to a
file or stdout, or unpacks it into the ``dest`` directory. ``parse_output`` reads the CLI's flag
the way buildx does: ``type=local,dest=out``, ``type=tar,dest=out.tar``, a bare path (local) or
``-`` (tar on stdout).
"""

from __future__ import annotations

import os
import stat
import tarfile
from dataclasses import dataclass
from typing import IO

from skiff.build.backend import BuildBackend
from skiff.errors import InvalidParameter

__all__ = ["OutputSpec", "export_tar", "parse_output"]


@dataclass(frozen=True)
class OutputSpec:
    type: str  # "local" | "tar"
    dest: str  # a directory, a file, or "-" for stdout


def parse_output(value: str) -> OutputSpec:
    if value == "-":
        return OutputSpec("tar", "-")
    if "=" not in value:
        return OutputSpec("local", value)
    fields: dict[str, str] = {}
    for part in value.split(","):
        k, sep, v = part.partition("=")
        if not sep:
            raise InvalidParameter(f"invalid value {part}")
        fields[k.strip().lower()] = v.strip()
    kind = fields.get("type", "local")
    if kind not in ("local", "tar"):
        raise InvalidParameter(f'output type "{kind}" is not supported (use local or tar)')
    dest = fields.get("dest", "")
    if not dest:
        raise InvalidParameter(f"dest is required for {kind} exporter")
    return OutputSpec(kind, dest)


def export_tar(backend: BuildBackend, image_id: str, out: IO[bytes]) -> int:
    """Write the image's root filesystem as a tar (owners and modes kept); returns entries."""
    ws = backend.view(image_id)
    count = 0
    try:
        root = os.fspath(ws.rootfs)
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                for name in sorted(dirnames) + sorted(filenames):
                    full = os.path.join(dirpath, name)
                    rel = os.path.relpath(full, root)
                    st = os.lstat(full)
                    info = tarfile.TarInfo(rel)
                    info.mode = stat.S_IMODE(st.st_mode)
                    info.mtime = int(st.st_mtime)
                    info.uid, info.gid = st.st_uid, st.st_gid
                    if stat.S_ISDIR(st.st_mode):
                        info.type = tarfile.DIRTYPE
                        tar.addfile(info)
                    elif stat.S_ISLNK(st.st_mode):
                        info.type = tarfile.SYMTYPE
                        info.linkname = os.readlink(full)
                        tar.addfile(info)
                    elif stat.S_ISREG(st.st_mode):
                        info.size = st.st_size
                        with open(full, "rb") as f:
                            tar.addfile(info, f)
                    else:
                        continue
                    count += 1
    finally:
        backend.release(ws)
    return count
