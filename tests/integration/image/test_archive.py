"""save/load (docker-archive with the OCI layout of Docker 25+), OCI layout export; interop with
podman (load what Skiff saves and run it; Skiff loads what podman saves) and umoci (unpack)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skiff.image.service import ImageService
from skiff.image.unpack import DigestOnlyUnpacker
from skiff.oci.image_spec import ContainerConfig
from tests.integration.image.registry_fixture import layer_tar, skopeo

CONTAINERS_CONF = "/work/shared/reference-engines/containers.conf"


def drain(it: Any) -> list[Any]:
    async def go() -> list[Any]:
        return [m async for m in it]
    return asyncio.run(go())


def _rootfs_tar(root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(root, arcname=".")
    return buf.getvalue()


def _import(svc: ImageService, repo: str, tar: bytes, cmd: tuple[str, ...] = ("/bin/sh",)) -> str:
    rec = asyncio.run(svc.import_image(io.BytesIO(tar), repo=repo, config=ContainerConfig(cmd=cmd)))
    return str(rec.id)


def _save(svc: ImageService, names: list[str], dest: Path) -> Path:
    dest.write_bytes(b"".join(drain(svc.save(names))))
    return dest


def test_save_layout_and_load_roundtrip(service: ImageService, tmp_path: Path) -> None:
    iid = _import(service, "roundtrip:1", layer_tar({"a.txt": b"A"}))
    service.tag("roundtrip:1", "roundtrip:2")
    archive = _save(service, ["roundtrip"], tmp_path / "out.tar")
    with tarfile.open(archive) as tf:
        names = set(tf.getnames())
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(tf.extractfile("index.json"))  # type: ignore[arg-type]
        repos = json.load(tf.extractfile("repositories"))  # type: ignore[arg-type]
    assert {"manifest.json", "index.json", "oci-layout", "repositories", f"blobs/sha256/{iid[7:]}"} <= names
    assert manifest[0]["Config"] == f"blobs/sha256/{iid[7:]}"
    assert sorted(manifest[0]["RepoTags"]) == ["roundtrip:1", "roundtrip:2"]
    assert {m["annotations"]["io.containerd.image.name"] for m in index["manifests"]} == {
        "docker.io/library/roundtrip:1", "docker.io/library/roundtrip:2"}
    assert set(repos["roundtrip"]) == {"1", "2"}
    # skopeo reads it as a docker-archive
    info = json.loads(skopeo("inspect", f"docker-archive:{archive}:roundtrip:1").stdout)
    assert info["Digest"].startswith("sha256:") and len(info["Layers"]) == 1

    other = ImageService(tmp_path / "other", DigestOnlyUnpacker())
    try:
        with open(archive, "rb") as f:
            msgs = drain(other.load(f))
        assert {m["status"] for m in msgs if "status" in m} == {"Loading layer"}  # progress bars
        assert sorted(m["stream"] for m in msgs if "stream" in m) == ["Loaded image: roundtrip:1\n",
                                                                      "Loaded image: roundtrip:2\n"]
        assert str(other.resolve("roundtrip:2").id) == iid
        # by ID: no tags in the archive, "Loaded image ID"
        by_id = _save(other, [iid[7:19]], tmp_path / "byid.tar")
        third = ImageService(tmp_path / "third", DigestOnlyUnpacker())
        try:
            with open(by_id, "rb") as f:
                assert drain(third.load(f, quiet=True)) == [{"stream": f"Loaded image ID: {iid}\n"}]
        finally:
            third.close()
    finally:
        other.close()


def test_load_refuses_escaping_entries(service: ImageService, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("../escape")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    with pytest.raises(Exception, match="outside the archive"):
        drain(service.load(io.BytesIO(buf.getvalue())))
    assert not (tmp_path / "image" / "escape").exists() and not (tmp_path / "escape").exists()


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[list[str]]:
    root = tmp_path / "podman"
    run = Path(tempfile.mkdtemp(prefix="skiff-pm-"))  # podman wants a runroot under 50 characters
    cmd = ["podman", "--root", str(root / "root"), "--runroot", str(run), "--storage-driver", "vfs",
           "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", str(root / "tmp")]
    try:
        yield cmd
    finally:
        subprocess.run([*cmd, "system", "reset", "--force"], capture_output=True, env=_env(), timeout=120)
        shutil.rmtree(run, ignore_errors=True)


def _env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": CONTAINERS_CONF}


@pytest.mark.slow
@pytest.mark.root
def test_podman_loads_and_runs_what_skiff_saves(service: ImageService, busybox_rootfs: Path, tmp_path: Path,
                                                podman: list[str]) -> None:
    _import(service, "skiff-bb:1", _rootfs_tar(busybox_rootfs), cmd=("/bin/sh", "-c", "echo hi"))
    archive = _save(service, ["skiff-bb:1"], tmp_path / "bb.tar")
    out = subprocess.run([*podman, "load", "-i", str(archive)], capture_output=True, text=True, env=_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    assert "skiff-bb:1" in out.stdout
    run = subprocess.run([*podman, "run", "--rm", "--network", "none", "docker.io/library/skiff-bb:1", "echo",
                          "ran-in-podman"], capture_output=True, text=True, env=_env(), timeout=120)
    if run.returncode != 0 and "cgroup" in run.stderr.lower():
        pytest.skip(f"podman cannot run containers here: {run.stderr.strip()[:200]}")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ran-in-podman"


@pytest.mark.slow
@pytest.mark.root
def test_skiff_loads_what_podman_saves(service: ImageService, tmp_path: Path, podman: list[str]) -> None:
    layout = tmp_path / "src.tar"
    layout.write_bytes(layer_tar({"podman.txt": b"from podman"}))
    out = subprocess.run([*podman, "import", "--change", "CMD [\"/x\"]", str(layout), "podimg:7"],
                         capture_output=True, text=True, env=_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    for fmt in ("docker-archive", "oci-archive"):
        archive = tmp_path / f"pod-{fmt}.tar"
        res = subprocess.run([*podman, "save", "--format", fmt, "-o", str(archive), "localhost/podimg:7"],
                             capture_output=True, text=True, env=_env(), timeout=120)
        assert res.returncode == 0, res.stderr
        svc = ImageService(tmp_path / f"load-{fmt}", DigestOnlyUnpacker())
        try:
            with open(archive, "rb") as f:
                msgs = drain(svc.load(f))
            assert msgs, fmt
            rec = svc.resolve("localhost/podimg:7") if fmt == "docker-archive" else svc.images.all()[0]
            assert svc.config_of(rec).config.cmd == ("/x",)
        finally:
            svc.close()


def test_umoci_unpacks_oci_layout_export(service: ImageService, tmp_path: Path) -> None:
    _import(service, "umoci-test:1", layer_tar({"etc/hello": b"umoci"}))
    layout = tmp_path / "layout"
    asyncio.run(service.export_oci_layout("umoci-test:1", layout))
    bundle = tmp_path / "bundle"
    res = subprocess.run(["umoci", "unpack", "--rootless" if os.geteuid() else "--keep-dirlinks", "--image",
                          f"{layout}:1", str(bundle)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (bundle / "rootfs" / "etc" / "hello").read_bytes() == b"umoci"
    assert json.loads((bundle / "config.json").read_text())["process"]["args"] == ["/bin/sh"]


def test_load_skopeo_and_legacy_docker_archives(service: ImageService, tmp_path: Path) -> None:
    from tests.integration.image.registry_fixture import write_oci_layout

    layout = tmp_path / "layout"
    write_oci_layout(layout, [("linux", "amd64", [layer_tar({"a": b"1"}), layer_tar({"b": b"2"})])])
    archive = tmp_path / "skopeo.tar"
    skopeo("copy", f"oci:{layout}:latest", f"docker-archive:{archive}:from/skopeo:3")
    with open(archive, "rb") as f:
        assert drain(service.load(f, quiet=True)) == [{"stream": "Loaded image: from/skopeo:3\n"}]
    rec = service.resolve("from/skopeo:3")
    assert len(rec.layers) == 2

    # Docker's pre-25 layout: <id>/layer.tar, a shared layer linked from another directory
    legacy = tmp_path / "legacy"
    (legacy / "aaa").mkdir(parents=True)
    (legacy / "bbb").mkdir()
    layer = layer_tar({"legacy": b"x"})
    (legacy / "aaa" / "layer.tar").write_bytes(layer)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]}, "rootfs": {
        "type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()] * 2}}).encode()
    (legacy / "cfg.json").write_bytes(cfg)
    (legacy / "manifest.json").write_text(json.dumps([{"Config": "cfg.json", "RepoTags": ["legacy:1"],
                                                       "Layers": ["aaa/layer.tar", "bbb/layer.tar"]}]))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name in ("manifest.json", "cfg.json", "aaa", "aaa/layer.tar", "bbb"):
            tf.add(legacy / name, arcname=name, recursive=False)
        ti = tarfile.TarInfo("bbb/layer.tar")
        ti.type, ti.linkname = tarfile.SYMTYPE, "../aaa/layer.tar"
        tf.addfile(ti)
    assert drain(service.load(io.BytesIO(buf.getvalue()), quiet=True)) == [{"stream": "Loaded image: legacy:1\n"}]
    assert len(service.resolve("legacy:1").layers) == 2
