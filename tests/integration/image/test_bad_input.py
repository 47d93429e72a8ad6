"""Bad input from registries: a blob whose bytes do not match its digest is refused and nothing is
stored; a pull killed with SIGKILL at any moment leaves no partial image and the next pull completes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from skiff.errors import SkiffError
from skiff.image.service import ImageService
from skiff.image.unpack import DigestOnlyUnpacker, SnapshotUnpacker
from skiff.oci.digest import Digest
from skiff.oci.image_spec import ContainerConfig
from skiff.storage.overlay2 import Overlay2Snapshotter
from skiff.storage.snapshot import Kind
from tests.integration.image.registry_fixture import Registry, layer_tar


def drain(it: Any) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        return [m async for m in it]
    return asyncio.run(go())


def _push_image(service: ImageService, ref: str, layers: list[bytes]) -> str:
    rec = asyncio.run(service.import_image(io.BytesIO(layers[0]), repo=ref, config=ContainerConfig(cmd=("x",))))
    for extra in layers[1:]:
        cfg = service.config_of(rec)
        rec = asyncio.run(service.commit_image(str(rec.id), io.BytesIO(extra), cfg, refs=[ref]))
    drain(service.push(ref))
    return str(rec.id)


def _registry_blob(reg: Registry, digest: str) -> Path:
    hex_ = digest.removeprefix("sha256:")
    return reg.workdir / "data/docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"


def test_blob_with_wrong_digest_is_refused_and_nothing_stored(registry: Registry, service: ImageService,
                                                              tmp_path: Path) -> None:
    ref = f"{registry.host}/bad/blob:1"
    _push_image(service, ref, [layer_tar({"payload": os.urandom(200_000)})])
    layer = service.resolve(ref).layers[0].blob
    assert layer is not None
    data = _registry_blob(registry, layer)
    corrupt = bytearray(data.read_bytes())
    corrupt[len(corrupt) // 2] ^= 0xFF  # same size, different bytes
    data.write_bytes(bytes(corrupt))

    victim = ImageService(tmp_path / "victim", DigestOnlyUnpacker())
    try:
        with pytest.raises(SkiffError, match="verification failed"):
            drain(victim.pull(ref))
        assert not victim.content.has(layer)
        assert victim.images.all() == [] and victim.images.all_refs() == []
        assert list((victim.root / "content" / "ingest").iterdir()) == []
    finally:
        victim.close()


_PULLER = """
import asyncio, sys
from pathlib import Path
from skiff.image.service import ImageService
from skiff.image.unpack import DigestOnlyUnpacker, SnapshotUnpacker

async def main():
    if sys.argv[3] == "overlay2":
        from skiff.image.unpack import SnapshotUnpacker
        from skiff.storage.overlay2 import Overlay2Snapshotter
        unpacker = SnapshotUnpacker(Overlay2Snapshotter(Path(sys.argv[1]) / "overlay2"))
    else:
        unpacker = DigestOnlyUnpacker()
    svc = ImageService(Path(sys.argv[1]) / "image", unpacker)
    svc.max_down = 1
    async for m in svc.pull(sys.argv[2]):
        print(__import__("json").dumps(m), flush=True)
asyncio.run(main())
"""


@pytest.mark.slow
@pytest.mark.parametrize(("kill_at", "driver"), [
    ("Pulling fs layer", "digest"), ("Downloading", "digest"), ("Verifying Checksum", "digest"),
    ("Download complete", "digest"),
    pytest.param("Downloading", "overlay2", marks=pytest.mark.root),
    pytest.param("Extracting", "overlay2", marks=pytest.mark.root),
])
def test_pull_killed_leaves_no_partial_image(registry: Registry, service: ImageService, tmp_path: Path,
                                             kill_at: str, driver: str) -> None:
    ref = f"{registry.host}/kill/me:1"
    layers = [layer_tar({f"l{i}": os.urandom(6_000_000)}) for i in range(4)]
    image_id = _push_image(service, ref, layers)
    root = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", _PULLER, str(root), ref, driver], stdout=subprocess.PIPE,
                            text=True)
    killed = False
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if json.loads(line).get("status") == kill_at:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
    finally:
        if proc.poll() is None and not killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert killed, f"pull finished before reaching {kill_at!r}"

    sn = Overlay2Snapshotter(root / "overlay2") if driver == "overlay2" else None
    # a restart: clean_ingest and the unpacker's cleanup run here
    svc = ImageService(root / "image", SnapshotUnpacker(sn) if sn is not None else DigestOnlyUnpacker())
    try:
        if sn is not None:
            assert not [i.name for i in sn.walk() if i.kind is not Kind.COMMITTED]
        for rec in svc.images.all():  # an image is either absent or whole
            assert str(rec.id) == image_id and all(svc.content.has(x.blob) for x in rec.layers if x.blob)
        assert list((root / "image" / "content" / "ingest").iterdir()) == []
        for d in svc.content.walk():  # whatever is in blobs/ is complete and verified
            assert Digest.of(svc.content.read(d)) == d
        msgs = drain(svc.pull(ref))
        assert msgs[-1]["status"] in (f"Status: Downloaded newer image for {ref}",
                                      f"Status: Image is up to date for {ref}")
        assert str(svc.resolve(ref).id) == image_id
        if sn is not None:
            assert {i.name for i in sn.walk()} == {str(c) for c in svc.rootfs_for(ref).chain_ids}
    finally:
        svc.close()
        if sn is not None:
            sn.close()
