"""Build layer tars in memory, entry by entry, including ones no honest tool would write."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field


@dataclass
class E:
    """One tar entry. kind: file, dir, symlink, hardlink, char, block, fifo."""

    name: str
    kind: str = "file"
    data: bytes = b""
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1_600_000_000
    dev: tuple[int, int] = (0, 0)
    xattrs: dict[str, bytes] = field(default_factory=dict)


_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
          "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE,
          "fifo": tarfile.FIFOTYPE}


def make_tar(entries: list[E]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            ti.type = _TYPES[e.kind]
            ti.mode, ti.uid, ti.gid, ti.mtime = e.mode, e.uid, e.gid, e.mtime
            ti.linkname = e.link
            ti.devmajor, ti.devminor = e.dev
            ti.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
                              for k, v in e.xattrs.items()}
            if e.kind == "file":
                ti.size = len(e.data)
                tar.addfile(ti, io.BytesIO(e.data))
            else:
                tar.addfile(ti)
    return buf.getvalue()


def file(name: str, data: bytes = b"", **kw: object) -> E:
    return E(name, "file", data, **kw)  # type: ignore[arg-type]


def d(name: str, **kw: object) -> E:
    return E(name, "dir", mode=0o755, **kw)  # type: ignore[arg-type]


def sym(name: str, target: str) -> E:
    return E(name, "symlink", link=target, mode=0o777)


def hard(name: str, target: str) -> E:
    return E(name, "hardlink", link=target)


def wh(name: str) -> E:
    return E(name, "file", mode=0o600)
