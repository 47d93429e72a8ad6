"""Pure storage logic: entry-name checks, compression magic, chain IDs, mount option compaction."""

from __future__ import annotations

import hashlib
import tarfile

import pytest

from skiff.errors import InvalidParameter
from skiff.storage import Compression, Mount, chain_ids, detect
from skiff.storage.archive.diff import _header
from skiff.storage.archive.safedir import UnsafeEntry, split_name
from skiff.storage.archive.tarstream import _num, _pax, _pax_time_ns
from skiff.storage.mount import PAGE_LIMIT, _compact
from skiff.sys import mount as sysmount


@pytest.mark.parametrize(("name", "parts"), [
    ("a/b/c", ("a", "b", "c")), ("./a//b/", ("a", "b")), ("./", ()), (".", ()), ("a/./b", ("a", "b")),
    ("..a/b..", ("..a", "b..")),
])
def test_split_name_ok(name: str, parts: tuple[str, ...]) -> None:
    assert split_name(name) == parts


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "a/..", "a\x00b"])
def test_split_name_refused(name: str) -> None:
    with pytest.raises(UnsafeEntry) as exc:
        split_name(name)
    assert isinstance(exc.value, InvalidParameter) and repr(name) in str(exc.value)


@pytest.mark.parametrize(("head", "kind"), [
    (b"\x1f\x8b\x08\x00", Compression.GZIP), (b"\x28\xb5\x2f\xfd\x00", Compression.ZSTD),
    (b"BZh91AY", Compression.BZIP2), (b"\xfd7zXZ\x00\x00", Compression.XZ),
    (b"etc/\x00\x00\x00", Compression.NONE), (b"", Compression.NONE),
])
def test_detect(head: bytes, kind: Compression) -> None:
    assert detect(head) is kind


def test_chain_ids() -> None:
    a, b, c = ("sha256:" + x * 64 for x in "abc")
    ab = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    abc = "sha256:" + hashlib.sha256(f"{ab} {c}".encode()).hexdigest()
    assert chain_ids([a, b, c]) == [a, ab, abc]
    assert chain_ids([]) == []


def test_mount_flags_and_data() -> None:
    flags, data = Mount("bind", "/src", ("rbind", "ro", "nosuid")).flags_and_data()
    assert flags & sysmount.MS_BIND and flags & sysmount.MS_REC and flags & sysmount.MS_RDONLY
    assert flags & sysmount.MS_NOSUID and data == ""
    flags, data = Mount("overlay", "overlay", ("lowerdir=/a:/b", "upperdir=/u", "workdir=/w")).flags_and_data()
    assert flags == 0 and data == "lowerdir=/a:/b,upperdir=/u,workdir=/w"


def test_compact_long_overlay_options() -> None:
    root = "/var/lib/skiff/" + "x" * 80
    lowers = ":".join(f"{root}/l/{i:012d}" for i in range(128))
    data = f"lowerdir={lowers},upperdir={root}/snapshots/abc/diff,workdir={root}/snapshots/abc/work"
    assert len(data) > PAGE_LIMIT
    compact, chdir = _compact(data)
    assert chdir == root and len(compact) <= PAGE_LIMIT
    assert compact.startswith("lowerdir=l/000000000000:l/000000000001:")
    assert compact.endswith(",upperdir=snapshots/abc/diff,workdir=snapshots/abc/work")
    assert _compact("lowerdir=/a:/b") == ("lowerdir=/a:/b", None)
    with pytest.raises(InvalidParameter):
        _compact("lowerdir=" + ":".join(f"/r{i}/{'y' * 40}" for i in range(200)))


def test_tar_numbers_and_pax() -> None:
    assert _num(b"0000644\x00") == 0o644
    assert _num(b"\x80" + (8_000_000_000).to_bytes(11, "big")) == 8_000_000_000
    assert _num(b"\x00" * 8) == 0
    rec = b"path=caf\xc3\xa9/\xff\n"
    body = b"%d %s" % (len(rec) + 3, rec)
    assert _pax(body) == {"path": b"caf\xc3\xa9/\xff"}


@pytest.mark.parametrize(("text", "ns"), [
    (b"1795366180.524954660", 1795366180_524954660), (b"12", 12_000_000_000), (b"-1.5", -1_500_000_000),
    (b"1.123456789123", 1_123456789), (b"0.1", 100_000_000),
])
def test_pax_time_exact(text: bytes, ns: int) -> None:
    assert _pax_time_ns(text) == ns


def _ti(name: str, **kw: object) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.uname = ti.gname = ""
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


@pytest.mark.parametrize("ti", [
    _ti("etc/passwd", size=123, mode=0o644, uid=0, gid=0, mtime=1_700_000_000),
    _ti("dir", type=tarfile.DIRTYPE, mode=0o1777, uid=1000, gid=1000, mtime=5),
    _ti("bin/sh", type=tarfile.SYMTYPE, linkname="busybox", mode=0o777),
    _ti("b/link", type=tarfile.LNKTYPE, linkname="a/target"),
    _ti("dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
    _ti("dev/sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0, mode=0o660, gid=6),
    _ti("fifo", type=tarfile.FIFOTYPE, mode=0o600),
    _ti("x" * 101, size=1),                                   # long name: PAX
    _ti("café", size=1),                                      # non-ASCII: PAX
    _ti("big", size=9 << 30),                                 # > 8 GiB: PAX
    _ti("uid", uid=3_000_000),                                # > 7 octal digits: PAX
    _ti("x", pax_headers={"SCHILY.xattr.user.a": "b"}),       # xattrs: PAX
    _ti("setuid", mode=0o4755, size=2),
])
def test_fast_tar_header_is_tarfiles(ti: tarfile.TarInfo) -> None:
    assert _header(ti) == ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
