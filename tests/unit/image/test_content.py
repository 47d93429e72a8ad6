"""Content store: verified atomic commits, already-exists is success, shared concurrent fetches."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from skiff.image.content import ContentStore
from skiff.image.errors import BlobNotFound, DigestMismatch, SizeMismatch
from skiff.oci.digest import Digest


def _visible(store: ContentStore) -> list[Path]:
    return [p for p in (store.root / "blobs").rglob("*") if p.is_file()] + \
        list((store.root / "ingest").iterdir())


def test_put_read_and_idempotent(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    d = cs.put(b"hello")
    assert d == Digest.of(b"hello") and cs.has(d) and cs.read(d) == b"hello" and cs.size(d) == 5
    assert cs.put(b"hello", d) == d  # already exists: success
    assert list(cs.walk()) == [d]
    assert not list((tmp_path / "ingest").iterdir())
    assert cs.delete(d) and not cs.has(d) and not cs.delete(d)
    with pytest.raises(BlobNotFound):
        cs.read(d)


def test_digest_mismatch_stores_nothing(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    with pytest.raises(DigestMismatch), cs.writer(Digest.of(b"other")) as w:
        w.write(b"payload")
        w.commit()
    assert _visible(cs) == []
    with pytest.raises(DigestMismatch):
        cs.put(b"payload", Digest.of(b"other"))
    assert _visible(cs) == []


def test_size_checks(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    w = cs.writer(Digest.of(b"abc"), 2)
    with pytest.raises(SizeMismatch):
        w.write(b"abc")
    with pytest.raises(SizeMismatch), cs.writer(Digest.of(b"abc"), 4) as w2:
        w2.write(b"abc")
        w2.commit()
    assert _visible(cs) == []


def test_abort_on_exception_and_clean_ingest(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    with pytest.raises(RuntimeError), cs.writer() as w:
        w.write(b"x")
        raise RuntimeError
    assert _visible(cs) == []
    (tmp_path / "ingest" / "leftover").write_bytes(b"half")
    assert ContentStore(tmp_path).clean_ingest() == 1


def test_concurrent_fetches_share_one_download(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    data = b"z" * 100_000
    d = Digest.of(data)
    calls = 0

    async def fill() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        cs.put(data, d)

    async def main() -> list[bool]:
        return list(await asyncio.gather(*(cs.fetch_once(d, fill) for _ in range(5))))

    results = asyncio.run(main())
    assert calls == 1 and results.count(True) == 1 and cs.read(d) == data

    async def failing() -> None:
        raise OSError("network down")

    async def main2() -> list[object]:
        return list(await asyncio.gather(*(cs.fetch_once(Digest.of(b"q"), failing) for _ in range(3)),
                                         return_exceptions=True))
    assert all(isinstance(r, OSError) for r in asyncio.run(main2()))
